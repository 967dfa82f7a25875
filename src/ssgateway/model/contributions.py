"""Contribution records and a person's contribution history merged across regions."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal
from itertools import pairwise
from typing import TYPE_CHECKING

from pydantic import Field, computed_field

from ssgateway.model.base import CanonicalModel, Entity
from ssgateway.model.codes import Gender, InsuranceType, PaidStatus, RecordType
from ssgateway.model.identifiers import CitizenId, CreditCode, PersonName, RegionCode
from ssgateway.model.values import Coded, Money, Period

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = [
    "ContributionHistory",
    "ContributionRecord",
    "Overlap",
    "PeriodRange",
    "RecordRejection",
    "SourceOutcome",
]


class ContributionRecord(Entity):
    """One month of contributions for one person, one insurance and one employer (a drop row)."""

    citizen_id: CitizenId
    """AAC002."""
    name: PersonName | None = None
    """AAC003."""
    gender: Coded[Gender] | None = None
    """AAC004."""
    person_number: str | None = Field(default=None, max_length=30)
    """AAC001."""
    employer_number: str | None = Field(default=None, max_length=30)
    """AAB001."""
    employer_credit_code: CreditCode | None = None
    """Employer's unified social credit code; empty for flexible workers."""
    insurance_type: Coded[InsuranceType]
    """AAE140."""
    period: Period
    """AAE003: the month the money is for."""
    base: Money
    """AAE180: contribution base."""
    employer_amount: Money
    """AAE480."""
    individual_amount: Money
    """AAE481."""
    record_type: Coded[RecordType]
    """AAE143."""
    paid_status: Coded[PaidStatus]
    """AAE114."""
    region: RegionCode
    """AAB301: division where contributed."""
    paid_on: date | None = None
    """AAB191: date the money arrived; empty when unpaid."""

    @property
    def total_amount(self) -> Decimal:
        """Employer plus individual amount."""
        return self.employer_amount + self.individual_amount

    @property
    def counts(self) -> bool:
        """Whether the record counts as a contributed month: paid and not a refund."""
        return self.paid_status.value is PaidStatus.PAID and self.record_type.value is not RecordType.REFUND

    def identity(self) -> tuple[str, str, str, int, str, Decimal, Decimal]:
        """What makes two records the same record, wherever they were read from."""
        return (
            self.citizen_id.reveal(),
            str(self.region),
            str(self.insurance_type.value or self.insurance_type.raw),
            self.period.ordinal,
            str(self.record_type.value or self.record_type.raw),
            self.employer_amount,
            self.individual_amount,
        )


class PeriodRange(CanonicalModel):
    """An inclusive range of months."""

    start: Period
    end: Period

    @computed_field  # type: ignore[prop-decorator]
    @property
    def months(self) -> int:
        """Months in the range."""
        return self.start.months_until(self.end) + 1


class Overlap(CanonicalModel):
    """A month paid in more than one region for the same insurance: a double contribution to resolve."""

    period: Period
    insurance_type: InsuranceType | None
    regions: tuple[RegionCode, ...]


class SourceOutcome(CanonicalModel):
    """How one source (a region's partner) answered when a history was gathered."""

    region: str
    """The region code or prefix asked."""
    partner: str | None = None
    ok: bool
    records: int = 0
    error_code: str | None = None
    error: str | None = None
    """What went wrong, masked."""


class RecordRejection(CanonicalModel):
    """A record a source sent that did not validate: kept in the answer, never silently dropped."""

    source: str
    """The partner (or file) it came from."""
    position: int
    """Its position in the source's answer (element or line number)."""
    field: str | None = None
    reason: str
    raw: str | None = None
    """The offending value, masked when it is personal data."""


def _ranges(periods: list[Period]) -> list[PeriodRange]:
    ranges: list[PeriodRange] = []
    for p in periods:
        if ranges and ranges[-1].end.next() == p:
            ranges[-1] = PeriodRange(start=ranges[-1].start, end=p)
        else:
            ranges.append(PeriodRange(start=p, end=p))
    return ranges


class ContributionHistory(Entity):
    """A person's contributions gathered from one or more regions.

    Months count when paid and not refunded. ``gaps`` are the uncovered stretches between the first and
    last covered month; ``overlaps`` are months paid in more than one region for the same insurance.
    ``sources`` tells which regions answered and ``rejections`` lists records that did not validate;
    ``complete`` is false when a source failed or a record was rejected.
    """

    citizen_id: CitizenId
    insurance_type: InsuranceType | None = None
    """When set, only records of this insurance count towards months, gaps and overlaps."""
    records: tuple[ContributionRecord, ...] = ()
    sources: tuple[SourceOutcome, ...] = ()
    rejections: tuple[RecordRejection, ...] = ()
    """Records sources sent that did not validate; the history is not complete while there are any."""

    def _counted(self) -> list[ContributionRecord]:
        return [
            r
            for r in self.records
            if r.counts and (self.insurance_type is None or r.insurance_type.value is self.insurance_type)
        ]

    def covered_periods(self) -> list[Period]:
        """Distinct months with a counted contribution, in order."""
        return sorted({r.period for r in self._counted()})

    @computed_field  # type: ignore[prop-decorator]
    @property
    def total_months(self) -> int:
        """Distinct months with a counted contribution."""
        return len(self.covered_periods())

    @computed_field  # type: ignore[prop-decorator]
    @property
    def covered(self) -> list[PeriodRange]:
        """Covered months as ranges."""
        return _ranges(self.covered_periods())

    @computed_field  # type: ignore[prop-decorator]
    @property
    def gaps(self) -> list[PeriodRange]:
        """Uncovered stretches between the first and the last covered month."""
        covered = self.covered
        return [PeriodRange(start=a.end.next(), end=b.start.previous()) for a, b in pairwise(covered)]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def overlaps(self) -> list[Overlap]:
        """Months paid in more than one region for the same insurance."""
        where: dict[tuple[int, InsuranceType | None], set[RegionCode]] = defaultdict(set)
        for r in self._counted():
            where[(r.period.ordinal, r.insurance_type.value)].add(r.region)
        return [
            Overlap(period=Period.from_ordinal(ordinal), insurance_type=kind, regions=tuple(sorted(regions)))
            for (ordinal, kind), regions in sorted(where.items(), key=lambda kv: (kv[0][0], str(kv[0][1])))
            if len(regions) > 1
        ]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def regions(self) -> list[str]:
        """Province-level divisions the records come from."""
        return sorted({r.region.province for r in self.records})

    @computed_field  # type: ignore[prop-decorator]
    @property
    def complete(self) -> bool:
        """Whether every source asked answered and every record it sent validated."""
        return all(s.ok for s in self.sources) and not self.rejections

    @classmethod
    def merge(
        cls,
        citizen_id: CitizenId | str,
        records: Iterable[ContributionRecord],
        *,
        sources: Iterable[SourceOutcome] = (),
        insurance_type: InsuranceType | None = None,
        rejections: Iterable[RecordRejection] = (),
    ) -> ContributionHistory:
        """Merge records from several regions into one history.

        Identical records (same region, month, insurance, type and amounts) are kept once — the copy that
        counts (paid) when one source still has it unpaid, whatever order they come in; the rest are
        ordered by month and region. A record of another person is an error.
        """
        person = CitizenId.parse(citizen_id)
        seen: dict[tuple[object, ...], ContributionRecord] = {}
        for record in records:
            if record.citizen_id != person:
                raise ValueError("a record of another person cannot be merged into this history")
            key = record.identity()
            kept = seen.get(key)
            if kept is None or (record.counts and not kept.counts):
                seen[key] = record
        ordered = sorted(seen.values(), key=lambda r: (r.period.ordinal, str(r.region)))
        return cls(
            citizen_id=person,
            insurance_type=insurance_type,
            records=tuple(ordered),
            sources=tuple(sources),
            rejections=tuple(rejections),
        )
