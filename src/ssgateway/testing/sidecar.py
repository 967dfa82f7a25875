"""The sidecar for a gateway, served by uvicorn on a free port of 127.0.0.1, for tests over real sockets."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from ssgateway.runtime import Gateway

__all__ = ["running_sidecar"]


@contextlib.asynccontextmanager
async def running_sidecar(gateway: Gateway) -> AsyncIterator[str]:
    """Serve ``gateway`` (its lifespan starts and closes it) until the block ends; yields the base URL.

    ::

        async with running_sidecar(Gateway.from_config("gateway.yaml")) as url:
            httpx.post(f"{url}/v1/ops/person.lookup", ...)
    """
    import uvicorn

    from ssgateway.server import create_app

    server = uvicorn.Server(
        uvicorn.Config(
            create_app(gateway),
            host="127.0.0.1",
            port=0,
            log_config=None,
            access_log=False,
            lifespan="on",
            server_header=False,
        )
    )
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if serving.done():
                serving.result()
                raise RuntimeError("the sidecar stopped before it started")
            await asyncio.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await serving
