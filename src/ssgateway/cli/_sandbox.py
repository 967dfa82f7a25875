"""``ssgateway sandbox``: simulated partners and a real gateway on 127.0.0.1, with examples that work."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import sys
from pathlib import Path

import typer

from ssgateway.cli._common import console_err
from ssgateway.log import configure_logging


class LogLevel(enum.StrEnum):
    """Levels ``--log-level`` accepts."""

    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"


def sandbox(
    port: int = typer.Option(
        8480, "--port", min=0, max=65535, help="The sidecar's port on 127.0.0.1 (0: any free port)."
    ),
    api_key: str | None = typer.Option(
        None, "--api-key", help="The API key to accept (default: a new random one)."
    ),
    config_out: Path | None = typer.Option(
        None, "--config-out", help="Also write the generated configuration here."
    ),
    seed: int = typer.Option(7, "--seed", help="Seed of the synthetic population."),
    log_level: LogLevel = typer.Option(
        "WARNING",
        "--log-level",
        help="What the gateway logs to stderr, masked: INFO adds an access line per request.",
        case_sensitive=False,
    ),
) -> None:
    """Start simulated provinces and a gateway for them; print the URL, a key and curl examples."""
    from ssgateway.sandbox import Sandbox
    from ssgateway.server import new_key

    configure_logging(log_level.value, "text")

    async def main() -> None:
        box = Sandbox(port=port, api_key=api_key or new_key(), seed=seed)
        async with box.running():
            if config_out is not None:
                config_out.write_text(box.config_text, encoding="utf-8")
                console_err.print(f"wrote the configuration to {config_out}")
            sys.stdout.write(box.banner() + "\n")
            sys.stdout.flush()
            await box.wait_closed()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
    console_err.print("sandbox stopped")


def register(app: typer.Typer) -> None:
    """Add the command to the root command."""
    app.command("sandbox")(sandbox)
