"""Idempotency claims per second for each store backend, at 1 and 16 concurrent workers.

    python bench/stores.py [--claims N]

Each figure is set against a baseline measured in the same run: the bare driver doing the same atomic
claim (SQLite and PostgreSQL ``INSERT … ON CONFLICT DO NOTHING``, Redis ``SET NX PX``) without our layer,
so the ratio shows what ssgateway's store costs on top of the database. PostgreSQL and Redis addresses
come from the same variables as the tests (``SSGATEWAY_TEST_POSTGRES_DSN``, ``SSGATEWAY_TEST_REDIS_URL``),
defaulting to this machine's services. Everything the run creates is removed afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import psycopg
import redis.asyncio as aioredis
from psycopg_pool import AsyncConnectionPool

from ssgateway.reliability import fingerprint, open_store

POSTGRES = os.environ.get("SSGATEWAY_TEST_POSTGRES_DSN") or "postgresql://postgres@127.0.0.1:5432/test"
REDIS = os.environ.get("SSGATEWAY_TEST_REDIS_URL") or "redis://127.0.0.1:6379/0"
FP = fingerprint({"amount": "100.00"})


async def rate(claims: int, workers: int, claim: Callable[[str], Awaitable[object]]) -> float:
    """Claims per second of ``claims`` new keys spread over ``workers`` tasks."""
    keys = [uuid.uuid4().hex for _ in range(claims)]

    async def worker(part: list[str]) -> None:
        for key in part:
            await claim(key)

    start = time.perf_counter()
    await asyncio.gather(*(worker(keys[i::workers]) for i in range(workers)))
    return claims / (time.perf_counter() - start)


async def ours(url: str, claims: int, workers: int, directory: Path) -> float:
    namespace = f"bench_{uuid.uuid4().hex[:8]}"
    if url.startswith("sqlite"):
        url = url.replace("PATH", str(directory / f"{namespace}.db"))
    async with open_store(url, namespace=namespace, pool_size=16) as store:
        try:
            await store.ping()
            return await rate(claims, workers, lambda key: store.idempotency.claim(key, FP))
        finally:
            await drop(url, namespace)


async def drop(url: str, namespace: str) -> None:
    if url.startswith("postgresql"):
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{namespace}" CASCADE')
    elif url.startswith("redis"):
        client = aioredis.from_url(url)
        keys = [k async for k in client.scan_iter(match=f"{namespace}:*", count=1000)]
        for i in range(0, len(keys), 1000):
            await client.delete(*keys[i : i + 1000])
        await client.aclose()


def sqlite_baseline(path: Path, claims: int, synchronous: str) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("CREATE TABLE claims (k TEXT PRIMARY KEY, fp TEXT, at REAL)")
    keys = [uuid.uuid4().hex for _ in range(claims)]
    start = time.perf_counter()
    for key in keys:
        conn.execute("INSERT INTO claims VALUES (?, ?, ?) ON CONFLICT (k) DO NOTHING", (key, FP, time.time()))
    elapsed = time.perf_counter() - start
    conn.close()
    return claims / elapsed


async def postgres_baseline(claims: int, workers: int) -> float:
    table = f"bench_raw_{uuid.uuid4().hex[:8]}"
    async with AsyncConnectionPool(
        POSTGRES, min_size=workers, max_size=16, kwargs={"autocommit": True}
    ) as pool:
        async with pool.connection() as conn:
            await conn.execute(f"CREATE TABLE {table} (k TEXT PRIMARY KEY, fp TEXT, at DOUBLE PRECISION)")
        try:
            statement = f"INSERT INTO {table} VALUES (%s, %s, %s) ON CONFLICT (k) DO NOTHING"  # noqa: S608 - our table

            async def claim(key: str) -> None:
                async with pool.connection() as conn:
                    await conn.execute(statement, (key, FP, time.time()))

            return await rate(claims, workers, claim)
        finally:
            async with pool.connection() as conn:
                await conn.execute(f"DROP TABLE {table}")


async def redis_baseline(claims: int, workers: int) -> float:
    prefix = f"bench_raw_{uuid.uuid4().hex[:8]}:"
    client = aioredis.Redis.from_pool(aioredis.BlockingConnectionPool.from_url(REDIS, max_connections=16))
    try:
        return await rate(claims, workers, lambda key: client.set(prefix + key, FP, nx=True, px=60_000))
    finally:
        await drop(REDIS, prefix.rstrip(":"))
        await client.aclose()


async def main(claims: int) -> None:
    print(f"idempotency claims/s, {claims} new keys per figure (ratio: ssgateway store / bare driver)")
    print(f"{'backend':<28}{'workers':>8}{'store':>10}{'baseline':>10}{'ratio':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        for synchronous in ("full", "normal"):
            url = f"sqlite:///PATH?synchronous={synchronous}"
            base = sqlite_baseline(directory / f"raw-{synchronous}.db", claims, synchronous)
            for workers in (1, 16):
                got = await ours(url, claims, workers, directory)
                label = f"sqlite (synchronous={synchronous})"
                print(f"{label:<28}{workers:>8}{got:>10.0f}{base:>10.0f}{got / base:>8.2f}")
        for name, url, baseline in (
            ("postgresql", POSTGRES, postgres_baseline),
            ("redis", REDIS, redis_baseline),
        ):
            for workers in (1, 16):
                base = await baseline(claims, workers)
                got = await ours(url, claims, workers, directory)
                print(f"{name:<28}{workers:>8}{got:>10.0f}{base:>10.0f}{got / base:>8.2f}")
    print("sqlite baseline: one bare connection in one thread (SQLite has one writer at a time)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=3000, help="new keys claimed per figure")
    asyncio.run(main(parser.parse_args().claims))
