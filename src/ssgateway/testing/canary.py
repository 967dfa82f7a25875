"""A canary listener: a TCP port on 127.0.0.1 that counts every connection made to it.

Security tests aim hostile documents' external references (DTDs, entities, schema imports) at a canary and
assert afterwards that it was never contacted: a parser that fetched anything would show up as a hit.

>>> with Canary() as canary:
...     canary.url.startswith("http://127.0.0.1:"), canary.hits
(True, 0)
"""

from __future__ import annotations

import socket
import threading
from types import TracebackType
from typing import Self

__all__ = ["Canary"]


class Canary:
    """Listens on 127.0.0.1 (a free port) in a background thread and counts connections in :attr:`hits`."""

    def __init__(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.05)
        self.hits = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ssgateway-canary", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``: aim references here."""
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.hits += 1
            conn.close()

    def close(self) -> None:
        """Stop listening."""
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
