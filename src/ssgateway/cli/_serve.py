"""``ssgateway serve``: run the HTTP sidecar for a configuration file."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer

from ssgateway.config import load_config
from ssgateway.log import configure_logging
from ssgateway.runtime import Gateway
from ssgateway.server import create_app, listen_socket


def run_server(gateway: Gateway, host: str, port: int) -> None:
    """Start ``gateway``, then serve it with uvicorn until interrupted; in-flight requests finish on shutdown.

    Raises:
        SSGatewayError: the address cannot be bound, or the gateway cannot start (adapter settings,
            files, the store): one clear error each.
    """
    import uvicorn

    settings = gateway.config.server
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(gateway),
            host=host,
            port=port,
            log_config=None,
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=max(1, round(settings.graceful_timeout)),
            server_header=False,
        )
    )

    async def main() -> None:
        sock = listen_socket(host, port)  # a port already taken is one clear error, before anything starts
        async with gateway:
            await server.serve(sockets=[sock])

    # uvicorn's own choice of event loop (uvloop when installed), as ``uvicorn.Server.run`` would make it
    with asyncio.Runner(loop_factory=server.config.get_loop_factory()) as runner:
        runner.run(main())


def serve(
    config: Path = typer.Option(..., "--config", "-c", help="The gateway configuration file."),
    host: str | None = typer.Option(None, "--host", help="Listen address (default: server.host)."),
    port: int | None = typer.Option(
        None, "--port", min=0, max=65535, help="Listen port (default: server.port; 0: any free port)."
    ),
) -> None:
    """Run the sidecar: canonical operations over HTTP, with health, readiness and metrics endpoints."""
    settings = load_config(config)
    configure_logging(settings.logging.level, settings.logging.format)
    listen = settings.server.port if port is None else port
    run_server(Gateway(settings), host or settings.server.host, listen)


def register(app: typer.Typer) -> None:
    """Add the command to the root command."""
    app.command("serve")(serve)
