"""Value types: ``Period`` (a year-month), ``Money`` (exact yuan), ``Coded`` (canonical value, raw code)."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import total_ordering
from typing import TYPE_CHECKING, Annotated, Any, Generic, Self, TypeVar

from pydantic import BaseModel, ConfigDict, PlainSerializer, PlainValidator, WithJsonSchema
from pydantic_core import core_schema

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
    from pydantic.json_schema import JsonSchemaValue

__all__ = ["CENT", "Coded", "Money", "Period", "to_money"]

_PERIOD = re.compile(r"([0-9]{4})-?([0-9]{2})")


@total_ordering
class Period:
    """A calendar month (year and month), e.g. a contribution period (AAE003) or a payout month.

    Parses ``YYYYMM`` and the ISO ``YYYY-MM`` forms, dates and datetimes; serialises as ``YYYY-MM``.

    >>> Period.parse("202406") == Period(2024, 6)
    True
    >>> str(Period(2024, 12).next())
    '2025-01'
    """

    __slots__ = ("month", "year")

    def __init__(self, year: int, month: int) -> None:
        if not 1 <= month <= 12:
            raise ValueError(f"month {month} is not between 1 and 12")
        if not 1900 <= year <= 2999:
            raise ValueError(f"year {year} is out of range")
        self.year = year
        self.month = month

    @classmethod
    def parse(cls, value: str | date | Period) -> Period:
        """Parse ``YYYYMM``, ``YYYY-MM``, a date or a datetime; raise ``ValueError`` otherwise."""
        if isinstance(value, Period):
            return value
        if isinstance(value, date):  # datetime is a date too
            return cls(value.year, value.month)
        if isinstance(value, str):
            m = _PERIOD.fullmatch(value.strip())
            if m:
                return cls(int(m.group(1)), int(m.group(2)))
            raise ValueError("a period is written YYYYMM or YYYY-MM")
        raise ValueError(f"a period is a string or a date, not {type(value).__name__}")

    @property
    def ordinal(self) -> int:
        """Months since year 0: differences of ordinals count months."""
        return self.year * 12 + self.month - 1

    @classmethod
    def from_ordinal(cls, ordinal: int) -> Period:
        """The period with this ordinal."""
        return cls(ordinal // 12, ordinal % 12 + 1)

    def next(self) -> Period:
        """The following month."""
        return Period.from_ordinal(self.ordinal + 1)

    def previous(self) -> Period:
        """The preceding month."""
        return Period.from_ordinal(self.ordinal - 1)

    def months_until(self, other: Period) -> int:
        """Months from this period to ``other`` (0 when equal; negative when ``other`` is earlier)."""
        return other.ordinal - self.ordinal

    def through(self, last: Period) -> Iterator[Period]:
        """Every period from this one to ``last`` inclusive."""
        for ordinal in range(self.ordinal, last.ordinal + 1):
            yield Period.from_ordinal(ordinal)

    def first_day(self) -> date:
        """The first day of the month."""
        return date(self.year, self.month, 1)

    def yyyymm(self) -> str:
        """The compact legacy form, ``YYYYMM``."""
        return f"{self.year:04d}{self.month:02d}"

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def __repr__(self) -> str:
        return f"Period({self.year}, {self.month})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Period) and self.ordinal == other.ordinal

    def __lt__(self, other: Period) -> bool:
        if not isinstance(other, Period):
            return NotImplemented
        return self.ordinal < other.ordinal

    def __hash__(self) -> int:
        return hash(self.ordinal)

    @classmethod
    def _validate(cls, value: Any) -> Period:
        if isinstance(value, Period):
            return value
        if isinstance(value, (str, date)):
            return cls.parse(value)
        raise ValueError(f"a period is a string YYYYMM/YYYY-MM or a date, not {type(value).__name__}")

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            cls._validate,
            serialization=core_schema.plain_serializer_function_ser_schema(
                str, return_schema=core_schema.str_schema(), when_used="json"
            ),
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"type": "string", "pattern": r"^\d{4}-?\d{2}$", "description": "Year and month, YYYY-MM."}


CENT = Decimal("0.01")
_MONEY_TEXT = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")
_MONEY_EXACT = re.compile(r"-?[0-9]{1,20}\.[0-9][0-9]").fullmatch  # the common, already-normal form


def to_money(value: Any) -> Decimal:
    """Validate and normalise an amount of yuan to a ``Decimal`` with exactly 2 places.

    Accepts ``Decimal``, ``int`` and decimal strings. Refuses floats (they cannot hold fen exactly), booleans,
    NaN and infinities, and values that would lose digits at 2 places (``"1.005"``); ``"1.5"`` and ``"1.500"``
    become ``Decimal("1.50")``.
    """
    if type(value) is str and _MONEY_EXACT(value):
        return Decimal(value)
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, bool):
        raise ValueError("a boolean is not an amount")
    elif isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, str):
        text = value.strip()
        if not _MONEY_TEXT.fullmatch(text):
            raise ValueError("an amount is written as digits with at most 2 decimal places")
        amount = Decimal(text)
    elif isinstance(value, float):
        raise ValueError("floats are not accepted as money: send a string such as '1234.50'")
    else:
        raise ValueError(f"an amount is a decimal string, int or Decimal, not {type(value).__name__}")
    if not amount.is_finite():
        raise ValueError("an amount must be a finite number")
    try:
        quantised = amount.quantize(CENT)
    except InvalidOperation:
        raise ValueError("the amount is too large") from None
    if quantised != amount:
        raise ValueError("an amount has at most 2 decimal places")
    return quantised


Money = Annotated[
    Decimal,
    PlainValidator(to_money),
    PlainSerializer(lambda d: f"{d:.2f}", return_type=str, when_used="json"),
    WithJsonSchema(
        {"type": "string", "pattern": r"^-?\d+\.\d{2}$", "description": "Yuan, exactly 2 decimal places."},
        mode="serialization",
    ),
    WithJsonSchema(
        {
            "anyOf": [{"type": "string", "pattern": r"^[+-]?\d+(\.\d{1,2})?$"}, {"type": "integer"}],
            "description": "Yuan as a decimal string with at most 2 places (or an integer); never a float.",
        },
        mode="validation",
    ),
]
"""Yuan as ``Decimal`` with exactly 2 places; serialised to JSON as a string such as ``"12.50"``."""

E = TypeVar("E")


class Coded(BaseModel, Generic[E]):
    """A coded value: the canonical ``value`` beside the ``raw`` code the source sent and its ``scheme``.

    ``value`` is None when the source code had no canonical translation and the mapping kept it raw.
    On the wire it is always an object: ``{"value": "male", "raw": "1", "scheme": "aac004"}``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    value: E | None
    raw: str | None = None
    scheme: str | None = None

    @classmethod
    def of(cls, value: E | None, raw: str | None = None, scheme: str | None = None) -> Self:
        """Build a coded value."""
        return cls(value=value, raw=raw, scheme=scheme)
