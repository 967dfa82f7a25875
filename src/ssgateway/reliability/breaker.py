"""A per-partner circuit breaker: stop calling a partner that keeps failing, probe it now and then.

Closed: calls go through; ``failure_threshold`` consecutive failures open it. Open: calls fail at once with
:class:`BreakerOpen` (a transient error whose ``retry_after`` says when a probe is allowed). After
``reset_timeout`` it is half-open: one probe call goes through; success closes it, failure opens it again.
Only transient failures count (a partner that answers "refused" is up); :class:`BreakerOpen` never does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from ssgateway.config import BreakerConfig
from ssgateway.errors import AdapterError, TransientError
from ssgateway.reliability.clock import SYSTEM_CLOCK, Clock

__all__ = ["BreakerOpen", "BreakerSnapshot", "BreakerState", "Breakers", "CircuitBreaker"]

T = TypeVar("T")


class BreakerState(StrEnum):
    """Where a breaker stands."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class BreakerOpen(TransientError):
    """The partner's circuit breaker is open: the call was not attempted."""

    default_code = "partner.breaker_open"


@dataclass(frozen=True, slots=True)
class BreakerSnapshot:
    """A breaker's state for metrics and readiness.

    Attributes:
        name: the partner.
        state: closed, open or half-open.
        consecutive_failures: failures since the last success.
        opened_for: seconds the breaker has been open (0 when closed).
        times_opened: how often it has opened since it was created.
    """

    name: str
    state: BreakerState
    consecutive_failures: int
    opened_for: float
    times_opened: int


class CircuitBreaker:
    """One partner's breaker.

    Args:
        name: the partner, used in errors and metrics.
        failure_threshold: consecutive failures that open the breaker.
        reset_timeout: seconds an open breaker waits before letting one probe through.
        clock: monotonic time (inject :class:`ssgateway.testing.FakeClock` in tests).
    """

    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int = 5,
        reset_timeout: float = 30.0,
        clock: Clock | None = None,
    ) -> None:
        self.name = name
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self.clock = clock or SYSTEM_CLOCK
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False
        self._times_opened = 0

    @classmethod
    def from_config(cls, name: str, config: BreakerConfig, *, clock: Clock | None = None) -> CircuitBreaker:
        """The breaker a :class:`~ssgateway.config.BreakerConfig` describes."""
        return cls(
            name, failure_threshold=config.failure_threshold, reset_timeout=config.reset_timeout, clock=clock
        )

    @property
    def state(self) -> BreakerState:
        """The current state (an open breaker turns half-open once ``reset_timeout`` has passed)."""
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self.clock.monotonic() - self._opened_at >= self.reset_timeout:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def snapshot(self) -> BreakerSnapshot:
        """The state and counters, for metrics."""
        opened_for = 0.0 if self._opened_at is None else self.clock.monotonic() - self._opened_at
        return BreakerSnapshot(self.name, self.state, self._failures, opened_for, self._times_opened)

    def acquire(self) -> None:
        """Ask to make a call; raises :class:`BreakerOpen` when the call must not be made.

        Every successful ``acquire`` must be followed by :meth:`success`, :meth:`failure` or
        :meth:`abandon`.
        """
        state = self.state
        if state is BreakerState.CLOSED:
            return
        if state is BreakerState.HALF_OPEN and not self._probing:
            self._probing = True
            return
        now = self.clock.monotonic()
        opened_at = now if self._opened_at is None else self._opened_at
        wait = max(0.0, opened_at + self.reset_timeout - now)
        raise BreakerOpen(
            f"partner {self.name!r} is failing: circuit breaker open after "
            f"{self._failures} consecutive failures; next probe in {wait:.1f}s",
            partner=self.name,
            retry_after=wait,
        )

    def success(self) -> None:
        """Record a successful call: the breaker closes."""
        self._failures = 0
        self._opened_at = None
        self._probing = False

    def failure(self) -> None:
        """Record a failed call: a failed probe or the threshold reached opens the breaker."""
        self._failures += 1
        if self._probing or (self._opened_at is None and self._failures >= self.failure_threshold):
            self._opened_at = self.clock.monotonic()
            self._times_opened += 1
        self._probing = False

    def abandon(self) -> None:
        """Forget a call that ended without telling anything about the partner (cancelled)."""
        self._probing = False

    async def call(self, func: Callable[[], Awaitable[T]]) -> T:
        """Run ``func`` through the breaker.

        Transient errors count as failures; a result or another partner error (the partner answered,
        even if with a refusal) counts as success; anything else (cancellation, a bug) counts as neither.

        Raises:
            BreakerOpen: the breaker is open; ``func`` was not called.
        """
        self.acquire()
        try:
            result = await func()
        except TransientError:
            self.failure()
            raise
        except AdapterError:
            self.success()
            raise
        except BaseException:
            self.abandon()
            raise
        self.success()
        return result


class Breakers:
    """The breakers of all partners, created on first use from a per-partner settings lookup.

    Args:
        settings: the breaker settings of a partner (e.g. ``GatewayConfig.breaker_for``).
        clock: shared by every breaker.
    """

    def __init__(self, settings: Callable[[str], BreakerConfig], *, clock: Clock | None = None) -> None:
        self._settings = settings
        self._clock = clock
        self._breakers: dict[str, CircuitBreaker] = {}

    def get(self, partner: str) -> CircuitBreaker:
        """The breaker of ``partner``."""
        breaker = self._breakers.get(partner)
        if breaker is None:
            breaker = CircuitBreaker.from_config(partner, self._settings(partner), clock=self._clock)
            self._breakers[partner] = breaker
        return breaker

    def snapshots(self) -> list[BreakerSnapshot]:
        """Every breaker's state, sorted by partner, for metrics."""
        return [self._breakers[name].snapshot() for name in sorted(self._breakers)]
