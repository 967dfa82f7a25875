"""Retry policies: exponential backoff with full jitter, a cap, an overall deadline and ``Retry-After``.

Only errors classified transient are retried (:class:`~ssgateway.errors.TransientError`). An
:class:`~ssgateway.errors.OutcomeUnknown` — the partner may have acted — is retried only when the request
is *resendable*: it does not change anything at the partner, or it carries a key the partner dedupes on
(see :func:`is_resendable`). tenacity drives the loop; it is an implementation detail, not part of the API.

Example:
    >>> policy = RetryPolicy(attempts=3, initial_backoff=0.1, max_backoff=1.0)
    >>> policy.backoff_bound(1), policy.backoff_bound(2), policy.backoff_bound(5)
    (0.1, 0.2, 1.0)
"""

from __future__ import annotations

import random as _random
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import TypeVar

from tenacity import AsyncRetrying, RetryCallState

from ssgateway.config import RetryConfig
from ssgateway.errors import NotFound, OutcomeUnknown, TransientError
from ssgateway.operations import get_operation
from ssgateway.reliability.clock import SYSTEM_CLOCK, Clock

__all__ = ["RetryEvent", "RetryPolicy", "is_resendable", "parse_retry_after"]

T = TypeVar("T")


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delay-seconds or an HTTP-date.

    Args:
        value: the header value (``"120"`` or ``"Wed, 21 Oct 2026 07:28:00 GMT"``).
        now: wall-clock seconds to measure an HTTP-date against (default: the system clock).

    Returns:
        The wait in seconds (never negative), or ``None`` when the header is absent or unreadable.
    """
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # an HTTP-date is always GMT; the parser leaves "-0000" naive
        return None
    base = SYSTEM_CLOCK.time() if now is None else now
    return max(0.0, when.timestamp() - base)


def is_resendable(operation: str, deduplicated: Collection[str]) -> bool:
    """Whether a request may be sent again after an ambiguous failure.

    True for operations that change nothing at the partner and for those the partner dedupes on a key
    the request carries (the adapter's ``deduplicated`` set). Unknown operations count as changing state.
    """
    if operation in deduplicated:
        return True
    try:
        return not get_operation(operation).mutating
    except NotFound:
        return False


@dataclass(frozen=True, slots=True)
class RetryEvent:
    """One decision to retry, for logs and metrics.

    Attributes:
        attempt: the attempt that failed (1 for the first).
        error: what it failed with.
        delay: seconds waited before the next attempt.
    """

    attempt: int
    error: BaseException
    delay: float


class RetryPolicy:
    """How a partner's transient failures are retried.

    The wait before retry ``n`` is drawn uniformly from ``[0, min(max_backoff, initial_backoff *
    multiplier**(n-1))]`` (full jitter). A partner's ``Retry-After`` raises the wait to at least that long.
    No attempt starts after ``deadline`` seconds: when the next wait would cross it, the last error is
    raised at once instead of waiting in vain.

    Args:
        attempts: total attempts, the first included.
        deadline: seconds from the first attempt after which none starts.
        initial_backoff: bound of the first wait.
        max_backoff: cap of the bound.
        multiplier: growth of the bound per retry.
        honour_retry_after: wait at least as long as ``AdapterError.retry_after`` asks.
        clock: time and sleeping (inject :class:`ssgateway.testing.FakeClock` in tests).
        random: source of uniform numbers in ``[0, 1)`` for the jitter.
    """

    def __init__(
        self,
        *,
        attempts: int = 4,
        deadline: float = 30.0,
        initial_backoff: float = 0.2,
        max_backoff: float = 5.0,
        multiplier: float = 2.0,
        honour_retry_after: bool = True,
        clock: Clock | None = None,
        random: Callable[[], float] | None = None,
    ) -> None:
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self.attempts = attempts
        self.deadline = deadline
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.multiplier = multiplier
        self.honour_retry_after = honour_retry_after
        self.clock = clock or SYSTEM_CLOCK
        self._random = random or _random.random

    @classmethod
    def from_config(
        cls, config: RetryConfig, *, clock: Clock | None = None, random: Callable[[], float] | None = None
    ) -> RetryPolicy:
        """The policy a :class:`~ssgateway.config.RetryConfig` describes."""
        return cls(
            attempts=config.attempts,
            deadline=config.deadline,
            initial_backoff=config.initial_backoff,
            max_backoff=config.max_backoff,
            multiplier=config.multiplier,
            honour_retry_after=config.honour_retry_after,
            clock=clock,
            random=random,
        )

    def __repr__(self) -> str:
        return (
            f"RetryPolicy(attempts={self.attempts}, deadline={self.deadline}, "
            f"initial_backoff={self.initial_backoff}, max_backoff={self.max_backoff}, "
            f"multiplier={self.multiplier}, honour_retry_after={self.honour_retry_after})"
        )

    def backoff_bound(self, retry: int) -> float:
        """Upper bound of the wait before retry number ``retry`` (1 for the first retry)."""
        exponent = max(0, retry - 1)
        # cap the exponent so a large attempt number cannot overflow the float
        return float(min(self.max_backoff, self.initial_backoff * self.multiplier ** min(exponent, 64)))

    def retryable(self, error: BaseException, *, resendable: bool) -> bool:
        """Whether ``error`` is worth another attempt (ignoring attempts and deadline)."""
        if isinstance(error, OutcomeUnknown):
            return resendable
        return isinstance(error, TransientError)

    def next_delay(self, attempt: int, error: BaseException, elapsed: float) -> float | None:
        """Seconds to wait before the next attempt, or ``None`` when the policy is exhausted.

        Args:
            attempt: attempts made so far (1 after the first failed).
            error: the last failure (its ``retry_after`` is honoured).
            elapsed: seconds since the first attempt started.
        """
        if attempt >= self.attempts:
            return None
        delay = self._random() * self.backoff_bound(attempt)
        retry_after = getattr(error, "retry_after", None)
        if self.honour_retry_after and retry_after is not None:
            delay = max(delay, float(retry_after))
        if elapsed + delay >= self.deadline:
            return None
        return delay

    async def call(
        self,
        func: Callable[[], Awaitable[T]],
        *,
        resendable: bool = False,
        on_retry: Callable[[RetryEvent], None] | None = None,
    ) -> T:
        """Run ``func`` until it succeeds, fails for good or the policy is exhausted.

        Args:
            func: makes one attempt.
            resendable: an ambiguous failure (:class:`~ssgateway.errors.OutcomeUnknown`) may be retried.
            on_retry: told about each retry before its wait.

        Returns:
            What ``func`` returned.

        Raises:
            Exception: the last error, unchanged, when it is not retryable or the policy is exhausted.
        """
        start = self.clock.monotonic()
        try:
            return await func()  # most calls succeed at once: no retry machinery is built for them
        except Exception as error:
            if not self.retryable(error, resendable=resendable):
                raise
            delay = self.next_delay(1, error, self.clock.monotonic() - start)
            if delay is None:
                raise
            if on_retry is not None:
                on_retry(RetryEvent(1, error, delay))
        await self.clock.sleep(delay)
        return await self._retry(func, start, resendable, on_retry)

    async def _retry(
        self,
        func: Callable[[], Awaitable[T]],
        start: float,
        resendable: bool,
        on_retry: Callable[[RetryEvent], None] | None,
    ) -> T:
        """Attempts 2 and on (the first failed and its wait is over), driven by tenacity."""
        done = 1  # attempts made before tenacity's first
        pending: list[float | None] = [None]

        def retry(state: RetryCallState) -> bool:
            error = state.outcome.exception() if state.outcome else None
            return error is not None and self.retryable(error, resendable=resendable)

        def wait(state: RetryCallState) -> float:
            error = state.outcome.exception() if state.outcome else None
            elapsed = self.clock.monotonic() - start
            attempt = state.attempt_number + done
            pending[0] = None if error is None else self.next_delay(attempt, error, elapsed)
            return pending[0] or 0.0

        def stop(state: RetryCallState) -> bool:
            return pending[0] is None

        def before_sleep(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            if on_retry is not None and error is not None:
                on_retry(RetryEvent(state.attempt_number + done, error, pending[0] or 0.0))

        async def attempt() -> T:
            # tenacity awaits only what it recognises as a coroutine function; a lambda returning an
            # awaitable would not be
            return await func()

        retrying = AsyncRetrying(
            retry=retry,
            wait=wait,
            stop=stop,
            sleep=self.clock.sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        return await retrying(attempt)
