"""Scheduled jobs: one leader process runs them, each run is recorded."""
