"""The Redis store: idempotency records only (no outbox, no checkpoints).

A record is one JSON string under ``<namespace>:idem:<key>``. A claim is ``SET NX PX`` (the key expires
with the record's retention); conditional overwrites and deletes are short Lua scripts that compare the
holder's token, so they are atomic on the server.

Redis keeps data in memory and persists it as configured (AOF with ``appendfsync everysec`` loses up to a
second on a crash): choose it for throughput when that risk is acceptable, PostgreSQL otherwise.
"""

from __future__ import annotations

import math
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import RedisError

from ssgateway.errors import StoreUnavailable
from ssgateway.reliability.clock import Clock
from ssgateway.reliability.idempotency import IdempotencyRecord, IdempotencyStore
from ssgateway.reliability.store import Store

__all__ = ["RedisIdempotency", "RedisStore"]

_REPLACE = """
local current = redis.call('GET', KEYS[1])
if not current or cjson.decode(current)['token'] ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
"""

_DELETE = """
local current = redis.call('GET', KEYS[1])
if not current or cjson.decode(current)['token'] ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
"""


class RedisIdempotency(IdempotencyStore):
    """Idempotency records in Redis."""

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        prefix: str,
        where: str,
        clock: Clock | None,
        lease: float,
        retention: float,
    ) -> None:
        super().__init__(clock=clock, lease=lease, retention=retention)
        self._client = client
        self._prefix = prefix
        self._where = where
        self._replace_script = client.register_script(_REPLACE)
        self._delete_script = client.register_script(_DELETE)

    def _key(self, key: str) -> str:
        return f"{self._prefix}idem:{key}"

    def _ttl_ms(self, record: IdempotencyRecord) -> int:
        return max(1, math.ceil((record.expires_at - self.clock.time()) * 1000))

    def _unavailable(self, exc: RedisError) -> StoreUnavailable:
        return StoreUnavailable(f"Redis store {self._where}: {exc or type(exc).__name__}")

    async def _insert(self, record: IdempotencyRecord) -> bool:
        try:
            done = await self._client.set(
                self._key(record.key), record.to_json(), nx=True, px=self._ttl_ms(record)
            )
        except RedisError as exc:
            raise self._unavailable(exc) from exc
        return bool(done)

    async def _load(self, key: str) -> IdempotencyRecord | None:
        try:
            raw = await self._client.get(self._key(key))
        except RedisError as exc:
            raise self._unavailable(exc) from exc
        return None if raw is None else IdempotencyRecord.from_json(raw)

    async def _replace(self, record: IdempotencyRecord, token: str) -> bool:
        args: list[Any] = [token, record.to_json(), self._ttl_ms(record)]
        try:
            return bool(await self._replace_script(keys=[self._key(record.key)], args=args))
        except RedisError as exc:
            raise self._unavailable(exc) from exc

    async def _delete(self, key: str, token: str) -> bool:
        try:
            return bool(await self._delete_script(keys=[self._key(key)], args=[token]))
        except RedisError as exc:
            raise self._unavailable(exc) from exc

    async def _purge(self, now: float) -> int:
        return 0  # Redis expires records by itself


class RedisStore(Store):
    """A store in Redis, for idempotency records; keys start with ``<namespace>:``."""

    kind = "redis"

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
        self.prefix = f"{namespace}:"
        # callers beyond pool_size wait for a connection (up to timeout) instead of failing at once;
        # one quick reconnect, then fail closed: a long retry loop would only delay the caller's error
        pool = aioredis.BlockingConnectionPool.from_url(
            url,
            max_connections=pool_size,
            timeout=timeout,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(ExponentialBackoff(cap=0.2, base=0.05), 1),
        )
        self._client = aioredis.Redis.from_pool(pool)
        self._idempotency = RedisIdempotency(
            self._client, prefix=self.prefix, where=self.url, clock=clock, lease=lease, retention=retention
        )

    @property
    def idempotency(self) -> IdempotencyStore:
        """Idempotency records."""
        return self._idempotency

    async def ping(self) -> None:
        """Check the server answers."""
        try:
            await self._client.ping()
        except RedisError as exc:
            raise StoreUnavailable(f"Redis store {self.url}: {exc or type(exc).__name__}") from exc

    async def close(self) -> None:
        """Close the connections."""
        await self._client.aclose()
