"""Resident ID numbers (GB 11643-1999) and phone numbers, checked and made canonical.

Both are found again by exact match on a blind index, so one person must always
give one string: ``11010519491231002x`` and ``11010519491231002X`` are the same
number, as are ``+86 138-1234-5678`` and ``13812345678``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Literal

from tulou.errors import Invalid
from tulou.i18n import gettext as _

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARACTERS = "10X98765432"
EARLIEST_BIRTH_DATE = date(1900, 1, 1)

RESIDENT_ID = re.compile(r"[0-9]{17}[0-9X]")
MOBILE = re.compile(r"(?:\+86|0086|86)?(1[3-9][0-9]{9})")
# Area codes are 010 and 02x (three characters) or 0 and three digits elsewhere.
LANDLINE = re.compile(r"(0[12][0-9]|0[3-9][0-9]{2})([0-9]{7,8})")
PHONE_SEPARATORS = re.compile(r"[\s()\-]")


@dataclass(frozen=True)
class ResidentId:
    """A checked resident ID number and what it says about its holder."""

    number: str
    region_code: str
    birth_date: date
    sex: Literal["male", "female"]


def check_character(first_17_digits: str) -> str:
    """The 18th character of a resident ID number (ISO 7064 MOD 11-2)."""
    total = sum(int(digit) * weight for digit, weight in zip(first_17_digits, WEIGHTS, strict=True))
    return CHECK_CHARACTERS[total % 11]


def parse_resident_id(
    text: str, field: str = "resident_id", *, today: date | None = None
) -> ResidentId:
    """Check a resident ID number and derive birth date and sex, or raise :class:`Invalid`."""
    number = "".join(unicodedata.normalize("NFKC", text).split()).upper()
    if len(number) != 18:
        raise Invalid(
            _("A resident ID number has 18 characters, not %(count)d.") % {"count": len(number)},
            field=field,
        )
    if not RESIDENT_ID.fullmatch(number):
        raise Invalid(_("A resident ID number is 17 digits followed by a digit or X."), field=field)
    birth_date = _birth_date(number[6:14], field, today or date.today())
    if check_character(number[:17]) != number[17]:
        raise Invalid(
            _(
                "The last character of the resident ID number does not match the others: "
                "check for a typo."
            ),
            field=field,
        )
    sex: Literal["male", "female"] = "male" if int(number[16]) % 2 else "female"
    return ResidentId(number=number, region_code=number[:6], birth_date=birth_date, sex=sex)


def _birth_date(digits: str, field: str, today: date) -> date:
    try:
        born = date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        raise Invalid(
            _("The birth date in the resident ID number (%(digits)s) is not a real date.")
            % {"digits": digits},
            field=field,
        ) from None
    if born > today:
        raise Invalid(
            _("The birth date in the resident ID number (%(date)s) is in the future.")
            % {"date": born},
            field=field,
        )
    if born < EARLIEST_BIRTH_DATE:
        raise Invalid(
            _("The birth date in the resident ID number (%(date)s) is before 1900.")
            % {"date": born},
            field=field,
        )
    return born


def parse_phone(text: str, field: str = "phone") -> str:
    """A mainland mobile (``13812345678``) or landline (``0597-1234567``) number, canonical."""
    compact = PHONE_SEPARATORS.sub("", unicodedata.normalize("NFKC", text))
    if mobile := MOBILE.fullmatch(compact):
        return mobile.group(1)
    if landline := LANDLINE.fullmatch(compact):
        return f"{landline.group(1)}-{landline.group(2)}"
    raise Invalid(
        _(
            "Not a mainland phone number: a mobile number has 11 digits starting with 13 to 19, "
            "a landline number starts with its area code, as in 0597-1234567."
        ),
        field=field,
    )
