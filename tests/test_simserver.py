from __future__ import annotations

import asyncio

import httpx
import pytest

from ssgateway.testing.httpserver import Fault, Request, Response, SimServer


async def echo(request: Request) -> Response:
    if request.path == "/reset":
        return Response(fault=Fault.RESET)
    if request.path == "/truncate":
        return Response(body=b"x" * 1000, fault=Fault.TRUNCATE)
    if request.path == "/blackhole":
        return Response(fault=Fault.BLACKHOLE)
    if request.path == "/slow":
        return Response(body=b"late", delay=0.2)
    return Response(200, request.method.encode() + b" " + request.body, {"content-type": "text/plain"})


async def test_keep_alive_round_trips() -> None:
    async with SimServer(echo) as server, httpx.AsyncClient(base_url=server.url) as client:
        for i in range(5):
            r = await client.post("/x", content=f"body{i}".encode())
            assert r.status_code == 200 and r.text == f"POST body{i}"
        assert server.requests_seen == 5


async def test_faults() -> None:
    async with SimServer(echo) as server, httpx.AsyncClient(base_url=server.url, timeout=1.0) as client:
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            await client.get("/reset")
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            await client.get("/truncate")
        with pytest.raises(httpx.ReadTimeout):
            await client.get("/blackhole", timeout=0.3)
        start = asyncio.get_running_loop().time()
        assert (await client.get("/slow")).text == "late"
        assert asyncio.get_running_loop().time() - start >= 0.19


def test_in_thread_for_sync_callers() -> None:
    with SimServer(echo).in_thread() as server:
        assert httpx.post(server.url + "/a", content=b"hi").text == "POST hi"


def test_only_loopback() -> None:
    with pytest.raises(ValueError, match="loopback"):
        SimServer(echo, host="0.0.0.0")  # noqa: S104 - the point of the test


async def test_stopping_with_idle_connections_reports_no_error() -> None:
    loop = asyncio.get_running_loop()
    reported: list[dict[str, object]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    try:
        server = SimServer(echo)
        await server.start()
        async with httpx.AsyncClient(base_url=server.url) as client:
            assert (await client.get("/x")).status_code == 200  # the connection stays open, idle
            _, idle = await asyncio.open_connection("127.0.0.1", server.port)  # never sends a byte
            await asyncio.sleep(0.05)
            await server.stop()
            await asyncio.sleep(0.05)
            idle.close()
    finally:
        loop.set_exception_handler(previous)
    assert reported == []
