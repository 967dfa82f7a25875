"""Time as the reliability core sees it: wall time for records, monotonic time and sleeping for waits.

Everything that waits or stamps a time takes a :class:`Clock`, so tests can replace real time with
:class:`ssgateway.testing.FakeClock` and run retry schedules, leases and breaker timeouts instantly.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol, runtime_checkable

__all__ = ["SYSTEM_CLOCK", "Clock", "SystemClock"]


@runtime_checkable
class Clock(Protocol):
    """A source of time and a way to wait."""

    def time(self) -> float:
        """Wall-clock seconds since the epoch (stamps, leases and expiry in stores)."""

    def monotonic(self) -> float:
        """Seconds from an arbitrary start that never go backwards (deadlines, breaker timeouts)."""

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds``."""


class SystemClock:
    """The real clock: :func:`time.time`, :func:`time.monotonic` and :func:`asyncio.sleep`."""

    def time(self) -> float:
        """Wall-clock seconds since the epoch."""
        return time.time()

    def monotonic(self) -> float:
        """Monotonic seconds."""
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        """Sleep on the running event loop."""
        await asyncio.sleep(seconds)


SYSTEM_CLOCK: Clock = SystemClock()
"""The shared real clock, the default everywhere a clock is optional."""
