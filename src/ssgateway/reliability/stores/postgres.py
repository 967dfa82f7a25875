"""The PostgreSQL store: for several gateway replicas sharing idempotency records and the outbox.

psycopg 3 with a connection pool; every statement runs in autocommit, atomic on its own. Relays lease
with ``FOR UPDATE SKIP LOCKED``, so they share the work without waiting for each other or double sends.
The tables live in a schema named after the store's namespace, created on first use (under an advisory
lock, so replicas starting together do not race).
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from ssgateway.errors import StoreUnavailable
from ssgateway.reliability.checkpoints import Checkpoints
from ssgateway.reliability.clock import Clock
from ssgateway.reliability.idempotency import IdempotencyStore
from ssgateway.reliability.outbox import Outbox
from ssgateway.reliability.store import Store, redact_url
from ssgateway.reliability.stores.sql import Row, SQLCheckpoints, SQLIdempotency, SQLRunner
from ssgateway.reliability.stores.sql_outbox import SQLOutbox

__all__ = ["PostgresRunner", "PostgresStore"]

_DDL = (
    "CREATE SCHEMA IF NOT EXISTS {schema}",
    """CREATE TABLE IF NOT EXISTS {idempotency} (
        idem_key TEXT PRIMARY KEY, state TEXT NOT NULL, fingerprint TEXT NOT NULL, token TEXT NOT NULL,
        attempt INTEGER NOT NULL, lease_expires_at DOUBLE PRECISION NOT NULL,
        expires_at DOUBLE PRECISION NOT NULL, created_at DOUBLE PRECISION NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL, response TEXT, error TEXT)""",
    "CREATE INDEX IF NOT EXISTS idempotency_expiry ON {idempotency} (expires_at)",
    """CREATE TABLE IF NOT EXISTS {outbox} (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, partner TEXT NOT NULL, operation TEXT NOT NULL,
        payload TEXT NOT NULL, fingerprint TEXT NOT NULL, idempotency_key TEXT NOT NULL,
        deduplicated BOOLEAN NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL,
        created_at DOUBLE PRECISION NOT NULL, updated_at DOUBLE PRECISION NOT NULL,
        next_attempt_at DOUBLE PRECISION NOT NULL, first_attempt_at DOUBLE PRECISION, lease_owner TEXT,
        lease_token TEXT, lease_expires_at DOUBLE PRECISION, last_error_code TEXT, last_error TEXT,
        response TEXT, UNIQUE (partner, idempotency_key))""",
    "CREATE INDEX IF NOT EXISTS outbox_due ON {outbox} (next_attempt_at) "
    "WHERE state IN ('pending', 'leased')",
    "CREATE INDEX IF NOT EXISTS outbox_state ON {outbox} (state, partner)",
    """CREATE TABLE IF NOT EXISTS {checkpoints} (
        name TEXT PRIMARY KEY, state TEXT NOT NULL, version INTEGER NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL)""",
)


class PostgresRunner(SQLRunner):
    """Runs statements on a pool of autocommit connections, opened on first use."""

    placeholder = "%s"
    lock_clause = "FOR UPDATE SKIP LOCKED"

    def __init__(self, conninfo: str, *, schema: str, pool_size: int, timeout: float) -> None:
        self._conninfo = conninfo
        self.schema = schema
        self._pool_size = pool_size
        self._timeout = timeout
        self._pool: AsyncConnectionPool | None = None
        self._opening = asyncio.Lock()
        self._closed = False
        self.where = redact_url(conninfo)

    def table(self, name: str) -> str:
        """``"<schema>".<name>``."""
        return f'"{self.schema}".{name}'

    def _unavailable(self, exc: BaseException) -> StoreUnavailable:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return StoreUnavailable(f"PostgreSQL store {self.where}: {detail}")

    async def pool(self) -> AsyncConnectionPool:
        """The pool, opened (and the schema created) on first use."""
        if self._closed:
            raise StoreUnavailable(f"the PostgreSQL store {self.where} is closed", code="store.closed")
        if self._pool is not None:
            return self._pool
        async with self._opening:
            if self._pool is None:
                pool = AsyncConnectionPool(
                    self._conninfo,
                    min_size=1,
                    max_size=self._pool_size,
                    timeout=self._timeout,
                    kwargs={"autocommit": True, "connect_timeout": max(1, round(self._timeout))},
                    open=False,
                    name=f"ssgateway-{self.schema}",
                )
                try:
                    await pool.open(wait=True, timeout=self._timeout)
                    await self._create_schema(pool)
                except (psycopg.Error, PoolTimeout) as exc:
                    await pool.close()
                    raise self._unavailable(exc) from exc
                self._pool = pool
        return self._pool

    async def _create_schema(self, pool: AsyncConnectionPool) -> None:
        names = {n: self.table(n) for n in ("idempotency", "outbox", "checkpoints")}
        lock_id = zlib.crc32(f"ssgateway:{self.schema}".encode())
        async with pool.connection() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_id,))
            for statement in _DDL:
                await conn.execute(statement.format(schema=f'"{self.schema}"', **names))

    async def execute(self, statement: str, params: Sequence[Any] = ()) -> int:
        """Run a statement; rows changed."""
        pool = await self.pool()
        try:
            async with pool.connection() as conn:
                cursor = await conn.execute(statement, params)
                return cursor.rowcount
        except (psycopg.Error, PoolTimeout) as exc:
            raise self._unavailable(exc) from exc

    async def fetch(self, statement: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run a statement that returns rows."""
        pool = await self.pool()
        try:
            async with pool.connection() as conn:
                cursor = await conn.execute(statement, params)
                return await cursor.fetchall()
        except (psycopg.Error, PoolTimeout) as exc:
            raise self._unavailable(exc) from exc

    async def close(self) -> None:
        """Close the pool."""
        self._closed = True
        if self._pool is not None:
            await self._pool.close()
            self._pool = None


class _CallerConnection(SQLRunner):
    """Runs statements on a caller's ``psycopg.AsyncConnection``, inside the caller's transaction."""

    placeholder = "%s"

    def __init__(self, conn: psycopg.AsyncConnection[Any], owner: PostgresRunner) -> None:
        self._conn = conn
        self._owner = owner

    def table(self, name: str) -> str:
        return self._owner.table(name)

    async def execute(self, statement: str, params: Sequence[Any] = ()) -> int:
        try:
            return (await self._conn.execute(statement, params)).rowcount
        except psycopg.Error as exc:
            raise self._owner._unavailable(exc) from exc

    async def fetch(self, statement: str, params: Sequence[Any] = ()) -> list[Row]:
        try:
            cursor = await self._conn.execute(statement, params)
            return await cursor.fetchall()
        except psycopg.Error as exc:
            raise self._owner._unavailable(exc) from exc


class PostgresStore(Store):
    """A store in a PostgreSQL database, in the schema named after its namespace.

    :meth:`Outbox.enqueue` accepts ``connection=`` a ``psycopg.AsyncConnection`` to the same database:
    the delivery is inserted in that connection's current transaction and becomes durable when the caller
    commits, together with the caller's own changes.
    """

    kind = "postgresql"

    def __init__(
        self,
        url: str,
        *,
        namespace: str = "ssgateway",
        clock: Clock | None = None,
        lease: float = 60.0,
        retention: float = 86400.0,
        pool_size: int = 10,
        timeout: float = 5.0,
    ) -> None:
        super().__init__(url, namespace)
        conninfo = "postgresql://" + url.split("://", 1)[1]
        self._runner = PostgresRunner(conninfo, schema=namespace, pool_size=pool_size, timeout=timeout)
        self._idempotency = SQLIdempotency(self._runner, clock=clock, lease=lease, retention=retention)
        self._outbox = SQLOutbox(self._runner, clock=clock, foreign=self._caller_connection)
        self._checkpoints = SQLCheckpoints(self._runner, clock=clock)

    async def _caller_connection(self, connection: Any) -> SQLRunner:
        if not isinstance(connection, psycopg.AsyncConnection):
            raise TypeError(
                f"a PostgreSQL store enqueues on a psycopg.AsyncConnection, not {type(connection).__name__}"
            )
        await self._runner.pool()  # the schema exists before the caller's statement needs it
        return _CallerConnection(connection, self._runner)

    @property
    def idempotency(self) -> IdempotencyStore:
        """Idempotency records."""
        return self._idempotency

    @property
    def outbox(self) -> Outbox:
        """Outbox deliveries."""
        return self._outbox

    @property
    def checkpoints(self) -> Checkpoints:
        """Checkpoints."""
        return self._checkpoints

    async def ping(self) -> None:
        """Check the database answers."""
        await self._runner.fetch("SELECT 1")

    async def close(self) -> None:
        """Close the pool."""
        await self._runner.close()
