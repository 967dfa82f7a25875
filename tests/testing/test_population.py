from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from ssgateway.model import (
    CitizenId,
    ContributionHistory,
    ContributionRecord,
    CreditCode,
    RegionCode,
    TransferCertificate,
)
from ssgateway.model.divisions import lookup
from ssgateway.testing.population import CONTRIBUTION_COLUMNS, PROVINCES, Population


@pytest.fixture(scope="module")
def population() -> Population:
    return Population.generate(seed=42, size=150)


def test_the_same_seed_gives_the_same_population(population: Population) -> None:
    again = Population.generate(seed=42, size=150)
    assert again.people == population.people
    assert again.employers == population.employers
    someone = population.people[17].citizen_id
    assert again.contributions(someone) == population.contributions(someone)
    assert Population.generate(seed=43, size=150).people != population.people


def test_ids_credit_codes_and_divisions_are_valid(population: Population) -> None:
    ids = [p.citizen_id for p in population.people]
    assert len(set(ids)) == len(ids)
    for person in population.people:
        parsed = CitizenId.parse(person.citizen_id)
        assert parsed.birth_date == person.birth_date
        assert parsed.gender.value == ("male" if person.gender == "1" else "female")
        for spell in person.spells:
            RegionCode.parse(spell.region)
    for employer in population.employers:
        assert CreditCode.parse(employer.credit_code).verified
        assert lookup(employer.region) is not None
    assert set(PROVINCES) == {e.region[:2] for e in population.employers}


def test_names_look_like_chinese_names(population: Population) -> None:
    for person in population.people:
        assert 2 <= len(person.name) <= 4
        assert all("\u4e00" <= ch <= "\u9fff" for ch in person.name)
    assert len({p.name[0] for p in population.people}) > 30
    assert all(e.name.endswith("公司") for e in population.employers)


def test_histories_span_provinces_with_gaps_and_overlaps(population: Population) -> None:
    movers = [p for p in population.people if len(p.provinces) > 1]
    assert len(movers) > len(population.people) // 3
    gaps = overlaps = 0
    for person in movers:
        records = [
            ContributionRecord.model_validate(
                {
                    "citizen_id": r.citizen_id,
                    "period": r.period,
                    "region": r.region,
                    "insurance_type": {
                        "value": "enterprise_employee_pension",
                        "raw": "110",
                        "scheme": "aae140",
                    },
                    "base": r.base,
                    "employer_amount": r.employer_amount,
                    "individual_amount": r.individual_amount,
                    "record_type": {"value": "normal", "raw": r.record_type},
                    "paid_status": {"value": "paid", "raw": "1"},
                }
            )
            for r in population.contributions(person.citizen_id)
            if r.insurance_type == "110"
        ]
        history = ContributionHistory(citizen_id=person.citizen_id, records=records)
        gaps += bool(history.gaps)
        overlaps += bool(history.overlaps)
    assert gaps > 5 and overlaps > 5


def test_rows_are_consistent(population: Population) -> None:
    person = population.people[3]
    rows = population.contributions(person.citizen_id)
    assert rows and all(list(r.as_row()) == list(CONTRIBUTION_COLUMNS) for r in rows[:5])
    for row in rows:
        assert row.period.ordinal <= population.as_of.ordinal
        if row.insurance_type == "110" and row.credit_code:
            assert row.employer_amount == (row.base * Decimal("0.16")).quantize(Decimal("0.01"))
        assert (row.paid_on is None) == (row.paid_status == "2")
    prefix = person.spells[0].region[:2]
    assert all(r.region.startswith(prefix) for r in population.contributions(person.citizen_id, prefix))
    assert population.contributions("11010519491231002X") == ()


def test_enrolments_and_transfers(population: Population) -> None:
    assert population.transfers
    move = population.transfers[0]
    person = population.person(move.citizen_id)
    assert person is not None
    left = population.enrolments(move.citizen_id, move.from_region[:2])
    assert left and {e.insurance_type for e in left} >= {"110"}
    current = population.enrolments(person.citizen_id, person.spells[-1].province)
    if person.spells[-1].end == population.as_of:
        assert {e.status for e in current} == {"1"}


def test_certificates_agree_with_the_canonical_pooled_amount(population: Population) -> None:
    checked = 0
    for move in population.transfers[:40]:
        data = population.certificate(
            move.citizen_id, move.from_region[:2], move.to_region, date(2024, 6, 28)
        )
        if data is None:
            continue
        canonical = TransferCertificate(
            certificate_number=data.certificate_number,
            citizen_id=data.citizen_id,
            from_region=data.from_region,
            to_region=data.to_region,
            issued_on=data.issued_on,
            years=[{"year": y.year, "months": y.months, "base_total": y.base_total} for y in data.years],
            temporary_account=data.temporary_account,
            employer_rate=data.employer_rate,
        )
        assert canonical.pooled_amount == data.pooled_amount
        assert (
            data.certificate_number
            == population.certificate(
                move.citizen_id, move.from_region[:2], move.to_region, date(2024, 6, 28)
            ).certificate_number
        )  # type: ignore[union-attr]
        checked += 1
    assert checked > 10


def test_bulk_histories_have_the_requested_size(population: Population) -> None:
    person = population.people[0]
    rows = list(population.bulk_contributions(person.citizen_id, 12_345, "41"))
    assert len(rows) == 12_345
    assert {r.region[:2] for r in rows} == {"41"}
    assert list(population.bulk_contributions("11010519491231002X", 10, "41")) == []


def test_unknown_provinces_are_refused() -> None:
    with pytest.raises(ValueError, match="no counties known"):
        Population.generate(provinces=["99"])
