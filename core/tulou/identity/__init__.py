"""The identity standard: residents, households and the people who act for them.

This package starts with the personal-data primitives every identity model relies
on: checked and canonical resident ID and phone numbers (:mod:`.resident_id`),
encryption at rest with a blind index for exact lookup (:mod:`.crypto`), and the
masked forms responses show to callers without ``person:read_sensitive``
(:mod:`.masking`).
"""
