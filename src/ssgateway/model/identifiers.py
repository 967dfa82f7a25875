"""Identifier types: citizen ids, credit codes, division codes, and the other personal strings.

All are ``str`` subclasses validated on construction through :meth:`parse` (or by pydantic when used as a
field type). Personal ones mask themselves in ``repr``/``str``/``format``; call ``reveal()`` for the text.
"""

from __future__ import annotations

import re
from datetime import date
from functools import cache
from operator import mul
from typing import Any, ClassVar

from ssgateway.masking import PersonalKind
from ssgateway.model import divisions
from ssgateway.model._strtypes import PersonalStr, ValueStr, normalise
from ssgateway.model.codes import Gender

__all__ = [
    "BankAccount",
    "CitizenId",
    "CreditCode",
    "PersonName",
    "PhoneNumber",
    "RegionCode",
    "area_prefix",
    "citizen_id_check_char",
    "credit_code_check_char",
]

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID_ASCII_ZERO = 48 * sum(_ID_WEIGHTS)
# Special administrative regions and Taiwan residents carry these prefixes; they are not in the division data.
_EXTRA_ID_PROVINCES = frozenset({"71", "81", "82", "83"})


@cache
def _id_provinces() -> frozenset[str]:
    return divisions.province_codes() | _EXTRA_ID_PROVINCES


def citizen_id_check_char(first17: str) -> str:
    """The GB 11643 (ISO 7064 MOD 11-2) check character for the first 17 digits of an id."""
    # Multiplying the ASCII codes and subtracting 48·Σw avoids an int() call per digit.
    return _ID_CHECK[(sum(map(mul, first17.encode("ascii"), _ID_WEIGHTS)) - _ID_ASCII_ZERO) % 11]


_THIS_YEAR = date.today().year


def _birth_date(digits8: str) -> date:
    try:
        born = date(int(digits8[:4]), int(digits8[4:6]), int(digits8[6:8]))
    except ValueError:
        raise ValueError("the birth date part is not a real date") from None
    # date.today() is slow enough to matter per row: only births this year or later need it.
    if born.year < 1850 or (born.year >= _THIS_YEAR and born > date.today()):
        raise ValueError("the birth date part is out of range")
    return born


class CitizenId(PersonalStr):
    """A resident identity card number (GB 11643-1999), always in its 18-character form.

    Accepts the 18-character form (checked) and the legacy 15-digit form (upgraded: ``19`` is inserted
    before the 2-digit year and the check character computed). Full-width digits and a lower-case ``x``
    are normalised.

    >>> CitizenId.parse("11010519491231002X").birth_date
    datetime.date(1949, 12, 31)
    >>> CitizenId.parse("110105491231002").reveal()
    '11010519491231002X'
    """

    __slots__ = ()
    kind = PersonalKind.CITIZEN_ID
    json_schema: ClassVar[dict[str, Any]] = {
        "type": "string",
        "pattern": r"^\d{17}[\dX]$",
        "description": "Citizen id (GB 11643), 18 characters; 15-digit legacy ids are upgraded on input.",
    }

    @classmethod
    def _check(cls, value: str, context: Any) -> str:
        text = normalise(value).upper()
        if len(text) == 15:
            if not text.isdigit():
                raise ValueError("a 15-character citizen id must be all digits")
            first17 = text[:6] + "19" + text[6:]
            text = first17 + citizen_id_check_char(first17)
        elif len(text) != 18:
            raise ValueError(f"a citizen id has 18 characters (or 15 in the legacy form), got {len(text)}")
        first17, check = text[:17], text[17]
        if not first17.isdigit() or not (check.isdigit() or check == "X"):
            raise ValueError("a citizen id is 17 digits and a check digit or X")
        if first17[:2] not in _id_provinces():
            raise ValueError("the first two digits are not a province code")
        _birth_date(first17[6:14])
        if citizen_id_check_char(first17) != check:
            raise ValueError("the check character does not match (GB 11643)")
        return text

    @property
    def birth_date(self) -> date:
        """Date of birth encoded in the id."""
        return _birth_date(str.__str__(self)[6:14])

    @property
    def gender(self) -> Gender:
        """Gender encoded in the id (odd sequence number: male)."""
        return Gender.MALE if int(str.__str__(self)[16]) % 2 else Gender.FEMALE

    @property
    def division(self) -> str:
        """The 6-digit division code where the id was issued (may be abolished since)."""
        return str.__str__(self)[:6]

    @property
    def province(self) -> str:
        """The 2-digit province part."""
        return str.__str__(self)[:2]


_CREDIT_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_VALUE = {c: i for i, c in enumerate(_CREDIT_CHARS)}
_CREDIT_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
_CREDIT_SHAPE = re.compile(r"[0-9A-HJ-NPQRTUWXY]{18}")
LEGACY_CONTEXT_KEY = "credit_code_mode"


def credit_code_check_char(first17: str) -> str:
    """The GB 32100 check character for the first 17 characters of a unified social credit code."""
    total = sum(map(mul, map(_CREDIT_VALUE.__getitem__, first17), _CREDIT_WEIGHTS))
    return _CREDIT_CHARS[(31 - total % 31) % 31]


class CreditCode(ValueStr):
    """A unified social credit code (GB 32100-2015).

    Strict by default. Some early pilot codes were issued before the check was enforced and fail it: accept
    those with ``CreditCode.parse(code, legacy=True)``, or when validating a model pass the validation
    context ``{"credit_code_mode": "legacy"}``. :attr:`verified` tells whether the check holds.
    """

    __slots__ = ()
    json_schema: ClassVar[dict[str, Any]] = {
        "type": "string",
        "pattern": "^[0-9A-HJ-NPQRTUWXY]{18}$",
        "description": "Unified social credit code (GB 32100).",
    }

    @classmethod
    def _check(cls, value: str, context: Any) -> str:
        text = normalise(value).upper()
        if not _CREDIT_SHAPE.fullmatch(text):
            raise ValueError("a credit code has 18 characters from 0-9 and A-Y without I, O, S, V, Z")
        if credit_code_check_char(text[:17]) != text[17]:
            legacy = context is True or (
                isinstance(context, dict) and context.get(LEGACY_CONTEXT_KEY) == "legacy"
            )
            if not legacy:
                raise ValueError("the check character does not match (GB 32100)")
        return text

    @classmethod
    def parse_legacy(cls, value: str) -> CreditCode:
        """Parse accepting codes that fail the check (issued before it was enforced)."""
        return cls.parse(value, {LEGACY_CONTEXT_KEY: "legacy"})

    @property
    def verified(self) -> bool:
        """Whether the check character holds."""
        text = str.__str__(self)
        return credit_code_check_char(text[:17]) == text[17]

    @property
    def division(self) -> str:
        """The registration division part (characters 3-8)."""
        return str.__str__(self)[2:8]


class RegionCode(ValueStr):
    """A 6-digit administrative division code known to the division data.

    >>> r = RegionCode.parse("410105")
    >>> (r.level.value, r.province, r.city)
    ('county', '410000', '410100')
    """

    __slots__ = ()
    json_schema: ClassVar[dict[str, Any]] = {
        "type": "string",
        "pattern": r"^\d{6}$",
        "description": "Administrative division code (6 digits).",
    }

    @classmethod
    def _check(cls, value: str, context: Any) -> str:
        text = normalise(value)
        if len(text) != 6 or not text.isdigit():
            raise ValueError("a division code has 6 digits")
        if divisions.lookup(text) is None:
            raise ValueError(f"unknown division code {text}")
        return text

    @property
    def division(self) -> divisions.Division:
        """The division record (name and level)."""
        found = divisions.lookup(str(self))
        if found is None:  # pragma: no cover - parse() guarantees it exists
            raise LookupError(str(self))
        return found

    @property
    def name(self) -> str:
        """The division's name."""
        return self.division.name

    @property
    def level(self) -> divisions.DivisionLevel:
        """Province, city or county."""
        return self.division.level

    @property
    def province(self) -> str:
        """The province's 6-digit code."""
        return str(self)[:2] + "0000"

    @property
    def city(self) -> str | None:
        """The city's 6-digit code, or None for a province."""
        return None if self.level is divisions.DivisionLevel.PROVINCE else str(self)[:4] + "00"

    def within(self, prefix: str) -> bool:
        """Whether this division lies in the area a code prefix names (``"41"``, ``"4101"``, ``"410000"``)."""
        return str(self).startswith(area_prefix(prefix))


def area_prefix(code: str) -> str:
    """The code prefix shared by every division inside an area: ``410000`` → ``41``, ``410100`` → ``4101``.

    Prefixes shorter than 6 characters are returned as they are.
    """
    if len(code) == 6:
        if code.endswith("0000"):
            return code[:2]
        if code.endswith("00"):
            return code[:4]
    return code


class PersonName(PersonalStr):
    """A person's name (personal data)."""

    __slots__ = ()
    kind = PersonalKind.NAME
    json_schema: ClassVar[dict[str, Any]] = {"type": "string", "minLength": 1, "maxLength": 100}

    @classmethod
    def _check(cls, value: str, context: Any) -> str:
        text = " ".join(value.split())
        if not text:
            raise ValueError("a name cannot be empty")
        if len(text) > 100:
            raise ValueError("a name has at most 100 characters")
        return text


class BankAccount(PersonalStr):
    """A personal bank account or card number: 6 to 34 letters and digits (spaces and dashes dropped)."""

    __slots__ = ()
    kind = PersonalKind.BANK_ACCOUNT
    json_schema: ClassVar[dict[str, Any]] = {"type": "string", "pattern": "^[0-9A-Z]{6,34}$"}
    _shape: ClassVar[re.Pattern[str]] = re.compile("[0-9A-Z]{6,34}")

    @classmethod
    def _check(cls, value: str, context: Any) -> str:
        text = normalise(value).replace(" ", "").replace("-", "").upper()
        if not cls._shape.fullmatch(text):
            raise ValueError("an account number has 6 to 34 letters and digits")
        return text


class PhoneNumber(PersonalStr):
    """A phone number: digits, with an optional leading ``+`` (separators dropped)."""

    __slots__ = ()
    kind = PersonalKind.PHONE
    json_schema: ClassVar[dict[str, Any]] = {"type": "string", "pattern": r"^\+?\d{5,15}$"}
    _shape: ClassVar[re.Pattern[str]] = re.compile(r"\+?\d{5,15}")

    @classmethod
    def _check(cls, value: str, context: Any) -> str:
        text = re.sub(r"[\s()-]", "", normalise(value))
        if not cls._shape.fullmatch(text):
            raise ValueError("a phone number has 5 to 15 digits")
        return text
