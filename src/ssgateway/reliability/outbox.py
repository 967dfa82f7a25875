"""The transactional outbox: deliveries are written to the store first, then sent by relays.

A delivery is one canonical request for one partner (operation, payload as JSON, idempotency key, whether
the partner dedupes on that key). Its life::

    pending ──lease──▶ leased ──sent──▶ delivered
       ▲                 │ transient failure, policy not exhausted: back to pending, later
       │                 │ permanent failure or policy exhausted:  dead
       │                 │ ambiguous failure, partner does not dedupe: unknown
       └──── replay ─────┘ (dead, unknown)          unknown ──resolve──▶ delivered

A lease that expires (its relay died) makes the delivery due again when the partner dedupes on its key;
otherwise the relay may have sent it before dying, so the delivery becomes ``unknown`` and waits for
reconciliation instead of being sent twice. Outcomes are recorded only by the lease's holder.
"""

from __future__ import annotations

import builtins
import json
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from ssgateway.errors import SSGatewayError
from ssgateway.masking import mask_text
from ssgateway.reliability.clock import SYSTEM_CLOCK, Clock

__all__ = ["ACTIVE_STATES", "Delivery", "DeliveryState", "Outbox", "encode_payload", "error_text"]


class DeliveryState(StrEnum):
    """Where a delivery stands."""

    PENDING = "pending"
    """Waiting to be sent (``next_attempt_at`` says when)."""
    LEASED = "leased"
    """A relay holds it until ``lease_expires_at``."""
    DELIVERED = "delivered"
    """The partner accepted it."""
    DEAD = "dead"
    """Refused for good, or the retry policy ran out; see ``last_error``. Replay to try again."""
    UNKNOWN = "unknown"
    """The partner may or may not have it and does not dedupe: reconcile, then resolve or replay."""


ACTIVE_STATES = frozenset({DeliveryState.PENDING, DeliveryState.LEASED})
"""States a delivery is still being worked on in (purge never touches them)."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """One outbox delivery as stored.

    Attributes:
        id: assigned by :meth:`Outbox.enqueue`.
        partner: the configured partner it goes to.
        operation: the canonical operation.
        payload: the canonical request, as JSON.
        idempotency_key: the key the request carries (unique per partner).
        deduplicated: the partner dedupes on the key, so a resend after an ambiguous failure is safe.
        state: see :class:`DeliveryState`.
        attempts: sends started (a lease counts as one).
        created_at: when it was enqueued (wall-clock seconds).
        updated_at: when it last changed.
        next_attempt_at: when it is due (pending).
        first_attempt_at: when the first attempt started (the retry deadline counts from here).
        lease_owner: the relay holding it.
        lease_token: proves the lease when the outcome is recorded.
        lease_expires_at: when the lease ends.
        last_error_code: code of the last failure.
        last_error: the last failure, masked.
        response: what the partner answered, when delivered (JSON).
    """

    id: int
    partner: str
    operation: str
    payload: Any
    idempotency_key: str
    deduplicated: bool
    state: DeliveryState
    attempts: int
    created_at: float
    updated_at: float
    next_attempt_at: float
    first_attempt_at: float | None = None
    lease_owner: str | None = None
    lease_token: str | None = None
    lease_expires_at: float | None = None
    last_error_code: str | None = None
    last_error: str | None = None
    response: Any = None


def encode_payload(payload: BaseModel | Mapping[str, Any] | list[Any] | str) -> str:
    """A payload as the JSON text the outbox stores (a ``str`` is taken to be JSON already)."""
    if isinstance(payload, BaseModel):
        return payload.model_dump_json()
    if isinstance(payload, str):
        json.loads(payload)  # refuse text that is not JSON now rather than at send time
        return payload
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def error_text(error: BaseException | str) -> tuple[str, str]:
    """The ``(code, message)`` an outbox stores for a failure, masked."""
    if isinstance(error, str):
        return "error", mask_text(error)
    if isinstance(error, SSGatewayError):
        return error.code, mask_text(error.message)
    return type(error).__name__, mask_text(str(error) or type(error).__name__)


class Outbox(ABC):
    """Durable deliveries and the relay-facing lease protocol.

    Args:
        clock: wall-clock time for stamps, schedules and leases.
    """

    def __init__(self, *, clock: Clock | None = None) -> None:
        self.clock = clock or SYSTEM_CLOCK

    @abstractmethod
    async def enqueue(
        self,
        *,
        partner: str,
        operation: str,
        payload: BaseModel | Mapping[str, Any] | builtins.list[Any] | str,
        idempotency_key: str,
        deduplicated: bool,
        not_before: float | None = None,
        connection: Any = None,
    ) -> int:
        """Persist a delivery; returns its id.

        Enqueueing the same ``(partner, idempotency_key)`` again returns the existing id when the payload
        is the same, so a caller that retries after a crash does not create a second delivery.

        Args:
            partner: the configured partner.
            operation: the canonical operation.
            payload: the canonical request (a model, a JSON value, or JSON text).
            idempotency_key: the key the request carries.
            deduplicated: whether the partner dedupes on that key.
            not_before: wall-clock seconds before which it is not sent.
            connection: the caller's open database connection, to enqueue inside the caller's own
                transaction (the caller commits); see the backend for what it accepts.

        Raises:
            IdempotencyConflict: the key was enqueued before for this partner with another payload.
            StoreUnavailable: the store cannot be reached; the delivery is not accepted.
        """

    @abstractmethod
    async def get(self, delivery_id: int) -> Delivery:
        """One delivery; :class:`~ssgateway.errors.NotFound` when there is none with that id."""

    @abstractmethod
    async def list(
        self,
        *,
        states: Iterable[DeliveryState] | None = None,
        partner: str | None = None,
        after: int = 0,
        limit: int = 100,
    ) -> builtins.list[Delivery]:
        """Deliveries by id, optionally filtered by state and partner, starting after id ``after``."""

    @abstractmethod
    async def counts(self) -> dict[str, dict[DeliveryState, int]]:
        """How many deliveries each partner has in each state (every state present, zeros included)."""

    async def totals(self) -> dict[DeliveryState, int]:
        """How many deliveries are in each state, all partners together."""
        totals = dict.fromkeys(DeliveryState, 0)
        for per_state in (await self.counts()).values():
            for state, n in per_state.items():
                totals[state] += n
        return totals

    @abstractmethod
    async def lease(self, owner: str, *, limit: int = 32, lease: float = 60.0) -> builtins.list[Delivery]:
        """Take up to ``limit`` due deliveries for ``owner`` for ``lease`` seconds.

        Due: pending with ``next_attempt_at`` reached, or leased by a relay whose lease expired and the
        partner dedupes. Expired leases of deliveries the partner does not dedupe become ``unknown``.
        Each leased delivery's ``attempts`` grows by one. Two relays never hold one delivery at once.
        """

    @abstractmethod
    async def mark_delivered(self, delivery: Delivery, response: Any = None) -> bool:
        """Record success; False when the lease was lost meanwhile (nothing is changed then)."""

    @abstractmethod
    async def mark_retry(
        self, delivery: Delivery, *, at: float, error: BaseException | str, count_attempt: bool = True
    ) -> bool:
        """Put a leased delivery back to pending, due at ``at``; False when the lease was lost.

        ``count_attempt=False`` gives back the attempt its lease took (it was not sent: an open breaker).
        """

    @abstractmethod
    async def mark_dead(self, delivery: Delivery, error: BaseException | str) -> bool:
        """Record a permanent failure or an exhausted policy; False when the lease was lost."""

    @abstractmethod
    async def mark_unknown(self, delivery: Delivery, error: BaseException | str) -> bool:
        """Record an ambiguous failure the partner cannot dedupe; False when the lease was lost."""

    @abstractmethod
    async def replay(
        self,
        ids: Iterable[int] | None = None,
        *,
        states: Iterable[DeliveryState] | None = None,
        partner: str | None = None,
    ) -> int:
        """Move dead or unknown deliveries back to pending with a fresh retry budget; how many.

        ``ids`` picks deliveries (only those in ``states`` move, by default dead and unknown ones);
        without ids, every delivery in ``states`` (of ``partner``, if given) moves, by default the dead
        ones only: an ``unknown`` delivery the partner does not dedupe may be delivered twice by a replay,
        so those move in bulk only when ``states`` names them, after reconciliation.
        """

    @abstractmethod
    async def resolve(self, delivery_id: int, *, note: str = "reconciled") -> Delivery:
        """Mark a dead or unknown delivery as delivered after reconciliation showed the partner has it.

        Raises:
            NotFound: no such delivery.
            RequestInvalid: the delivery is not dead or unknown.
        """

    @abstractmethod
    async def purge(
        self, *, older_than: float, states: Iterable[DeliveryState] = (DeliveryState.DELIVERED,)
    ) -> int:
        """Delete deliveries in ``states`` unchanged for ``older_than`` seconds; how many.

        Raises:
            RequestInvalid: ``states`` includes pending or leased.
        """
