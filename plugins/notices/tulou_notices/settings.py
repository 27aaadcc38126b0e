"""The ``notices`` settings section, read from ``TULOU_NOTICES__<FIELD>``."""

from __future__ import annotations

from pydantic import BaseModel, Field


class NoticesSettings(BaseModel):
    """Limits a county sets for its notice boards."""

    max_body_length: int = Field(
        5000, ge=1, description="longest notice body accepted, in characters"
    )
