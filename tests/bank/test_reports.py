"""pain.002 status reports and camt.054 notifications → canonical PaymentStatus, from samples."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from ssgateway.errors import InputError, XMLSecurityError
from ssgateway.model import PaymentState
from ssgateway.xmlsafe import parse_xml
from ssgateway_adapters.bank_iso20022 import CAMT054, PAIN002, read_notification, read_status_report, schema

SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "iso20022"
ATTACKS = Path(__file__).resolve().parents[1] / "fixtures" / "xml-attacks" / "defusedxml"


def sample(name: str) -> bytes:
    data = (SAMPLES / name).read_bytes()
    message = PAIN002 if name.startswith("pain002") else CAMT054
    assert schema(message).validate(parse_xml(data)), f"{name}: {schema(message).error_log}"
    return data


def states(statuses: object) -> list[tuple[str, str, str | None]]:
    return [(s.end_to_end_id, s.state.value, s.reason_code) for s in statuses]  # type: ignore[attr-defined]


def test_a_group_acceptance_covers_every_expected_payment() -> None:
    report = read_status_report(sample("pain002-accepted.xml"), batch_id="B", expected=["E1", "E2", "E3"])
    assert report.original_message_id == "ZZ202406-001" and report.group_status == "ACCP"
    assert states(report.statuses) == [
        ("E1", "accepted", None),
        ("E2", "accepted", None),
        ("E3", "accepted", None),
    ]
    assert {s.batch_id for s in report.statuses} == {"B"}
    assert report.statuses[0].status_at == datetime.fromisoformat("2024-06-28T09:30:00+08:00")


def test_transaction_statuses_with_reason_codes() -> None:
    report = read_status_report(sample("pain002-rejects.xml"), expected=["E2E-0001", "E2E-0099"])
    assert states(report.statuses) == [
        ("E2E-0001", "accepted", None),
        ("E2E-0002", "rejected", "AC01"),
        ("E2E-0003", "rejected", "AC04"),
        ("E2E-0004", "rejected", "AM04"),
        ("E2E-0005", "rejected", "MD07"),
        ("E2E-0006", "settled", None),
        ("E2E-0007", "rejected", "B117"),
        ("E2E-0008", "accepted", "AM05"),
        ("E2E-0099", "accepted", None),  # not listed under PART: accepted
    ]
    by_id = {s.end_to_end_id: s for s in report.statuses}
    assert by_id["E2E-0002"].reason == "incorrect account number"
    assert by_id["E2E-0003"].reason == "account closed on 2024-05-31"  # the bank's own words win
    assert by_id["E2E-0004"].reason == "insufficient funds"
    assert by_id["E2E-0005"].reason == "end customer deceased"
    assert by_id["E2E-0007"].reason == "户名不符"
    assert by_id["E2E-0001"].amount == Decimal("3125.40")
    assert by_id["E2E-0001"].status_at == datetime.fromisoformat("2024-06-28T09:30:10+08:00")
    assert by_id["E2E-0002"].batch_id == "ZZ202406-002"


def test_a_group_rejection_rejects_every_expected_payment() -> None:
    report = read_status_report(sample("pain002-group-rejected.xml"), batch_id="B", expected=["E1", "E2"])
    assert (report.group_status, report.group_reason) == ("RJCT", "AM18")
    assert states(report.statuses) == [("E1", "rejected", "AM18"), ("E2", "rejected", "AM18")]
    assert report.statuses[0].reason == "invalid number of transactions"


def test_a_partial_acceptance_lists_only_the_rejected() -> None:
    report = read_status_report(sample("pain002-partial-group.xml"), expected=["E2E-0401", "E2E-0402"])
    assert states(report.statuses) == [("E2E-0402", "rejected", "AC04"), ("E2E-0401", "accepted", None)]


def test_unknown_status_codes_stay_pending_and_say_so() -> None:
    data = sample("pain002-rejects.xml").replace(b"<TxSts>ACSC</TxSts>", b"<TxSts>ZZZZ</TxSts>")
    report = read_status_report(data)
    odd = next(s for s in report.statuses if s.end_to_end_id == "E2E-0006")
    assert odd.state is PaymentState.PENDING and odd.reason == "status ZZZZ not recognised"


def test_returned_payments_from_a_notification() -> None:
    statuses = read_notification(sample("camt054-returns.xml"), batch_id=None)
    assert states(statuses) == [
        ("E2E-0001", "returned", "AC04"),
        ("E2E-0006", "returned", "MD07"),
        ("E2E-0009", "settled", None),
    ]
    first, second, third = statuses
    assert first.amount == Decimal("3125.40") and first.reason == "account closed after acceptance"
    assert first.batch_id == "ZZ202406-002" and first.status_at == datetime(2024, 6, 30)
    assert second.amount == Decimal("2800.00")  # from the entry when the transaction has none
    assert second.reason == "end customer deceased"
    assert second.status_at == datetime.fromisoformat("2024-06-30T15:00:00+08:00")
    assert third.amount == Decimal("1999.99")


@pytest.mark.parametrize("name", ["xmlbomb.xml", "external.xml", "dtd.xml", "quadratic.xml"])
def test_hostile_documents_are_refused(name: str) -> None:
    data = (ATTACKS / name).read_bytes()
    with pytest.raises(XMLSecurityError):
        read_status_report(data)
    with pytest.raises(XMLSecurityError):
        read_notification(data)


def test_other_documents_are_not_reports() -> None:
    with pytest.raises(InputError, match=r"not an ISO 20022 pain\.002"):
        read_status_report(sample("camt054-returns.xml"))
    with pytest.raises(InputError, match=r"not an ISO 20022 camt\.054"):
        read_notification(sample("pain002-accepted.xml"))
    with pytest.raises(InputError, match="not well-formed"):
        read_status_report(sample("pain002-rejects.xml")[:300])
    bad = sample("pain002-rejects.xml").replace(b"3125.40", b"3,125.40")
    with pytest.raises(InputError, match="not a number"):
        read_status_report(bad)
