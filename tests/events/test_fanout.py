"""deaths.notify and survival.report: recorded once, delivered once to every subscriber."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from tests.events.conftest import Partners

from ssgateway.errors import NotFound, StoreUnavailable
from ssgateway.model import DeathNotice, EvidenceType, NoticeReceipt, SurvivalCertification
from ssgateway.reliability import DeliveryState
from ssgateway.runtime import Gateway
from ssgateway.testing import CivilAffairsSimulator
from ssgateway.testing.faultplan import FaultKind


async def settled(gw: Gateway, timeout: float = 30.0) -> dict[DeliveryState, int]:
    """Wait until no delivery is pending or leased; the totals by state."""
    for _ in range(int(timeout / 0.05)):
        totals = await gw.store.outbox.totals()
        if not totals[DeliveryState.PENDING] and not totals[DeliveryState.LEASED]:
            return totals
        await asyncio.sleep(0.05)
    raise AssertionError(f"deliveries still waiting: {totals}")


def notice_for(partners: Partners, citizen_id: str, **fields: object) -> DeathNotice:
    return CivilAffairsSimulator(partners.henan.population).death_of(citizen_id, **fields)  # type: ignore[arg-type]


async def test_a_death_reported_five_times_is_delivered_once_to_each_subscriber(
    partners: Partners, make_gateway: Callable[..., Gateway]
) -> None:
    person = partners.retiree("41")
    notice = notice_for(partners, person)
    async with make_gateway() as gw:
        receipts = [
            (await gw.call("deaths.notify", notice, idempotency_key=f"push-{i}")).response for i in range(5)
        ]
        assert all(isinstance(r, NoticeReceipt) for r in receipts)
        first, *repeats = receipts
        assert isinstance(first, NoticeReceipt) and first.duplicate is False
        assert all(r.duplicate and r.key == first.key for r in repeats)  # type: ignore[attr-defined]
        assert first.key == notice.event_key and person not in first.key
        assert [d.subscriber for d in first.deliveries] == ["henan", "guangdong", "medical", "bank"]
        totals = await settled(gw)
        assert totals[DeliveryState.DELIVERED] == 4 and totals[DeliveryState.DEAD] == 0
        again = await gw.call("deaths.notify", notice, idempotency_key="later")
        assert {d.state for d in again.response.deliveries} == {"delivered"}  # type: ignore[attr-defined]
        henan = await gw.store.outbox.get(int(first.deliveries[0].delivery_id))
        answer = NoticeReceipt.model_validate(henan.response)
        assert answer.key == notice.event_key and answer.deliveries[0].state == "retiree_death"
    assert [(c.citizen_id, c.reason) for c in partners.henan.benefits.entries] == [(person, "451")]
    assert partners.henan.benefits.attempts == 1
    assert len(partners.guangdong.benefits) == 0  # not known there: nothing to stop
    assert [e.citizen_id for e in partners.bank.ledger.events] == [person]
    assert [r.certno for r in partners.medical.ledger.entries] == [person]
    assert partners.medical.ledger.attempts == 1


async def test_a_death_in_service_is_recorded_211(
    partners: Partners, make_gateway: Callable[..., Gateway]
) -> None:
    person = partners.in_service("44")
    async with make_gateway() as gw:
        await gw.call("deaths.notify", notice_for(partners, person), idempotency_key="one")
        await settled(gw)
    assert [(c.citizen_id, c.reason) for c in partners.guangdong.benefits.entries] == [(person, "211")]


async def test_one_subscriber_down_for_a_while_still_gets_each_event_once(
    partners: Partners, make_gateway: Callable[..., Gateway]
) -> None:
    people = [partners.retiree("41"), partners.in_service("41")]
    # Henan answers 503 twenty times, then commits a change but the answer is lost once
    down = partners.henan.faults.add(FaultKind.HTTP_ERROR, operations="ChangeBenefit", times=20, status=503)
    lost = partners.henan.faults.add(FaultKind.RESET, operations="ChangeBenefit", times=1)
    async with make_gateway() as gw:
        for person in people:
            for i in range(3):
                await gw.call("deaths.notify", notice_for(partners, person), idempotency_key=f"{person}-{i}")
        totals = await settled(gw, timeout=60)
        assert totals[DeliveryState.DELIVERED] == 8 and totals[DeliveryState.DEAD] == 0
    assert (down.fired, lost.fired) == (20, 1)
    assert sorted(c.citizen_id for c in partners.henan.benefits.entries) == sorted(people)
    assert sorted(e.citizen_id for e in partners.bank.ledger.events) == sorted(people)
    assert len(partners.medical.ledger) == 2 and partners.medical.ledger.attempts == 2


async def test_survival_results_suspend_and_resume_at_the_province_and_the_bank(
    partners: Partners, make_gateway: Callable[..., Gateway]
) -> None:
    person = partners.retiree("41")
    name = partners.henan.population.person(person).name  # type: ignore[union-attr]

    def certification(result: str, day: int) -> SurvivalCertification:
        return SurvivalCertification.model_validate(
            {"citizen_id": person, "name": name, "result": result, "region": "410105",
             "certified_at": datetime(2024, 7, day, 2, 0, tzinfo=UTC)}
        )  # fmt: skip

    async with make_gateway() as gw:
        await gw.call("survival.report", certification("not_certified", 10), idempotency_key="a")
        await gw.call("survival.report", certification("not_certified", 10), idempotency_key="b")
        await gw.call("survival.report", certification("certified", 20), idempotency_key="c")
        await settled(gw)
    assert [c.reason for c in partners.henan.benefits.of(person)] == ["421", "431"]
    assert [e.kind for e in partners.bank.ledger.events] == ["suspend", "resume"]
    assert len(partners.medical.ledger) == 0  # not a subscriber of survival.report


async def test_concurrent_reports_of_one_death_record_it_once(
    partners: Partners, make_gateway: Callable[..., Gateway]
) -> None:
    notice = notice_for(partners, partners.retiree("41"))
    async with make_gateway() as gw:
        receipts = await asyncio.gather(*(gw.events.notify("deaths.notify", notice) for _ in range(20)))
        assert sum(not r.duplicate for r in receipts) == 1
        assert len({tuple(d.delivery_id for d in r.deliveries) for r in receipts}) == 1
        totals = await settled(gw)
        assert totals[DeliveryState.DELIVERED] == 4


async def test_a_fan_out_cut_short_is_finished_by_the_next_report(
    partners: Partners, make_gateway: Callable[..., Gateway]
) -> None:
    notice = notice_for(partners, partners.retiree("41"))
    async with make_gateway(outbox={"relays": 0}) as gw:
        # the process recorded the event, then died before enqueueing its deliveries
        key = gw.events.key(notice)
        state = {
            "operation": "deaths.notify", "received_at": "2024-06-26T01:00:00+00:00",
            "event": notice.model_dump(mode="json"), "destinations": ["henan", "bank"], "fanned_out": False,
        }  # fmt: skip
        await gw.store.checkpoints.put(f"events/{key}", state, 0)
        receipt = await gw.events.notify("deaths.notify", notice)
        assert receipt.duplicate is True
        assert [d.subscriber for d in receipt.deliveries] == ["henan", "bank"]
        assert sum((await gw.store.outbox.totals()).values()) == 2
        again = await gw.events.notify("deaths.notify", notice)
        assert [d.delivery_id for d in again.deliveries] == [d.delivery_id for d in receipt.deliveries]
        record = await gw.events.record_of(key)
        assert record is not None and record["fanned_out"] is True


async def test_a_store_blip_mid_fan_out_is_finished_by_the_senders_retry(
    partners: Partners, make_gateway: Callable[..., Gateway]
) -> None:
    notice = notice_for(partners, partners.retiree("41"))
    async with make_gateway(outbox={"relays": 0}) as gw:
        enqueue = gw.store.outbox.enqueue
        calls = 0

        async def blips_once(**delivery: Any) -> int:
            nonlocal calls
            calls += 1
            if calls == 2:  # the store fails once between two subscribers' deliveries
                raise StoreUnavailable("the store did not answer")
            return await enqueue(**delivery)

        gw.store.outbox.enqueue = blips_once  # type: ignore[method-assign]
        with pytest.raises(StoreUnavailable):
            await gw.call("deaths.notify", notice, idempotency_key="push-1")
        # the sender retries with its key: the fan-out is finished, not answered with the old error
        retried = await gw.call("deaths.notify", notice, idempotency_key="push-1")
        assert not retried.replayed
        record = await gw.events.record_of(gw.events.key(notice))
        assert record is not None and record["fanned_out"] is True
        subscribers = [d.partner for d in await gw.store.outbox.list(limit=10)]
        assert sorted(subscribers) == sorted(record["destinations"])  # each once


async def test_another_date_of_death_for_the_same_person_is_the_same_death(
    partners: Partners, make_gateway: Callable[..., Gateway], caplog: pytest.LogCaptureFixture
) -> None:
    person = partners.retiree("41")
    certificate = notice_for(partners, person, died_on=date(2024, 6, 1))
    cremation = notice_for(partners, person, died_on=date(2024, 6, 2))
    async with make_gateway(outbox={"relays": 0}) as gw:
        first = await gw.events.notify("deaths.notify", certificate)
        second = await gw.events.notify("deaths.notify", cremation)
        assert (first.duplicate, second.duplicate) == (False, True) and first.key == second.key
        assert [d.delivery_id for d in second.deliveries] == [d.delivery_id for d in first.deliveries]
    assert "another date of death; the first report stands" in caplog.text


async def test_the_first_report_is_what_everyone_receives(
    partners: Partners, make_gateway: Callable[..., Gateway]
) -> None:
    person = partners.retiree("41")
    first = notice_for(partners, person)
    police = first.model_copy(
        update={"evidence": EvidenceType.POLICE_CERTIFICATE, "source_agency": "郑州市公安局"}
    )
    async with make_gateway() as gw:
        await gw.call("deaths.notify", first, idempotency_key="civil")
        repeat = (await gw.call("deaths.notify", police, idempotency_key="police")).response
        assert repeat.duplicate is True  # type: ignore[attr-defined]
        await settled(gw)
    assert partners.medical.ledger.entries[0].data["rpt_org_name"] == "郑州市民政局"


async def test_an_event_nobody_subscribes_to_is_refused(
    partners: Partners, make_gateway: Callable[..., Gateway]
) -> None:
    notice = notice_for(partners, partners.retiree("41"))
    async with make_gateway(events={"subscribers": {"deaths.notify": ["bank"]}}) as gw:
        with pytest.raises(NotFound) as caught:
            await gw.events.notify("survival.report", SurvivalCertification.model_validate(
                {"citizen_id": notice.citizen_id, "name": notice.name, "result": "certified",
                 "certified_at": datetime(2024, 7, 1, tzinfo=UTC), "region": "410105"}
            ))  # fmt: skip
        assert caught.value.code == "route.none"
        assert sum((await gw.store.outbox.totals()).values()) == 0


async def test_a_digest_key_changes_the_event_keys(
    partners: Partners, make_gateway: Callable[..., Gateway]
) -> None:
    notice = notice_for(partners, partners.retiree("41"), died_on=date(2024, 6, 1))
    events = {"subscribers": {"deaths.notify": ["bank"]}, "digest_key": "a-secret"}
    async with make_gateway(events=events) as gw:
        receipt = (await gw.call("deaths.notify", notice, idempotency_key="k")).response
        assert isinstance(receipt, NoticeReceipt)
        assert receipt.key.startswith("death:") and receipt.key != notice.event_key
        delivery = await gw.store.outbox.get(int(receipt.deliveries[0].delivery_id))
        assert delivery.idempotency_key == receipt.key


async def test_a_province_without_change_benefit_still_starts_and_refuses_events(
    tmp_path: Path, partners: Partners, make_gateway: Callable[..., Gateway]
) -> None:
    import re
    import shutil

    from ssgateway.testing.dialect import REFERENCE_DIALECT

    older = tmp_path / "contracts" / "older"
    shutil.copytree(REFERENCE_DIALECT.contract_dir, older)
    wsdl = (older / "provincial.wsdl").read_text(encoding="utf-8")
    wsdl = re.sub(
        r"\s*<wsdl:(message|operation) name=\"ChangeBenefit\w*\">.*?</wsdl:\1>", "", wsdl, flags=re.S
    )
    (older / "provincial.wsdl").write_text(wsdl, encoding="utf-8")
    older_henan = {
        "adapter": "provincial-soap",
        "regions": ["41"],
        "config": {
            "endpoint": partners.henan.endpoint,
            "contract_dir": str(older),
            "wsdl": "provincial.wsdl",
        },
    }
    events = {"subscribers": {"deaths.notify": ["henan", "bank"]}}
    async with make_gateway(partners_extra={"henan": older_henan}, events=events) as gw:
        health = await gw.adapters["henan"].check()
        assert "not served: deaths.notify, survival.report" in (health.detail or "")
        await gw.call("deaths.notify", notice_for(partners, partners.retiree("41")), idempotency_key="k")
        totals = await settled(gw)
        assert (totals[DeliveryState.DELIVERED], totals[DeliveryState.DEAD]) == (1, 1)
        dead = (await gw.store.outbox.list(states=[DeliveryState.DEAD]))[0]
        assert dead.partner == "henan" and dead.last_error_code == "operation.unsupported"
