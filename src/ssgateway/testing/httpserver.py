"""A small HTTP/1.1 server on 127.0.0.1 for partner simulators, with fault injection.

Simulators need what a production server never offers: drop the connection after the work is committed,
send half a body, never answer, wait before answering. This server speaks just enough HTTP/1.1 for that
(keep-alive, ``Content-Length`` and chunked request bodies) and hands each request to an async handler.

Run it inside an event loop (``async with SimServer(handler) as server``) or in a background thread
(``with SimServer(handler).in_thread() as server``) for synchronous tests, benchmarks and the sandbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from http import HTTPStatus
from ssl import SSLContext
from types import TracebackType
from typing import Self
from urllib.parse import parse_qs, urlsplit

__all__ = ["Fault", "Request", "Response", "Served", "SimServer", "reset_connection"]

MAX_HEADER_BYTES = 64 * 1024
MAX_BODY_BYTES = 256 * 1024 * 1024


class Fault(Enum):
    """What to do instead of (or to) a normal response."""

    RESET = "reset"
    """Close the connection with a TCP reset, sending nothing."""
    TRUNCATE = "truncate"
    """Send the headers and half the body, then close."""
    BLACKHOLE = "blackhole"
    """Never answer; keep the connection open until the client gives up."""


@dataclass
class Request:
    """A request as the handler sees it (header names lower-cased)."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes

    @property
    def path(self) -> str:
        """The path part of the target."""
        return urlsplit(self.target).path

    @property
    def query(self) -> dict[str, list[str]]:
        """The parsed query string."""
        return parse_qs(urlsplit(self.target).query)


@dataclass
class Response:
    """What the handler returns.

    ``delay`` is waited before anything is sent; ``fault`` replaces or spoils the response.
    """

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    fault: Fault | None = None


Handler = Callable[[Request], Awaitable[Response]]


class _BadRequest(Exception):
    pass


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    if headers.get("transfer-encoding", "").lower() == "chunked":
        parts: list[bytes] = []
        total = 0
        while True:
            size_line = await reader.readline()
            size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                await reader.readline()  # the empty line after the last chunk (no trailers expected)
                return b"".join(parts)
            total += size
            if total > MAX_BODY_BYTES:
                raise _BadRequest("body too large")
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
    length = int(headers.get("content-length", "0") or "0")
    if length > MAX_BODY_BYTES:
        raise _BadRequest("body too large")
    return await reader.readexactly(length) if length else b""


async def _read_request(reader: asyncio.StreamReader) -> Request | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    except asyncio.LimitOverrunError as exc:
        raise _BadRequest("headers too large") from exc
    lines = head.decode("latin-1").split("\r\n")
    try:
        method, target, _version = lines[0].split(" ", 2)
    except ValueError as exc:
        raise _BadRequest("malformed request line") from exc
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    return Request(method, target, headers, await _read_body(reader, headers))


def _encode(response: Response, keep_alive: bool) -> tuple[bytes, bytes]:
    reason = (
        HTTPStatus(response.status).phrase if response.status in HTTPStatus._value2member_map_ else "Status"
    )
    headers = {k.lower(): v for k, v in response.headers.items()}
    headers.setdefault("content-type", "application/octet-stream")
    headers["content-length"] = str(len(response.body))
    headers["connection"] = "keep-alive" if keep_alive else "close"
    head = f"HTTP/1.1 {response.status} {reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return (head + "\r\n").encode("latin-1"), response.body


def reset_connection(writer: asyncio.StreamWriter) -> None:
    """Close a connection with a TCP reset (RST) instead of an orderly close."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        # SO_LINGER with a zero timeout makes close() send RST instead of FIN
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class SimServer:
    """An HTTP/1.1 server on 127.0.0.1 calling ``handler`` for every request.

    Args:
        handler: async function from :class:`Request` to :class:`Response`.
        port: 0 picks a free port.
        ssl: serve HTTPS with this context (a partner that requires client certificates sets
            ``verify_mode = CERT_REQUIRED`` on it).
    """

    def __init__(
        self, handler: Handler, *, host: str = "127.0.0.1", port: int = 0, ssl: SSLContext | None = None
    ) -> None:
        if host not in ("127.0.0.1", "::1", "localhost"):
            raise ValueError("simulators listen on loopback only")
        self._handler = handler
        self._host = host
        self._port = port
        self._ssl = ssl
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[None]] = set()
        self.requests_seen = 0

    @property
    def port(self) -> int:
        """The port listened on (after start)."""
        if self._server is None:
            raise RuntimeError("the server is not started")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"{'https' if self._ssl is not None else 'http'}://{self._host}:{self.port}"

    async def start(self) -> None:
        """Start listening."""
        self._server = await asyncio.start_server(
            self._serve, self._host, self._port, limit=MAX_HEADER_BYTES, ssl=self._ssl, reuse_address=True
        )

    async def stop(self) -> None:
        """Stop listening, drop open connections and wait for their handlers to end."""
        if self._server is not None:
            self._server.close()
            for writer in list(self._connections):
                writer.transport.abort()
            handlers = list(self._handlers)
            for task in handlers:
                task.cancel()
            await asyncio.gather(*handlers, return_exceptions=True)
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        self._connections.add(writer)
        try:
            while True:
                try:
                    request = await _read_request(reader)
                except (_BadRequest, ValueError):
                    head, body = _encode(Response(400, b"bad request"), keep_alive=False)
                    writer.write(head + body)
                    await writer.drain()
                    return
                if request is None:
                    return
                self.requests_seen += 1
                response = await self._handler(request)
                if response.delay:
                    await asyncio.sleep(response.delay)
                keep_alive = request.headers.get("connection", "").lower() != "close"
                if response.fault is Fault.RESET:
                    reset_connection(writer)
                    return
                if response.fault is Fault.BLACKHOLE:
                    await reader.read()  # until the client closes
                    return
                head, body = _encode(response, keep_alive)
                if response.fault is Fault.TRUNCATE:
                    writer.write(head + body[: len(body) // 2])
                    await writer.drain()
                    reset_connection(writer)
                    return
                writer.write(head + body)
                await writer.drain()
                if not keep_alive:
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        except asyncio.CancelledError:
            # Only stop() cancels a handler. Ending normally keeps asyncio's stream callback on
            # Python 3.11 from reporting the cancellation as an unhandled error.
            return
        finally:
            self._connections.discard(writer)
            if task is not None:
                self._handlers.discard(task)
            with contextlib.suppress(Exception):
                writer.close()

    @contextlib.contextmanager
    def in_thread(self) -> Iterator[Self]:
        """Run the server on its own event loop in a daemon thread for the duration of the block."""
        loop = asyncio.new_event_loop()
        started = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start())
            except BaseException as exc:  # noqa: BLE001 - reported to the starting thread below
                failure.append(exc)
                started.set()
                return
            started.set()
            loop.run_forever()

        thread = threading.Thread(target=run, name="ssgateway-simserver", daemon=True)
        thread.start()
        started.wait()
        if failure:
            raise failure[0]
        try:
            yield self
        finally:
            asyncio.run_coroutine_threadsafe(self.stop(), loop).result(timeout=10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
            loop.close()


class Served:
    """Start, stop, ``async with`` and :meth:`in_thread` for a simulator that answers through ``server``.

    A simulator sets ``self.server`` to its :class:`SimServer` and inherits the lifecycle.
    """

    server: SimServer

    async def start(self) -> None:
        """Start listening."""
        await self.server.start()

    async def stop(self) -> None:
        """Stop listening."""
        await self.server.stop()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @contextlib.contextmanager
    def in_thread(self) -> Iterator[Self]:
        """Run in a background thread for the duration of the block (for synchronous callers)."""
        with self.server.in_thread():
            yield self
