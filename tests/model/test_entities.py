from __future__ import annotations

import random
from datetime import UTC, date
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError
from tests.vectors import VALID_IDS, make_citizen_id

from ssgateway.model import (
    ENTITIES,
    AccountBalance,
    ContributionHistory,
    ContributionRecord,
    DeathNotice,
    InsuranceType,
    PaymentBatch,
    Period,
    Person,
    SourceOutcome,
    TransferCertificate,
    YearlyContribution,
)

CID = VALID_IDS[1]


def record(period: str, region: str = "410105", base: str = "5000.00", **over: Any) -> ContributionRecord:
    data: dict[str, Any] = {
        "citizen_id": CID,
        "name": "李四",
        "insurance_type": {"value": "enterprise_employee_pension", "raw": "110", "scheme": "aae140"},
        "period": period,
        "base": base,
        "employer_amount": str(Decimal(base) * Decimal("0.16")),
        "individual_amount": str(Decimal(base) * Decimal("0.08")),
        "record_type": {"value": "normal", "raw": "1"},
        "paid_status": {"value": "paid", "raw": "1"},
        "region": region,
    }
    data.update(over)
    return ContributionRecord.model_validate(data)


def certificate(years: list[tuple[int, int, str]], **over: Any) -> TransferCertificate:
    data: dict[str, Any] = {
        "certificate_number": "ZM-41-0001",
        "citizen_id": CID,
        "from_region": "410000",
        "to_region": "440000",
        "issued_on": "2024-07-01",
        "years": [{"year": y, "months": m, "base_total": b} for y, m, b in years],
    }
    data.update(over)
    return TransferCertificate.model_validate(data)


def test_pooled_amount_is_12_percent_of_bases_since_1998() -> None:
    # 1997 is before the pooled part; 2019 full year at 5,000/month; 2020 half a year at 6,000/month
    cert = certificate([(1997, 12, "36000.00"), (2019, 12, "60000.00"), (2020, 6, "36000.00")])
    assert cert.pooled_amount == Decimal("11520.00")  # 12% of 96,000
    assert cert.total_months == 30


def test_transfer_amount_adds_individual_account() -> None:
    cert = certificate(
        [(1998, 3, "1500.00")],
        individual_account={"before_1998": "100.10", "from_1998_to_2005": "2000.00", "from_2006": "0.45"},
    )
    assert cert.pooled_amount == Decimal("180.00")
    assert cert.individual_account.total == Decimal("2100.55")
    assert cert.transfer_amount == Decimal("2280.55")


def test_pooled_amount_rounds_half_up_to_the_fen() -> None:
    assert certificate([(2010, 1, "1234.56")]).pooled_amount == Decimal("148.15")  # 148.1472


def test_temporary_account_uses_higher_employer_rate() -> None:
    years = [(2015, 12, "48000.00")]
    assert certificate(years, temporary_account=True, employer_rate="0.20").pooled_amount == Decimal(
        "9600.00"
    )
    assert certificate(years, temporary_account=True, employer_rate="0.10").pooled_amount == Decimal(
        "5760.00"
    )
    assert certificate(years, temporary_account=False, employer_rate="0.20").pooled_amount == Decimal(
        "5760.00"
    )


def test_years_from_records_sums_counted_pension_months() -> None:
    records = [
        record("201912", base="5000.00"),
        record("202001", base="6000.00"),
        record("202002", base="6000.00"),
        record("202003", paid_status={"value": "arrears", "raw": "2"}),
        record("202004", insurance_type={"value": "employee_medical", "raw": "310"}),
    ]
    years = TransferCertificate.years_from_records(records)
    assert years == (
        YearlyContribution(year=2019, months=1, base_total=Decimal("5000.00")),
        YearlyContribution(year=2020, months=2, base_total=Decimal("12000.00")),
    )


def test_certificate_round_trips_through_json() -> None:
    cert = certificate(
        [(2019, 12, "60000.00")], individual_account=AccountBalance(from_2006=Decimal("10.00"))
    )
    again = TransferCertificate.model_validate_json(cert.model_dump_json())
    assert again == cert
    assert '"pooled_amount":"7200.00"' in cert.model_dump_json()


def test_history_merges_regions_and_reports_gaps_and_overlaps() -> None:
    henan = [record(p) for p in ("202301", "202302", "202303", "202306")]
    guangdong = [record(p, region="440113") for p in ("202306", "202307")]
    duplicate = record("202301")  # the same record reported twice
    history = ContributionHistory.merge(
        CID,
        [*henan, *guangdong, duplicate],
        sources=[
            SourceOutcome(region="41", ok=True, records=5),
            SourceOutcome(region="44", ok=True, records=2),
        ],
    )
    assert len(history.records) == 6
    assert history.total_months == 5  # 2023-06 is paid in two regions but counts once
    assert [(str(g.start), str(g.end), g.months) for g in history.gaps] == [("2023-04", "2023-05", 2)]
    assert [(str(o.period), o.regions) for o in history.overlaps] == [("2023-06", ("410105", "440113"))]
    assert history.regions == ["410000", "440000"]
    assert history.complete


def test_history_counts_only_paid_non_refund_months() -> None:
    history = ContributionHistory.merge(
        CID,
        [
            record("202401"),
            record("202402", paid_status={"value": "arrears", "raw": "2"}),
            record("202403", record_type={"value": "refund", "raw": "18"}),
        ],
    )
    assert history.total_months == 1


def test_history_filters_by_insurance_type() -> None:
    records = [record("202401"), record("202402", insurance_type={"value": "employee_medical", "raw": "310"})]
    history = ContributionHistory.merge(
        CID, records, insurance_type=InsuranceType.ENTERPRISE_EMPLOYEE_PENSION
    )
    assert history.total_months == 1


def test_partial_history_is_not_complete() -> None:
    history = ContributionHistory.merge(
        CID,
        [record("202401")],
        sources=[SourceOutcome(region="44", ok=False, error_code="partner.unavailable")],
    )
    assert not history.complete
    assert '"complete":false' in history.model_dump_json()
    assert ContributionHistory.model_validate_json(history.model_dump_json()) == history


def test_history_refuses_another_persons_record() -> None:
    other = make_citizen_id(random.Random(1))
    with pytest.raises(ValueError, match="another person"):
        ContributionHistory.merge(other, [record("202401")])


def test_entities_are_frozen_and_reject_unknown_fields() -> None:
    person = Person(citizen_id=CID, name="王五")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        person.name = "x"  # type: ignore[misc]
    with pytest.raises(ValidationError, match="Extra inputs"):
        Person.model_validate({"citizen_id": CID, "name": "王五", "nickname": "五"})


def test_repr_and_str_mask_personal_fields() -> None:
    person = Person(citizen_id=CID, name="王小五", phone="13812345678")  # type: ignore[arg-type]
    for text in (repr(person), str(person)):
        assert CID not in text and "王小五" not in text and "13812345678" not in text
    assert "王**" in repr(person) and "138****5678" in repr(person)


def test_payment_batch_validates_ids_and_sums() -> None:
    instruction = {
        "end_to_end_id": "E2E-1",
        "citizen_id": CID,
        "name": "李四",
        "account": "6222021234567890123",
        "bank_code": "102100099996",
        "amount": "3000.00",
        "payout_period": "202407",
    }
    batch = PaymentBatch.model_validate(
        {
            "batch_id": "B-202407-1",
            "debtor_name": "养老保险基金",
            "debtor_account": "11001234",
            "debtor_bank_code": "102100099996",
            "requested_execution_date": "2024-07-15",
            "instructions": [instruction, {**instruction, "end_to_end_id": "E2E-2", "amount": "1500.50"}],
        }
    )
    assert batch.control_sum == Decimal("4500.50") and batch.count == 2
    with pytest.raises(ValidationError, match="repeat"):
        PaymentBatch.model_validate({**batch.model_dump(), "instructions": [instruction, instruction]})
    with pytest.raises(ValidationError, match="positive"):
        PaymentBatch.model_validate({**batch.model_dump(), "instructions": [{**instruction, "amount": "0"}]})


def test_death_notice_dedupe_key_and_dates() -> None:
    notice = DeathNotice.model_validate(
        {
            "citizen_id": CID,
            "name": "李四",
            "date_of_death": "2024-05-01",
            "evidence": "cremation_record",
            "source_agency": "civil-affairs",
            "region": "410105",
            "reported_on": "2024-05-03",
        }
    )
    assert notice.dedupe_key == f"death:{CID}"
    other_date = DeathNotice.model_validate({**notice.model_dump(), "date_of_death": date(2024, 4, 30)})
    assert other_date.event_key == notice.event_key  # a person dies once, whatever date an agency gives
    with pytest.raises(ValidationError, match="reported on or after"):
        DeathNotice.model_validate({**notice.model_dump(), "reported_on": date(2024, 4, 1)})


def test_one_survival_certification_has_one_key_however_its_time_is_written() -> None:
    from datetime import datetime, timedelta, timezone

    from ssgateway.model import SurvivalCertification

    base = {"citizen_id": CID, "name": "李四", "result": "certified", "region": "410105"}
    beijing = timezone(timedelta(hours=8))
    written = [
        datetime(2024, 7, 1, 10, 0, tzinfo=beijing),
        datetime(2024, 7, 1, 2, 0, tzinfo=UTC),
        datetime(2024, 7, 1, 10, 0),  # no offset: the partners' Beijing time
    ]
    keys = {SurvivalCertification.model_validate({**base, "certified_at": t}).event_key for t in written}
    assert len(keys) == 1


def test_a_month_unpaid_in_one_copy_and_paid_in_another_counts_whatever_the_order() -> None:
    unpaid = record("202301", paid_status={"value": "arrears", "raw": "0"})
    paid = record("202301")
    for order in ([unpaid, paid], [paid, unpaid]):
        history = ContributionHistory.merge(CID, order)
        assert history.total_months == 1 and len(history.records) == 1


def test_residents_pension_has_no_pooled_part_in_a_transfer() -> None:
    employee = record("202301", base="5000.00")
    resident = record(
        "202302",
        base="3000.00",
        insurance_type={"value": "resident_pension", "raw": "170", "scheme": "aae140"},
    )
    legacy = record(
        "202303", base="4000.00", insurance_type={"value": "basic_pension", "raw": "1", "scheme": "legacy"}
    )
    (year,) = TransferCertificate.years_from_records([employee, resident, legacy])
    assert (year.year, year.months, year.base_total) == (2023, 2, Decimal("9000.00"))


def test_every_entity_has_provenance() -> None:
    for cls in ENTITIES.values():
        assert "provenance" in cls.model_fields


def test_period_field_round_trip() -> None:
    r = record("202406")
    assert r.period == Period(2024, 6)
    assert ContributionRecord.model_validate_json(r.model_dump_json()) == r
