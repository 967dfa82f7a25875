"""A synthetic insured population, the same from the same seed, for simulators and tests.

People have valid citizen ids (GB 11643) and ordinary Chinese names; their working lives are a series of
*spells* — months of contributions in one county, with one employer or as a flexible worker — that move
between provinces, leave gaps and sometimes overlap (contributions in two provinces for the same month,
which transfers must sort out). Employers carry valid unified social credit codes (GB 32100).

Everything a partner would hold is derived from the spells on demand: contribution rows (the columns of
the Golden-Insurance contribution drop and of the provincial SOAP service), enrolments, transfer
certificates. Nothing here is canonical-model data: simulators and tests render it in their own format.

>>> population = Population.generate(seed=7, size=20)
>>> person = population.people[0]
>>> rows = population.contributions(person.citizen_id)
>>> sorted(rows[0].as_row()) == sorted(CONTRIBUTION_COLUMNS)
True
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from datetime import date
from decimal import Decimal
from functools import cached_property

from ssgateway.model.identifiers import citizen_id_check_char
from ssgateway.model.values import Period
from ssgateway.testing import _lives
from ssgateway.testing._people import (
    CONTRIBUTION_COLUMNS,
    EMPLOYEE_RATES,
    FIRST_PERIOD,
    FLEXIBLE_RATES,
    CertificateData,
    ContributionRow,
    EnrolmentRow,
    PlannedTransfer,
    Spell,
    SyntheticEmployer,
    SyntheticPerson,
    YearTotal,
    cents,
    shift,
)

__all__ = [
    "CONTRIBUTION_COLUMNS",
    "PROVINCES",
    "CertificateData",
    "ContributionRow",
    "EnrolmentRow",
    "PlannedTransfer",
    "Population",
    "Spell",
    "SyntheticEmployer",
    "SyntheticPerson",
    "YearTotal",
]

PROVINCES: tuple[str, ...] = tuple(_lives.COUNTIES)
"""Two-digit codes of the provinces the population lives in by default."""


class Population:
    """A seeded synthetic population (see the module). Build one with :meth:`generate`.

    Attributes:
        seed: the seed it was generated from.
        as_of: the current month of the simulated world; no contribution lies after it.
        people: everyone, in index order.
        employers: every employer.
    """

    def __init__(
        self,
        seed: int,
        as_of: Period,
        people: Sequence[SyntheticPerson],
        employers: Sequence[SyntheticEmployer],
    ) -> None:
        self.seed = seed
        self.as_of = as_of
        self.people = tuple(people)
        self.employers = tuple(employers)
        self._by_id = {p.citizen_id: p for p in self.people}
        self._rows: dict[str, tuple[ContributionRow, ...]] = {}

    @classmethod
    def generate(
        cls,
        seed: int = 0,
        *,
        size: int = 200,
        provinces: Sequence[str] = PROVINCES,
        as_of: Period | str = "202406",
        employers_per_county: int = 4,
    ) -> Population:
        """Generate ``size`` people working in ``provinces`` (two-digit codes), the same for the same seed."""
        month = Period.parse(as_of)
        unknown = [p for p in provinces if p not in _lives.COUNTIES]
        if unknown:
            raise ValueError(f"no counties known for provinces {unknown}; known: {sorted(_lives.COUNTIES)}")
        counties = [c for p in provinces for c in _lives.COUNTIES[p]]
        employers = _lives.make_employers(_lives.seeded(seed, "employers"), counties, employers_per_county)
        by_county: dict[str, list[SyntheticEmployer]] = {}
        for employer in employers:
            by_county.setdefault(employer.region, []).append(employer)
        all_counties = [c for cs in _lives.COUNTIES.values() for c in cs]
        people: list[SyntheticPerson] = []
        ids: set[str] = set()
        for index in range(size):
            rng = _lives.seeded(seed, "person", index)
            gender = rng.choice("12")
            born = date(rng.randint(1962, 1998), rng.randint(1, 12), rng.randint(1, 28))
            county = rng.choice(all_counties)
            sequence = 2 * rng.randint(0, 498) + (1 if gender == "1" else 2)
            while True:
                first17 = f"{county}{born:%Y%m%d}{sequence:03d}"
                citizen_id = first17 + citizen_id_check_char(first17)
                if citizen_id not in ids:
                    break
                sequence = (sequence + 2) % 1000 or (1 if gender == "1" else 2)
            ids.add(citizen_id)
            spells = _lives.make_spells(rng, born, gender, provinces, by_county, month)
            people.append(
                SyntheticPerson(index, citizen_id, _lives.make_name(rng, gender), gender, born, spells)
            )
        return cls(seed, month, people, employers)

    def person(self, citizen_id: str) -> SyntheticPerson | None:
        """The person with this id, if there is one."""
        return self._by_id.get(citizen_id)

    def people_in(self, prefix: str) -> tuple[SyntheticPerson, ...]:
        """People with contributions in divisions starting with ``prefix`` (``"41"``, ``"4101"``)."""
        return tuple(p for p in self.people if p.spells_in(prefix))

    @cached_property
    def transfers(self) -> tuple[PlannedTransfer, ...]:
        """Every move from one province to another in someone's history."""
        return tuple(
            PlannedTransfer(p.citizen_id, before.region, after.region, after.start)
            for p in self.people
            for before, after in zip(p.spells, p.spells[1:], strict=False)
            if before.province != after.province
        )

    def contributions(
        self, citizen_id: str, prefix: str = "", *, start: Period | None = None, end: Period | None = None
    ) -> tuple[ContributionRow, ...]:
        """A person's contribution rows in divisions starting with ``prefix``, between two months."""
        rows = self._rows.get(citizen_id)
        if rows is None:
            person = self._by_id.get(citizen_id)
            rows = () if person is None else tuple(self._contributions(person))
            self._rows[citizen_id] = rows
        low = start.ordinal if start else 0
        high = end.ordinal if end else 1 << 30
        return tuple(r for r in rows if r.region.startswith(prefix) and low <= r.period.ordinal <= high)

    def _contributions(self, person: SyntheticPerson) -> Iterator[ContributionRow]:
        rng = _lives.seeded(self.seed, "contributions", person.index)
        for spell in person.spells:
            employer = spell.employer
            rates = EMPLOYEE_RATES if employer else FLEXIBLE_RATES
            number = employer.employer_number if employer else f"{spell.region}LH{person.index:06d}"
            for period in spell.months():
                base = spell.base(period.year)
                late = rng.random() < 0.03
                recent = self.as_of.ordinal - period.ordinal < 2 and spell.end == self.as_of
                unpaid = recent and rng.random() < 0.5
                months_late = rng.randint(3, 14) if late else 1
                paid = shift(period, months_late)
                for kind, (employer_rate, individual_rate) in rates.items():
                    yield ContributionRow(
                        person_number=person.person_number(spell.province),
                        citizen_id=person.citizen_id,
                        name=person.name,
                        gender=person.gender,
                        employer_number=number,
                        credit_code=employer.credit_code if employer else "",
                        insurance_type=kind,
                        period=period,
                        base=base,
                        employer_amount=cents(base * employer_rate),
                        individual_amount=cents(base * individual_rate),
                        record_type="2" if late else "1",
                        paid_status="2" if unpaid else "1",
                        region=spell.region,
                        paid_on=None if unpaid else date(paid.year, paid.month, 10 + period.month),
                    )

    def enrolments(self, citizen_id: str, prefix: str) -> tuple[EnrolmentRow, ...]:
        """A person's enrolments in divisions starting with ``prefix`` (the latest spell there)."""
        person = self._by_id.get(citizen_id)
        spells = person.spells_in(prefix) if person else ()
        if person is None or not spells:
            return ()
        spell = spells[-1]
        moved_on = spell is not person.spells[-1]
        ongoing = spell.end == self.as_of
        status, paying = ("1", "1") if ongoing else ("4", "3") if moved_on else ("2", "2")
        employer = spell.employer
        return tuple(
            EnrolmentRow(
                insurance_type=kind,
                status=status,
                contribution_status=paying,
                enrolled_on=date(spell.start.year, spell.start.month, 1),
                employer_number=employer.employer_number
                if employer
                else f"{spell.region}LH{person.index:06d}",
                employer_name=employer.name if employer else "灵活就业人员",
                region=spell.region,
            )
            for kind in (EMPLOYEE_RATES if employer else FLEXIBLE_RATES)
        )

    def certificate_number(self, citizen_id: str, from_region: str, to_region: str, issued_on: date) -> str:
        """The number a province gives the certificate for this transfer (stable for the same request)."""
        digest = hashlib.sha256(f"{self.seed}|{citizen_id}|{from_region}|{to_region}".encode()).hexdigest()
        return f"ZY{from_region[:2]}{issued_on:%Y%m%d}{int(digest[:12], 16) % 10**6:06d}"

    def certificate(
        self, citizen_id: str, from_prefix: str, to_region: str, issued_on: date
    ) -> CertificateData | None:
        """The transfer certificate the province ``from_prefix`` issues for a move to ``to_region``.

        ``None`` when the person has no pension contributions there.
        """
        person = self._by_id.get(citizen_id)
        spells = person.spells_in(from_prefix) if person else ()
        if person is None or not spells:
            return None
        by_month: dict[Period, Decimal] = {}
        for row in self.contributions(citizen_id, from_prefix):
            if row.insurance_type == "110" and row.paid_status == "1":
                by_month[row.period] = max(by_month.get(row.period, Decimal(0)), row.base)
        if not by_month:
            return None
        years: dict[int, list[Decimal]] = {}
        for period, base in by_month.items():
            years.setdefault(period.year, []).append(base)
        totals = tuple(YearTotal(y, len(b), sum(b, Decimal("0.00"))) for y, b in sorted(years.items()))
        before = sum((t.base_total for t in totals if t.year < 1998), Decimal(0))
        middle = sum((t.base_total for t in totals if 1998 <= t.year <= 2005), Decimal(0))
        late = sum((t.base_total for t in totals if t.year >= 2006), Decimal(0))
        first = spells[0]
        age = first.start.year - person.birth_date.year
        temporary = first.province != person.citizen_id[:2] and age >= (50 if person.gender == "1" else 40)
        rate = Decimal("0.16") if temporary else None
        pooled_rate = rate if rate is not None else Decimal("0.12")
        from_region = spells[-1].region
        return CertificateData(
            certificate_number=self.certificate_number(citizen_id, from_region, to_region, issued_on),
            citizen_id=citizen_id,
            name=person.name,
            from_region=from_region,
            to_region=to_region,
            issued_on=issued_on,
            temporary_account=temporary,
            employer_rate=rate,
            years=totals,
            before_1998=cents(before * Decimal("0.11") * Decimal("1.3")),
            from_1998_to_2005=cents(middle * Decimal("0.11")),
            from_2006=cents(late * Decimal("0.08")),
            pooled_amount=cents((middle + late) * pooled_rate),
        )

    def bulk_contributions(self, citizen_id: str, count: int, prefix: str) -> Iterator[ContributionRow]:
        """``count`` synthetic rows for one person in ``prefix``, for load tests (not a plausible history).

        Rows cycle through months back from :attr:`as_of` to 1993, five insurances, and the employers of the
        province, so a 100,000-row answer has the shape (and size) of a real one.
        """
        person = self._by_id.get(citizen_id)
        if person is None:
            return
        province = prefix[:2]
        employers = [e for e in self.employers if e.region.startswith(province)] or list(self.employers)
        months = self.as_of.ordinal - FIRST_PERIOD.ordinal + 1
        produced = 0
        cycle = 0
        while produced < count:
            employer = employers[cycle % len(employers)]
            for back in range(months):
                period = shift(self.as_of, -back)
                spell = Spell(
                    employer.region, employer, period, period, Decimal("1.00") + Decimal(cycle % 7) / 10
                )
                base = spell.base(period.year)
                for kind, (employer_rate, individual_rate) in EMPLOYEE_RATES.items():
                    if produced == count:
                        return
                    produced += 1
                    paid = shift(period, 1)
                    yield ContributionRow(
                        person.person_number(province), person.citizen_id, person.name, person.gender,
                        employer.employer_number, employer.credit_code, kind, period, base,
                        cents(base * employer_rate), cents(base * individual_rate), "1", "1",
                        employer.region, date(paid.year, paid.month, 15),
                    )  # fmt: skip
            cycle += 1
