"""The simulated bank on its own: what it validates, books, dedupes, rejects, returns and stops."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest
from lxml import etree
from tests.bank.batches import batch, instructions

from ssgateway.model import PaymentBatch
from ssgateway.testing import BankSimulator, FaultPlan, Population
from ssgateway.testing.faultplan import FaultKind
from ssgateway_adapters.bank_iso20022 import (
    BankSettings,
    build_pain001,
    read_notification,
    read_status_report,
    split_batch,
)

SETTINGS = BankSettings(endpoint="http://127.0.0.1:9")


def messages(b: PaymentBatch, per_message: int = 1000) -> list[bytes]:
    now = datetime(2024, 6, 28, 9, 0, tzinfo=UTC)
    return [
        etree.tostring(build_pain001(b, p, SETTINGS, now), xml_declaration=True, encoding="UTF-8")
        for p in split_batch(b, per_message)
    ]


async def post(bank: BankSimulator, body: bytes) -> httpx.Response:
    async with httpx.AsyncClient(base_url=bank.url) as client:
        return await client.post("/pain.001", content=body, headers={"content-type": "application/xml"})


async def get(bank: BankSimulator, path: str, **params: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=bank.url) as client:
        return await client.get(path, params=params)


def states(body: bytes, expected: list[str] | None = None) -> list[tuple[str, str, str | None]]:
    report = read_status_report(body, expected=expected or [])
    return [(s.end_to_end_id, s.state.value, s.reason_code) for s in report.statuses]


async def test_an_upload_is_booked_and_answered(bank: BankSimulator) -> None:
    b = batch(bank, 4)
    answer = await post(bank, messages(b)[0])
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/xml")
    assert states(answer.content) == [(i.end_to_end_id, "accepted", None) for i in b.instructions]
    assert [p.end_to_end_id for p in bank.ledger] == [i.end_to_end_id for i in b.instructions]
    payment = bank.ledger.get(b.instructions[0].end_to_end_id)
    assert payment is not None and payment.amount == b.instructions[0].amount
    assert payment.citizen_id == b.instructions[0].citizen_id.reveal() and payment.state == "accepted"
    assert bank.problems == [] and bank.refused == 0


async def test_uploads_that_are_not_valid_pain001_are_refused_whole(bank: BankSimulator) -> None:
    good = messages(batch(bank, 2))[0]
    for body in (
        good.replace(b"<NbOfTxs>2</NbOfTxs>", b"<NbOfTxs>two</NbOfTxs>", 1),
        good[:200],
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>',
        b"<Document/>",
    ):
        answer = await post(bank, body)
        assert answer.status_code == 400
        report = read_status_report(answer.content)
        assert (report.group_status, report.group_reason) == ("RJCT", "FF01")
    assert bank.refused == 4 and len(bank.ledger) == 0 and bank.problems == []


async def test_counts_and_sums_must_agree(bank: BankSimulator) -> None:
    good = messages(batch(bank, 2))[0]
    answer = await post(bank, good.replace(b"<NbOfTxs>2</NbOfTxs>", b"<NbOfTxs>3</NbOfTxs>", 1))
    assert read_status_report(answer.content).group_reason == "AM18"
    total = str(batch(bank, 2).control_sum).encode()
    answer = await post(bank, good.replace(b"<CtrlSum>" + total, b"<CtrlSum>1" + total, 1))
    assert read_status_report(answer.content).group_reason == "AM10"
    assert len(bank.ledger) == 0


async def test_each_end_to_end_id_is_booked_once(bank: BankSimulator) -> None:
    first = batch(bank, 3, batch_id="B-1")
    await post(bank, messages(first)[0])
    # another message (another id, another batch) repeating two payments, one of them altered
    items = instructions(bank, 3, prefix="B-1")
    items[1]["amount"] = "1.00"
    items.append(instructions(bank, 1, prefix="B-2")[0])
    answer = await post(bank, messages(batch(bank, items=items, batch_id="B-2"))[0])
    assert states(answer.content) == [
        ("B-1-000000", "accepted", "AM05"),
        ("B-1-000001", "rejected", "AM05"),
        ("B-1-000002", "accepted", "AM05"),
        ("B-2-000000", "accepted", None),
    ]
    assert len(bank.ledger) == 4 and bank.ledger.attempts == 7 and bank.ledger.repeats == 3
    assert bank.ledger.get("B-1-000001").amount != Decimal("1.00")  # type: ignore[union-attr]


async def test_a_resent_message_is_replayed_or_refused(population: Population) -> None:
    for mode, status in (("replay", None), ("reject", "DU01")):
        async with BankSimulator(population, duplicate_messages=mode) as bank:  # type: ignore[arg-type]
            body = messages(batch(bank, 2))[0]
            first = await post(bank, body)
            again = await post(bank, body.replace(b"2024-06-28T09:00:00", b"2024-06-28T09:05:00"))
            if status is None:
                assert again.content == first.content and bank.replays == 1
            else:
                assert read_status_report(again.content).group_reason == "DU01"
            # the same message id with other payments is always refused
            other = messages(batch(bank, 3))[0]
            assert read_status_report((await post(bank, other)).content).group_reason == "DU01"
            assert len(bank.ledger) == 2 and bank.ledger.attempts == 2


async def test_status_and_returns_of_a_batch(population: Population) -> None:
    async with BankSimulator(population, seed=2, return_rate=0.5, return_reasons=("AC04", "MD07")) as bank:
        b = batch(bank, 40)
        for body in messages(b, per_message=15):
            await post(bank, body)
        unknown = await get(bank, "/pain.002", pmtinfid="NOPE")
        assert unknown.status_code == 404
        report = await get(bank, "/pain.002", pmtinfid=b.batch_id)
        assert {state for _, state, _ in states(report.content)} == {"settled"}  # settled on asking
        notice = await get(bank, "/camt.054", pmtinfid=b.batch_id)
        returned = read_notification(notice.content)
        assert 5 < len(returned) < 35  # about half, drawn per end-to-end id from the seed
        assert {s.reason_code for s in returned} == {"AC04", "MD07"}
        assert {s.end_to_end_id for s in returned} == {
            p.end_to_end_id for p in bank.ledger if p.returned_code
        }
        assert all(s.batch_id == b.batch_id and s.amount for s in returned)
        one = await get(bank, "/pain.002", msgid=f"{b.batch_id}-2of3")
        assert [e for e, *_ in states(one.content)] == [i.end_to_end_id for i in b.instructions[15:30]]
        assert bank.problems == []


async def test_configured_rejections(population: Population) -> None:
    async with BankSimulator(population, strict_accounts=True, debtor_balance=Decimal("5000.00")) as bank:
        items = instructions(bank, 5)
        bank.reject_account(items[0]["account"], "AC04")
        items[1]["account"] = "6222000000000000001"  # nobody's
        items[2]["account"] = bank.account_of(bank.population.people[10].citizen_id)  # someone else's
        for item, amount in zip(items[3:], ("2999.00", "2999.00"), strict=True):
            item["amount"] = amount
        answer = await post(bank, messages(batch(bank, items=items))[0])
        assert [(state, code) for _, state, code in states(answer.content)] == [
            ("rejected", "AC04"), ("rejected", "AC01"), ("rejected", "BE01"), ("accepted", None),
            ("rejected", "AM04"),
        ]  # fmt: skip


async def test_the_stop_list(bank: BankSimulator) -> None:
    person = bank.population.people[0]
    async with httpx.AsyncClient(base_url=bank.url) as client:

        async def put(event: str, **body: str) -> httpx.Response:
            return await client.put(f"/stop-list/{event}", json={"citizen_id": person.citizen_id, **body})

        suspend = await put(
            "s1", kind="suspend", reason_code="SL01", certified_at="2024-06-01T10:00:00+08:00"
        )
        assert suspend.status_code == 201 and suspend.json()["duplicate"] is False
        assert bank.ledger.stopped(person.citizen_id) == "SL01"
        again = await put("s1", kind="suspend", reason_code="SL01", certified_at="2024-06-01T10:00:00+08:00")
        assert again.status_code == 200 and again.json()["duplicate"] is True
        assert (await put("s1", kind="resume", certified_at="2024-06-01T10:00:00+08:00")).status_code == 409
        assert (await put("s0", kind="resume", certified_at="2024-05-01T10:00:00+08:00")).status_code == 201
        assert bank.ledger.stopped(person.citizen_id) == "SL01"  # an older certification changes nothing
        assert (await put("s2", kind="resume", certified_at="2024-06-20T10:00:00+08:00")).status_code == 201
        assert bank.ledger.stopped(person.citizen_id) is None
        assert (await put("d1", kind="death", reason_code="MD07")).status_code == 201
        assert (await put("s3", kind="resume", certified_at="2024-07-01T10:00:00+08:00")).status_code == 201
        assert bank.ledger.stopped(person.citizen_id) == "MD07"  # a death is never lifted
        assert (await client.put("/stop-list/x", content=b"[]")).status_code == 400
        assert (await put("x", kind="vanish")).status_code == 400
    assert [e.kind for e in bank.ledger.events] == ["suspend", "resume", "resume", "death", "resume"]


@pytest.mark.parametrize(
    ("kind", "booked"),
    [(FaultKind.HTTP_ERROR, 0), (FaultKind.RESET, 2), (FaultKind.TRUNCATE, 2), (FaultKind.MALFORMED, 2)],
)
async def test_faults_before_and_after_the_work(bank: BankSimulator, kind: FaultKind, booked: int) -> None:
    bank.faults.add(kind, operations="pain.001", times=1, retry_after=2)
    body = messages(batch(bank, 2))[0]
    try:
        answer = await post(bank, body)
    except httpx.TransportError:
        answer = None
    assert len(bank.ledger) == booked
    if kind is FaultKind.HTTP_ERROR:
        assert answer is not None and answer.status_code == 503 and answer.headers["retry-after"] == "2"
    if kind is FaultKind.MALFORMED:
        assert (
            answer is not None and answer.status_code == 200 and not answer.content.endswith(b"</Document>")
        )
    again = await post(bank, body)  # the resend: booked once, answered in full
    assert again.status_code == 200 and len(bank.ledger) == 2
    assert isinstance(bank.faults, FaultPlan)


def test_in_a_thread(population: Population) -> None:
    bank = BankSimulator(population)
    with bank.in_thread():
        answer = httpx.put(
            bank.url + "/stop-list/e1",
            content=json.dumps({"kind": "death", "citizen_id": population.people[1].citizen_id}),
        )
    assert answer.status_code == 201 and bank.ledger.stopped(population.people[1].citizen_id) == "MD07"


def test_accounts_are_stable_card_numbers(population: Population) -> None:
    a, b = BankSimulator(population, seed=1), BankSimulator(population, seed=1)
    person = population.people[0].citizen_id
    assert a.account_of(person) == b.account_of(person) and len(a.account_of(person)) == 19
    digits = [int(c) for c in a.account_of(person)]
    checksum = sum(digits[-1::-2]) + sum(sum(divmod(2 * d, 10)) for d in digits[-2::-2])
    assert checksum % 10 == 0  # Luhn
    assert BankSimulator(population, seed=2).account_of(person) != a.account_of(person)
