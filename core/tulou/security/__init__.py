"""Who is calling and what they may do: principals, authenticators and route guards."""
