"""Relays: lease due outbox deliveries, send them, record what happened.

Several relays (tasks, processes, hosts) may share one outbox: leases keep them from taking the same
delivery. A relay sends each delivery once per lease and records the outcome with the retry policy:

===============================================  ===========================================
the send ...                                     the delivery becomes ...
===============================================  ===========================================
returned                                         delivered (the returned JSON is kept)
raised TransientError, policy not exhausted      pending again, due after the policy's wait
raised TransientError, policy exhausted          dead
raised OutcomeUnknown, partner dedupes           as TransientError (a resend is safe)
raised OutcomeUnknown, partner does not dedupe   unknown (reconcile before replaying)
raised any other error                           dead, with the reason
raised anything unexpected                       as OutcomeUnknown (it may have been sent)
the partner's breaker was open                   pending again, the attempt given back
===============================================  ===========================================
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from ssgateway.errors import OutcomeUnknown, SSGatewayError, StoreUnavailable, TransientError
from ssgateway.masking import mask_text
from ssgateway.reliability.breaker import BreakerOpen, Breakers
from ssgateway.reliability.clock import SYSTEM_CLOCK, Clock
from ssgateway.reliability.outbox import ACTIVE_STATES, Delivery, Outbox
from ssgateway.reliability.retry import RetryPolicy

__all__ = ["Relay", "RelayStats", "SendFunction"]

SendFunction = Callable[[Delivery], Awaitable[Any]]
"""Sends one delivery; returns the partner's answer as JSON (or a model, or None); raises AdapterErrors."""

_log = logging.getLogger("ssgateway.relay")


@dataclass
class RelayStats:
    """What a relay has done since it started."""

    leased: int = 0
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    unknown: int = 0
    deferred: int = 0
    """Put back unsent because the partner's breaker was open."""
    lost: int = 0
    """Outcomes not recorded because the lease had been lost (or the store was unreachable)."""


class Relay:
    """Sends an outbox's due deliveries through ``send``.

    Args:
        outbox: where deliveries come from.
        send: sends one delivery (the runtime passes one that calls the partner's adapter).
        policy: the retry policy, or a function giving each partner's.
        breakers: per-partner circuit breakers, if any.
        name: names this relay in leases (default: host, process id and a random suffix).
        concurrency: deliveries in flight at once.
        lease: seconds a delivery is held; longer than a send can take, or it may be taken over mid-send.
        poll_interval: seconds between looks when nothing is due.
        clock: time and sleeping.
    """

    def __init__(
        self,
        outbox: Outbox,
        send: SendFunction,
        *,
        policy: RetryPolicy | Callable[[str], RetryPolicy] | None = None,
        breakers: Breakers | None = None,
        name: str | None = None,
        concurrency: int = 16,
        lease: float = 60.0,
        poll_interval: float = 0.5,
        clock: Clock | None = None,
    ) -> None:
        self.outbox = outbox
        self.send = send
        self._policy = policy or RetryPolicy()
        self.breakers = breakers
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.concurrency = concurrency
        self.lease = lease
        self.poll_interval = poll_interval
        self.clock = clock or SYSTEM_CLOCK
        self.stats = RelayStats()

    def policy_for(self, partner: str) -> RetryPolicy:
        """The retry policy of ``partner``."""
        return self._policy if isinstance(self._policy, RetryPolicy) else self._policy(partner)

    async def run(self, stop: asyncio.Event | None = None, *, until_idle: bool = False) -> RelayStats:
        """Relay until ``stop`` is set (or, with ``until_idle``, until nothing is pending or leased).

        In-flight deliveries finish before it returns.
        """
        stop = stop or asyncio.Event()
        stopping = asyncio.ensure_future(stop.wait())
        tasks: set[asyncio.Task[None]] = set()
        try:
            while not stop.is_set():
                wanted = self.concurrency - len(tasks)
                leased = await self._lease(wanted)
                for delivery in leased:
                    tasks.add(asyncio.create_task(self._deliver(delivery)))
                if until_idle and not tasks and await self._idle():
                    break
                if leased and len(leased) == wanted and len(tasks) < self.concurrency:
                    continue  # a full batch: more may be due
                done, _ = await asyncio.wait(
                    {*tasks, stopping}, timeout=self.poll_interval, return_when=asyncio.FIRST_COMPLETED
                )
                tasks.difference_update(done)
        finally:
            stopping.cancel()
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)
        return self.stats

    async def run_once(self) -> int:
        """Lease one batch (up to ``concurrency``), deliver it, return how many were leased."""
        leased = await self._lease(self.concurrency)
        await asyncio.gather(*(self._deliver(d) for d in leased))
        return len(leased)

    async def _idle(self) -> bool:
        try:
            totals = await self.outbox.totals()
        except StoreUnavailable:
            return False
        return not any(totals[s] for s in ACTIVE_STATES)

    async def _lease(self, limit: int) -> list[Delivery]:
        if limit <= 0:
            return []
        try:
            leased = await self.outbox.lease(self.name, limit=limit, lease=self.lease)
        except StoreUnavailable as exc:
            _log.warning("relay %s cannot lease: %s", self.name, exc)
            return []
        self.stats.leased += len(leased)
        return leased

    async def _deliver(self, delivery: Delivery) -> None:
        breaker = self.breakers.get(delivery.partner) if self.breakers else None
        try:
            result = await (breaker.call(lambda: self.send(delivery)) if breaker else self.send(delivery))
        except BreakerOpen as exc:
            self.stats.deferred += 1
            at = self.clock.time() + (exc.retry_after or self.poll_interval)
            await self._record(
                delivery, self.outbox.mark_retry(delivery, at=at, error=exc, count_attempt=False)
            )
            return
        except SSGatewayError as exc:
            await self._failed(delivery, exc)
            return
        except Exception as exc:  # noqa: BLE001 - a send that fails unexpectedly may still have sent
            _log.exception("relay %s: sending delivery %s failed unexpectedly", self.name, delivery.id)
            detail = f"the send failed unexpectedly ({type(exc).__name__}: {mask_text(str(exc))})"
            await self._failed(delivery, OutcomeUnknown(detail, partner=delivery.partner))
            return
        if isinstance(result, BaseModel):
            result = result.model_dump(mode="json")
        if await self._record(delivery, self.outbox.mark_delivered(delivery, result)):
            self.stats.delivered += 1

    async def _failed(self, delivery: Delivery, error: SSGatewayError) -> None:
        outbox = self.outbox
        if isinstance(error, OutcomeUnknown) and not delivery.deduplicated:
            if await self._record(delivery, outbox.mark_unknown(delivery, error)):
                self.stats.unknown += 1
            return
        if not isinstance(error, TransientError):
            if await self._record(delivery, outbox.mark_dead(delivery, error)):
                self.stats.dead += 1
            return
        now = self.clock.time()
        elapsed = now - (delivery.first_attempt_at or now)
        delay = self.policy_for(delivery.partner).next_delay(delivery.attempts, error, elapsed)
        if delay is None:
            reason = f"retries exhausted after {delivery.attempts} attempts; last: {error.message}"
            exhausted = TransientError(reason, code=error.code, partner=delivery.partner)
            if await self._record(delivery, outbox.mark_dead(delivery, exhausted)):
                self.stats.dead += 1
            return
        if await self._record(delivery, outbox.mark_retry(delivery, at=now + delay, error=error)):
            self.stats.retried += 1

    async def _record(self, delivery: Delivery, outcome: Awaitable[bool]) -> bool:
        try:
            recorded = await outcome
        except StoreUnavailable as exc:
            _log.warning("relay %s: outcome of delivery %s not recorded: %s", self.name, delivery.id, exc)
            recorded = False
        else:
            if not recorded:
                _log.warning(
                    "relay %s lost its lease on delivery %s before recording", self.name, delivery.id
                )
        if not recorded:
            self.stats.lost += 1
        return recorded
