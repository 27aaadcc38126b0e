"""Tulou: a thin core shared by every smart-village system, and plugins that keep to its standard."""

__version__ = "0.1.0"

#: Version of the Tulou standard (identity, data exchange, devices) this core implements.
#: Plugins declare the range they need in their manifest's ``requires_standard``.
STANDARD_VERSION = "1.0.0"
