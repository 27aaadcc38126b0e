"""Per-township module activation: which plugin serves which township."""
