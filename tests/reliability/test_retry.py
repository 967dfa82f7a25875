"""Retry policies without real sleeping: jitter bounds, the deadline, Retry-After."""

from __future__ import annotations

import random
from email.utils import formatdate

import pytest

from ssgateway.config import RetryConfig
from ssgateway.errors import OutcomeUnknown, PermanentError, TransientError
from ssgateway.reliability import RetryEvent, RetryPolicy, is_resendable, parse_retry_after
from ssgateway.testing import FakeClock


class Flaky:
    """Fails with the given errors in turn, then returns "ok"; counts calls."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def test_backoff_bound_grows_and_is_capped() -> None:
    policy = RetryPolicy(initial_backoff=0.2, multiplier=2, max_backoff=5)
    assert [policy.backoff_bound(n) for n in range(1, 8)] == [0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0]
    assert policy.backoff_bound(10_000) == 5.0  # no overflow


def test_full_jitter_stays_within_bounds() -> None:
    rng = random.Random(7)
    policy = RetryPolicy(attempts=50, deadline=1e9, initial_backoff=0.1, max_backoff=3, random=rng.random)
    error = TransientError("busy")
    for attempt in range(1, 50):
        delays = [policy.next_delay(attempt, error, 0.0) for _ in range(200)]
        bound = policy.backoff_bound(attempt)
        assert all(d is not None and 0 <= d <= bound for d in delays)
        assert max(d for d in delays if d is not None) > 0.8 * bound  # full jitter reaches the bound
        assert min(d for d in delays if d is not None) < 0.2 * bound  # ... and near zero


async def test_retries_transient_errors_without_sleeping() -> None:
    clock = FakeClock()
    policy = RetryPolicy(attempts=4, initial_backoff=1, max_backoff=10, clock=clock, random=lambda: 0.5)
    events: list[RetryEvent] = []
    func = Flaky(TransientError("a"), TransientError("b"), TransientError("c"))
    assert await policy.call(func, on_retry=events.append) == "ok"
    assert func.calls == 4
    assert clock.sleeps == [0.5, 1.0, 2.0]  # half of 1, 2, 4: jitter drawn at 0.5
    assert [(e.attempt, str(e.error)) for e in events] == [(1, "a"), (2, "b"), (3, "c")]


async def test_gives_up_after_the_attempts() -> None:
    clock = FakeClock()
    policy = RetryPolicy(attempts=3, clock=clock)
    func = Flaky(*(TransientError(str(i)) for i in range(5)))
    with pytest.raises(TransientError, match=r"^2$"):
        await policy.call(func)
    assert func.calls == 3 and len(clock.sleeps) == 2


async def test_no_attempt_starts_after_the_deadline() -> None:
    clock = FakeClock()
    # waits of 0.4, 0.8, 1.6 (jitter at its bound); the third would end at 2.8 > 2.0: give up before it
    policy = RetryPolicy(attempts=10, deadline=2.0, initial_backoff=0.4, clock=clock, random=lambda: 1.0)
    func = Flaky(*(TransientError(str(i)) for i in range(10)))
    with pytest.raises(TransientError, match=r"^2$"):
        await policy.call(func)
    assert clock.sleeps == [0.4, 0.8] and func.calls == 3
    assert clock.monotonic() < 2.0


async def test_retry_after_in_seconds_is_honoured() -> None:
    clock = FakeClock()
    policy = RetryPolicy(deadline=30, initial_backoff=0.1, clock=clock, random=lambda: 1.0)
    assert await policy.call(Flaky(TransientError("429", retry_after=7.0))) == "ok"
    assert clock.sleeps == [7.0]
    ignoring = RetryPolicy(deadline=30, initial_backoff=0.1, honour_retry_after=False, clock=clock)
    clock.sleeps.clear()
    await ignoring.call(Flaky(TransientError("429", retry_after=7.0)))
    assert clock.sleeps[0] <= 0.1


async def test_retry_after_as_http_date_is_honoured() -> None:
    clock = FakeClock()
    header = formatdate(clock.time() + 12, usegmt=True)
    wait = parse_retry_after(header, now=clock.time())
    assert wait == pytest.approx(12, abs=1)
    policy = RetryPolicy(deadline=30, initial_backoff=0.1, clock=clock, random=lambda: 0.0)
    await policy.call(Flaky(TransientError("503", retry_after=wait)))
    assert clock.sleeps == [wait]


async def test_retry_after_beyond_the_deadline_fails_at_once() -> None:
    clock = FakeClock()
    policy = RetryPolicy(deadline=10, clock=clock)
    func = Flaky(TransientError("come back in an hour", retry_after=3600))
    with pytest.raises(TransientError, match="an hour"):
        await policy.call(func)
    assert clock.sleeps == [] and func.calls == 1


def test_parse_retry_after_forms() -> None:
    now = 1_767_225_600.0
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(" 0 ") == 0.0
    assert parse_retry_after(formatdate(now - 60, usegmt=True), now=now) == 0.0  # a past date: at once
    assert parse_retry_after("Thu, 01 Jan 2026 00:00:30 GMT", now=now) == 30.0
    for bad in (None, "", "soon", "-5", "1.5"):
        assert parse_retry_after(bad) is None


async def test_only_transient_errors_are_retried() -> None:
    policy = RetryPolicy(clock=FakeClock())
    for error in (PermanentError("refused"), ValueError("bug")):
        func = Flaky(error)
        with pytest.raises(type(error)):
            await policy.call(func)
        assert func.calls == 1


async def test_ambiguous_failures_are_retried_only_when_resendable() -> None:
    clock = FakeClock()
    policy = RetryPolicy(clock=clock)
    func = Flaky(OutcomeUnknown("reset after send"))
    with pytest.raises(OutcomeUnknown):
        await policy.call(func)
    assert func.calls == 1
    func = Flaky(OutcomeUnknown("reset after send"))
    assert await policy.call(func, resendable=True) == "ok" and func.calls == 2


def test_resendable_operations() -> None:
    assert is_resendable("person.lookup", frozenset())  # reads change nothing
    assert not is_resendable("payments.submit", frozenset())
    assert is_resendable("payments.submit", frozenset({"payments.submit"}))
    assert not is_resendable("no.such.operation", frozenset())


def test_policy_from_config() -> None:
    policy = RetryPolicy.from_config(RetryConfig(attempts=6, deadline=9, initial_backoff=0.5, max_backoff=2))
    assert (policy.attempts, policy.deadline, policy.backoff_bound(1), policy.backoff_bound(9)) == (
        6,
        9,
        0.5,
        2,
    )
    with pytest.raises(ValueError, match="attempts"):
        RetryPolicy(attempts=0)
