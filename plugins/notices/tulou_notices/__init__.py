"""The village notice board (村务公开栏): notices a township or village publishes to its residents.

A notice published to a township shows on the boards of all its villages; a
village's own notices show on its board and on its township's. Publishing and
withdrawing need the ``notices:publish`` permission; reading is public.
"""
