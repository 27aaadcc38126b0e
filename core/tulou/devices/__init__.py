"""The device registry standard: device models, devices and their credentials, telemetry in and out, status.

Devices authenticate with tokens of their own, which no staff route accepts; staff
reach devices through the area scope of identity, like every other object.
"""
