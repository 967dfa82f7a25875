"""Every store backend passes the conformance suite shipped in ssgateway.testing."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.reliability.conftest import make_factory

from ssgateway.testing.stores import StoreFactory, store_conformance


class _SQLite:
    @pytest.fixture
    def store_factory(self, tmp_path: Path) -> StoreFactory:
        return make_factory("sqlite", "", tmp_path)


class _Postgres:
    @pytest.fixture
    def store_factory(self, postgres_dsn: str, tmp_path: Path) -> StoreFactory:
        return make_factory("postgres", postgres_dsn, tmp_path)


class _Redis:
    @pytest.fixture
    def store_factory(self, redis_url: str, tmp_path: Path) -> StoreFactory:
        return make_factory("redis", redis_url, tmp_path)


ALL = ("idempotency", "outbox", "checkpoints")


class TestSQLiteStore(_SQLite, store_conformance(*ALL)):  # type: ignore[misc]
    pass


@pytest.mark.postgres
class TestPostgresStore(_Postgres, store_conformance(*ALL)):  # type: ignore[misc]
    pass


@pytest.mark.redis
class TestRedisStore(_Redis, store_conformance("idempotency")):  # type: ignore[misc]
    pass
