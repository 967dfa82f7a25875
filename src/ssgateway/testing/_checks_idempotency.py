"""Conformance checks: idempotency records and checkpoints (registered in :mod:`ssgateway.testing.stores`)."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from ssgateway.errors import (
    IdempotencyConflict,
    IdempotencyInProgress,
    OutcomeUnknown,
    PermanentError,
    RequestInvalid,
    TransientError,
)
from ssgateway.reliability import CheckpointConflict, Claim, Replay, fingerprint
from ssgateway.testing.clock import FakeClock
from ssgateway.testing.stores import check, expect, raises

FP = fingerprint({"amount": "100.00", "to": "6222020200012345678"})
OTHER = fingerprint({"amount": "999.00", "to": "6222020200012345678"})


async def _claim(store: Any, key: str, fp: str = FP, **kw: Any) -> Claim:
    result = await store.idempotency.claim(key, fp, **kw)
    expect(isinstance(result, Claim), f"claim of {key!r} should be won, got {result!r}")
    assert isinstance(result, Claim)  # noqa: S101 - narrows the type for mypy
    return result


async def _replay(store: Any, key: str, fp: str = FP) -> Replay:
    result = await store.idempotency.claim(key, fp)
    expect(isinstance(result, Replay), f"claim of {key!r} should replay, got {result!r}")
    assert isinstance(result, Replay)  # noqa: S101 - narrows the type for mypy
    return result


@check("idempotency")
async def first_claim_wins(store: Any, clock: FakeClock) -> None:
    """The first claim of a key wins a fresh in-progress record."""
    claim = await _claim(store, "k-first")
    expect(claim.attempt == 1 and not claim.takeover and not claim.replayed, f"fresh claim: {claim!r}")
    record = await store.idempotency.get("k-first")
    expect(record is not None and record.state == "in_progress", f"record in progress: {record!r}")
    expect(record.fingerprint == FP, "the record keeps the payload fingerprint")
    expect(await store.idempotency.get("k-absent") is None, "an unknown key has no record")


@check("idempotency")
async def repeat_in_flight_is_refused(store: Any, clock: FakeClock) -> None:
    """A repeat while the first is in flight raises IdempotencyInProgress with the wait left."""
    await _claim(store, "k-busy", lease=30)
    clock.advance(10)
    async with raises(IdempotencyInProgress, "repeat while in progress"):
        await store.idempotency.claim("k-busy", FP)
    try:
        await store.idempotency.claim("k-busy", FP)
    except IdempotencyInProgress as exc:
        expect(19 < exc.details["retry_after"] <= 20, f"retry_after is the lease left: {exc.details}")


@check("idempotency")
async def different_payload_conflicts(store: Any, clock: FakeClock) -> None:
    """The same key with another payload raises IdempotencyConflict, in flight and after completion."""
    claim = await _claim(store, "k-conflict")
    async with raises(IdempotencyConflict, "other payload while in progress"):
        await store.idempotency.claim("k-conflict", OTHER)
    await store.idempotency.complete(claim, {"ok": True})
    async with raises(IdempotencyConflict, "other payload after completion"):
        await store.idempotency.claim("k-conflict", OTHER)


@check("idempotency")
async def completed_is_replayed(store: Any, clock: FakeClock) -> None:
    """After completion a repeat gets the stored response, marked as a replay."""
    claim = await _claim(store, "k-done")
    response = {"status": "accepted", "note": "已受理", "amounts": ["1.00", "2.50"]}
    expect(await store.idempotency.complete(claim, response), "complete by the holder succeeds")
    replay = await _replay(store, "k-done")
    expect(replay.replayed and replay.succeeded, "a replay of a success")
    expect(replay.response == response, f"stored response returned unchanged: {replay.response!r}")
    clock.advance(3600)
    expect((await _replay(store, "k-done")).response == response, "still replayed an hour later")


@check("idempotency")
async def permanent_failure_is_replayed(store: Any, clock: FakeClock) -> None:
    """A permanent failure is stored and replayed, error code included, personal data masked."""
    claim = await _claim(store, "k-refused")
    error = PermanentError("account 6222020200012345678 closed", partner="bank")
    expect(await store.idempotency.fail(claim, error), "fail by the holder succeeds")
    replay = await _replay(store, "k-refused")
    error_record = replay.error or {}
    expect(not replay.succeeded and error_record, "a replay of a failure")
    expect(error_record.get("code") == "partner.refused", f"error code kept: {error_record}")
    expect("6222020200012345678" not in error_record.get("message", ""), "the stored message is masked")


@check("idempotency")
async def transient_failure_releases(store: Any, clock: FakeClock) -> None:
    """A transient failure releases the claim: the key can be claimed again at once."""
    claim = await _claim(store, "k-retry")
    expect(await store.idempotency.fail(claim, TransientError("busy")), "release by the holder succeeds")
    again = await _claim(store, "k-retry")
    expect(again.attempt == 1 and not again.takeover, f"a fresh claim after release: {again!r}")


@check("idempotency")
async def ambiguous_failure_is_kept(store: Any, clock: FakeClock) -> None:
    """OutcomeUnknown is stored by default (no blind resend); permanent=False releases it."""
    claim = await _claim(store, "k-unknown")
    await store.idempotency.fail(claim, OutcomeUnknown("reset after send"))
    replay = await _replay(store, "k-unknown")
    expect(replay.error is not None and replay.error["code"] == "partner.outcome_unknown", f"{replay.error}")
    claim = await _claim(store, "k-unknown-dedup")
    await store.idempotency.fail(claim, OutcomeUnknown("reset after send"), permanent=False)
    await _claim(store, "k-unknown-dedup")


@check("idempotency")
async def expired_lease_is_taken_over(store: Any, clock: FakeClock) -> None:
    """A claim whose holder died is taken over after its lease, not before."""
    await _claim(store, "k-crash", lease=10)
    clock.advance(9.9)
    async with raises(IdempotencyInProgress, "before the lease ends"):
        await store.idempotency.claim("k-crash", FP)
    clock.advance(0.2)
    taken = await _claim(store, "k-crash")
    expect(taken.takeover and taken.attempt == 2, f"a takeover, attempt 2: {taken!r}")


@check("idempotency")
async def stale_holder_cannot_settle(store: Any, clock: FakeClock) -> None:
    """After a takeover the old holder can neither complete, fail nor release the claim."""
    old = await _claim(store, "k-stale", lease=5)
    clock.advance(6)
    new = await _claim(store, "k-stale")
    expect(not await store.idempotency.complete(old, {"from": "old"}), "old holder's complete refused")
    expect(not await store.idempotency.release(old), "old holder's release refused")
    expect(not await store.idempotency.fail(old, PermanentError("x")), "old holder's fail refused")
    expect(await store.idempotency.renew(old) is None, "old holder's renew refused")
    expect(await store.idempotency.complete(new, {"from": "new"}), "new holder completes")
    expect((await _replay(store, "k-stale")).response == {"from": "new"}, "the new holder's result stands")


@check("idempotency")
async def a_late_result_is_not_overwritten_by_a_takeover(store: Any, clock: FakeClock) -> None:
    """A slow holder completing between a takeover's read and its write keeps its result."""
    idem = store.idempotency
    slow = await _claim(store, "k-late", lease=5)
    clock.advance(6)
    load = idem._load
    completed: list[bool] = []

    async def load_then_the_holder_completes(key: str) -> Any:
        record = await load(key)  # in progress, lease run out: a takeover is next
        if not completed:
            completed.append(await idem.complete(slow, {"paid": True}))
        return record

    idem._load = load_then_the_holder_completes
    try:
        second = await idem.claim("k-late", FP)
    finally:
        idem._load = load
    expect(completed == [True], "the slow holder's complete went through")
    expect(isinstance(second, Replay), f"the second caller gets the stored result: {second!r}")
    expect((await _replay(store, "k-late")).response == {"paid": True}, "the result stands")


@check("idempotency")
async def renew_extends_the_lease(store: Any, clock: FakeClock) -> None:
    """Renewing a claim pushes its lease out; the holder keeps it."""
    claim = await _claim(store, "k-long", lease=10)
    clock.advance(8)
    renewed = await store.idempotency.renew(claim, lease=10)
    expect(renewed is not None and renewed.lease_expires_at > claim.lease_expires_at, f"renewed: {renewed!r}")
    clock.advance(8)
    async with raises(IdempotencyInProgress, "renewed lease still running"):
        await store.idempotency.claim("k-long", FP)
    expect(await store.idempotency.complete(renewed), "the renewed claim completes")


@check("idempotency")
async def retention_expiry_frees_the_key(store: Any, clock: FakeClock) -> None:
    """Once a record's retention ends the key is free again, for any payload."""
    claim = await _claim(store, "k-old")
    await store.idempotency.complete(claim, {"n": 1}, retention=100)
    clock.advance(99)
    await _replay(store, "k-old")
    clock.advance(2)
    expect(await store.idempotency.get("k-old") is None, "an expired record is not returned")
    fresh = await _claim(store, "k-old", OTHER)
    expect(fresh.attempt == 1 and not fresh.takeover, f"a fresh claim: {fresh!r}")
    expect(isinstance(await store.idempotency.purge_expired(), int), "purge reports a count")


@check("idempotency")
async def concurrent_claims_have_one_winner(store: Any, clock: FakeClock) -> None:
    """Many concurrent claims of the same keys: exactly one winner per key."""
    keys = [f"k-race-{i}" for i in range(40)]

    async def attempt(key: str) -> str | None:
        try:
            result = await store.idempotency.claim(key, FP)
        except IdempotencyInProgress:
            return None
        return key if isinstance(result, Claim) else None

    results = await asyncio.gather(*(attempt(k) for k in keys for _ in range(5)))
    winners = Counter(r for r in results if r is not None)
    expect(sorted(winners) == sorted(keys), f"every key won once: {len(winners)} of {len(keys)}")
    expect(set(winners.values()) == {1}, f"no key won twice: {winners.most_common(3)}")


@check("idempotency")
async def bad_keys_are_refused(store: Any, clock: FakeClock) -> None:
    """Empty and over-long keys are refused with RequestInvalid; the store answers ping."""
    for key in ("", "k" * 256):
        async with raises(RequestInvalid, f"key of length {len(key)}"):
            await store.idempotency.claim(key, FP)
    await _claim(store, "k" * 255)
    await store.ping()


@check("checkpoints")
async def checkpoint_compare_and_set(store: Any, clock: FakeClock) -> None:
    """A checkpoint is written only over the version read; a stale write is refused."""
    cps = store.checkpoints
    expect(await cps.get("drops/henan") is None, "no checkpoint before the first write")
    expect(await cps.put("drops/henan", {"offset": 10, "digests": ["a"]}, 0) == 1, "first write is version 1")
    expect(await cps.put("drops/henan", {"offset": 20, "digests": ["a", "b"]}, 1) == 2, "then version 2")
    async with raises(CheckpointConflict, "a write over a stale version"):
        await cps.put("drops/henan", {"offset": 15}, 1)
    async with raises(CheckpointConflict, "a second first write"):
        await cps.put("drops/henan", {"offset": 0}, 0)
    current = await cps.get("drops/henan")
    expect(current.version == 2 and current.state == {"offset": 20, "digests": ["a", "b"]}, f"{current!r}")
    expect(await cps.delete("drops/henan") and await cps.get("drops/henan") is None, "deleted")


@check("checkpoints")
async def concurrent_checkpoint_writers(store: Any, clock: FakeClock) -> None:
    """Concurrent writers over the same version: exactly one succeeds."""

    async def write(i: int) -> bool:
        try:
            await store.checkpoints.put("race", {"writer": i}, 0)
        except CheckpointConflict:
            return False
        return True

    results = await asyncio.gather(*(write(i) for i in range(10)))
    expect(sum(results) == 1, f"one writer wins, got {sum(results)}")
