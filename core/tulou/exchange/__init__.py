"""The data-exchange standard: a catalogue of datasets, their validated records, change feeds and sharing agreements.

Who may see what is decided in one place, :mod:`.access`; every write goes through
:mod:`.feed`, which numbers its changes in commit order.
"""
