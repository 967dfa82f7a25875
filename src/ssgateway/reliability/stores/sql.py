"""The SQL layer SQLite and PostgreSQL share: one set of statements, two drivers.

Statements are written with ``?`` placeholders and ``{table}`` names; a :class:`SQLRunner` says which
placeholder its driver wants and how to run a statement. Every statement is atomic on its own (autocommit),
so the logic above never holds a transaction open across a network round trip.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from ssgateway.reliability.checkpoints import Checkpoint, CheckpointConflict, Checkpoints
from ssgateway.reliability.clock import Clock
from ssgateway.reliability.idempotency import IdempotencyRecord, IdempotencyState, IdempotencyStore

__all__ = ["Row", "SQLCheckpoints", "SQLIdempotency", "SQLRunner", "dumps", "loads"]

Row = tuple[Any, ...]


def dumps(value: Any) -> str | None:
    """JSON text for a column (None stays NULL)."""
    return None if value is None else json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def loads(text: str | None) -> Any:
    """The JSON value of a column."""
    return None if text is None else json.loads(text)


class SQLRunner(ABC):
    """Runs statements on one database; translates driver errors to ``StoreUnavailable``.

    Attributes:
        placeholder: ``?`` (sqlite3) or ``%s`` (psycopg).
        lock_clause: appended to a ``SELECT`` that picks rows to lease (``FOR UPDATE SKIP LOCKED``).
    """

    placeholder = "?"
    lock_clause = ""

    @abstractmethod
    def table(self, name: str) -> str:
        """The qualified name of one of the store's tables."""

    def sql(self, statement: str, table: str, **fragments: str) -> str:
        """``statement`` as this driver wants it.

        ``{t}`` becomes the qualified ``table``, ``{lock}`` the lock clause, other ``{name}`` the given
        fragments, and ``?`` the driver's placeholder.

        Only identifiers and fixed fragments are put into the text; values are always bound parameters.
        """
        text = statement.format(t=self.table(table), lock=self.lock_clause, **fragments)
        return text.replace("?", self.placeholder) if self.placeholder != "?" else text

    @abstractmethod
    async def execute(self, statement: str, params: Sequence[Any] = ()) -> int:
        """Run a statement; the number of rows it changed."""

    @abstractmethod
    async def fetch(self, statement: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run a statement that returns rows (a ``SELECT`` or ``… RETURNING``)."""

    async def fetchone(self, statement: str, params: Sequence[Any] = ()) -> Row | None:
        """The first row a statement returns, if any."""
        rows = await self.fetch(statement, params)
        return rows[0] if rows else None


_IDEM_COLUMNS = (
    "idem_key, state, fingerprint, token, attempt, lease_expires_at, expires_at, created_at, updated_at, "
    "response, error"
)


class SQLIdempotency(IdempotencyStore):
    """Idempotency records in a table; claims are ``INSERT … ON CONFLICT DO NOTHING``."""

    def __init__(self, runner: SQLRunner, *, clock: Clock | None, lease: float, retention: float) -> None:
        super().__init__(clock=clock, lease=lease, retention=retention)
        self._runner = runner

        def sql(statement: str) -> str:
            return runner.sql(statement, "idempotency", columns=_IDEM_COLUMNS)

        self._insert_sql = sql(
            "INSERT INTO {t} ({columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (idem_key) DO NOTHING"
        )
        self._load_sql = sql("SELECT {columns} FROM {t} WHERE idem_key = ?")
        self._replace_sql = sql(
            "UPDATE {t} SET state = ?, fingerprint = ?, token = ?, attempt = ?, lease_expires_at = ?, "
            "expires_at = ?, created_at = ?, updated_at = ?, response = ?, error = ? "
            "WHERE idem_key = ? AND token = ?"
        )
        self._delete_sql = sql("DELETE FROM {t} WHERE idem_key = ? AND token = ?")
        self._purge_sql = sql("DELETE FROM {t} WHERE expires_at <= ?")

    @staticmethod
    def _values(r: IdempotencyRecord) -> tuple[Any, ...]:
        return (
            r.state.value,
            r.fingerprint,
            r.token,
            r.attempt,
            r.lease_expires_at,
            r.expires_at,
            r.created_at,
            r.updated_at,
            dumps(r.response),
            dumps(r.error),
        )

    async def _insert(self, record: IdempotencyRecord) -> bool:
        return await self._runner.execute(self._insert_sql, (record.key, *self._values(record))) == 1

    async def _load(self, key: str) -> IdempotencyRecord | None:
        row = await self._runner.fetchone(self._load_sql, (key,))
        if row is None:
            return None
        return IdempotencyRecord(
            key=row[0],
            state=IdempotencyState(row[1]),
            fingerprint=row[2],
            token=row[3],
            attempt=row[4],
            lease_expires_at=row[5],
            expires_at=row[6],
            created_at=row[7],
            updated_at=row[8],
            response=loads(row[9]),
            error=loads(row[10]),
        )

    async def _replace(self, record: IdempotencyRecord, token: str) -> bool:
        params = (*self._values(record), record.key, token)
        return await self._runner.execute(self._replace_sql, params) == 1

    async def _delete(self, key: str, token: str) -> bool:
        return await self._runner.execute(self._delete_sql, (key, token)) == 1

    async def _purge(self, now: float) -> int:
        return await self._runner.execute(self._purge_sql, (now,))


class SQLCheckpoints(Checkpoints):
    """Checkpoints in a table; writes are conditional on the version read."""

    def __init__(self, runner: SQLRunner, *, clock: Clock | None) -> None:
        super().__init__(clock=clock)
        self._runner = runner

        def sql(statement: str) -> str:
            return runner.sql(statement, "checkpoints")

        self._get_sql = sql("SELECT name, state, version, updated_at FROM {t} WHERE name = ?")
        self._create_sql = sql(
            "INSERT INTO {t} (name, state, version, updated_at) VALUES (?, ?, 1, ?) "
            "ON CONFLICT (name) DO NOTHING"
        )
        self._update_sql = sql(
            "UPDATE {t} SET state = ?, version = version + 1, updated_at = ? WHERE name = ? AND version = ?"
        )
        self._delete_sql = sql("DELETE FROM {t} WHERE name = ?")

    async def get(self, name: str) -> Checkpoint | None:
        """The checkpoint called ``name``, or None before its first write."""
        row = await self._runner.fetchone(self._get_sql, (name,))
        if row is None:
            return None
        return Checkpoint(name=row[0], state=json.loads(row[1]), version=row[2], updated_at=row[3])

    async def put(self, name: str, state: dict[str, Any], expected_version: int) -> int:
        """Write ``state`` if the stored version is ``expected_version`` (0: not written yet)."""
        text = dumps(state)
        now = self.clock.time()
        if expected_version == 0:
            changed = await self._runner.execute(self._create_sql, (name, text, now))
        else:
            changed = await self._runner.execute(self._update_sql, (text, now, name, expected_version))
        if changed != 1:
            current = await self.get(name)
            found = 0 if current is None else current.version
            raise CheckpointConflict(
                f"checkpoint {name!r} is at version {found}, not {expected_version}: another worker wrote it"
            )
        return expected_version + 1

    async def delete(self, name: str) -> bool:
        """Forget a checkpoint; True when there was one."""
        return await self._runner.execute(self._delete_sql, (name,)) == 1
