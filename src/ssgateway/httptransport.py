"""A lean HTTP/1.1 transport for httpx: keep-alive connections on plain asyncio streams.

httpx stays the client API (and respx still mocks it in tests), but its default transport — httpcore on
anyio — spent about half of the sidecar's CPU per proxied call (measured with py-spy under load: the
connection pool's bookkeeping and anyio's stream wrappers). This transport does the same job with
asyncio streams directly: one keep-alive pool per origin, the request written in one piece, the answer's
raw bytes streamed back (decoding stays with the caller, under its size cap).

It honours the request's ``timeout`` extension (connect, read, write, pool) and calls its ``trace``
extension with ``http11.send_request_body.complete`` once the whole request is written, as httpcore does,
so callers still know whether a failure struck before or after the partner could have acted.
"""

from __future__ import annotations

import asyncio
import contextlib
import select
import ssl
from collections import defaultdict
from collections.abc import AsyncIterator

import httpx

__all__ = ["PooledTransport"]

_MAX_LINE = 64 * 1024
_MAX_HEADERS = 200


class _Connection:
    __slots__ = ("key", "reader", "writer")

    def __init__(
        self, key: tuple[str, str, int], reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.key = key
        self.reader = reader
        self.writer = writer

    def usable(self) -> bool:
        """Open, and with nothing unread: the next bytes read are the answer to the next request.

        Bytes left from an earlier answer (a server that sent more than its Content-Length) or sent unasked
        (a 408 to an idle connection) would be read as the next request's answer, so a connection with any
        byte in its reader's buffer, or waiting on its socket, or at end of file, is not reused.
        """
        if self.writer.is_closing() or self.reader.at_eof() or self.reader._buffer:  # type: ignore[attr-defined]
            return False
        sock = self.writer.get_extra_info("socket")
        if sock is None or not hasattr(select, "poll"):
            return True
        poller = select.poll()
        poller.register(sock.fileno(), select.POLLIN | select.POLLPRI)
        return not poller.poll(0)  # readable, or hung up / in error (poll reports those too)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.transport.abort()


def _timeouts(request: httpx.Request) -> dict[str, float | None]:
    value = request.extensions.get("timeout") or {}
    return {k: value.get(k) for k in ("connect", "read", "write", "pool")}


async def _read_line(reader: asyncio.StreamReader, timeout: float | None) -> bytes:
    try:
        async with asyncio.timeout(timeout):
            return await _line(reader)
    except TimeoutError as exc:
        raise httpx.ReadTimeout("no answer within the read timeout") from exc


async def _line(reader: asyncio.StreamReader) -> bytes:
    """One line, its failures as httpx errors; the caller bounds the time (one timer per answer head)."""
    try:
        return await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError as exc:
        raise httpx.RemoteProtocolError("the server closed the connection without a complete answer") from exc
    except asyncio.LimitOverrunError as exc:
        raise httpx.RemoteProtocolError("an answer line is too long") from exc
    except (ConnectionError, OSError) as exc:
        raise httpx.ReadError(str(exc) or type(exc).__name__) from exc


class _Body(httpx.AsyncByteStream):
    """The raw body of one answer; gives the connection back to the pool once read to the end."""

    def __init__(
        self,
        transport: PooledTransport,
        conn: _Connection,
        length: int | None,
        chunked: bool,
        keep: bool,
        read: float | None,
    ) -> None:
        self._transport = transport
        self._conn = conn
        self._length = length
        self._chunked = chunked
        self._keep = keep
        self._read = read
        self._done = False

    async def _exactly(self, n: int) -> bytes:
        try:
            async with asyncio.timeout(self._read):
                return await self._conn.reader.readexactly(n)
        except asyncio.IncompleteReadError as exc:
            raise httpx.RemoteProtocolError("the answer ended before its announced length") from exc
        except TimeoutError as exc:
            raise httpx.ReadTimeout("the answer stalled") from exc
        except (ConnectionError, OSError) as exc:
            raise httpx.ReadError(str(exc) or type(exc).__name__) from exc

    async def __aiter__(self) -> AsyncIterator[bytes]:
        reader = self._conn.reader
        if self._chunked:
            while True:
                size_line = await _read_line(reader, self._read)
                try:
                    size = int(size_line.split(b";", 1)[0].strip(), 16)
                except ValueError as exc:
                    raise httpx.RemoteProtocolError("a malformed chunk size") from exc
                if size == 0:
                    while (await _read_line(reader, self._read)).strip():  # trailers
                        pass
                    break
                remaining = size
                while remaining:
                    piece = await self._exactly(min(remaining, 65536))
                    remaining -= len(piece)
                    yield piece
                await self._exactly(2)
        elif self._length is not None:
            remaining = self._length
            while remaining:
                piece = await self._exactly(min(remaining, 65536))
                remaining -= len(piece)
                yield piece
        else:  # until the server closes
            self._keep = False
            while True:
                try:
                    async with asyncio.timeout(self._read):
                        piece = await reader.read(65536)
                except TimeoutError as exc:
                    raise httpx.ReadTimeout("the answer stalled") from exc
                except (ConnectionError, OSError) as exc:
                    raise httpx.ReadError(str(exc) or type(exc).__name__) from exc
                if not piece:
                    break
                yield piece
        self._done = True

    async def aclose(self) -> None:
        if self._done and self._keep:
            self._transport._release(self._conn)
        else:
            self._conn.close()


class PooledTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 over asyncio streams with a keep-alive pool per origin.

    Args:
        ssl_context: for ``https://`` origins (client certificates, trusted CAs).
        max_idle_per_origin: idle keep-alive connections kept per origin.
    """

    def __init__(self, *, ssl_context: ssl.SSLContext | None = None, max_idle_per_origin: int = 32) -> None:
        self._ssl = ssl_context
        self._max_idle = max_idle_per_origin
        self._idle: dict[tuple[str, str, int], list[_Connection]] = defaultdict(list)

    def _release(self, conn: _Connection) -> None:
        idle = self._idle[conn.key]
        if conn.usable() and len(idle) < self._max_idle:
            idle.append(conn)
        else:
            conn.close()

    async def _connect(self, key: tuple[str, str, int], timeout: float | None) -> _Connection:
        scheme, host, port = key
        context = (self._ssl or ssl.create_default_context()) if scheme == "https" else None
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(
                    host, port, ssl=context, server_hostname=host if context else None, limit=_MAX_LINE
                )
        except TimeoutError as exc:
            raise httpx.ConnectTimeout(f"no connection to {host}:{port} within the connect timeout") from exc
        except (OSError, ssl.SSLError) as exc:
            raise httpx.ConnectError(f"cannot connect to {host}:{port}: {exc}") from exc
        return _Connection(key, reader, writer)

    async def _checkout(self, key: tuple[str, str, int], timeout: float | None) -> tuple[_Connection, bool]:
        idle = self._idle[key]
        while idle:
            conn = idle.pop()
            if conn.usable():
                return conn, True
            conn.close()
        return await self._connect(key, timeout), False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send one request and return the answer with its raw body still to be read."""
        url = request.url
        scheme = url.scheme
        port = url.port or (443 if scheme == "https" else 80)
        key = (scheme, url.host, port)
        timeouts = _timeouts(request)
        trace = request.extensions.get("trace")
        body = await request.aread()
        headers = [
            (k, v)
            for k, v in request.headers.raw
            if k.lower() not in (b"transfer-encoding", b"content-length")
        ]
        head = [b"%s %s HTTP/1.1\r\n" % (request.method.encode(), url.raw_path)]
        head += [b"%s: %s\r\n" % (k, v) for k, v in headers]
        if body or request.method in ("POST", "PUT", "PATCH"):
            head.append(b"Content-Length: %d\r\n" % len(body))
        payload = b"".join(head) + b"\r\n" + body
        for attempt in range(2):
            conn, reused = await self._checkout(key, timeouts["connect"])
            try:
                conn.writer.write(payload)
                if conn.writer.transport.get_write_buffer_size():
                    async with asyncio.timeout(timeouts["write"]):
                        await conn.writer.drain()
                else:  # all handed to the kernel: nothing to wait for (drain still reports a lost connection)
                    await conn.writer.drain()
            except TimeoutError as exc:
                conn.close()
                raise httpx.WriteTimeout("the request could not be written in time") from exc
            except (ConnectionError, OSError) as exc:
                conn.close()
                if reused and attempt == 0:
                    continue  # a kept-alive connection the server had closed: nothing was sent; a fresh one
                raise httpx.WriteError(str(exc) or type(exc).__name__) from exc
            except BaseException:  # cancelled: the connection's state is unknown
                conn.close()
                raise
            try:
                if trace is not None:
                    await trace("http11.send_request_body.complete", {"request": request})
                return await self._answer(conn, request, timeouts["read"])
            except BaseException:  # a failed or cancelled answer leaves the connection unusable
                conn.close()
                raise
        raise httpx.ConnectError("no usable connection")  # pragma: no cover - the loop returns or raises

    async def _answer(self, conn: _Connection, request: httpx.Request, read: float | None) -> httpx.Response:
        try:
            async with asyncio.timeout(read):  # the whole head, interim answers included
                status, version, raw_headers = await self._head(conn.reader)
        except TimeoutError as exc:
            raise httpx.ReadTimeout("no answer within the read timeout") from exc
        lowered = {k.lower(): v for k, v in raw_headers}
        chunked = b"chunked" in lowered.get(b"transfer-encoding", b"").lower()
        length = None
        if not chunked and b"content-length" in lowered:
            try:
                length = int(lowered[b"content-length"])
            except ValueError as exc:
                raise httpx.RemoteProtocolError("a malformed Content-Length") from exc
        if request.method == "HEAD" or status in (204, 304):
            length, chunked = 0, False
        keep = lowered.get(b"connection", b"").lower() != b"close" and version != "HTTP/1.0"
        stream = _Body(self, conn, length, chunked, keep, read)
        return httpx.Response(
            status,
            headers=raw_headers,
            stream=stream,
            request=request,
            extensions={"http_version": b"HTTP/1.1"},
        )

    @staticmethod
    async def _head(reader: asyncio.StreamReader) -> tuple[int, str, list[tuple[bytes, bytes]]]:
        """The status, HTTP version and headers of the final answer (1xx interim answers skipped)."""
        while True:
            parts = (await _line(reader)).decode("latin-1").split(" ", 2)
            if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
                raise httpx.RemoteProtocolError("a malformed status line")
            status = int(parts[1])
            raw_headers: list[tuple[bytes, bytes]] = []
            while True:
                line = await _line(reader)
                if line in (b"\r\n", b"\n"):
                    break
                name, sep, value = line.partition(b":")
                if not sep or len(raw_headers) >= _MAX_HEADERS:
                    raise httpx.RemoteProtocolError("malformed answer headers")
                raw_headers.append((name.strip(), value.strip()))
            if status >= 200 or status == 101:
                return status, parts[0], raw_headers

    async def aclose(self) -> None:
        """Close every idle connection."""
        for idle in self._idle.values():
            for conn in idle:
                conn.close()
        self._idle.clear()
