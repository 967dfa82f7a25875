"""The partner transport against real servers on loopback: keep-alive, framing, timeouts, what was sent."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from ssgateway.httptransport import PooledTransport
from ssgateway.partnerhttp import PartnerHttp, RequestProgress
from ssgateway.testing.httpserver import Fault, Request, Response, SimServer


async def echo(request: Request) -> Response:
    if request.path == "/slow":
        return Response(body=b"late", delay=1.0)
    if request.path == "/reset":
        return Response(fault=Fault.RESET)
    if request.path == "/truncate":
        return Response(body=b"x" * 1000, fault=Fault.TRUNCATE)
    return Response(200, request.method.encode() + b" " + request.body, {"content-type": "text/plain"})


@pytest.fixture
async def server() -> AsyncIterator[SimServer]:
    async with SimServer(echo) as sim:
        yield sim


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=PooledTransport(), timeout=2.0) as http:
        yield http


async def test_keep_alive_reuses_one_connection(server: SimServer, client: httpx.AsyncClient) -> None:
    for i in range(20):
        r = await client.post(server.url + "/x", content=f"b{i}".encode())
        assert (r.status_code, r.text) == (200, f"POST b{i}")
    assert server.requests_seen == 20
    assert len(server._connections) == 1  # every request went over the same kept-alive connection


async def test_concurrent_requests_open_more_connections(
    server: SimServer, client: httpx.AsyncClient
) -> None:
    answers = await asyncio.gather(*(client.post(server.url + "/x", content=b"c") for _ in range(16)))
    assert all(a.text == "POST c" for a in answers)


async def test_failures_say_whether_the_request_was_sent(server: SimServer) -> None:
    http = PartnerHttp(partner="p", timeout=0.5)
    try:
        for path, sent in (("/reset", True), ("/truncate", True), ("/slow", True)):
            request, progress = http.build("POST", server.url + path, content=b"data")
            with pytest.raises(httpx.HTTPError if path != "/slow" else Exception):
                async with asyncio.timeout(0.5):
                    response = await http.client.send(request, stream=True)
                    await response.aread()
            assert progress.traced and progress.sent is sent
        free = server.port
    finally:
        await http.aclose()
    await server.stop()
    http = PartnerHttp(partner="p", timeout=0.5)
    try:
        request, progress = http.build("POST", f"http://127.0.0.1:{free}/", content=b"data")
        with pytest.raises(httpx.ConnectError):
            await http.client.send(request)
        assert not progress.sent
    finally:
        await http.aclose()


async def raw_server(
    answer: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
) -> asyncio.Server:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await answer(reader, writer)
        finally:
            writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


async def test_chunked_answers_and_interim_responses(client: httpx.AsyncClient) -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        writer.write(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
        )
        await writer.drain()

    server = await raw_server(answer)
    port = server.sockets[0].getsockname()[1]
    async with server:
        r = await client.get(f"http://127.0.0.1:{port}/")
    assert (r.status_code, r.text) == (200, "hello world")


async def test_answer_until_close_and_malformed_status(client: httpx.AsyncClient) -> None:
    async def until_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.0 200 OK\r\n\r\nthe whole body")
        await writer.drain()

    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"not http at all\r\n\r\n")
        await writer.drain()

    for answer, check in ((until_close, "ok"), (garbage, "error")):
        server = await raw_server(answer)
        port = server.sockets[0].getsockname()[1]
        async with server:
            if check == "ok":
                assert (await client.get(f"http://127.0.0.1:{port}/")).text == "the whole body"
            else:
                with pytest.raises(httpx.RemoteProtocolError):
                    await client.get(f"http://127.0.0.1:{port}/")


async def test_read_timeout(server: SimServer) -> None:
    async with httpx.AsyncClient(transport=PooledTransport(), timeout=httpx.Timeout(0.2)) as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.get(server.url + "/slow")


async def test_a_head_that_trickles_in_is_bounded_by_one_read_timeout() -> None:
    async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\n")
        for n in range(20):  # each line well within the timeout, the head as a whole not
            await asyncio.sleep(0.05)
            writer.write(b"X-Slow-%d: 1\r\n" % n)
            await writer.drain()

    server = await raw_server(trickle)
    port = server.sockets[0].getsockname()[1]
    async with server, httpx.AsyncClient(transport=PooledTransport(), timeout=httpx.Timeout(0.3)) as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.get(f"http://127.0.0.1:{port}/")


async def test_a_stale_kept_alive_connection_is_replaced(
    server: SimServer, client: httpx.AsyncClient
) -> None:
    assert (await client.post(server.url + "/x", content=b"1")).text == "POST 1"
    for writer in list(server._connections):  # the server drops the idle connection
        writer.transport.abort()
    await asyncio.sleep(0.05)
    assert (await client.post(server.url + "/x", content=b"2")).text == "POST 2"


async def _answer_each(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, first: bytes, then: bytes = b""
) -> None:
    """Answers every request with "answer to <body>"; the first answer is ``first`` and ``then`` follows it."""
    n = 0
    while True:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return
        length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        body = await reader.readexactly(length)
        n += 1
        answer = b"answer to " + body
        if n == 1 and first:
            writer.write(first)
            await writer.drain()
            if then:
                await asyncio.sleep(0.05)
                writer.write(then)
        else:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(answer), answer))
        await writer.drain()


async def test_a_connection_with_bytes_beyond_the_answer_is_not_reused(client: httpx.AsyncClient) -> None:
    connections = 0

    async def lying(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        smuggled = b"HTTP/1.1 200 OK\r\nContent-Length: 19\r\n\r\nanswer to request-A"
        await _answer_each(reader, writer, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nHELLO" + smuggled)

    server = await raw_server(lying)
    port = server.sockets[0].getsockname()[1]
    async with server, asyncio.timeout(5):
        first = await client.post(f"http://127.0.0.1:{port}/", content=b"request-A")
        second = await client.post(f"http://127.0.0.1:{port}/", content=b"request-B")
    assert first.text == "HELLO"
    assert second.text != "answer to request-A"
    assert connections == 2  # the first connection, with its leftover bytes, was dropped


async def test_an_answer_sent_unasked_to_an_idle_connection_is_not_read_as_the_next(
    client: httpx.AsyncClient,
) -> None:
    timeout = b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n"  # the connection stays open

    async def idle_408(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        ok = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst"
        await _answer_each(reader, writer, ok, then=timeout)

    server = await raw_server(idle_408)
    port = server.sockets[0].getsockname()[1]
    async with server, asyncio.timeout(5):
        assert (await client.post(f"http://127.0.0.1:{port}/", content=b"1")).text == "first"
        await asyncio.sleep(0.2)  # the 408 arrives while the connection is idle in the pool
        second = await client.post(f"http://127.0.0.1:{port}/", content=b"2")
    assert (second.status_code, second.text) == (200, "first")  # a new connection's first answer


async def test_a_connection_whose_socket_has_unread_bytes_is_not_usable() -> None:
    # Bytes the event loop has not read yet (it has not run since they arrived) count as well.
    arrived = asyncio.Event()

    async def talk(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 408 Request Timeout\r\n\r\n")
        await writer.drain()
        arrived.set()
        await reader.read()

    server = await raw_server(talk)
    port = server.sockets[0].getsockname()[1]
    transport = PooledTransport()
    async with server, asyncio.timeout(5):
        conn = await transport._connect(("http", "127.0.0.1", port), 2.0)
        try:
            await arrived.wait()
            time.sleep(0.1)  # blocks the loop: the bytes wait on the socket, not in the reader
            assert not conn.usable()
        finally:
            conn.close()


def test_progress_defaults() -> None:
    assert not RequestProgress().was_sent(httpx.ConnectError("x"))
    assert RequestProgress().was_sent(httpx.ReadError("x"))  # untraced: judged by the kind of failure
