"""Loopback helpers the HTTP benchmarks share: a free port, and waiting for a server to listen."""

from __future__ import annotations

import socket
import time


def free_port() -> int:
    """A port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_listening(port: int, timeout: float = 60) -> None:
    """Return once something accepts connections on 127.0.0.1:``port``; exit the benchmark after ``timeout``."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listening on port {port}")
