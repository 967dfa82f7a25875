"""The records of the synthetic population: people, their spells of work, and what provinces hold about them.

See :mod:`ssgateway.testing.population`, which exports them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from ssgateway.model.values import Period

CONTRIBUTION_COLUMNS = (
    *("AAC001", "AAC002", "AAC003", "AAC004", "AAB001", "BAB010", "AAE140", "AAE003"),
    *("AAE180", "AAE480", "AAE481", "AAE143", "AAE114", "AAB301", "AAB191"),
)
"""The columns of a contribution row, in the order of the drop format and the SOAP contract."""

CENT = Decimal("0.01")
# AAE140 (3-digit scheme): employer rate, individual rate.
EMPLOYEE_RATES = {
    "110": (Decimal("0.16"), Decimal("0.08")),
    "210": (Decimal("0.005"), Decimal("0.005")),
    "310": (Decimal("0.08"), Decimal("0.02")),
    "410": (Decimal("0.004"), Decimal("0.00")),
    "510": (Decimal("0.008"), Decimal("0.00")),
}
FLEXIBLE_RATES = {"110": (Decimal("0.00"), Decimal("0.20")), "310": (Decimal("0.00"), Decimal("0.10"))}
FIRST_PERIOD = Period(1993, 1)


def cents(value: Decimal) -> Decimal:
    """Round to the fen."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def average_wage(year: int) -> Decimal:
    """A plausible average monthly wage: about 300 yuan in 1993, growing 11.5% a year."""
    return Decimal(300) * Decimal("1.115") ** (year - 1993)


def shift(period: Period, months: int) -> Period:
    """The month ``months`` after (or before, when negative) ``period``."""
    ordinal = period.ordinal + months
    return Period(ordinal // 12, ordinal % 12 + 1)


@dataclass(frozen=True, slots=True)
class SyntheticEmployer:
    """An employer: number in the provincial system (AAB001), name (AAB004), credit code, county."""

    employer_number: str
    name: str
    credit_code: str
    region: str


@dataclass(frozen=True, slots=True)
class Spell:
    """Months of contributions in one county, with one employer (``None``: a flexible worker)."""

    region: str
    employer: SyntheticEmployer | None
    start: Period
    end: Period
    """The last month, inclusive."""
    level: Decimal
    """The contribution base as a multiple of the average wage (0.6 to 3)."""

    @property
    def province(self) -> str:
        """The two-digit province code."""
        return self.region[:2]

    def months(self) -> Iterator[Period]:
        """Every month of the spell, in order."""
        for ordinal in range(self.start.ordinal, self.end.ordinal + 1):
            yield Period(ordinal // 12, ordinal % 12 + 1)

    def base(self, year: int) -> Decimal:
        """The monthly contribution base in a year (whole yuan)."""
        return (average_wage(year) * self.level).quantize(Decimal(1), rounding=ROUND_HALF_UP) + Decimal(
            "0.00"
        )


@dataclass(frozen=True, slots=True)
class SyntheticPerson:
    """One insured person and their working life."""

    index: int
    citizen_id: str
    name: str
    gender: str
    """AAC004: ``1`` male, ``2`` female."""
    birth_date: date
    spells: tuple[Spell, ...]

    def person_number(self, province: str) -> str:
        """AAC001: the person's number in one province's system."""
        return f"{province}{self.index:010d}"

    @property
    def provinces(self) -> tuple[str, ...]:
        """Provinces the person contributed in, in the order first seen."""
        return tuple(dict.fromkeys(s.province for s in self.spells))

    def spells_in(self, prefix: str) -> tuple[Spell, ...]:
        """The spells in divisions starting with ``prefix``."""
        return tuple(s for s in self.spells if s.region.startswith(prefix))


@dataclass(frozen=True, slots=True)
class ContributionRow:
    """One month of one insurance for one person, as a provincial system records it."""

    person_number: str
    citizen_id: str
    name: str
    gender: str
    employer_number: str
    credit_code: str
    """Empty for flexible workers."""
    insurance_type: str
    period: Period
    base: Decimal
    employer_amount: Decimal
    individual_amount: Decimal
    record_type: str
    """AAE143: ``1`` normal, ``2`` back-payment."""
    paid_status: str
    """AAE114: ``1`` paid, ``2`` arrears."""
    region: str
    paid_on: date | None

    def as_row(self) -> dict[str, str]:
        """The row as legacy field codes (:data:`CONTRIBUTION_COLUMNS`) and their text."""
        return {
            "AAC001": self.person_number,
            "AAC002": self.citizen_id,
            "AAC003": self.name,
            "AAC004": self.gender,
            "AAB001": self.employer_number,
            "BAB010": self.credit_code,
            "AAE140": self.insurance_type,
            "AAE003": f"{self.period.year:04d}{self.period.month:02d}",
            "AAE180": f"{self.base:.2f}",
            "AAE480": f"{self.employer_amount:.2f}",
            "AAE481": f"{self.individual_amount:.2f}",
            "AAE143": self.record_type,
            "AAE114": self.paid_status,
            "AAB301": self.region,
            "AAB191": self.paid_on.strftime("%Y%m%d") if self.paid_on else "",
        }


@dataclass(frozen=True, slots=True)
class EnrolmentRow:
    """A person's enrolment in one insurance in one province (the latest spell there)."""

    insurance_type: str
    status: str
    """AAC008 (enrolment meaning): ``1`` normal, ``2`` interrupted, ``4`` terminated (moved away)."""
    contribution_status: str
    """AAC031: ``1`` paying, ``2`` suspended, ``3`` terminated."""
    enrolled_on: date
    employer_number: str
    employer_name: str
    region: str

    def as_row(self) -> dict[str, str]:
        """The enrolment as legacy field codes."""
        return {
            "AAE140": self.insurance_type,
            "AAC008": self.status,
            "AAC031": self.contribution_status,
            "AAC030": self.enrolled_on.strftime("%Y%m%d"),
            "AAB001": self.employer_number,
            "AAB004": self.employer_name,
            "AAB301": self.region,
        }


@dataclass(frozen=True, slots=True)
class YearTotal:
    """Pension months and the sum of their bases in one year."""

    year: int
    months: int
    base_total: Decimal


@dataclass(frozen=True, slots=True)
class CertificateData:
    """What a province puts on a transfer certificate."""

    certificate_number: str
    citizen_id: str
    name: str
    from_region: str
    to_region: str
    issued_on: date
    temporary_account: bool
    employer_rate: Decimal | None
    years: tuple[YearTotal, ...]
    before_1998: Decimal
    from_1998_to_2005: Decimal
    from_2006: Decimal
    pooled_amount: Decimal


@dataclass(frozen=True, slots=True)
class PlannedTransfer:
    """A move between provinces in someone's history: a transfer that should happen (or has)."""

    citizen_id: str
    from_region: str
    to_region: str
    moved_in: Period
