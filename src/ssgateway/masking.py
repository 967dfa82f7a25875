"""Masking of personal data: the one function models, errors and logs share.

Two entry points:

- :func:`mask` masks one value whose kind is known (a citizen id, a name, an account, a phone);
- :func:`mask_text` scans free text (log lines, partner error messages, exception text) and masks every
  token shaped like an id number, a bank card or a mobile number. Full-width digits are recognised too.
  A typo'd id is still personal data, so shape is enough: no checksum is required to be masked.

Names cannot be recognised in free text; code that handles a name must mask it with :func:`mask` (the
canonical model's personal types do this in ``repr``/``str``).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from enum import StrEnum
from typing import Any

__all__ = ["PersonalKind", "mask", "mask_data", "mask_text", "personal_digest"]


class PersonalKind(StrEnum):
    """Kinds of personal data, each with its own masking rule."""

    CITIZEN_ID = "citizen_id"
    NAME = "name"
    BANK_ACCOUNT = "bank_account"
    PHONE = "phone"
    OTHER = "other"


# Full-width digits and X map one-to-one onto ASCII so positions in the scanned copy match the original.
_FULLWIDTH = str.maketrans("０１２３４５６７８９Ｘｘ", "0123456789Xx")

# Alphanumeric boundaries keep digests, hex ids and timestamps embedded in longer tokens untouched.
_TOKEN = re.compile(
    r"(?<![0-9A-Za-z])(?:"
    r"(?P<id18>\d{17}[0-9Xx])"
    r"|(?P<card>\d{15,19})"
    r"|(?P<card_grouped>\d{4}(?:[ -]\d{4}){3}(?:[ -]?\d{1,3})?)"
    r"|(?P<phone>(?:\+?86[ -]?)?1[3-9]\d(?:[ -]?\d{4}){2})"
    r")(?![0-9A-Za-z])"
)


def _mask_citizen_id(value: str) -> str:
    n = len(value)
    if n >= 15:
        return value[:6] + "*" * (n - 10) + value[-4:]
    return _mask_other(value)


def _mask_account(value: str) -> str:
    digits = [c for c in value if c.isalnum()]
    if len(digits) <= 4:
        return "*" * len(value)
    return "*" * (len(digits) - 4) + "".join(digits[-4:])


def _mask_phone(value: str) -> str:
    digits = "".join(c for c in value if c.isdigit())
    if len(digits) < 7:
        return "*" * len(value)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def _mask_name(value: str) -> str:
    stripped = value.strip()
    if len(stripped) <= 1:
        return "*" * len(stripped)
    return stripped[0] + "*" * (len(stripped) - 1)


def _mask_other(value: str) -> str:
    if len(value) <= 2:
        return "*" * len(value)
    return value[0] + "*" * (len(value) - 2) + value[-1]


_BY_KIND = {
    PersonalKind.CITIZEN_ID: _mask_citizen_id,
    PersonalKind.NAME: _mask_name,
    PersonalKind.BANK_ACCOUNT: _mask_account,
    PersonalKind.PHONE: _mask_phone,
    PersonalKind.OTHER: _mask_other,
}


def mask(value: object, kind: PersonalKind | str = PersonalKind.OTHER) -> str:
    """Mask one personal value of a known kind.

    Args:
        value: the value; anything else than a string is converted with ``str.__str__`` semantics.
        kind: what the value is; decides how much stays visible.

    Returns:
        The masked text, e.g. ``110105********002X``, ``张*``, ``************1234``, ``138****5678``.

    >>> mask("11010519491231002X", "citizen_id")
    '110105********002X'
    >>> mask("张三丰", "name")
    '张**'
    """
    text = value if type(value) is str else str.__str__(value) if isinstance(value, str) else repr(value)
    return _BY_KIND[PersonalKind(kind)](text.translate(_FULLWIDTH))


def _replace(match: re.Match[str]) -> str:
    kind = match.lastgroup
    token = match.group(0)
    if kind == "id18":
        return _mask_citizen_id(token)
    if kind == "phone":
        return _mask_phone(token)
    if kind == "card" and len(token) == 15:  # a legacy 15-digit citizen id
        return _mask_citizen_id(token)
    return _mask_account(token)


def mask_text(text: str) -> str:
    """Mask every id-, card- and phone-shaped token in free text.

    >>> mask_text("person 11010519491231002X paid to 6222021234567890123")
    'person 110105********002X paid to ***************0123'
    """
    scanned = text.translate(_FULLWIDTH)
    if scanned is text or scanned == text:
        return _TOKEN.sub(_replace, text)
    out: list[str] = []
    last = 0
    for m in _TOKEN.finditer(scanned):
        out.append(text[last : m.start()])
        out.append(_replace(m))
        last = m.end()
    out.append(text[last:])
    return "".join(out)


def mask_data(value: Any) -> Any:
    r"""``value`` (decoded JSON or the like) with every string and number masked as by :func:`mask_text`.

    Walks dicts, lists and tuples; a number that masking would change (a card or id sent as a JSON
    number) becomes its masked text; other numbers, booleans and None stay as they are. Text under a
    key that names a person, an account or a phone (``name``, ``psn_name``, ``account``, ``phone`` …) is
    masked as that kind, since free text alone cannot tell a name.

    >>> mask_data({"memo": "paid to\n6222021234567890123", "account": 6222021234567890123, "n": 3})
    {'memo': 'paid to\n***************0123', 'account': '***************0123', 'n': 3}
    """
    if isinstance(value, str):
        return mask_text(str(value))  # str() applies a personal type's own masking first
    if isinstance(value, dict):
        return {str(k): _mask_field(str(k), v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask_data(v) for v in value]
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        text = str(value)
        masked = mask_text(text)
        return value if masked == text else masked
    return mask_text(str(value))


_FIELD_KINDS: dict[str, PersonalKind] = {
    **dict.fromkeys(("name", "psn_name", "xm", "aac003", "creditor_name", "payee_name"), PersonalKind.NAME),
    **dict.fromkeys(("account", "bank_account", "card_no", "card_number"), PersonalKind.BANK_ACCOUNT),
    **dict.fromkeys(("phone", "mobile", "tel", "telephone"), PersonalKind.PHONE),
}


def _mask_field(key: str, value: Any) -> Any:
    kind = _FIELD_KINDS.get(key.lower())
    if kind is not None and isinstance(value, str) and value:
        return mask(value, kind)
    return mask_data(value)


def personal_digest(value: str, key: bytes) -> str:
    """A keyed digest of a personal value, for correlating records in logs and audit without the value.

    The key must be secret: without it the small space of valid ids could be enumerated.
    """
    normalised = value.translate(_FULLWIDTH).strip().upper()
    return hmac.new(key, normalised.encode(), hashlib.sha256).hexdigest()[:24]
