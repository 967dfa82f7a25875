"""Addresses of the real services some tests need, read from the environment.

Unset: the test is skipped and says which variable to set. Set but unreachable: the test fails, so a CI
run that configured a service never passes by skipping it.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["SERVICES", "Service", "ServiceUnconfigured", "ServiceUnreachable", "service_address"]


@dataclass(frozen=True, slots=True)
class Service:
    """A service tests may need."""

    name: str
    env: str
    default_port: int


SERVICES = {
    "postgres": Service("PostgreSQL", "SSGATEWAY_TEST_POSTGRES_DSN", 5432),
    "redis": Service("Redis", "SSGATEWAY_TEST_REDIS_URL", 6379),
    "nats": Service("NATS JetStream", "SSGATEWAY_TEST_NATS_URL", 4222),
}


class ServiceUnconfigured(LookupError):
    """The service's variable is not set."""


class ServiceUnreachable(ConnectionError):
    """The service's variable is set but nothing answers there."""


def service_address(key: str, *, timeout: float = 2.0) -> str:
    """The configured address of a service, after checking a TCP connection to it succeeds.

    Raises:
        ServiceUnconfigured: the variable is unset (callers skip).
        ServiceUnreachable: set, but no connection (callers fail).
    """
    service = SERVICES[key]
    value = os.environ.get(service.env, "").strip()
    if not value:
        raise ServiceUnconfigured(f"{service.name} not configured: set {service.env} to run this test")
    parts = urlsplit(value if "://" in value else f"tcp://{value}")
    host = parts.hostname or "127.0.0.1"
    port = parts.port or service.default_port
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        raise ServiceUnreachable(
            f"{service.name} at {host}:{port} ({service.env}) is unreachable: {exc}"
        ) from exc
    return value
