"""Database set-up: Tortoise configuration, connection lifetime and migrations."""
