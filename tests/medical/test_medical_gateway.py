"""Acceptance through the Gateway: expiry mid-run, 1101 answers, error classes, death reports exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from tests.medical.conftest import adapter_config

from ssgateway.errors import ConfigError, InputError, NotFound, PermanentError, TransientError
from ssgateway.model import DeathNotice, MedicalInsuranceStatus
from ssgateway.reliability import DeliveryState
from ssgateway.runtime import Gateway
from ssgateway.testing import MedicalSimulator, Population
from ssgateway.testing._medical_records import person_information
from ssgateway.testing.faultplan import FaultKind

NO_RETRY = {"defaults": {"retry": {"attempts": 1}, "breaker": {"failure_threshold": 1000}}}
QUICK_RETRY = {"defaults": {"retry": {"attempts": 6, "initial_backoff": 0.01, "max_backoff": 0.05}}}


def query(population: Population, index: int, **extra: Any) -> dict[str, Any]:
    person = population.people[index]
    return {"citizen_id": person.citizen_id, "region": person.spells[-1].region, **extra}


def notice(population: Population, index: int) -> DeathNotice:
    person = population.people[index]
    return DeathNotice.model_validate(
        {
            "citizen_id": person.citizen_id,
            "name": person.name,
            "date_of_death": "2024-06-01",
            "evidence": "cremation_record",
            "source_agency": "广州市越秀区民政局",
            "region": "440104",
            "reported_on": "2024-06-03",
        }
    )


async def test_a_session_expiring_mid_run_never_fails_a_call(
    platform: MedicalSimulator, population: Population, make_gateway: Callable[..., Gateway]
) -> None:
    calls, at_once, expiries = 400, 40, (50, 150, 250, 350)
    expired, done = 0, 0

    async def expire_during_the_run() -> None:
        nonlocal expired
        for threshold in expiries:  # counted in answered calls, so calls in flight meet each expiry
            while done < threshold:
                await asyncio.sleep(0.001)
            platform.expire_now()
            expired += 1

    limit = asyncio.Semaphore(at_once)
    async with make_gateway(adapter_config(platform.endpoint), **NO_RETRY) as gw:

        async def one(i: int) -> MedicalInsuranceStatus:
            nonlocal done
            async with limit:
                answer = await gw.call("medical.insurance_status", query(population, i % 20))
                done += 1
                assert isinstance(answer.response, MedicalInsuranceStatus)
                return answer.response

        expiring = asyncio.create_task(expire_during_the_run())
        answers = await asyncio.gather(*(one(i) for i in range(calls)))  # any failure would raise here
        await expiring
    assert len(answers) == calls and expired == len(expiries)
    # many calls met each expiry at once, yet each expiry cost one sign-in
    assert platform.expired_answers > 2 * len(expiries)
    assert platform.sign_ins == len(expiries) + 1
    assert platform.duplicate_msgids == []


async def test_sessions_that_time_out_are_renewed_on_the_way(
    population: Population, make_gateway: Callable[..., Gateway]
) -> None:
    async with (
        MedicalSimulator(population, session_lifetime=0.05) as platform,
        make_gateway(adapter_config(platform.endpoint), **NO_RETRY) as gw,
    ):
        for i in range(20):
            await gw.call("medical.insurance_status", query(population, i))
            await asyncio.sleep(0.01)
    assert platform.expired_answers >= 1 and platform.sign_ins == platform.expired_answers + 1


async def test_person_information_maps_with_the_raw_codes_kept(
    platform: MedicalSimulator, population: Population, make_gateway: Callable[..., Gateway]
) -> None:
    async with make_gateway(adapter_config(platform.endpoint)) as gw:
        checked_identities = 0
        for i in range(len(population.people)):
            person = population.people[i]
            answer = await gw.call("medical.insurance_status", query(population, i, name=person.name))
            status = answer.response
            assert isinstance(status, MedicalInsuranceStatus)
            sent = person_information(population, person, deceased=False)
            base = sent["baseinfo"]
            assert status.citizen_id.reveal() == base["certno"] and status.name is not None
            assert status.name.reveal() == base["psn_name"] and status.person_number == base["psn_no"]
            assert status.gender is not None and status.gender.raw == base["gend"]
            assert status.birth_date is not None and status.birth_date.isoformat() == base["brdy"]
            assert status.survival_status is not None and status.survival_status.raw == "1"
            assert status.survival_status.value == "alive"
            assert len(status.insurances) == len(sent["insuinfo"])
            for got, raw in zip(status.insurances, sent["insuinfo"], strict=True):
                assert got.insurance_type.raw == raw["insutype"]
                assert got.status is not None and got.status.raw == raw["psn_insu_stas"]
                assert got.person_type is not None and got.person_type.raw == raw["psn_type"]
                assert got.balance == raw["balc"] and isinstance(got.balance, Decimal)
                assert got.region == raw["insuplc_admdvs"]
                assert got.paused_on is None or got.paused_on.isoformat() == raw["paus_insu_date"]
            assert [x.identity_type.raw for x in status.identities] == [
                x["psn_idet_type"] for x in sent["idetinfo"]
            ]
            checked_identities += len(status.identities)
            assert status.provenance is not None and status.provenance.source_system == "nhsa"
            assert status.provenance.mapping == "medical-insurance/1101-output@1"
        assert checked_identities > 0


async def test_failure_answers_become_the_right_errors(
    platform: MedicalSimulator, population: Population, make_gateway: Callable[..., Gateway]
) -> None:
    async with make_gateway(adapter_config(platform.endpoint), **NO_RETRY) as gw:
        with pytest.raises(NotFound) as unknown:
            await gw.call(
                "medical.insurance_status", {"citizen_id": "11010519491231002X", "region": "110105"}
            )
        assert unknown.value.code == "person.not_found"
        assert unknown.value.details["partner_code"] == "-1"
        assert "未查询到" in unknown.value.details["partner_message"]

        with pytest.raises(PermanentError) as refused:  # the platform checks the name against the id
            await gw.call("medical.insurance_status", query(population, 0, name="某某某"))
        assert refused.value.code == "partner.refused" and "不符" in str(refused.value.partner_message)

        platform.faults.add(FaultKind.FAULT, operations="1101", times=1, message="系统繁忙，请稍后再试")
        with pytest.raises(TransientError) as busy:
            await gw.call("medical.insurance_status", query(population, 1))
        assert busy.value.code == "partner.busy" and busy.value.partner_code == "-1"
        assert busy.value.partner_message == "系统繁忙，请稍后再试"

        platform.faults.add(FaultKind.HTTP_ERROR, operations="1101", times=1, status=503, retry_after=1)
        with pytest.raises(TransientError) as unavailable:
            await gw.call("medical.insurance_status", query(population, 1))
        assert unavailable.value.retry_after == 1

        # the platform's message is masked wherever it is kept
        leaky = f"证件号码 {population.people[2].citizen_id} 校验失败"
        platform.faults.add(FaultKind.FAULT, operations="1101", times=1, message=leaky)
        with pytest.raises(PermanentError) as masked:
            await gw.call("medical.insurance_status", query(population, 2))
        assert population.people[2].citizen_id not in str(masked.value)
        assert population.people[2].citizen_id not in str(masked.value.partner_message)


async def test_spoilt_answers_are_retried_and_a_bomb_is_refused(
    platform: MedicalSimulator, population: Population, make_gateway: Callable[..., Gateway]
) -> None:
    config = adapter_config(platform.endpoint, max_response_bytes=256 * 1024, timeout=0.5)
    async with make_gateway(config, **QUICK_RETRY) as gw:
        spoilers: list[tuple[FaultKind, dict[str, Any]]] = [
            (FaultKind.RESET, {}),
            (FaultKind.TRUNCATE, {}),
            (FaultKind.MALFORMED, {}),
            (FaultKind.BLACKHOLE, {}),
            (FaultKind.LATENCY, {"delay": 1.0}),  # longer than the adapter's timeout
        ]
        for kind, params in spoilers:
            before = platform.calls["1101"]
            platform.faults.add(kind, operations="1101", times=1, **params)
            answer = await gw.call("medical.insurance_status", query(population, 5))
            assert isinstance(answer.response, MedicalInsuranceStatus)
            assert platform.calls["1101"] == before + 2  # spoilt once, then answered

        for kind in (FaultKind.OVERSIZED, FaultKind.GZIP_BOMB):
            platform.faults.add(kind, operations="1101", times=1, size=8 * 1024 * 1024)
            with pytest.raises(InputError) as too_large:
                await gw.call("medical.insurance_status", query(population, 5))
            assert too_large.value.code == "response.too_large"


async def test_a_death_is_reported_once_however_often_it_is_delivered(
    platform: MedicalSimulator, population: Population, make_gateway: Callable[..., Gateway]
) -> None:
    death = notice(population, 7)
    outbox = {"outbox": {"poll_interval": 0.02}, **QUICK_RETRY}
    async with make_gateway(adapter_config(platform.endpoint), **outbox) as gw:
        # the subscriber's handler called straight (the runtime's own deaths.notify fans out to it)
        receipts = [await gw.call_partner("nhsa", "deaths.notify", death) for _ in range(3)]

        async def deliver(key: str) -> int:
            delivery = await gw.enqueue("nhsa", "deaths.notify", death, key)
            for _ in range(500):
                if (await gw.store.outbox.get(delivery)).state is DeliveryState.DELIVERED:
                    return delivery
                await asyncio.sleep(0.02)
            raise AssertionError(f"delivery {key} was not delivered")

        # relayed deliveries meet a reset after the platform committed, a spoilt answer, a busy platform
        ids = []
        for i, kind in enumerate((FaultKind.RESET, FaultKind.MALFORMED, FaultKind.FAULT, None)):
            if kind is not None:
                platform.faults.add(kind, operations="SD01", times=1)
            ids.append(await deliver(f"fanout-{i}"))
        assert await deliver("fanout-0") == ids[0]  # the same delivery enqueued again is the same one
        status = (await gw.call("medical.insurance_status", query(population, 7))).response
    assert [r.duplicate for r in receipts] == [False, True, True]  # type: ignore[attr-defined]
    assert len({r.key for r in receipts}) == 1  # type: ignore[attr-defined]
    assert population.people[7].citizen_id not in receipts[0].key  # type: ignore[attr-defined]
    assert len(platform.ledger) == 1
    assert platform.ledger.attempts == 3 + 2 + 2 + 1 + 1  # pushes; reset and spoilt answer resent; busy: not
    entry = platform.ledger.entries[0]
    assert (entry.certno, entry.date_of_death) == (population.people[7].citizen_id, "2024-06-01")
    assert entry.data["die_evid_type"] == "3" and entry.data["rpt_admdvs"] == "440104"
    assert isinstance(status, MedicalInsuranceStatus) and status.survival_status is not None
    assert (status.survival_status.raw, status.survival_status.value) == ("2", "deceased")
    assert platform.duplicate_msgids == []


async def test_the_death_report_needs_its_transaction_number(
    platform: MedicalSimulator, population: Population, make_gateway: Callable[..., Gateway]
) -> None:
    config = adapter_config(platform.endpoint, death_report={})
    async with make_gateway(config, **NO_RETRY) as gw:
        with pytest.raises(ConfigError) as unset:
            await gw.call_partner("nhsa", "deaths.notify", notice(population, 1))
    assert unset.value.key == "partners.nhsa.config.death_report.infno"
    assert len(platform.ledger) == 0
