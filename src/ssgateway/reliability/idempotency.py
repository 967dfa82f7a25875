"""Idempotency records: claim a key atomically, store the outcome, replay it to repeats.

Semantics (IETF httpapi Idempotency-Key draft, as Stripe does):

- the first :meth:`~IdempotencyStore.claim` of a key wins an *in-progress* record with a lease;
- the same key with a different payload fingerprint raises :class:`~ssgateway.errors.IdempotencyConflict`;
- the same key while the first is in flight raises :class:`~ssgateway.errors.IdempotencyInProgress`;
- after :meth:`~IdempotencyStore.complete` (or a permanent :meth:`~IdempotencyStore.fail`) a repeat gets a
  :class:`Replay` of the stored response or error, until the record's retention ends;
- a holder that dies leaves its claim to be taken over once the lease has expired (``Claim.takeover``);
- a transient failure releases the claim so the caller may try again;
- a store that cannot be reached raises :class:`~ssgateway.errors.StoreUnavailable`: fail closed.

Claims are atomic conditional inserts, never check-then-insert. The public logic lives here once
(template method); a backend implements five primitives: ``_insert`` (insert if absent), ``_load``,
``_replace`` and ``_delete`` (both conditional on the holder's token) and ``_purge``.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from ssgateway.errors import (
    IdempotencyConflict,
    IdempotencyInProgress,
    OutcomeUnknown,
    RequestInvalid,
    SSGatewayError,
    TransientError,
)
from ssgateway.masking import mask_text
from ssgateway.reliability.clock import SYSTEM_CLOCK, Clock

__all__ = [
    "MAX_KEY_LENGTH",
    "Claim",
    "IdempotencyRecord",
    "IdempotencyState",
    "IdempotencyStore",
    "Replay",
    "describe_error",
    "fingerprint",
]

MAX_KEY_LENGTH = 255
"""Longest idempotency key accepted (the IETF draft suggests keys are UUIDs or similar)."""

_CLAIM_ROUNDS = 8  # a claim loses a race at most this often before it reports the key as busy


class IdempotencyState(StrEnum):
    """Where an idempotency record stands."""

    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    """One key's record as stored.

    Attributes:
        key: the idempotency key.
        state: in progress, completed or failed.
        fingerprint: digest of the payload first sent with the key (see :func:`fingerprint`).
        token: identifies the current holder; conditional updates compare it.
        attempt: 1 for the first holder, one more for each takeover.
        lease_expires_at: wall-clock seconds after which an in-progress claim may be taken over.
        expires_at: wall-clock seconds after which the record is forgotten (retention).
        created_at: when the key was first claimed.
        updated_at: when the record last changed.
        response: the stored response (JSON), once completed.
        error: the stored error (``code``, ``message``, ``type``, ``status``), once failed.
    """

    key: str
    state: IdempotencyState
    fingerprint: str
    token: str
    attempt: int
    lease_expires_at: float
    expires_at: float
    created_at: float
    updated_at: float
    response: Any = None
    error: dict[str, Any] | None = None

    def to_json(self) -> str:
        """The record as compact JSON (stores that keep records as documents use it)."""
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> IdempotencyRecord:
        """Read a record written by :meth:`to_json`."""
        data = json.loads(text)
        data["state"] = IdempotencyState(data["state"])
        return cls(**data)


@dataclass(frozen=True, slots=True)
class Claim:
    """A won claim: the caller does the work, then completes, fails or releases the claim.

    Attributes:
        key: the idempotency key.
        token: proves the claim is still this caller's when it records the outcome.
        fingerprint: the payload's fingerprint.
        attempt: 1, or more when a crashed holder's claim was taken over.
        lease_expires_at: when others may take the claim over unless it is renewed.
        created_at: when the key was first claimed.
        takeover: the claim was taken over from a holder whose lease expired: that holder may have sent
            the request already, so resend only when the partner dedupes on the key.
    """

    key: str
    token: str
    fingerprint: str
    attempt: int
    lease_expires_at: float
    created_at: float
    takeover: bool = False
    replayed = False
    """Always False: a claim is new work (see :class:`Replay`)."""


@dataclass(frozen=True, slots=True)
class Replay:
    """The stored outcome of an earlier request with the same key and payload.

    Attributes:
        record: the completed or failed record.
    """

    record: IdempotencyRecord
    replayed = True
    """Always True: callers mark the answer as replayed (``Idempotent-Replayed: true``)."""

    @property
    def succeeded(self) -> bool:
        """Whether the original request completed (else it failed permanently)."""
        return self.record.state is IdempotencyState.COMPLETED

    @property
    def response(self) -> Any:
        """The stored response (None for a failure)."""
        return self.record.response

    @property
    def error(self) -> dict[str, Any] | None:
        """The stored error (None for a success)."""
        return self.record.error


def fingerprint(payload: object) -> str:
    """A stable digest of a request payload: ``sha256:<hex>``.

    Bytes and text are digested as they are; pydantic models and JSON values are first written as
    canonical JSON (sorted keys, no spaces), so equal payloads match whatever their key order.
    """
    if isinstance(payload, bytes):
        data = payload
    elif isinstance(payload, str):
        data = payload.encode()
    else:
        if isinstance(payload, BaseModel):
            payload = payload.model_dump(mode="json")
        data = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return "sha256:" + hashlib.sha256(data).hexdigest()


def describe_error(error: BaseException | Mapping[str, Any]) -> dict[str, Any]:
    """An error as a masked JSON object: ``type``, ``code``, ``message``, ``status``."""
    if isinstance(error, Mapping):
        return {str(k): v for k, v in error.items()}
    if isinstance(error, SSGatewayError):
        return {
            "type": type(error).__name__,
            "code": error.code,
            "message": mask_text(error.message),
            "status": error.http_status,
        }
    return {"type": type(error).__name__, "code": "error", "message": mask_text(str(error)), "status": 500}


class IdempotencyStore(ABC):
    """The idempotency interface; a backend subclasses it and implements the primitives.

    Args:
        clock: wall-clock time for leases and retention.
        lease: default seconds an in-progress claim is held before it may be taken over.
        retention: default seconds a record is kept (and replayed).
    """

    def __init__(
        self, *, clock: Clock | None = None, lease: float = 60.0, retention: float = 86400.0
    ) -> None:
        self.clock = clock or SYSTEM_CLOCK
        self.lease = lease
        self.retention = retention

    async def claim(
        self, key: str, fingerprint: str, *, lease: float | None = None, retention: float | None = None
    ) -> Claim | Replay:
        """Claim ``key`` for a request whose payload has ``fingerprint``.

        Returns:
            A :class:`Claim` (do the work) or a :class:`Replay` (answer with the stored outcome).

        Raises:
            IdempotencyConflict: the key was used with a different payload.
            IdempotencyInProgress: the key's request is in flight (``details["retry_after"]`` seconds left).
            RequestInvalid: the key is empty or too long.
            StoreUnavailable: the store cannot be reached; do not proceed.
        """
        _check_key(key)
        lease = self.lease if lease is None else lease
        retention = self.retention if retention is None else retention
        for _ in range(_CLAIM_ROUNDS):
            now = self.clock.time()
            new = IdempotencyRecord(
                key=key,
                state=IdempotencyState.IN_PROGRESS,
                fingerprint=fingerprint,
                token=uuid.uuid4().hex,
                attempt=1,
                lease_expires_at=now + lease,
                expires_at=now + max(retention, lease),
                created_at=now,
                updated_at=now,
            )
            if await self._insert(new):
                return _claim_of(new, takeover=False)
            current = await self._load(key)
            if current is None:
                continue  # released or purged between our insert and load: try again
            if current.expires_at <= now:
                if await self._replace(new, current.token):
                    return _claim_of(new, takeover=False)
                continue
            if current.fingerprint != fingerprint:
                raise IdempotencyConflict(
                    f"idempotency key {mask_text(key)!r} was already used with a different payload"
                )
            if current.state is not IdempotencyState.IN_PROGRESS:
                return Replay(current)
            if current.lease_expires_at > now:
                wait = current.lease_expires_at - now
                raise IdempotencyInProgress(
                    f"a request with idempotency key {mask_text(key)!r} is still in progress",
                    retry_after=round(wait, 3),
                )
            taken = replace(new, attempt=current.attempt + 1, created_at=current.created_at)
            if await self._replace(taken, current.token):
                return _claim_of(taken, takeover=True)
        raise IdempotencyInProgress(
            f"idempotency key {mask_text(key)!r} is contended; try again", retry_after=0.1
        )

    async def complete(self, claim: Claim, response: Any = None, *, retention: float | None = None) -> bool:
        """Store the response of a claimed request; repeats get it replayed.

        Returns:
            False when the claim had been taken over meanwhile (the new holder's outcome stands).
        """
        return await self._settle(claim, IdempotencyState.COMPLETED, response, None, retention)

    async def fail(
        self,
        claim: Claim,
        error: BaseException | Mapping[str, Any],
        *,
        permanent: bool | None = None,
        retention: float | None = None,
    ) -> bool:
        """Record a failed request.

        A permanent failure is stored and replayed to repeats; a transient one releases the claim so the
        caller may try again. Unless ``permanent`` says otherwise, transient errors release the claim,
        except :class:`~ssgateway.errors.OutcomeUnknown` (the partner may have acted): it is stored, so a
        repeat is not sent blindly. Pass ``permanent=False`` for it when the partner dedupes on the key.

        Returns:
            False when the claim had been taken over meanwhile.
        """
        if permanent is None:
            permanent = not isinstance(error, TransientError) or isinstance(error, OutcomeUnknown)
        if not permanent:
            return await self.release(claim)
        return await self._settle(claim, IdempotencyState.FAILED, None, describe_error(error), retention)

    async def release(self, claim: Claim) -> bool:
        """Give up a claim without an outcome (the key is free again).

        Returns:
            False when the claim had been taken over meanwhile.
        """
        return await self._delete(claim.key, claim.token)

    async def renew(self, claim: Claim, *, lease: float | None = None) -> Claim | None:
        """Extend a claim's lease for long work; None when it had already been taken over."""
        current = await self._load(claim.key)
        if (
            current is None
            or current.token != claim.token
            or current.state is not IdempotencyState.IN_PROGRESS
        ):
            return None
        now = self.clock.time()
        lease_expires_at = now + (self.lease if lease is None else lease)
        renewed = replace(
            current,
            lease_expires_at=lease_expires_at,
            expires_at=max(current.expires_at, lease_expires_at),
            updated_at=now,
        )
        if not await self._replace(renewed, claim.token):
            return None
        return replace(claim, lease_expires_at=lease_expires_at)

    async def get(self, key: str) -> IdempotencyRecord | None:
        """The live record of ``key`` (None when absent or past its retention)."""
        record = await self._load(key)
        if record is None or record.expires_at <= self.clock.time():
            return None
        return record

    async def purge_expired(self) -> int:
        """Delete records past their retention; returns how many (stores that expire by themselves: 0)."""
        return await self._purge(self.clock.time())

    async def _settle(
        self,
        claim: Claim,
        state: IdempotencyState,
        response: Any,
        error: dict[str, Any] | None,
        retention: float | None,
    ) -> bool:
        now = self.clock.time()
        record = IdempotencyRecord(
            key=claim.key,
            state=state,
            fingerprint=claim.fingerprint,
            # a new token: a takeover that read the record while it was in progress (lease run out) must
            # not replace the outcome stored since, and its compare-and-set on the old token now fails
            token=uuid.uuid4().hex,
            attempt=claim.attempt,
            lease_expires_at=now,
            expires_at=now + (self.retention if retention is None else retention),
            created_at=claim.created_at,
            updated_at=now,
            response=response,
            error=error,
        )
        return await self._replace(record, claim.token)

    @abstractmethod
    async def _insert(self, record: IdempotencyRecord) -> bool:
        """Insert ``record`` if no record of its key exists, atomically; True when inserted."""

    @abstractmethod
    async def _load(self, key: str) -> IdempotencyRecord | None:
        """The stored record of ``key``, expired or not."""

    @abstractmethod
    async def _replace(self, record: IdempotencyRecord, token: str) -> bool:
        """Overwrite the record of ``record.key`` with ``record`` if the stored token is ``token``."""

    @abstractmethod
    async def _delete(self, key: str, token: str) -> bool:
        """Delete the record of ``key`` if its token is ``token``."""

    @abstractmethod
    async def _purge(self, now: float) -> int:
        """Delete records whose ``expires_at`` is at or before ``now``; how many."""


def _claim_of(record: IdempotencyRecord, *, takeover: bool) -> Claim:
    return Claim(
        key=record.key,
        token=record.token,
        fingerprint=record.fingerprint,
        attempt=record.attempt,
        lease_expires_at=record.lease_expires_at,
        created_at=record.created_at,
        takeover=takeover,
    )


def _check_key(key: str) -> None:
    if not key or len(key) > MAX_KEY_LENGTH:
        raise RequestInvalid(
            f"an idempotency key is 1 to {MAX_KEY_LENGTH} characters, got {len(key)}",
            code="idempotency.key_invalid",
        )
