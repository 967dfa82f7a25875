from __future__ import annotations

import socket

import httpx
import pytest

from ssgateway.testing import NetworkForbidden, service_address
from ssgateway.testing.services import ServiceUnconfigured, ServiceUnreachable


def test_connections_off_loopback_are_refused() -> None:
    with socket.socket() as s, pytest.raises(NetworkForbidden):
        s.connect(("10.1.2.3", 80))
    with pytest.raises(NetworkForbidden):
        socket.getaddrinfo("example.com", 443)
    with pytest.raises(NetworkForbidden):
        httpx.get("http://example.com/", timeout=1)


def test_loopback_is_allowed() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.create_connection(server.getsockname(), timeout=2):
            pass
    assert socket.getaddrinfo("localhost", 80)


def test_service_unset_skips_and_unreachable_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSGATEWAY_TEST_REDIS_URL", raising=False)
    with pytest.raises(ServiceUnconfigured, match="set SSGATEWAY_TEST_REDIS_URL"):
        service_address("redis")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free_port = s.getsockname()[1]
    monkeypatch.setenv("SSGATEWAY_TEST_REDIS_URL", f"redis://127.0.0.1:{free_port}/0")
    with pytest.raises(ServiceUnreachable, match="unreachable"):
        service_address("redis", timeout=0.5)
