"""Conformance checks: the outbox (registered in :mod:`ssgateway.testing.stores`)."""

from __future__ import annotations

import asyncio
from typing import Any

from ssgateway.errors import IdempotencyConflict, NotFound, OutcomeUnknown, PermanentError, RequestInvalid
from ssgateway.reliability import DeliveryState
from ssgateway.testing.clock import FakeClock
from ssgateway.testing.stores import check, expect, raises

PENDING, LEASED, DELIVERED, DEAD, UNKNOWN = (
    DeliveryState.PENDING,
    DeliveryState.LEASED,
    DeliveryState.DELIVERED,
    DeliveryState.DEAD,
    DeliveryState.UNKNOWN,
)


async def _enqueue(store: Any, n: int, *, partner: str = "bank", deduplicated: bool = True, **kw: Any) -> int:
    delivery_id: int = await store.outbox.enqueue(
        partner=partner,
        operation="payments.submit",
        payload={"end_to_end_id": f"E2E-{n}", "amount": "1234.50", "name": "张三"},
        idempotency_key=f"pay-{n}",
        deduplicated=deduplicated,
        **kw,
    )
    return delivery_id


@check("outbox")
async def enqueue_is_pending(store: Any, clock: FakeClock) -> None:
    """An enqueued delivery is pending, due now, with its payload as JSON."""
    delivery_id = await _enqueue(store, 1)
    d = await store.outbox.get(delivery_id)
    expect(d.state is PENDING and d.attempts == 0, f"pending, no attempts: {d!r}")
    expect(d.payload == {"end_to_end_id": "E2E-1", "amount": "1234.50", "name": "张三"}, "payload kept")
    expect(d.partner == "bank" and d.operation == "payments.submit" and d.deduplicated, "fields kept")
    expect(d.next_attempt_at == clock.time(), "due at once")
    async with raises(NotFound, "an unknown id"):
        await store.outbox.get(delivery_id + 1000)


@check("outbox")
async def enqueue_is_idempotent_per_partner_key(store: Any, clock: FakeClock) -> None:
    """Enqueueing a key again returns the same id; another payload under it conflicts."""
    first = await _enqueue(store, 1)
    expect(await _enqueue(store, 1) == first, "the same delivery again: the same id")
    async with raises(IdempotencyConflict, "the key with another payload"):
        await store.outbox.enqueue(
            partner="bank",
            operation="payments.submit",
            payload={"x": 1},
            idempotency_key="pay-1",
            deduplicated=True,
        )
    expect(await _enqueue(store, 1, partner="other-bank") != first, "the key is per partner")
    expect(len(await store.outbox.list()) == 2, "two deliveries stored")


@check("outbox")
async def lease_takes_due_deliveries_only(store: Any, clock: FakeClock) -> None:
    """Deliveries not yet due are not leased; leasing counts an attempt and names the owner."""
    now_id = await _enqueue(store, 1)
    later_id = await _enqueue(store, 2, not_before=clock.time() + 60)
    leased = await store.outbox.lease("relay-a", limit=10, lease=100)
    expect([d.id for d in leased] == [now_id], f"only the due one: {[d.id for d in leased]}")
    d = leased[0]
    expect(d.state is LEASED and d.attempts == 1 and d.lease_owner == "relay-a", f"leased: {d!r}")
    expect(d.first_attempt_at == clock.time() and d.lease_expires_at == clock.time() + 100, "stamps")
    clock.advance(61)
    expect([d.id for d in await store.outbox.lease("relay-a", limit=10)] == [later_id], "due later")


@check("outbox")
async def leases_are_exclusive(store: Any, clock: FakeClock) -> None:
    """Concurrent leases never hand out the same delivery twice."""
    ids = {await _enqueue(store, i) for i in range(30)}
    batches = await asyncio.gather(*(store.outbox.lease(f"relay-{i}", limit=4) for i in range(10)))
    got = [d.id for batch in batches for d in batch]
    got += [d.id for d in await store.outbox.lease("relay-last", limit=40)]
    expect(len(got) == len(set(got)), "no delivery leased twice")
    expect(set(got) == ids, f"{len(set(got))} of 30 leased")


@check("outbox")
async def outcomes_are_recorded(store: Any, clock: FakeClock) -> None:
    """Delivered keeps the response; dead and unknown keep the masked reason."""
    for i in range(3):
        await _enqueue(store, i, deduplicated=i != 2)
    a, b, c = await store.outbox.lease("relay", limit=3)
    expect(await store.outbox.mark_delivered(a, {"status": "ACCP"}), "delivered recorded")
    expect(await store.outbox.mark_dead(b, PermanentError("account 6222020200012345678 closed")), "dead")
    expect(await store.outbox.mark_unknown(c, OutcomeUnknown("reset after send")), "unknown recorded")
    a, b, c = [await store.outbox.get(d.id) for d in (a, b, c)]
    expect(a.state is DELIVERED and a.response == {"status": "ACCP"} and a.lease_token is None, f"{a!r}")
    expect(b.state is DEAD and b.last_error_code == "partner.refused", f"{b!r}")
    expect("6222020200012345678" not in (b.last_error or ""), "the reason is masked")
    expect(c.state is UNKNOWN and c.last_error_code == "partner.outcome_unknown", f"{c!r}")


@check("outbox")
async def retry_reschedules(store: Any, clock: FakeClock) -> None:
    """A retry puts the delivery back, due later; an unsent retry gives its attempt back."""
    delivery_id = await _enqueue(store, 1)
    (d,) = await store.outbox.lease("relay")
    expect(await store.outbox.mark_retry(d, at=clock.time() + 5, error="503"), "retry recorded")
    expect(await store.outbox.lease("relay") == [], "not due yet")
    clock.advance(5)
    (d,) = await store.outbox.lease("relay")
    expect(d.id == delivery_id and d.attempts == 2 and d.last_error == "503", f"second attempt: {d!r}")
    await store.outbox.mark_retry(d, at=clock.time(), error="breaker open", count_attempt=False)
    expect((await store.outbox.get(delivery_id)).attempts == 1, "the unsent attempt is given back")


@check("outbox")
async def expired_leases_are_recovered(store: Any, clock: FakeClock) -> None:
    """A dead relay's deliveries: retaken when the partner dedupes, unknown when it does not."""
    dedup = await _enqueue(store, 1)
    plain = await _enqueue(store, 2, deduplicated=False)
    old = {d.id: d for d in await store.outbox.lease("relay-dead", limit=2, lease=10)}
    clock.advance(9)
    expect(await store.outbox.lease("relay-b", limit=2) == [], "nothing is due while the lease runs")
    clock.advance(2)
    retaken = await store.outbox.lease("relay-b", limit=2)
    expect([d.id for d in retaken] == [dedup], f"only the deduplicated one is retaken: {retaken!r}")
    expect(retaken[0].attempts == 2, "the lost attempt counts")
    stuck = await store.outbox.get(plain)
    expect(stuck.state is UNKNOWN and stuck.last_error_code == "outbox.lease_expired", f"{stuck!r}")
    expect(not await store.outbox.mark_delivered(old[dedup]), "the old lease cannot record an outcome")
    expect(not await store.outbox.mark_dead(old[plain], "late"), "nor on the unknown one")
    expect(await store.outbox.mark_delivered(retaken[0]), "the new lease can")


@check("outbox")
async def counts_by_partner_and_state(store: Any, clock: FakeClock) -> None:
    """Counts cover every state for each partner; totals add them up."""
    for i in range(3):
        await _enqueue(store, i, partner="bank-a")
    await _enqueue(store, 9, partner="bank-b")
    (d,) = await store.outbox.lease("relay", limit=1)
    await store.outbox.mark_dead(d, "refused")
    counts = await store.outbox.counts()
    expect(set(counts) == {"bank-a", "bank-b"}, f"partners: {sorted(counts)}")
    expect(set(counts["bank-b"]) == set(DeliveryState), "every state present")
    expect(counts["bank-a"][PENDING] + counts["bank-a"][DEAD] == 3, f"{counts['bank-a']}")
    totals = await store.outbox.totals()
    expect(totals[PENDING] == 3 and totals[DEAD] == 1 and totals[DELIVERED] == 0, f"{totals}")


@check("outbox")
async def replay_and_resolve(store: Any, clock: FakeClock) -> None:
    """Replay moves dead/unknown back to pending afresh; resolve marks them delivered."""
    ids = [await _enqueue(store, i, deduplicated=False) for i in range(4)]
    leased = await store.outbox.lease("relay", limit=4)
    for d in leased[:2]:
        await store.outbox.mark_dead(d, "refused")
    for d in leased[2:]:
        await store.outbox.mark_unknown(d, "reset")
    expect(await store.outbox.replay([ids[0]]) == 1, "one replayed by id")
    again = await store.outbox.get(ids[0])
    expect(again.state is PENDING and again.attempts == 0 and again.first_attempt_at is None, f"{again!r}")
    resolved = await store.outbox.resolve(ids[2], note="partner confirms it")
    expect(resolved.state is DELIVERED and resolved.last_error_code == "outbox.resolved", f"{resolved!r}")
    async with raises(RequestInvalid, "resolving a pending delivery"):
        await store.outbox.resolve(ids[0])
    async with raises(NotFound, "resolving an unknown id"):
        await store.outbox.resolve(ids[-1] + 1000)
    expect(await store.outbox.replay(states=[UNKNOWN]) == 1, "the remaining unknown one replayed")
    expect(await store.outbox.replay() == 1, "then the remaining dead one")
    async with raises(RequestInvalid, "replaying delivered deliveries"):
        await store.outbox.replay(states=[DELIVERED])


@check("outbox")
async def purge_removes_old_finished_only(store: Any, clock: FakeClock) -> None:
    """Purge deletes finished deliveries older than asked, never pending or leased ones."""
    for i in range(3):
        await _enqueue(store, i)
    a, b = await store.outbox.lease("relay", limit=2)
    await store.outbox.mark_delivered(a)
    await store.outbox.mark_dead(b, "refused")
    clock.advance(100)
    expect(await store.outbox.purge(older_than=200) == 0, "nothing that old")
    expect(await store.outbox.purge(older_than=50) == 1, "the delivered one")
    expect(await store.outbox.purge(older_than=50, states=[DEAD]) == 1, "the dead one when asked")
    async with raises(RequestInvalid, "purging pending deliveries"):
        await store.outbox.purge(older_than=0, states=[PENDING])
    expect(len(await store.outbox.list()) == 1, "the pending one is kept")


@check("outbox")
async def list_filters_and_pages(store: Any, clock: FakeClock) -> None:
    """Listing filters by state and partner and pages by id."""
    ids = [await _enqueue(store, i, partner="bank-a" if i % 2 else "bank-b") for i in range(6)]
    expect([d.id for d in await store.outbox.list(limit=4)] == ids[:4], "by id")
    expect([d.id for d in await store.outbox.list(after=ids[3])] == ids[4:], "after an id")
    expect(all(d.partner == "bank-a" for d in await store.outbox.list(partner="bank-a")), "by partner")
    (d,) = await store.outbox.lease("relay", limit=1)
    expect([x.id for x in await store.outbox.list(states=[LEASED])] == [d.id], "by state")
    expect(await store.outbox.list(states=[]) == [], "no states, no deliveries")
