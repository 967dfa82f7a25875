"""The bank as subscriber: a death stops the person's next payment, survival results suspend and resume."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone

from tests.bank.batches import batch, instructions

from ssgateway.model import (
    DeathNotice,
    NoticeReceipt,
    PaymentStatusQuery,
    PaymentSubmission,
    SurvivalCertification,
)
from ssgateway.reliability.outbox import DeliveryState
from ssgateway.runtime import Gateway
from ssgateway.testing import BankSimulator
from ssgateway.testing.faultplan import FaultKind
from ssgateway.testing.population import SyntheticPerson

BEIJING = timezone(timedelta(hours=8))


def death_of(person: SyntheticPerson, source: str = "郑州市民政局") -> DeathNotice:
    return DeathNotice(
        citizen_id=person.citizen_id, name=person.name, date_of_death=date(2024, 7, 3),
        evidence="cremation_record", source_agency=source, region="410105", reported_on=date(2024, 7, 5),
    )  # fmt: skip


def certification(person: SyntheticPerson, result: str, day: int) -> SurvivalCertification:
    return SurvivalCertification(
        citizen_id=person.citizen_id, name=person.name, result=result,
        certified_at=datetime(2024, 7, day, 10, 0, tzinfo=BEIJING), region="410105", method="face recognition",
    )  # fmt: skip


async def delivered(gw: Gateway, delivery_id: int) -> NoticeReceipt:
    for _ in range(400):
        delivery = await gw.store.outbox.get(delivery_id)
        if delivery.state is DeliveryState.DELIVERED:
            return NoticeReceipt.model_validate(delivery.response)
        assert delivery.state in (DeliveryState.PENDING, DeliveryState.LEASED), delivery.last_error
        await asyncio.sleep(0.025)
    raise AssertionError("the delivery was not delivered in time")


def month(bank: BankSimulator, period: str, count: int = 4) -> dict[str, object]:
    items = [
        {**i, "payout_period": period}
        for i in instructions(bank, count, prefix=f"ZZ{period.replace('-', '')}")
    ]
    return {"batch_id": f"ZZ{period.replace('-', '')}-001", "items": items}


async def test_a_death_notice_stops_the_persons_next_payment(
    bank: BankSimulator, gateway: Callable[..., Gateway]
) -> None:
    person = bank.population.people[1]
    retry = {"attempts": 10, "initial_backoff": 0.01, "max_backoff": 0.05}
    async with gateway(defaults={"retry": retry}) as gw:
        june = await gw.call("payments.submit", batch(bank, **month(bank, "2024-06")), idempotency_key="june")
        assert isinstance(june.response, PaymentSubmission) and june.response.rejected == 0

        # the bank records the stop but the answer is lost, then it is down for a while: the outbox keeps on
        reset = bank.faults.add(FaultKind.RESET, operations="stop-list", times=1)
        down = bank.faults.add(FaultKind.HTTP_ERROR, operations="stop-list", times=3, status=503)
        notice = death_of(person)
        first = await gw.enqueue("icbc", "deaths.notify", notice, notice.dedupe_key)
        receipt = await delivered(gw, first)
        assert (reset.fired, down.fired, bank.calls["stop-list"]) == (1, 3, 5)
        assert receipt.duplicate is True  # the reset hid the first recording; the resend found it there
        assert receipt.key.startswith("death:") and person.citizen_id not in receipt.key
        # the same death reported again by another agency reaches the bank once more: recorded once
        again = await gw.enqueue(
            "icbc", "deaths.notify", death_of(person, "公安局"), notice.dedupe_key + "#2"
        )
        assert (await delivered(gw, again)).duplicate is True
        assert [(e.kind, e.citizen_id, e.reason_code) for e in bank.ledger.events] == [
            ("death", person.citizen_id, "MD07")
        ]

        july = await gw.call("payments.submit", batch(bank, **month(bank, "2024-07")), idempotency_key="july")
        assert isinstance(july.response, PaymentSubmission)
        by_person = {s.end_to_end_id: s for s in july.response.statuses}
        stopped = by_person["ZZ202407-000001"]  # the instruction to that person
        assert (stopped.state.value, stopped.reason_code, stopped.reason) == (
            "rejected", "MD07", "end customer deceased",
        )  # fmt: skip
        assert july.response.rejected == 1
        status = await gw.call(
            "payments.status", PaymentStatusQuery(batch_id="ZZ202407-001", bank_code="102491000010")
        )
        assert [
            (s.state.value, s.reason_code)
            for s in status.response.statuses
            if s.end_to_end_id == stopped.end_to_end_id
        ] == [  # type: ignore[attr-defined]
            ("rejected", "MD07")
        ]
        assert bank.ledger.get("ZZ202407-000001").paid is False  # type: ignore[union-attr]


async def test_survival_results_suspend_and_resume(
    bank: BankSimulator, gateway: Callable[..., Gateway]
) -> None:
    person = bank.population.people[2]
    async with gateway() as gw:

        async def report(result: str, day: int, key: str = "") -> NoticeReceipt:
            cert = certification(person, result, day)
            return await delivered(
                gw, await gw.enqueue("icbc", "survival.report", cert, key or f"{result}-{day}")
            )

        async def pay(period: str) -> tuple[str, str | None]:
            b = batch(bank, **month(bank, period))
            response = (await gw.call("payments.submit", b, idempotency_key=period)).response
            assert isinstance(response, PaymentSubmission)
            status = next(s for s in response.statuses if s.end_to_end_id.endswith("000002"))
            return status.state.value, status.reason_code

        assert (await report("not_certified", 10)).duplicate is False
        assert await pay("2024-07") == ("rejected", "SL01")
        assert (await report("certified", 20)).duplicate is False
        late = await report("not_certified", 5)  # an older result arriving late changes nothing
        assert late.duplicate is False and bank.ledger.stopped(person.citizen_id) is None
        assert await pay("2024-08") == ("accepted", None)
        # the same certification delivered again (another delivery): recorded once at the bank
        assert (await report("certified", 20, key="again")).duplicate is True
    assert [e.kind for e in bank.ledger.events] == ["suspend", "resume", "suspend"]
