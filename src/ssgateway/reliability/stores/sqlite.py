"""The SQLite store: embedded, one file, WAL journal. The default for a single gateway process or host.

Every statement runs on one connection owned by one worker thread, so the event loop never blocks on the
database. Several processes may share the file: SQLite lets one writer in at a time (others wait up to the
timeout), which makes each claim and each lease atomic without row locks.

Commits are synced to disk (``synchronous=FULL``): an accepted delivery or a stored outcome survives a
power cut, not only a killed process. ``?synchronous=normal`` in the URL trades that for speed.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

from ssgateway.errors import ConfigError, StoreUnavailable
from ssgateway.reliability.checkpoints import Checkpoints
from ssgateway.reliability.clock import Clock
from ssgateway.reliability.idempotency import IdempotencyStore
from ssgateway.reliability.outbox import Outbox
from ssgateway.reliability.store import Store
from ssgateway.reliability.stores.sql import Row, SQLCheckpoints, SQLIdempotency, SQLRunner
from ssgateway.reliability.stores.sql_outbox import SQLOutbox

__all__ = ["SQLiteRunner", "SQLiteStore", "sqlite_path"]

T = TypeVar("T")

_DDL = (
    """CREATE TABLE IF NOT EXISTS {idempotency} (
        idem_key TEXT PRIMARY KEY, state TEXT NOT NULL, fingerprint TEXT NOT NULL, token TEXT NOT NULL,
        attempt INTEGER NOT NULL, lease_expires_at REAL NOT NULL, expires_at REAL NOT NULL,
        created_at REAL NOT NULL, updated_at REAL NOT NULL, response TEXT, error TEXT)""",
    "CREATE INDEX IF NOT EXISTS {prefix}idempotency_expiry ON {idempotency_bare} (expires_at)",
    """CREATE TABLE IF NOT EXISTS {outbox} (
        id INTEGER PRIMARY KEY AUTOINCREMENT, partner TEXT NOT NULL, operation TEXT NOT NULL,
        payload TEXT NOT NULL, fingerprint TEXT NOT NULL, idempotency_key TEXT NOT NULL,
        deduplicated INTEGER NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL,
        created_at REAL NOT NULL, updated_at REAL NOT NULL, next_attempt_at REAL NOT NULL,
        first_attempt_at REAL, lease_owner TEXT, lease_token TEXT, lease_expires_at REAL,
        last_error_code TEXT, last_error TEXT, response TEXT, UNIQUE (partner, idempotency_key))""",
    "CREATE INDEX IF NOT EXISTS {prefix}outbox_due ON {outbox_bare} (state, next_attempt_at)",
    """CREATE TABLE IF NOT EXISTS {checkpoints} (
        name TEXT PRIMARY KEY, state TEXT NOT NULL, version INTEGER NOT NULL, updated_at REAL NOT NULL)""",
)


def sqlite_path(url: str, base_dir: Path | None) -> str:
    """The database file a ``sqlite:///…`` URL names (``:memory:`` kept as is)."""
    parts = urlsplit(url)
    if parts.scheme != "sqlite" or parts.netloc or not parts.path.startswith("/") or parts.path == "/":
        raise ConfigError(
            f"a SQLite store URL is sqlite:///relative/path or sqlite:////absolute/path, got {url!r}",
            key="store.url",
        )
    path = parts.path[1:]
    if path == ":memory:":
        return path
    p = Path(path)
    return str(p if p.is_absolute() else (base_dir or Path.cwd()) / p)


class SQLiteRunner(SQLRunner):
    """Runs statements on one connection in a dedicated worker thread."""

    def __init__(self, path: str, *, namespace: str, timeout: float, synchronous: str) -> None:
        self.path = path
        self.prefix = f"{namespace}_"
        self._timeout = timeout
        self._synchronous = synchronous
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ssgateway-sqlite")
        self._conn: sqlite3.Connection | None = None
        self._closed = False

    def table(self, name: str) -> str:
        """``"<namespace>_<name>"``."""
        return f'"{self.prefix}{name}"'

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(self.path, timeout=self._timeout, isolation_level=None)
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute(f"PRAGMA synchronous={self._synchronous}")
                tables = {n: self.table(n) for n in ("idempotency", "outbox", "checkpoints")}
                bare = {f"{n}_bare": t for n, t in tables.items()}
                present = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
                # reading first keeps a store that opens beside a writer's open transaction from blocking
                if not {t.strip('"') for t in tables.values()} <= present:
                    conn.execute("BEGIN IMMEDIATE")  # one process creates the tables; the others wait
                    for statement in _DDL:
                        conn.execute(statement.format(prefix=self.prefix, **tables, **bare))
                    conn.execute("COMMIT")
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        if self._closed:
            raise StoreUnavailable(f"the SQLite store {self.path} is closed", code="store.closed")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, lambda: work(self._connection()))
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"SQLite store {self.path}: {exc}") from exc

    async def execute(self, statement: str, params: Sequence[Any] = ()) -> int:
        """Run a statement; rows changed."""
        return await self._run(lambda conn: conn.execute(statement, params).rowcount)

    async def fetch(self, statement: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run a statement that returns rows."""
        return await self._run(lambda conn: conn.execute(statement, params).fetchall())

    async def close(self) -> None:
        """Close the connection and stop the worker thread."""
        if self._closed:
            return
        self._closed = True

        def shut() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        await asyncio.get_running_loop().run_in_executor(self._executor, shut)
        self._executor.shutdown(wait=True)


class _CallerConnection(SQLRunner):
    """Runs statements on a caller's own ``sqlite3.Connection``, inside the caller's transaction."""

    def __init__(self, conn: sqlite3.Connection, owner: SQLiteRunner) -> None:
        self._conn = conn
        self._owner = owner

    def table(self, name: str) -> str:
        return self._owner.table(name)

    async def execute(self, statement: str, params: Sequence[Any] = ()) -> int:
        try:
            return self._conn.execute(statement, params).rowcount
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"SQLite store {self._owner.path}: {exc}") from exc

    async def fetch(self, statement: str, params: Sequence[Any] = ()) -> list[Row]:
        try:
            return self._conn.execute(statement, params).fetchall()
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"SQLite store {self._owner.path}: {exc}") from exc


class SQLiteStore(Store):
    """A store in a SQLite file.

    :meth:`Outbox.enqueue` accepts ``connection=`` a ``sqlite3.Connection`` to the same file: the delivery
    is inserted in that connection's current transaction and becomes durable when the caller commits
    (the statement runs on the caller's thread). Use the store once (``await store.ping()``) before the
    caller's transaction begins, so its tables exist: creating them would wait for that transaction.
    """

    kind = "sqlite"

    def __init__(
        self,
        url: str,
        *,
        base_dir: Path | None = None,
        namespace: str = "ssgateway",
        clock: Clock | None = None,
        lease: float = 60.0,
        retention: float = 86400.0,
        timeout: float = 5.0,
    ) -> None:
        super().__init__(url, namespace)
        query = parse_qs(urlsplit(url).query)
        synchronous = query.get("synchronous", ["full"])[0].upper()
        if synchronous not in ("FULL", "NORMAL", "EXTRA"):
            raise ConfigError(
                f"synchronous={synchronous.lower()} is not full, normal or extra", key="store.url"
            )
        self.path = sqlite_path(url.split("?", 1)[0], base_dir)
        self._runner = SQLiteRunner(self.path, namespace=namespace, timeout=timeout, synchronous=synchronous)
        self._idempotency = SQLIdempotency(self._runner, clock=clock, lease=lease, retention=retention)
        self._outbox = SQLOutbox(self._runner, clock=clock, foreign=self._caller_connection)
        self._checkpoints = SQLCheckpoints(self._runner, clock=clock)

    async def _caller_connection(self, connection: Any) -> SQLRunner:
        if not isinstance(connection, sqlite3.Connection):
            raise TypeError(
                f"a SQLite store enqueues on a sqlite3.Connection, not {type(connection).__name__}"
            )
        await self._runner.fetch("SELECT 1")  # the tables exist before the caller's statement needs them
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
        """Check the database file can be opened and read."""
        await self._runner.fetch("SELECT 1")

    async def close(self) -> None:
        """Close the connection."""
        await self._runner.close()
