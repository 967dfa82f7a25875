"""pytest plugin (entry point ``pytest11``): fixtures for ssgateway's tests and for adapter authors'.

Fixtures:
    loopback_only: refuse any network traffic off 127.0.0.1 / ::1 during the test.
    postgres_dsn, redis_url, nats_url: the service's address; skip when unset, fail when unreachable.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ssgateway.testing import network, services


@pytest.fixture
def loopback_only() -> Iterator[None]:
    """Refuse connections and name lookups off loopback for the test's duration."""
    with network.loopback_only():
        yield


def _address(key: str) -> str:
    try:
        return services.service_address(key)
    except services.ServiceUnconfigured as exc:
        pytest.skip(str(exc))
    except services.ServiceUnreachable as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="session")
def postgres_dsn() -> str:
    """PostgreSQL DSN from ``SSGATEWAY_TEST_POSTGRES_DSN``."""
    return _address("postgres")


@pytest.fixture(scope="session")
def redis_url() -> str:
    """Redis URL from ``SSGATEWAY_TEST_REDIS_URL``."""
    return _address("redis")


@pytest.fixture(scope="session")
def nats_url() -> str:
    """NATS URL from ``SSGATEWAY_TEST_NATS_URL``."""
    return _address("nats")
