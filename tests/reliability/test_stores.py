"""Opening stores from URLs, failing closed, enqueueing inside the caller's transaction."""

from __future__ import annotations

import socket
import sqlite3
from pathlib import Path

import psycopg
import pytest
from tests.reliability.conftest import make_factory

from ssgateway.config import parse_config
from ssgateway.errors import ConfigError, StoreUnavailable
from ssgateway.reliability import DeliveryState, fingerprint, open_store, redact_url, store_from_config
from ssgateway.reliability.stores.sqlite import SQLiteStore
from ssgateway.yamlfile import Located


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_sqlite_paths_resolve_against_base_dir(tmp_path: Path) -> None:
    relative = open_store("sqlite:///data/gw.db", base_dir=tmp_path)
    absolute = open_store(f"sqlite:///{tmp_path}/abs.db")
    memory = open_store("sqlite:///:memory:")
    assert isinstance(relative, SQLiteStore) and relative.path == str(tmp_path / "data" / "gw.db")
    assert isinstance(absolute, SQLiteStore) and absolute.path == str(tmp_path / "abs.db")
    assert isinstance(memory, SQLiteStore) and memory.path == ":memory:"


@pytest.mark.parametrize(
    "url", ["mysql://x/y", "sqlite://relative.db", "sqlite:///", "sqlite:///x.db?synchronous=off"]
)
def test_bad_urls_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError, match="store"):
        open_store(url)


def test_bad_namespace_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="namespace"):
        open_store("sqlite:///:memory:", namespace="Drop Table")


def test_passwords_never_show() -> None:
    assert redact_url("postgresql://gw:s3cret@db:5432/x") == "postgresql://gw:***@db:5432/x"
    assert redact_url("redis://:s3cret@cache:6379/0") == "redis://:***@cache:6379/0"
    assert redact_url("sqlite:///a.db") == "sqlite:///a.db"
    store = open_store("postgresql://gw:s3cret@127.0.0.1:1/x")
    assert "s3cret" not in repr(store) and "s3cret" not in store.url


async def test_store_from_config(tmp_path: Path) -> None:
    doc = Located(
        data={"store": {"url": "sqlite:///gw.db", "namespace": "gw", "lease": 5}},
        file=str(tmp_path / "g.yaml"),
    )
    config = parse_config(doc)
    async with store_from_config(config) as store:
        assert isinstance(store, SQLiteStore) and store.path == str(tmp_path / "gw.db")
        assert store.idempotency.lease == 5 and store.namespace == "gw"
        await store.ping()


async def test_memory_store_works() -> None:
    async with open_store("sqlite:///:memory:") as store:
        claim = await store.idempotency.claim("k", fingerprint({}))
        assert not claim.replayed


async def test_unreachable_stores_fail_closed(tmp_path: Path) -> None:
    port = closed_port()
    urls = [
        f"postgresql://postgres@127.0.0.1:{port}/test",
        f"redis://127.0.0.1:{port}/0",
        f"sqlite:///{tmp_path}/no/such/dir/gw.db",
    ]
    for url in urls:
        async with open_store(url, timeout=1) as store:
            with pytest.raises(StoreUnavailable) as caught:
                await store.idempotency.claim("k", fingerprint({}))
            assert caught.value.code == "store.unavailable"
            with pytest.raises(StoreUnavailable):
                await store.ping()


async def test_closed_store_refuses_work(tmp_path: Path) -> None:
    store = open_store("sqlite:///gw.db", base_dir=tmp_path)
    await store.close()
    with pytest.raises(StoreUnavailable, match="closed"):
        await store.ping()


@pytest.mark.redis
async def test_redis_has_no_outbox(redis_url: str, tmp_path: Path) -> None:
    async with make_factory("redis", redis_url, tmp_path)() as store:
        for part in ("outbox", "checkpoints"):
            with pytest.raises(ConfigError, match="needs a SQLite or PostgreSQL store") as caught:
                getattr(store, part)
            assert caught.value.code == "store.unsupported"


async def test_sqlite_enqueue_in_callers_transaction(tmp_path: Path) -> None:
    async with open_store("sqlite:///gw.db", base_dir=tmp_path) as store:
        await store.ping()  # creates the tables before the caller's transaction holds the write lock
        conn = sqlite3.connect(tmp_path / "gw.db", isolation_level=None)
        try:
            conn.execute("CREATE TABLE payments (ref TEXT)")
            for commit in (False, True):
                conn.execute("BEGIN")
                conn.execute("INSERT INTO payments VALUES ('P1')")
                await store.outbox.enqueue(
                    partner="bank",
                    operation="payments.submit",
                    payload={"ref": "P1"},
                    idempotency_key="P1",
                    deduplicated=True,
                    connection=conn,
                )
                conn.execute("COMMIT" if commit else "ROLLBACK")
                assert len(await store.outbox.list()) == (1 if commit else 0)
            with pytest.raises(TypeError, match=r"sqlite3\.Connection"):
                await store.outbox.enqueue(
                    partner="bank",
                    operation="x",
                    payload={},
                    idempotency_key="x",
                    deduplicated=True,
                    connection=object(),
                )
        finally:
            conn.close()


@pytest.mark.postgres
async def test_postgres_enqueue_in_callers_transaction(postgres_dsn: str, tmp_path: Path) -> None:
    async with (
        make_factory("postgres", postgres_dsn, tmp_path)() as store,
        await psycopg.AsyncConnection.connect(postgres_dsn) as conn,
    ):
        for commit in (False, True):
            async with conn.transaction(force_rollback=not commit):
                delivery_id = await store.outbox.enqueue(
                    partner="bank",
                    operation="payments.submit",
                    payload={"ref": "P1"},
                    idempotency_key="P1",
                    deduplicated=True,
                    connection=conn,
                )
                assert delivery_id > 0
            totals = await store.outbox.totals()
            assert totals[DeliveryState.PENDING] == (1 if commit else 0)
