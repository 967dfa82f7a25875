"""Relays against a real HTTP partner simulator, on a SQLite store."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from ssgateway.config import BreakerConfig
from ssgateway.errors import PermanentError
from ssgateway.reliability import Breakers, Delivery, DeliveryState, Relay, RetryPolicy, Store, open_store
from ssgateway.testing import FaultKind, Faults, PartnerSimulator, partner_sender
from ssgateway.testing.httpserver import Response

FAST = RetryPolicy(attempts=4, deadline=30, initial_backoff=0.01, max_backoff=0.05)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with open_store("sqlite:///outbox.db", base_dir=tmp_path) as s:
        yield s


async def enqueue(store: Store, n: int, *, deduplicated: bool = True, partner: str = "bank") -> list[int]:
    return [
        await store.outbox.enqueue(
            partner=partner,
            operation="payments.submit",
            payload={"ref": f"R{i}", "amount": "10.00"},
            idempotency_key=f"key-{i}",
            deduplicated=deduplicated,
        )
        for i in range(n)
    ]


async def relay_all(store: Store, partner: PartnerSimulator, **options: object) -> Relay:
    async with httpx.AsyncClient(base_url=partner.url, timeout=1.0) as client:
        relay = Relay(store.outbox, partner_sender(client), poll_interval=0.02, **options)  # type: ignore[arg-type]
        await relay.run(until_idle=True)
    return relay


async def test_delivers_and_keeps_the_answer(store: Store) -> None:
    ids = await enqueue(store, 20)
    async with PartnerSimulator() as partner:
        relay = await relay_all(store, partner, policy=FAST)
    assert relay.stats.delivered == 20 and len(partner.ledger) == 20
    first = await store.outbox.get(ids[0])
    assert first.state is DeliveryState.DELIVERED and first.response == {
        "seq": first.response["seq"],
        "key": "key-0",
    }
    assert partner.ledger.entries[0].key is not None


async def test_faults_with_dedupe_deliver_each_exactly_once(store: Store) -> None:
    await enqueue(store, 60)
    faults = Faults(
        rate=0.5,
        kinds=tuple(k for k in FaultKind if k != FaultKind.COMMIT_THEN_BLACKHOLE),
        retry_after=0,
        seed=3,
    )
    async with PartnerSimulator(faults=faults) as partner:
        policy = RetryPolicy(attempts=30, deadline=60, initial_backoff=0.01, max_backoff=0.02)
        relay = await relay_all(store, partner, policy=policy)
    totals = await store.outbox.totals()
    assert totals[DeliveryState.DELIVERED] == 60
    assert len(partner.ledger) == 60 and relay.stats.retried > 10
    assert partner.injected[FaultKind.COMMIT_THEN_RESET] > 0  # ambiguous failures happened and were resent


async def test_ambiguous_failure_without_dedupe_is_unknown_not_resent(store: Store) -> None:
    (delivery_id,) = await enqueue(store, 1, deduplicated=False)
    async with PartnerSimulator(faults=Faults(rate=1.0, kinds=(FaultKind.COMMIT_THEN_TRUNCATE,))) as partner:
        await relay_all(store, partner, policy=FAST)
        delivery = await store.outbox.get(delivery_id)
        assert delivery.state is DeliveryState.UNKNOWN and delivery.attempts == 1
        assert delivery.last_error_code == "partner.outcome_unknown"
        assert len(partner.ledger) == 1  # committed once, never resent
        # reconciliation: the partner has it, so it is resolved, not replayed
        assert partner.ledger.entries[0].json()["ref"] == delivery.payload["ref"]
        resolved = await store.outbox.resolve(delivery_id, note="found in the partner's ledger")
    assert resolved.state is DeliveryState.DELIVERED


async def test_exhausted_policy_and_refusals_are_dead(store: Store) -> None:
    retried, refused = await enqueue(store, 1, partner="busy") + await enqueue(store, 1, partner="strict")

    async def send(delivery: Delivery) -> object:
        if delivery.partner == "strict":
            raise PermanentError("account 6222020200012345678 closed", partner="strict")
        async with httpx.AsyncClient(base_url=partner.url) as client:
            return await partner_sender(client)(delivery)

    async with PartnerSimulator(faults=Faults(rate=1.0, kinds=(FaultKind.UNAVAILABLE,))) as partner:
        relay = Relay(store.outbox, send, policy=FAST, poll_interval=0.01)
        await relay.run(until_idle=True)
    busy, strict = await store.outbox.get(retried), await store.outbox.get(refused)
    assert busy.state is DeliveryState.DEAD and busy.attempts == 4
    assert busy.last_error and "retries exhausted after 4 attempts" in busy.last_error
    assert busy.last_error_code == "partner.unavailable"
    assert (
        strict.state is DeliveryState.DEAD
        and strict.attempts == 1
        and strict.last_error_code == "partner.refused"
    )
    assert "6222020200012345678" not in (strict.last_error or "")
    assert await store.outbox.replay() == 2
    async with PartnerSimulator() as partner:
        await Relay(store.outbox, send, policy=FAST, poll_interval=0.01).run(until_idle=True)
    assert (await store.outbox.get(retried)).state is DeliveryState.DELIVERED


async def test_unexpected_errors_count_as_ambiguous(store: Store) -> None:
    dedup = (await enqueue(store, 1))[0]
    plain = (await enqueue(store, 1, deduplicated=False, partner="other"))[0]
    calls = 0

    async def buggy(delivery: Delivery) -> None:
        nonlocal calls
        calls += 1
        if calls <= 2:
            raise RuntimeError("bug in the send function")

    await Relay(store.outbox, buggy, policy=FAST, poll_interval=0.01).run(until_idle=True)
    assert (await store.outbox.get(dedup)).state is DeliveryState.DELIVERED  # resent: the partner dedupes
    assert (await store.outbox.get(plain)).state is DeliveryState.UNKNOWN


async def test_open_breaker_defers_without_spending_attempts(store: Store) -> None:
    ids = await enqueue(store, 5)
    with socket.socket() as s:  # a port nobody listens on: connections are refused
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    breakers = Breakers(lambda p: BreakerConfig(failure_threshold=1, reset_timeout=60))
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{closed_port}") as client:
        relay = Relay(store.outbox, partner_sender(client), policy=FAST, breakers=breakers, concurrency=1)
        for _ in range(5):
            await relay.run_once()
    assert relay.stats.deferred >= 3
    deliveries = [await store.outbox.get(i) for i in ids]
    assert all(d.state is DeliveryState.PENDING for d in deliveries)
    assert sum(d.attempts for d in deliveries) == 1  # only the send that opened the breaker counted


async def test_a_deferral_by_an_open_breaker_does_not_start_the_deadline(tmp_path: Path) -> None:
    from ssgateway.errors import TransientError
    from ssgateway.testing import FakeClock

    clock = FakeClock()
    breakers = Breakers(lambda p: BreakerConfig(failure_threshold=1, reset_timeout=30), clock=clock)
    breakers.get("bank").acquire()
    breakers.get("bank").failure()  # other traffic opened it
    sent: list[float] = []

    async def send(delivery: Delivery) -> None:
        sent.append(clock.time())
        raise TransientError("503 busy", partner="bank")

    async with open_store("sqlite:///outbox.db", base_dir=tmp_path, clock=clock) as store:
        (delivery_id,) = await enqueue(store, 1)
        policy = RetryPolicy(attempts=4, deadline=30, initial_backoff=0.2, clock=clock, random=lambda: 0.5)
        relay = Relay(store.outbox, send, policy=policy, breakers=breakers, clock=clock)
        await relay.run_once()  # deferred: nothing sent, no attempt spent
        deferred = await store.outbox.get(delivery_id)
        assert (deferred.attempts, deferred.first_attempt_at) == (0, None) and sent == []
        clock.advance(30)  # as long as the whole deadline: the breaker lets a probe through
        await relay.run_once()
        after = await store.outbox.get(delivery_id)
    assert len(sent) == 1 and after.state is DeliveryState.PENDING and after.attempts == 1  # retried later


async def test_custom_answers_and_ledger_over_http() -> None:
    def respond(entry: object) -> Response:
        return Response(200, b'{"status": "ACSP"}', {"content-type": "application/json"})

    async with (
        PartnerSimulator(respond=respond) as partner,
        httpx.AsyncClient(base_url=partner.url) as client,
    ):
        headers = {"Idempotency-Key": "k"}
        assert (await client.post("/pay", json={"a": 1}, headers=headers)).json() == {"status": "ACSP"}
        again = await client.post("/pay", json={"a": 1}, headers=headers)
        assert again.headers["idempotent-replayed"] == "true"
        assert (await client.post("/pay", json={"a": 2}, headers=headers)).status_code == 422
        await client.post("/pay", json={"b": 1})
        await client.post("/pay", json={"b": 1})
        ledger = (await client.get("/_ledger")).json()
        assert [e["key"] for e in ledger] == ["k", None, None]
        assert (await client.get("/_ledger", params={"key": "k"})).json()["body"] == '{"a":1}'
        assert (await client.get("/_ledger", params={"key": "nope"})).status_code == 404
        assert partner.ledger.count_by(lambda e: e.body.decode())['{"b":1}'] == 2


async def test_throttle_sends_retry_after_as_seconds_or_date() -> None:
    for as_date in (False, True):
        faults = Faults(rate=1.0, kinds=(FaultKind.THROTTLED,), retry_after=30, retry_after_date=as_date)
        async with (
            PartnerSimulator(faults=faults) as partner,
            httpx.AsyncClient(base_url=partner.url) as client,
        ):
            sender = partner_sender(client)
            delivery = Delivery(
                1, "bank", "payments.submit", {"a": 1}, "k", True, DeliveryState.LEASED, 1, 0, 0, 0
            )
            with pytest.raises(Exception) as caught:
                await sender(delivery)
        assert caught.value.code == "partner.unavailable"  # type: ignore[attr-defined]
        assert 28 <= caught.value.retry_after <= 30  # type: ignore[attr-defined]
