"""Store factories for the reliability tests: a fresh namespace per test, removed afterwards."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis.asyncio as aioredis

from ssgateway.reliability import Clock, Store, open_store

Factory = Callable[..., contextlib.AbstractAsyncContextManager[Store]]


def unique_namespace() -> str:
    return f"t_{uuid.uuid4().hex[:12]}"


async def drop_postgres(dsn: str, namespace: str) -> None:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{namespace}" CASCADE')


async def drop_redis(url: str, namespace: str) -> None:
    client = aioredis.from_url(url)
    try:
        keys = [k async for k in client.scan_iter(match=f"{namespace}:*", count=1000)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


def make_factory(kind: str, address: str, tmp_path: Path) -> Factory:
    """A factory of fresh stores of one backend (``store_factory`` for the conformance suite)."""

    @contextlib.asynccontextmanager
    async def factory(clock: Clock | None = None, **options: Any) -> AsyncIterator[Store]:
        namespace = options.pop("namespace", None) or unique_namespace()
        url = f"sqlite:///{tmp_path / namespace}.db" if kind == "sqlite" else address
        store = open_store(url, namespace=namespace, clock=clock, **options)
        try:
            yield store
        finally:
            await store.close()
            if kind == "postgres":
                await drop_postgres(address, namespace)
            elif kind == "redis":
                await drop_redis(address, namespace)

    return factory


@pytest.fixture(params=["sqlite", "postgres", "redis"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    """Each backend in turn, with its address (skipped when its service is not configured)."""
    kind: str = request.param
    if kind == "sqlite":
        return kind, str(tmp_path)
    return kind, request.getfixturevalue("postgres_dsn" if kind == "postgres" else "redis_url")
