"""The platform session: one ``sign_no`` from sign-in (9001), shared by every call, renewed once on expiry.

Calls read :meth:`Session.current`. When the platform answers that a ``sign_no`` has expired, the call asks
:meth:`Session.renew` with the number it used: the first such call signs in again, and every other call
that saw the same stale number waits for that sign-in and gets its result instead of signing in itself.
So however many calls discover the expiry at once, one sign-in is in flight, and when it ends every call
waiting for it resumes at once (a lock would hand the number on one waiter per turn of the event loop, and
under load the last waiters would meet the next expiry before they could resend).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from ssgateway.sdk import SYSTEM_CLOCK, Clock

__all__ = ["Session"]


class Session:
    """The current ``sign_no`` and its single-flight renewal.

    Args:
        sign_in: performs transaction 9001 and returns the new ``sign_no``.
        clock: for ``max_age``.
        max_age: seconds after which the number is renewed before use (None: only on expiry).
    """

    def __init__(
        self,
        sign_in: Callable[[], Awaitable[str]],
        *,
        clock: Clock | None = None,
        max_age: float | None = None,
    ) -> None:
        self._sign_in = sign_in
        self._clock = clock or SYSTEM_CLOCK
        self._max_age = max_age
        self._sign_no: str | None = None
        self._signed_at = 0.0
        self._pending: asyncio.Future[str] | None = None
        self.sign_ins = 0
        """Successful sign-ins so far."""

    def _fresh(self) -> bool:
        if self._sign_no is None:
            return False
        return self._max_age is None or self._clock.monotonic() - self._signed_at < self._max_age

    @property
    def sign_no(self) -> str | None:
        """The current number, if signed in."""
        return self._sign_no

    async def current(self) -> str:
        """The number to use now (signing in first when there is none, or it is older than ``max_age``)."""
        if self._fresh():
            assert self._sign_no is not None  # noqa: S101 - _fresh checked it
            return self._sign_no
        return await self.renew(self._sign_no)

    async def renew(self, stale: str | None) -> str:
        """A number other than ``stale``: signs in unless another call did since ``stale`` was read.

        A sign-in in flight is shared: its result (or failure) goes to every call waiting for it, and a
        waiter that is cancelled does not cancel it for the others.
        """
        if self._sign_no is not None and self._sign_no != stale and self._fresh():
            return self._sign_no
        if self._pending is None:
            self._pending = asyncio.ensure_future(self._sign_in_once())
            # a failure every waiter gave up on is still "retrieved": no warning about it at exit
            self._pending.add_done_callback(lambda f: f.cancelled() or f.exception())
        return await asyncio.shield(self._pending)

    async def _sign_in_once(self) -> str:
        try:
            sign_no = await self._sign_in()
            self._sign_no = sign_no
            self._signed_at = self._clock.monotonic()
            self.sign_ins += 1
            return sign_no
        finally:
            self._pending = None

    def forget(self) -> None:
        """Drop the number (the next call signs in)."""
        self._sign_no = None
