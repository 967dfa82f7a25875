"""Chaos: 2,000 deliveries through the outbox on PostgreSQL, 3 relay processes, one SIGKILLed mid-run.

The partner commits then drops the answer, resets, answers 503 or 429 with Retry-After, on 30% of requests.
Three quarters of the deliveries go with a key the partner dedupes on; a quarter without (the partner
would act twice on a resend), so ambiguous failures leave those ``unknown`` for reconciliation.
At the end every delivery is in the partner's ledger exactly once, and none is lost.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections import Counter
from pathlib import Path

import httpx
import pytest
from tests.reliability.conftest import drop_postgres, unique_namespace

from ssgateway.reliability import DeliveryState, Relay, RetryPolicy, Store, open_store
from ssgateway.testing.partner import FaultKind, Faults, LedgerEntry, PartnerSimulator, partner_sender

WORKER = Path(__file__).with_name("worker.py")
DELIVERIES, RELAYS, FAULT_RATE = 2000, 3, 0.3
FAULTS = Faults(rate=FAULT_RATE, kinds=tuple(FaultKind), retry_after=1, seed=20260601)


def ref_of(entry: LedgerEntry) -> str:
    return str(entry.json()["ref"])


async def start_relay(dsn: str, namespace: str, partner: str, name: str) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(WORKER), "relay", dsn, namespace, partner, name, stdout=asyncio.subprocess.PIPE
    )
    assert process.stdout is not None
    assert json.loads(await process.stdout.readline()) == {"started": name}
    return process


async def wait_until(predicate: object, timeout: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await predicate():  # type: ignore[operator]
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


async def enqueue_all(store: Store) -> dict[str, int]:
    ids: dict[str, int] = {}

    async def one(i: int) -> None:
        ref = f"PAY-{i:05d}"
        ids[ref] = await store.outbox.enqueue(
            partner="bank",
            operation="payments.submit",
            payload={"ref": ref, "amount": f"{1000 + i}.00", "account": "6222020200012345678"},
            idempotency_key=f"e2e-{ref}",
            deduplicated=i % 4 != 0,
        )

    for start in range(0, DELIVERIES, 100):
        await asyncio.gather(*(one(i) for i in range(start, min(start + 100, DELIVERIES))))
    return ids


async def reconcile(store: Store, partner: PartnerSimulator) -> dict[str, int]:
    """Resolve what the partner has, replay what it has not; return what was found before."""
    committed = {ref_of(e) for e in partner.ledger.entries}
    report = {"dead": 0, "unknown": 0, "resolved": 0, "replayed": 0}
    stuck = await store.outbox.list(states=[DeliveryState.DEAD, DeliveryState.UNKNOWN], limit=DELIVERIES)
    for delivery in stuck:
        report[delivery.state.value] += 1
        if delivery.payload["ref"] in committed:
            await store.outbox.resolve(delivery.id, note="found in the partner's ledger")
            report["resolved"] += 1
        else:
            report["replayed"] += await store.outbox.replay([delivery.id])
    return report


@pytest.mark.postgres
@pytest.mark.slow
async def test_chaos_every_delivery_exactly_once(postgres_dsn: str) -> None:
    namespace = unique_namespace()
    relays: list[asyncio.subprocess.Process] = []
    try:
        async with (
            open_store(postgres_dsn, namespace=namespace) as store,
            PartnerSimulator(faults=FAULTS) as partner,
        ):
            ids = await enqueue_all(store)
            relays = [
                await start_relay(postgres_dsn, namespace, partner.url, f"relay-{i}") for i in range(RELAYS)
            ]

            async def partly_done() -> bool:
                return len(partner.ledger) >= DELIVERIES // 4

            await wait_until(partly_done, 60, "a quarter of the deliveries")
            os.kill(relays[0].pid, signal.SIGKILL)
            await relays[0].wait()
            killed_at = len(partner.ledger)
            relays[0] = await start_relay(postgres_dsn, namespace, partner.url, "relay-0-restarted")

            async def settled() -> bool:
                totals = await store.outbox.totals()
                return totals[DeliveryState.PENDING] + totals[DeliveryState.LEASED] == 0

            await wait_until(settled, 120, "the outbox to settle")
            for relay in relays:
                relay.send_signal(signal.SIGTERM)
            stats = [
                json.loads((await relay.communicate())[0].decode().strip().splitlines()[-1])
                for relay in relays
            ]

            totals = await store.outbox.totals()
            report = await reconcile(store, partner)
            print(f"\nkilled a relay at {killed_at} ledger entries; after the run: {dict(totals)}")
            print(f"faults injected: {dict(partner.injected)}; relay stats (surviving): {stats}")
            print(f"reconciliation: {report}")

            # what reconciliation replayed goes out once more, through a calm partner
            partner.faults = Faults()
            async with httpx.AsyncClient(base_url=partner.url, timeout=2.0) as client:
                policy = RetryPolicy(attempts=3, initial_backoff=0.01, max_backoff=0.05)
                await Relay(store.outbox, partner_sender(client), policy=policy, poll_interval=0.05).run(
                    until_idle=True
                )

            final = await store.outbox.totals()
            delivered = await store.outbox.list(limit=DELIVERIES + 1)
    finally:
        for relay in relays:
            if relay.returncode is None:
                relay.kill()
                await relay.wait()
        await drop_postgres(postgres_dsn, namespace)

    assert 0 < killed_at < DELIVERIES, "the relay was killed mid-run"
    assert sum(partner.injected.values()) > DELIVERIES * FAULT_RATE * 0.8, "faults were injected"
    assert partner.injected[FaultKind.COMMIT_THEN_RESET] and partner.injected[FaultKind.THROTTLED]
    assert final[DeliveryState.DELIVERED] == DELIVERIES, f"nothing lost: {dict(final)}"
    assert len(delivered) == DELIVERIES and {d.id for d in delivered} == set(ids.values())
    per_ref = partner.ledger.count_by(ref_of)
    assert set(per_ref) == set(ids), f"missing at the partner: {sorted(set(ids) - set(per_ref))[:5]}"
    doubles = [ref for ref, n in per_ref.items() if n > 1]
    assert not doubles, f"delivered twice: {doubles[:5]}"
    assert len(partner.ledger) == DELIVERIES
    assert report["unknown"] > 0, "ambiguous failures without dedupe were left for reconciliation"
    assert Counter(e.key is None for e in partner.ledger.entries)[True] == DELIVERIES // 4
