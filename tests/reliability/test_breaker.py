"""The circuit breaker: opens after N consecutive failures, probes when half-open, closes on success."""

from __future__ import annotations

import asyncio

import pytest

from ssgateway.config import BreakerConfig
from ssgateway.errors import PermanentError, TransientError
from ssgateway.reliability import BreakerOpen, Breakers, BreakerState, CircuitBreaker, RetryPolicy
from ssgateway.testing import FakeClock


async def fail() -> None:
    raise TransientError("timeout")


async def ok() -> str:
    return "ok"


async def test_opens_after_consecutive_failures() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker("bank", failure_threshold=3, reset_timeout=30, clock=clock)
    for _ in range(2):
        with pytest.raises(TransientError):
            await breaker.call(fail)
    assert breaker.state is BreakerState.CLOSED
    assert await breaker.call(ok) == "ok"  # a success resets the count
    for _ in range(3):
        with pytest.raises(TransientError):
            await breaker.call(fail)
    assert breaker.state is BreakerState.OPEN
    clock.advance(10)
    with pytest.raises(BreakerOpen) as caught:
        await breaker.call(ok)
    error = caught.value
    assert isinstance(error, TransientError) and error.code == "partner.breaker_open"
    assert error.retry_after == pytest.approx(20) and error.partner == "bank" and "bank" in error.message


async def test_half_open_lets_one_probe_through() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker("bank", failure_threshold=1, reset_timeout=5, clock=clock)
    with pytest.raises(TransientError):
        await breaker.call(fail)
    clock.advance(5)
    assert breaker.state is BreakerState.HALF_OPEN
    probe_may_finish = asyncio.Event()

    async def slow_probe() -> str:
        await probe_may_finish.wait()
        return "ok"

    probe = asyncio.create_task(breaker.call(slow_probe))
    await asyncio.sleep(0)
    with pytest.raises(BreakerOpen):  # only one probe at a time
        await breaker.call(ok)
    probe_may_finish.set()
    assert await probe == "ok"
    assert breaker.state is BreakerState.CLOSED


async def test_failed_probe_opens_again() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker("bank", failure_threshold=2, reset_timeout=5, clock=clock)
    for _ in range(2):
        with pytest.raises(TransientError):
            await breaker.call(fail)
    clock.advance(6)
    with pytest.raises(TransientError):
        await breaker.call(fail)
    assert breaker.state is BreakerState.OPEN
    snap = breaker.snapshot()
    assert (snap.state, snap.consecutive_failures, snap.times_opened) == (BreakerState.OPEN, 3, 2)


async def test_refusals_and_cancellations_do_not_open_it() -> None:
    breaker = CircuitBreaker("bank", failure_threshold=1, clock=FakeClock())

    async def refuse() -> None:
        raise PermanentError("invalid account")

    with pytest.raises(PermanentError):
        await breaker.call(refuse)
    task = asyncio.create_task(breaker.call(asyncio.Event().wait))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert breaker.state is BreakerState.CLOSED


async def test_registry_and_retry_compose() -> None:
    clock = FakeClock()
    breakers = Breakers(lambda partner: BreakerConfig(failure_threshold=2, reset_timeout=4), clock=clock)
    breaker = breakers.get("bank")
    assert breakers.get("bank") is breaker
    calls = 0

    async def twice_down() -> str:
        nonlocal calls
        calls += 1
        if calls <= 2:
            raise TransientError("down")
        return "ok"

    policy = RetryPolicy(attempts=5, deadline=60, initial_backoff=0.1, clock=clock, random=lambda: 1.0)
    assert await policy.call(lambda: breaker.call(twice_down)) == "ok"
    # two failures opened it; the retry then waited out the breaker's reset (Retry-After), probed, closed
    assert calls == 3 and clock.sleeps[:2] == [0.1, 0.2] and sum(clock.sleeps) >= 4
    assert [s.state for s in breakers.snapshots()] == [BreakerState.CLOSED]
