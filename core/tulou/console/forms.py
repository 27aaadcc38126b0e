"""What every console form shares: the body it is read from, and a service's refusal put next to its field."""

from __future__ import annotations

from litestar.enums import RequestEncodingType
from litestar.params import Body

from tulou.errors import Problem

#: ``data: Annotated[SomeForm, Form]``: a dataclass filled from the urlencoded body.
Form = Body(media_type=RequestEncodingType.URL_ENCODED)


def refusal(refused: Problem, errors: dict[str, str]) -> dict[str, str]:
    """The service's refusal next to the field it names, or above the form when it names none."""
    return {**errors, refused.field or "form": refused.detail}
