"""The outbox in a SQL table, shared by SQLite and PostgreSQL.

Leasing is one ``UPDATE … RETURNING`` over the due rows: PostgreSQL picks them with
``FOR UPDATE SKIP LOCKED`` (relays never wait for each other, never take the same row); SQLite has a
single writer at a time, so the same statement is atomic there without row locks.
"""

from __future__ import annotations

import builtins
import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel

from ssgateway.errors import IdempotencyConflict, NotFound, RequestInvalid
from ssgateway.masking import mask_text
from ssgateway.reliability.clock import Clock
from ssgateway.reliability.idempotency import fingerprint
from ssgateway.reliability.outbox import (
    ACTIVE_STATES,
    Delivery,
    DeliveryState,
    Outbox,
    encode_payload,
    error_text,
)
from ssgateway.reliability.stores.sql import Row, SQLRunner, dumps, loads

__all__ = ["SQLOutbox"]

_COLUMNS = (
    "id, partner, operation, payload, idempotency_key, deduplicated, state, attempts, created_at, "
    "updated_at, next_attempt_at, first_attempt_at, lease_owner, lease_token, lease_expires_at, "
    "last_error_code, last_error, response"
)
_CLEAR_LEASE = "lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL"
_BATCH = 500  # ids per statement when replaying many


def _delivery(row: Row) -> Delivery:
    return Delivery(
        id=row[0],
        partner=row[1],
        operation=row[2],
        payload=json.loads(row[3]),
        idempotency_key=row[4],
        deduplicated=bool(row[5]),
        state=DeliveryState(row[6]),
        attempts=row[7],
        created_at=row[8],
        updated_at=row[9],
        next_attempt_at=row[10],
        first_attempt_at=row[11],
        lease_owner=row[12],
        lease_token=row[13],
        lease_expires_at=row[14],
        last_error_code=row[15],
        last_error=row[16],
        response=loads(row[17]),
    )


class SQLOutbox(Outbox):
    """Outbox deliveries in a table.

    Args:
        runner: the database.
        clock: wall-clock time.
        foreign: makes a runner on a caller's own connection, for enqueueing in the caller's transaction.
    """

    def __init__(self, runner: SQLRunner, *, clock: Clock | None, foreign: Any) -> None:
        super().__init__(clock=clock)
        self._runner = runner
        self._foreign = foreign
        self._enqueue_sql = self._sql(
            "INSERT INTO {t} (partner, operation, payload, fingerprint, idempotency_key, deduplicated, "
            "state, attempts, created_at, updated_at, next_attempt_at) "
            "VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?) "
            "ON CONFLICT (partner, idempotency_key) DO NOTHING RETURNING id"
        )
        self._existing_sql = self._sql(
            "SELECT id, fingerprint FROM {t} WHERE partner = ? AND idempotency_key = ?"
        )
        self._get_sql = self._sql("SELECT {columns} FROM {t} WHERE id = ?")
        self._counts_sql = self._sql("SELECT partner, state, COUNT(*) FROM {t} GROUP BY partner, state")
        self._expire_sql = self._sql(
            "UPDATE {t} SET state = 'unknown', {clear}, last_error_code = 'outbox.lease_expired', "
            "last_error = ?, updated_at = ? "
            "WHERE state = 'leased' AND lease_expires_at <= ? AND deduplicated = ?"
        )
        # the CTE is materialised so the locking subquery runs exactly once
        self._lease_sql = self._sql(
            "WITH due(due_id) AS MATERIALIZED (SELECT id FROM {t} WHERE (state = 'pending' AND "
            "next_attempt_at <= ?) OR (state = 'leased' AND lease_expires_at <= ? AND deduplicated = ?) "
            "ORDER BY next_attempt_at, id LIMIT ? {lock}) "
            "UPDATE {t} AS o SET state = 'leased', lease_owner = ?, lease_token = ?, lease_expires_at = ?, "
            "attempts = attempts + 1, first_attempt_at = COALESCE(first_attempt_at, ?), updated_at = ? "
            "FROM due WHERE o.id = due.due_id RETURNING {columns}"
        )
        self._settle_sql = self._sql(
            "UPDATE {t} SET state = ?, {clear}, updated_at = ?, last_error_code = ?, last_error = ?, "
            "response = ? WHERE id = ? AND lease_token = ? AND state = 'leased'"
        )
        self._retry_sql = self._sql(
            "UPDATE {t} SET state = 'pending', {clear}, updated_at = ?, next_attempt_at = ?, "
            "attempts = attempts - ?, "
            # an attempt given back that was the first: no attempt was made, the deadline has not started
            "first_attempt_at = CASE WHEN attempts <= ? THEN NULL ELSE first_attempt_at END, "
            "last_error_code = ?, last_error = ? "
            "WHERE id = ? AND lease_token = ? AND state = 'leased'"
        )
        self._resolve_sql = self._sql(
            "UPDATE {t} SET state = 'delivered', {clear}, updated_at = ?, "
            "last_error_code = 'outbox.resolved', last_error = ? "
            "WHERE id = ? AND state IN ('dead', 'unknown')"
        )

    def _sql(self, statement: str, **fragments: str) -> str:
        return self._runner.sql(statement, "outbox", columns=_COLUMNS, clear=_CLEAR_LEASE, **fragments)

    @staticmethod
    def _marks(count: int) -> str:
        return ", ".join(["?"] * count)

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
        """Persist a delivery; returns its id (see :meth:`Outbox.enqueue`)."""
        text = encode_payload(payload)
        digest = fingerprint(json.loads(text))
        now = self.clock.time()
        runner = self._runner if connection is None else await self._foreign(connection)
        params = (
            partner,
            operation,
            text,
            digest,
            idempotency_key,
            deduplicated,
            now,
            now,
            not_before or now,
        )
        row = await runner.fetchone(self._enqueue_sql, params)
        if row is not None:
            return int(row[0])
        existing = await runner.fetchone(self._existing_sql, (partner, idempotency_key))
        if existing is None:  # pragma: no cover - a purge between the two statements
            raise IdempotencyConflict(
                f"delivery with key {mask_text(idempotency_key)!r} vanished; enqueue again"
            )
        if existing[1] != digest:
            raise IdempotencyConflict(
                f"idempotency key {mask_text(idempotency_key)!r} was already enqueued for partner "
                f"{partner!r} with a different payload"
            )
        return int(existing[0])

    async def get(self, delivery_id: int) -> Delivery:
        """One delivery; NotFound when there is none with that id."""
        row = await self._runner.fetchone(self._get_sql, (delivery_id,))
        if row is None:
            raise NotFound(f"no outbox delivery with id {delivery_id}", code="outbox.not_found")
        return _delivery(row)

    async def list(
        self,
        *,
        states: Iterable[DeliveryState] | None = None,
        partner: str | None = None,
        after: int = 0,
        limit: int = 100,
    ) -> builtins.list[Delivery]:
        """Deliveries by id, filtered by state and partner, starting after id ``after``."""
        params: list[Any] = [after]
        state_clause = "1 = 1"
        if states is not None:
            chosen = [DeliveryState(s).value for s in states]
            state_clause = f"state IN ({self._marks(len(chosen))})" if chosen else "1 = 0"
            params += chosen
        if partner is not None:
            params.append(partner)
        statement = self._sql(
            "SELECT {columns} FROM {t} WHERE id > ? AND {states} AND {partner} ORDER BY id LIMIT ?",
            states=state_clause,
            partner="1 = 1" if partner is None else "partner = ?",
        )
        return [_delivery(r) for r in await self._runner.fetch(statement, [*params, limit])]

    async def counts(self) -> dict[str, dict[DeliveryState, int]]:
        """How many deliveries each partner has in each state."""
        result: dict[str, dict[DeliveryState, int]] = {}
        for partner, state, n in await self._runner.fetch(self._counts_sql):
            result.setdefault(partner, dict.fromkeys(DeliveryState, 0))[DeliveryState(state)] = int(n)
        return result

    async def lease(self, owner: str, *, limit: int = 32, lease: float = 60.0) -> builtins.list[Delivery]:
        """Take up to ``limit`` due deliveries for ``owner`` (see :meth:`Outbox.lease`)."""
        now = self.clock.time()
        reason = "a relay's lease expired mid-delivery; the partner may have it: reconcile before replaying"
        await self._runner.execute(self._expire_sql, (reason, now, now, False))
        token = uuid.uuid4().hex
        params = (now, now, True, limit, owner, token, now + lease, now, now)
        rows = await self._runner.fetch(self._lease_sql, params)
        return sorted((_delivery(r) for r in rows), key=lambda d: (d.next_attempt_at, d.id))

    async def _settle(self, delivery: Delivery, state: DeliveryState, error: Any, response: Any) -> bool:
        code, message = error_text(error) if error is not None else (None, None)
        params = (
            state.value,
            self.clock.time(),
            code,
            message,
            dumps(response),
            delivery.id,
            delivery.lease_token,
        )
        return await self._runner.execute(self._settle_sql, params) == 1

    async def mark_delivered(self, delivery: Delivery, response: Any = None) -> bool:
        """Record success; False when the lease was lost meanwhile."""
        return await self._settle(delivery, DeliveryState.DELIVERED, None, response)

    async def mark_retry(
        self, delivery: Delivery, *, at: float, error: BaseException | str, count_attempt: bool = True
    ) -> bool:
        """Put a leased delivery back to pending, due at ``at``; False when the lease was lost."""
        code, message = error_text(error)
        params = (
            self.clock.time(),
            at,
            0 if count_attempt else 1,
            0 if count_attempt else 1,
            code,
            message,
            delivery.id,
            delivery.lease_token,
        )
        return await self._runner.execute(self._retry_sql, params) == 1

    async def mark_dead(self, delivery: Delivery, error: BaseException | str) -> bool:
        """Record a permanent failure or an exhausted policy; False when the lease was lost."""
        return await self._settle(delivery, DeliveryState.DEAD, error, None)

    async def mark_unknown(self, delivery: Delivery, error: BaseException | str) -> bool:
        """Record an ambiguous failure the partner cannot dedupe; False when the lease was lost."""
        return await self._settle(delivery, DeliveryState.UNKNOWN, error, None)

    async def replay(
        self,
        ids: Iterable[int] | None = None,
        *,
        states: Iterable[DeliveryState] | None = None,
        partner: str | None = None,
    ) -> int:
        """Move dead or unknown deliveries back to pending with a fresh retry budget; how many."""
        if states is None:  # unknown ones in bulk only when asked for by name (see Outbox.replay)
            states = (DeliveryState.DEAD, DeliveryState.UNKNOWN) if ids is not None else (DeliveryState.DEAD,)
        chosen = [DeliveryState(s).value for s in states]
        if not chosen:
            return 0
        if set(chosen) & {s.value for s in ACTIVE_STATES | {DeliveryState.DELIVERED}}:
            raise RequestInvalid(
                "only dead or unknown deliveries can be replayed", code="outbox.replay_invalid"
            )
        now = self.clock.time()
        template = (
            "UPDATE {t} SET state = 'pending', {clear}, attempts = 0, first_attempt_at = NULL, "
            "next_attempt_at = ?, updated_at = ? WHERE state IN ({states}) AND {partner} AND {ids}"
        )
        params: list[Any] = [now, now, *chosen]
        if partner is not None:
            params.append(partner)
        fragments = {
            "states": self._marks(len(chosen)),
            "partner": "1 = 1" if partner is None else "partner = ?",
        }
        if ids is None:
            return await self._runner.execute(self._sql(template, ids="1 = 1", **fragments), params)
        wanted = list(ids)
        moved = 0
        for i in range(0, len(wanted), _BATCH):
            chunk = wanted[i : i + _BATCH]
            statement = self._sql(template, ids=f"id IN ({self._marks(len(chunk))})", **fragments)
            moved += await self._runner.execute(statement, [*params, *chunk])
        return moved

    async def resolve(self, delivery_id: int, *, note: str = "reconciled") -> Delivery:
        """Mark a dead or unknown delivery as delivered after reconciliation."""
        changed = await self._runner.execute(
            self._resolve_sql, (self.clock.time(), mask_text(note), delivery_id)
        )
        delivery = await self.get(delivery_id)
        if changed != 1:
            raise RequestInvalid(
                f"delivery {delivery_id} is {delivery.state.value}; "
                "only dead or unknown ones can be resolved",
                code="outbox.resolve_invalid",
            )
        return delivery

    async def purge(
        self, *, older_than: float, states: Iterable[DeliveryState] = (DeliveryState.DELIVERED,)
    ) -> int:
        """Delete deliveries in ``states`` unchanged for ``older_than`` seconds; how many."""
        chosen = [DeliveryState(s) for s in states]
        if set(chosen) & ACTIVE_STATES:
            raise RequestInvalid(
                "pending and leased deliveries are never purged", code="outbox.purge_invalid"
            )
        if not chosen:
            return 0
        statement = self._sql(
            "DELETE FROM {t} WHERE state IN ({states}) AND updated_at <= ?", states=self._marks(len(chosen))
        )
        params: Sequence[Any] = [*(s.value for s in chosen), self.clock.time() - older_than]
        return await self._runner.execute(statement, params)
