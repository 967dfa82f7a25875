"""Inter-provincial transfer of the pension relationship: certificates and acceptances.

The funds transferred are the individual account balance plus the pooled part: 12% of the actual
contribution base of each year since 1998-01-01, partial years counted by their months, no interest on the
pooled part. Temporary contribution accounts transfer at the actual employer rate where it exceeds 12%.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from pydantic import Field, computed_field, model_validator

from ssgateway.model.base import CanonicalModel, Entity
from ssgateway.model.identifiers import CitizenId, PersonName, RegionCode
from ssgateway.model.values import CENT, Money

if TYPE_CHECKING:
    from collections.abc import Iterable

    from ssgateway.model.contributions import ContributionRecord

__all__ = [
    "POOLED_RATE",
    "POOLED_SINCE_YEAR",
    "AccountBalance",
    "TransferAcceptance",
    "TransferCertificate",
    "YearlyContribution",
]

POOLED_RATE = Decimal("0.12")
POOLED_SINCE_YEAR = 1998


class YearlyContribution(CanonicalModel):
    """Contributions of one calendar year: months contributed and the sum of their monthly bases."""

    year: int = Field(ge=1950, le=2999)
    months: int = Field(ge=0, le=12)
    base_total: Money
    """Sum of the actual monthly contribution bases of the year."""


class AccountBalance(CanonicalModel):
    """The individual account balance, split by the era its contributions were credited in."""

    before_1998: Money = Decimal("0.00")
    """Contributions before 1998, with interest."""
    from_1998_to_2005: Money = Decimal("0.00")
    """Credited at 11% of the base."""
    from_2006: Money = Decimal("0.00")
    """Credited at 8% of the base."""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def total(self) -> Money:
        """The whole balance."""
        return self.before_1998 + self.from_1998_to_2005 + self.from_2006


class TransferCertificate(Entity):
    """A contribution certificate issued by the old place for a transfer to a new place."""

    certificate_number: str = Field(min_length=1, max_length=40)
    citizen_id: CitizenId
    name: PersonName | None = None
    from_region: RegionCode
    """The issuing (old) place."""
    to_region: RegionCode
    """The receiving (new) place."""
    issued_on: date
    years: tuple[YearlyContribution, ...] = ()
    individual_account: AccountBalance = AccountBalance()
    temporary_account: bool = False
    """A temporary contribution account (non-local men 50+, women 40+ on new enrolment)."""
    employer_rate: Decimal | None = Field(default=None, ge=0, le=1)
    """Actual employer rate; for a temporary account the pooled part uses it where it exceeds 12%."""

    @model_validator(mode="after")
    def _distinct_years(self) -> TransferCertificate:
        years = [y.year for y in self.years]
        if len(years) != len(set(years)):
            raise ValueError("each year appears once in a certificate")
        return self

    @property
    def pooled_rate(self) -> Decimal:
        """The rate applied to bases for the pooled part."""
        if self.temporary_account and self.employer_rate is not None and self.employer_rate > POOLED_RATE:
            return self.employer_rate
        return POOLED_RATE

    @computed_field  # type: ignore[prop-decorator]
    @property
    def pooled_amount(self) -> Money:
        """The pooled part: the rate times the bases of every year since 1998, rounded to the fen."""
        bases = sum((y.base_total for y in self.years if y.year >= POOLED_SINCE_YEAR), Decimal(0))
        return (bases * self.pooled_rate).quantize(CENT, rounding=ROUND_HALF_UP)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def transfer_amount(self) -> Money:
        """Funds to transfer: individual account balance plus the pooled part."""
        return self.individual_account.total + self.pooled_amount

    @computed_field  # type: ignore[prop-decorator]
    @property
    def total_months(self) -> int:
        """Months contributed over every year listed."""
        return sum(y.months for y in self.years)

    @staticmethod
    def years_from_records(records: Iterable[ContributionRecord]) -> tuple[YearlyContribution, ...]:
        """Summarise pension contribution records by year: counted months and the sum of their bases.

        Only the employees' pension counts (the pooled part belongs to it; residents' pension has none);
        records that do not count (unpaid, refunds) are left out; a month paid twice counts once with its
        largest base.
        """
        by_month: dict[tuple[int, int], Decimal] = {}
        for r in records:
            kind = r.insurance_type.value
            if not r.counts or kind is None or not kind.is_employee_pension:
                continue
            key = (r.period.year, r.period.month)
            by_month[key] = max(by_month.get(key, Decimal(0)), r.base)
        per_year: dict[int, list[Decimal]] = defaultdict(list)
        for (year, _month), base in by_month.items():
            per_year[year].append(base)
        return tuple(
            YearlyContribution(year=year, months=len(bases), base_total=sum(bases, Decimal(0)))
            for year, bases in sorted(per_year.items())
        )


class TransferAcceptance(CanonicalModel):
    """The acceptance of a transfer: the letter the receiving side issues for a certificate."""

    certificate_number: str = Field(min_length=1, max_length=40)
    letter_number: str = Field(min_length=1, max_length=40)
    from_region: RegionCode | None = None
    """The issuing place (adapters fill it from the request when the partner's answer lacks it)."""
    to_region: RegionCode | None = None
    """The receiving place."""
    accepted_at: datetime | None = None
