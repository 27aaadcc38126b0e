"""The administrative-division tree: county, townships, villages and communities."""
