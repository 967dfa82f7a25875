"""A store: where idempotency records, outbox deliveries and checkpoints live. Opened from a URL.

===============================  ===========  ======  ===========
URL                              idempotency  outbox  checkpoints
===============================  ===========  ======  ===========
``sqlite:///path``               yes          yes     yes
``postgresql://user@host/db``    yes          yes     yes
``redis://host:6379/0``          yes          no      no
===============================  ===========  ======  ===========

``sqlite:///relative.db`` resolves against ``base_dir`` (the configuration file's directory);
``sqlite:////abs/path.db`` is absolute; ``sqlite:///:memory:`` lives as long as the store object.
A *namespace* keeps several gateways (or tests) apart in one database: the PostgreSQL schema, the SQLite
table-name prefix, the Redis key prefix.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, ClassVar, Self
from urllib.parse import urlsplit, urlunsplit

from ssgateway.errors import ConfigError
from ssgateway.reliability.clock import Clock

if TYPE_CHECKING:
    from ssgateway.config import GatewayConfig
    from ssgateway.reliability.checkpoints import Checkpoints
    from ssgateway.reliability.idempotency import IdempotencyStore
    from ssgateway.reliability.outbox import Outbox

__all__ = ["NAMESPACE_PATTERN", "Store", "open_store", "redact_url", "store_from_config"]

NAMESPACE_PATTERN = r"[a-z_][a-z0-9_]{0,39}"
"""What a namespace looks like: a lower-case SQL identifier of at most 40 characters."""


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***``, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


class Store(ABC):
    """An open store. Components are created lazily; the connection is made on first use.

    Use it as an async context manager, or call :meth:`close` when done.

    Attributes:
        kind: ``sqlite``, ``postgresql`` or ``redis``.
        url: the URL it was opened with, password redacted.
        namespace: keeps this store's tables or keys apart from others in the same database.
    """

    kind: ClassVar[str] = ""

    def __init__(self, url: str, namespace: str) -> None:
        self.url = redact_url(url)
        self.namespace = namespace

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r}, namespace={self.namespace!r})"

    @property
    @abstractmethod
    def idempotency(self) -> IdempotencyStore:
        """Idempotency records."""

    @property
    def outbox(self) -> Outbox:
        """Outbox deliveries (SQLite and PostgreSQL)."""
        raise self._unsupported("the outbox")

    @property
    def supports_outbox(self) -> bool:
        """Whether this kind of store holds an outbox (and checkpoints)."""
        return type(self).outbox is not Store.outbox

    @property
    def checkpoints(self) -> Checkpoints:
        """Checkpoints (SQLite and PostgreSQL)."""
        raise self._unsupported("checkpoints")

    @abstractmethod
    async def ping(self) -> None:
        """Check the store answers (for readiness); raises :class:`~ssgateway.errors.StoreUnavailable`."""

    @abstractmethod
    async def close(self) -> None:
        """Release connections; the store cannot be used afterwards."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def _unsupported(self, what: str) -> ConfigError:
        return ConfigError(
            f"{what} needs a SQLite or PostgreSQL store; {self.kind} stores ({self.url}) hold idempotency "
            "records only",
            key="store.url",
            code="store.unsupported",
        )


def open_store(
    url: str,
    *,
    base_dir: Path | None = None,
    namespace: str = "ssgateway",
    clock: Clock | None = None,
    lease: float = 60.0,
    retention: float = 86400.0,
    pool_size: int = 10,
    timeout: float = 5.0,
) -> Store:
    """Open the store a URL names (no connection is made until it is used).

    Args:
        url: ``sqlite:///path``, ``postgresql://…`` or ``redis://…``.
        base_dir: what relative SQLite paths resolve against (default: the working directory).
        namespace: PostgreSQL schema, SQLite table prefix or Redis key prefix.
        clock: wall-clock time for records, leases and expiry.
        lease: default seconds an idempotency claim is held before it may be taken over.
        retention: default seconds idempotency records are kept and replayed.
        pool_size: most connections a PostgreSQL or Redis store opens.
        timeout: seconds to wait for a connection before :class:`~ssgateway.errors.StoreUnavailable`.

    Raises:
        ConfigError: the URL or namespace is not one of the accepted forms.
    """
    if not re.fullmatch(NAMESPACE_PATTERN, namespace):
        raise ConfigError(
            f"a store namespace is a lower-case identifier of at most 40 characters, got {namespace!r}",
            key="store.namespace",
        )
    scheme = url.split(":", 1)[0].lower()
    # backends import their drivers only when chosen
    if scheme == "sqlite":
        from ssgateway.reliability.stores.sqlite import SQLiteStore

        return SQLiteStore(
            url,
            base_dir=base_dir,
            namespace=namespace,
            clock=clock,
            lease=lease,
            retention=retention,
            timeout=timeout,
        )
    if scheme in ("postgresql", "postgres"):
        from ssgateway.reliability.stores.postgres import PostgresStore

        return PostgresStore(
            url,
            namespace=namespace,
            clock=clock,
            lease=lease,
            retention=retention,
            pool_size=pool_size,
            timeout=timeout,
        )
    if scheme in ("redis", "rediss"):
        from ssgateway.reliability.stores.redis import RedisStore

        return RedisStore(
            url,
            namespace=namespace,
            clock=clock,
            lease=lease,
            retention=retention,
            pool_size=pool_size,
            timeout=timeout,
        )
    raise ConfigError(
        f"unknown store URL {redact_url(url)!r}: use sqlite:///path, postgresql://… or redis://…",
        key="store.url",
    )


def store_from_config(config: GatewayConfig, *, clock: Clock | None = None) -> Store:
    """Open the store a configuration names (``store:`` section)."""
    settings = config.store
    return open_store(
        settings.url,
        base_dir=config.base_dir,
        namespace=settings.namespace,
        clock=clock,
        lease=settings.lease,
        retention=settings.retention,
        pool_size=settings.pool_size,
        timeout=settings.timeout,
    )
