"""The transforms of the mapping language: small named steps selected by a ``type:`` key.

Each transform is a pydantic model (its settings) with a ``build`` method that returns a plain function
of one value, called once per record. Building happens once, when a mapping is compiled: patterns are
parsed, code lists resolved and regular expressions compiled then, never per record.

A transform rejects a value by raising :class:`Reject`; the engine turns that into a rejection of the
record carrying the field, the (masked) raw value and the reason.
"""

from __future__ import annotations

import importlib
import inspect
import re
from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from ssgateway.model import CitizenId, Period
from ssgateway.model.values import CENT

if TYPE_CHECKING:
    from ssgateway.mapping.codelists import CodeList

__all__ = [
    "BuildContext",
    "CitizenIdStep",
    "CodeLookup",
    "Concat",
    "Constant",
    "Custom",
    "Default",
    "FenToYuan",
    "FormatDate",
    "FormatMonth",
    "HalfWidth",
    "Lower",
    "ParseDate",
    "ParseMonth",
    "RegexCheck",
    "Reject",
    "Required",
    "Split",
    "ToCode",
    "ToDecimal",
    "ToInteger",
    "Transform",
    "TransformFn",
    "Trim",
    "Upper",
    "ValueMap",
    "YuanToFen",
    "custom_transform",
    "date_pattern",
    "text_of",
]

TransformFn = Callable[[Any], Any]


class Reject(Exception):
    """Raised by a transform to reject the record; ``reason`` says why in words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class BuildContext:
    """What a transform may consult while it is built.

    Attributes:
        codelist: resolves a code-list id (raises ``LookupError`` when unknown).
        coded: for inbound code-list lookups, the ``Coded[...]`` class of the target field when it is
            one (lookups then yield cached instances of it), else None (lookups yield plain values).
        fail: raises a located mapping error for this transform's setting ``key``.
    """

    codelist: Callable[[str], CodeList]
    coded: type[BaseModel] | None = None
    fail: Callable[[str, str], Exception] = field(default=lambda key, msg: ValueError(f"{key}: {msg}"))


class _Step(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    @abstractmethod
    def build(self, ctx: BuildContext) -> TransformFn:
        """Return the function applying this step to one value."""


def text_of(value: Any) -> str:
    """The text of a value; personal strings give their real text (``str()`` would mask them)."""
    return str.__str__(value) if isinstance(value, str) else str(value)


def _none_safe(fn: TransformFn) -> TransformFn:
    def step(value: Any) -> Any:
        return None if value is None else fn(value)

    return step


class Trim(_Step):
    """Strip surrounding white space (full-width spaces included); empty becomes null."""

    type: Literal["trim"]

    def build(self, ctx: BuildContext) -> TransformFn:
        """Build."""

        def trim(value: Any) -> Any:
            if value is None:
                return None
            # str.strip() also strips U+3000, the full-width space
            return (value.strip() if type(value) is str else text_of(value).strip()) or None

        return trim


class Upper(_Step):
    """Upper-case text."""

    type: Literal["upper"]

    def build(self, ctx: BuildContext) -> TransformFn:
        """Build."""
        return _none_safe(lambda v: text_of(v).upper())


class Lower(_Step):
    """Lower-case text."""

    type: Literal["lower"]

    def build(self, ctx: BuildContext) -> TransformFn:
        """Build."""
        return _none_safe(lambda v: text_of(v).lower())


# U+FF01-U+FF5E are the full-width forms of U+0021-U+007E; U+3000 is the full-width space. Nothing else
# changes (NFKC would also turn katakana, circled digits, roman numerals and ㈱ into other characters).
_HALFWIDTH = {0x3000: 0x20} | {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)}


class HalfWidth(_Step):
    """Turn full-width digits, letters, punctuation and spaces into their ASCII forms.

    Only U+FF01-U+FF5E (to U+0021-U+007E) and U+3000 (to a space) change; values that are not text pass
    unchanged.
    """

    type: Literal["halfwidth"]

    def build(self, ctx: BuildContext) -> TransformFn:
        """Build."""

        def halfwidth(value: Any) -> Any:
            if not isinstance(value, str) or value.isascii():
                return value
            return text_of(value).translate(_HALFWIDTH)

        return halfwidth


# --- dates and months -------------------------------------------------------------------------------

_TOKENS = [("yyyy", "%Y"), ("YYYY", "%Y"), ("SSS", "%f"), ("MM", "%m"), ("DD", "%d"), ("dd", "%d"),
           ("HH", "%H"), ("mm", "%M"), ("ss", "%S")]  # fmt: skip
_PATTERN = re.compile("|".join(re.escape(t) for t, _ in _TOKENS) + r"|[-/ :T.]")
# What each token reads: a field of the date and time, and its exact number of digits.
_FIELDS = {"yyyy": ("year", 4), "YYYY": ("year", 4), "SSS": ("millisecond", 3), "MM": ("month", 2),
           "DD": ("day", 2), "dd": ("day", 2), "HH": ("hour", 2), "mm": ("minute", 2),
           "ss": ("second", 2)}  # fmt: skip
_FIELD_ORDER = ("year", "month", "day", "hour", "minute", "second", "millisecond")


def _split_pattern(pattern: str) -> list[str]:
    parts, pos = [], 0
    while pos < len(pattern):
        m = _PATTERN.match(pattern, pos)
        if not m:
            raise ValueError(f"unknown token at {pattern[pos:]!r} in date pattern {pattern!r}")
        parts.append(m.group(0))
        pos = m.end()
    return parts


def date_pattern(pattern: str) -> str:
    """Translate a pattern such as ``YYYYMMDD`` or ``yyyy-MM-dd HH:mm:ss`` into a ``strftime`` format.

    Tokens: ``YYYY``/``yyyy`` year, ``MM`` month, ``DD``/``dd`` day, ``HH`` hour, ``mm`` minute,
    ``ss`` second, ``SSS`` milliseconds; literals ``- / : . T`` and space.
    """
    table = dict(_TOKENS)
    return "".join(table.get(part, part) for part in _split_pattern(pattern))


def _parse_yyyymmdd(text: str) -> date | None:
    if len(text) != 8 or not text.isascii() or not text.isdigit():
        return None
    return date(int(text[:4]), int(text[4:6]), int(text[6:]))


def _date_parser(pattern: str) -> Callable[[str], date | datetime | None]:
    """A strict parser for ``pattern``: each token is exactly its number of ASCII digits, each literal itself.

    The parser returns None for text not in that form and raises ``ValueError`` for an impossible date
    or time (``20230229``, hour 25).
    """
    regex, fields = [], []
    for part in _split_pattern(pattern):
        if part not in _FIELDS:
            regex.append(re.escape(part))
            continue
        name, width = _FIELDS[part]
        if name in fields:
            raise ValueError(f"the {name} appears twice in date pattern {pattern!r}")
        fields.append(name)
        regex.append(f"([0-9]{{{width}}})")
    missing = [name for name in _FIELD_ORDER[:3] if name not in fields]
    if missing:
        raise ValueError(f"date pattern {pattern!r} has no {' or '.join(missing)}")
    if fields == ["year", "month", "day"] and len(regex) == 3:
        return _parse_yyyymmdd
    match = re.compile("".join(regex)).fullmatch
    if fields == ["year", "month", "day"]:

        def parse_date(text: str) -> date | None:
            m = match(text)
            return None if m is None else date(*map(int, m.groups()))

        return parse_date
    # partners send local times without a zone; they stay naive
    where = [fields.index(name) if name in fields else -1 for name in _FIELD_ORDER]

    def parse_datetime(text: str) -> datetime | None:
        m = match(text)
        if m is None:
            return None
        groups = m.groups()
        year, month, day, hour, minute, second, millis = (int(groups[i]) if i >= 0 else 0 for i in where)
        return datetime(year, month, day, hour, minute, second, millis * 1000)

    return parse_datetime


class ParseDate(_Step):
    """Parse a date (or a date and time, if the pattern has a time) with an explicit pattern.

    The value must be exactly the pattern: each token its number of ASCII digits (``YYYY`` four, ``SSS``
    three, the others two), each other character itself. Anything else, and dates or times that do not
    exist (``20230229``), are rejected.
    """

    type: Literal["date"]
    pattern: str = "YYYYMMDD"
    """``YYYYMMDD``, ``YYYY-MM-DD``, ``yyyyMMddHHmmss``, ``yyyy-MM-dd HH:mm:ss`` …"""
    timezone: str | None = Field(default=None, pattern=r"^[+-][0-9]{2}:[0-9]{2}$")
    """For a date and time: the source's UTC offset (``+08:00`` for Beijing time), so the canonical value
    is an exact instant. Without it the time stays naive."""

    def build(self, ctx: BuildContext) -> TransformFn:
        """Build."""
        try:
            parse = _date_parser(self.pattern)
        except ValueError as exc:
            raise ctx.fail("pattern", str(exc)) from None
        pattern = self.pattern
        zone = None
        if self.timezone is not None:
            sign = -1 if self.timezone[0] == "-" else 1
            zone = dt_timezone(
                sign * timedelta(hours=int(self.timezone[1:3]), minutes=int(self.timezone[4:6]))
            )

        def parse_date(value: Any) -> Any:
            if value is None or isinstance(value, date):
                return value
            try:
                parsed = parse(text_of(value).strip())
            except ValueError as exc:  # the digits are there, the date does not exist
                raise Reject(f"not a valid date in the form {pattern}: {exc}") from None
            if parsed is None:
                raise Reject(f"not a valid date in the form {pattern}")
            if zone is not None and isinstance(parsed, datetime) and parsed.tzinfo is None:
                return parsed.replace(tzinfo=zone)
            return parsed

        return parse_date


class FormatDate(_Step):
    """Write a date or date-time with an explicit pattern (outbound)."""

    type: Literal["format_date"]
    pattern: str = "YYYYMMDD"

    def build(self, ctx: BuildContext) -> TransformFn:
        """Build."""
        try:
            fmt = date_pattern(self.pattern)
        except ValueError as exc:
            raise ctx.fail("pattern", str(exc)) from None
        millis = fmt.endswith("%f")

        def format_date(value: Any) -> Any:
            if value is None:
                return None
            text: str = value.strftime(fmt)
            return text[:-3] if millis else text

        return format_date


class ParseMonth(_Step):
    """Parse a year-month (a ``Period``): ``YYYYMM`` or ``YYYY-MM``; impossible months are rejected."""

    type: Literal["month"]
    pattern: Literal["YYYYMM", "YYYY-MM"] = "YYYYMM"

    def build(self, ctx: BuildContext) -> TransformFn:
        """Build."""
        match = re.compile(r"([0-9]{4})([0-9]{2})" if self.pattern == "YYYYMM" else r"([0-9]{4})-([0-9]{2})")
        fullmatch, pattern = match.fullmatch, self.pattern

        def parse_month(value: Any) -> Any:
            if value is None or isinstance(value, Period):
                return value
            m = fullmatch(text_of(value).strip())
            if m is None:
                raise Reject(f"not a month in the form {pattern}")
            try:
                return Period(int(m.group(1)), int(m.group(2)))
            except ValueError as exc:
                raise Reject(str(exc)) from None

        return parse_month


class FormatMonth(_Step):
    """Write a period as ``YYYYMM`` or ``YYYY-MM`` (outbound)."""

    type: Literal["format_month"]
    pattern: Literal["YYYYMM", "YYYY-MM"] = "YYYYMM"

    def build(self, ctx: BuildContext) -> TransformFn:
        """Build."""
        if self.pattern == "YYYYMM":
            return _none_safe(lambda p: p.yyyymm())
        return _none_safe(str)


# --- numbers and money ------------------------------------------------------------------------------

# ASCII digits only: ``\d``, ``int()`` and ``Decimal()`` would also read other scripts' digits (``١٢``).
_DECIMAL = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")
_INTEGER = re.compile(r"[+-]?[0-9]+")
_FEN = re.compile(r"[+-]?[0-9]{1,20}")  # at most 20 digits: far beyond any amount, well within precision


class ToDecimal(_Step):
    """Parse a decimal number exactly (never through float)."""

    type: Literal["decimal"]

    def build(self, ctx: BuildContext) -> TransformFn:
        """Build."""

        def to_decimal(value: Any) -> Any:
            if value is None or isinstance(value, Decimal):
                return value
            text = text_of(value).strip()
            if not _DECIMAL.fullmatch(text):
                raise Reject("not a decimal number")
            return Decimal(text)

        return to_decimal


class ToInteger(_Step):
    """Parse an integer."""

    type: Literal["integer"]

    def build(self, ctx: BuildContext) -> TransformFn:
        """Build."""

        def to_integer(value: Any) -> Any:
            if value is None or isinstance(value, int):
                return value
            text = text_of(value).strip()
            if not _INTEGER.fullmatch(text):
                raise Reject("not an integer")
            return int(text)

        return to_integer


class FenToYuan(_Step):
    """Integer fen (cents) → yuan with two decimals, exactly."""

    type: Literal["fen_to_yuan"]

    def build(self, ctx: BuildContext) -> TransformFn:
        """Build."""

        def fen_to_yuan(value: Any) -> Any:
            if value is None:
                return None
            text = text_of(value).strip()
            if not _FEN.fullmatch(text):
                if _INTEGER.fullmatch(text):
                    raise Reject("an amount in fen has at most 20 digits")
                raise Reject("an amount in fen is a whole number")
            return (Decimal(text) * CENT).quantize(CENT)

        return fen_to_yuan


class YuanToFen(_Step):
    """Yuan → integer fen, exactly (outbound)."""

    type: Literal["yuan_to_fen"]

    def build(self, ctx: BuildContext) -> TransformFn:
        """Build."""

        def yuan_to_fen(value: Any) -> Any:
            if value is None:
                return None
            if isinstance(value, Decimal):
                if not value.is_finite():
                    raise Reject("not an amount")
                fen = value * 100
            else:
                text = text_of(value).strip()
                if not _DECIMAL.fullmatch(text):
                    raise Reject("not an amount")
                fen = Decimal(text) * 100
            if fen != fen.to_integral_value():
                raise Reject("the amount has fractions of a fen")
            return str(int(fen))

        return yuan_to_fen


# --- codes --------------------------------------------------------------------------------------------


def _code_text(value: Any) -> str:
    """The code a source value spells: only text and numbers are codes (a list or an object is not)."""
    if isinstance(value, (str, int, float, Decimal)):
        return text_of(value).strip()
    raise Reject(f"a code is text or a number, not {_kind(value)}")


def _kind(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


class CodeLookup(_Step):
    """Translate a source code through a code list.

    When the target field is a coded value, the raw code is always kept beside the canonical value.
    """

    type: Literal["codelist"]
    list: str
    """The code list's id."""
    on_missing: Literal["reject", "default", "keep_raw"] = "reject"
    """A code not in the list: reject the record, use ``default``, or keep the raw code with no value."""
    default: str | None = None
    """The canonical value used when ``on_missing`` is ``default``."""

    def build(self, ctx: BuildContext) -> TransformFn:
        """Build."""
        try:
            codes = ctx.codelist(self.list)
        except LookupError as exc:
            raise ctx.fail("list", str(exc)) from None
        forward = codes.forward()
        scheme = codes.id
        fallback: Any = None
        if self.on_missing == "default":
            if self.default is None:
                raise ctx.fail("default", "on_missing: default needs a default value")
            try:
                fallback = codes.canonical(self.default)
            except ValueError as exc:
                raise ctx.fail("default", str(exc)) from None
        on_missing, list_id = self.on_missing, self.list
        coded = ctx.coded
        if coded is not None:
            cls = coded
            cache = {code: cls(value=value, raw=code, scheme=scheme) for code, value in forward.items()}

            def lookup_coded(value: Any) -> Any:
                if value is None:
                    return None
                found = cache.get(value) if type(value) is str else None
                if found is None:
                    code = _code_text(value)
                    found = cache.get(code)
                    if found is None:
                        if on_missing == "reject":
                            raise Reject(f"code {code!r} is not in code list {list_id}")
                        found = cls(value=fallback, raw=code, scheme=scheme)
                return found

            return lookup_coded

        def lookup(value: Any) -> Any:
            if value is None:
                return None
            code = _code_text(value)
            if code in forward:
                return forward[code]
            if on_missing == "reject":
                raise Reject(f"code {code!r} is not in code list {list_id}")
            return fallback if on_missing == "default" else code

        return lookup


class ToCode(_Step):
    """Canonical value → source code through a code list (outbound).

    A coded value whose raw code belongs to the same list is written back as it came.
    """

    type: Literal["to_code"]
    list: str

    def build(self, ctx: BuildContext) -> TransformFn:
        """Build."""
        try:
            codes = ctx.codelist(self.list)
        except LookupError as exc:
            raise ctx.fail("list", str(exc)) from None
        reverse, scheme, list_id = codes.reverse(), codes.id, self.list

        def to_code(value: Any) -> Any:
            if value is None:
                return None
            if isinstance(value, BaseModel):  # a Coded value
                raw = getattr(value, "raw", None)
                if raw is not None and getattr(value, "scheme", None) == scheme:
                    return raw
                value = getattr(value, "value", None)
                if value is None:
                    if raw is None:
                        return None
                    raise Reject(f"the raw code {raw!r} has no canonical value to translate to {list_id}")
            key = str(getattr(value, "value", value))
            try:
                return reverse[key]
            except KeyError:
                raise Reject(f"{key!r} has no code in code list {list_id}") from None

        return to_code


class ValueMap(_Step):
    """Translate values through a small inline table (for flags and one-off codes)."""

    type: Literal["map"]
    values: dict[str, Any]
    on_missing: Literal["reject", "keep"] = "reject"

    def build(self, ctx: BuildContext) -> TransformFn:
        """Build."""
        table, keep = dict(self.values), self.on_missing == "keep"

        def value_map(value: Any) -> Any:
            if value is None:
                return None
            key = text_of(value).strip()
            if key in table:
                return table[key]
            if keep:
                return value
            raise Reject(f"{key!r} is not one of {', '.join(map(repr, table))}")

        return value_map


# --- identifiers, text, values --------------------------------------------------------------------


class CitizenIdStep(_Step):
    """Normalise and check a citizen id: 15-digit legacy ids become 18 digits; bad ones are rejected."""

    type: Literal["citizen_id"]

    def build(self, ctx: BuildContext) -> TransformFn:
        """Build."""
        parse = CitizenId.parse

        def citizen_id(value: Any) -> Any:
            if value is None:
                return None
            try:
                return parse(value)
            except ValueError as exc:
                raise Reject(str(exc)) from None

        return citizen_id


class Concat(_Step):
    """Join several source values (a field with a list of sources) into one text."""

    type: Literal["concat"]
    separator: str = ""

    def build(self, ctx: BuildContext) -> TransformFn:
        """Build."""
        sep = self.separator

        def concat(value: Any) -> Any:
            if value is None:
                return None
            items = value if isinstance(value, (list, tuple)) else [value]
            parts = [text_of(v) for v in items if v is not None]
            return sep.join(parts) or None

        return concat


class Split(_Step):
    """Split text on a separator; ``index`` picks one part (else the list of parts)."""

    type: Literal["split"]
    separator: str
    index: int | None = None

    def build(self, ctx: BuildContext) -> TransformFn:
        """Build."""
        sep, index = self.separator, self.index

        def split(value: Any) -> Any:
            if value is None:
                return None
            parts = text_of(value).split(sep)
            if index is None:
                return parts
            try:
                return parts[index].strip() or None
            except IndexError:
                return None

        return split


class Constant(_Step):
    """Always this value, whatever the source says."""

    type: Literal["constant"]
    value: Any

    def build(self, ctx: BuildContext) -> TransformFn:
        """Build."""
        constant = self.value
        return lambda _value: constant


class Default(_Step):
    """This value when the source is empty."""

    type: Literal["default"]
    value: Any

    def build(self, ctx: BuildContext) -> TransformFn:
        """Build."""
        fallback = self.value
        return lambda value: fallback if value is None or value == "" else value


class Required(_Step):
    """Reject the record when the value is empty."""

    type: Literal["required"]

    def build(self, ctx: BuildContext) -> TransformFn:
        """Build."""

        def required(value: Any) -> Any:
            if value is None or value == "":
                raise Reject("required field is empty")
            return value

        return required


class RegexCheck(_Step):
    """Reject the record unless the whole value matches a regular expression."""

    type: Literal["regex"]
    pattern: str
    message: str | None = None
    """The rejection reason; default: says which pattern failed."""

    def build(self, ctx: BuildContext) -> TransformFn:
        """Build."""
        try:
            match = re.compile(self.pattern).fullmatch
        except re.error as exc:
            raise ctx.fail("pattern", f"invalid regular expression: {exc}") from None
        reason = self.message or f"does not match {self.pattern}"

        def regex(value: Any) -> Any:
            if value is not None and not match(text_of(value)):
                raise Reject(reason)
            return value

        return regex


_CUSTOM_MARK = "__ssgateway_custom_transform__"
_F = TypeVar("_F", bound=Callable[..., Any])


def custom_transform(fn: _F) -> _F:
    """Mark a plain Python function as one a mapping's ``custom`` transform may call.

    ``custom`` calls nothing else: a mapping file naming a built-in, a class or an unmarked function is
    refused when it is checked. The function takes one value and returns the new value, or raises
    ``ValueError`` to reject the record (the message becomes the reason).
    """
    if not inspect.isfunction(fn):
        raise TypeError("custom_transform marks a plain Python function (a def)")
    setattr(fn, _CUSTOM_MARK, True)
    return fn


def _why_not_custom(fn: Any) -> str | None:
    """Why ``fn`` may not be called by ``custom`` (None when it may)."""
    if inspect.isfunction(fn):
        return None if getattr(fn, _CUSTOM_MARK, False) is True else "it is not marked as a mapping transform"
    if inspect.isclass(fn):
        return "it is a class, not a function"
    if inspect.isbuiltin(fn):
        return "it is a built-in function"
    return "it is not a plain Python function"


class Custom(_Step):
    """The escape hatch: a function ``module.path:name`` taking and returning one value.

    Only a plain Python function marked with ``@custom_transform`` (from ``ssgateway.mapping``) may be
    named. It may raise ``ValueError`` to reject the record (the message becomes the reason).
    """

    type: Literal["custom"]
    function: str = Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")

    def build(self, ctx: BuildContext) -> TransformFn:
        """Build."""
        module_name, _, attr = self.function.partition(":")
        try:
            fn = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise ctx.fail("function", f"cannot import {self.function}: {exc}") from None
        why = _why_not_custom(fn)
        if why is not None:
            raise ctx.fail(
                "function",
                f"{self.function} cannot be used as a custom transform: {why}; only a plain Python "
                "function decorated with @custom_transform (from ssgateway.mapping import custom_transform) "
                "can be",
            )

        def custom(value: Any) -> Any:
            try:
                return fn(value)
            except ValueError as exc:
                raise Reject(str(exc)) from None

        return custom


Transform = Annotated[
    Trim
    | Upper
    | Lower
    | HalfWidth
    | ParseDate
    | FormatDate
    | ParseMonth
    | FormatMonth
    | ToDecimal
    | ToInteger
    | FenToYuan
    | YuanToFen
    | CodeLookup
    | ToCode
    | ValueMap
    | CitizenIdStep
    | Concat
    | Split
    | Constant
    | Default
    | Required
    | RegexCheck
    | Custom,
    Field(discriminator="type"),
]
"""One step of a field's transform chain, chosen by its ``type``."""
