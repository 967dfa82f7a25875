"""A fake clock: time that moves only when told to, and sleeping that returns at once.

Pass it wherever the reliability core takes a ``clock`` (retry policies, breakers, stores, relays): waits
are recorded instead of slept, so backoff schedules, deadlines, leases and breaker timeouts are tested in
microseconds.

Example:
    >>> import asyncio
    >>> clock = FakeClock()
    >>> asyncio.run(clock.sleep(2.5))
    >>> clock.sleeps, clock.monotonic()
    ([2.5], 2.5)
"""

from __future__ import annotations

import asyncio

__all__ = ["FakeClock"]


class FakeClock:
    """Implements :class:`ssgateway.reliability.Clock` without real time.

    Args:
        start: the wall-clock reading at the start (epoch seconds; a fixed date by default).

    Attributes:
        sleeps: every wait asked of :meth:`sleep`, in order.
    """

    def __init__(self, start: float = 1_767_225_600.0) -> None:  # 2026-01-01T00:00:00Z
        self._wall = start
        self._mono = 0.0
        self.sleeps: list[float] = []

    def time(self) -> float:
        """Fake wall-clock seconds."""
        return self._wall

    def monotonic(self) -> float:
        """Fake monotonic seconds (0 at creation)."""
        return self._mono

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds`` (both readings)."""
        if seconds < 0:
            raise ValueError("time does not go backwards")
        self._wall += seconds
        self._mono += seconds

    async def sleep(self, seconds: float) -> None:
        """Record the wait, advance time by it and yield to other tasks once."""
        self.sleeps.append(seconds)
        self.advance(max(0.0, seconds))
        await asyncio.sleep(0)
