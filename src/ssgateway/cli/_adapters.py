"""``ssgateway adapters``: what is installed."""

from __future__ import annotations

import typer
from rich.table import Table

from ssgateway.cli._common import console, emit_json
from ssgateway.registry import default_registry

adapters_app = typer.Typer(help="Installed adapters.", no_args_is_help=True)


@adapters_app.command("list")
def list_adapters(
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List installed adapters, their versions and the operations they serve (broken ones with why)."""
    infos = default_registry().infos()
    if as_json:
        emit_json(
            [
                {
                    "name": i.name,
                    "version": i.version,
                    "operations": list(i.operations),
                    "source": i.source,
                    "error": i.error,
                }
                for i in infos
            ]
        )
        return
    if not infos:
        console.print("no adapters installed")
        return
    table = Table("adapter", "version", "operations", "status")
    for i in infos:
        table.add_row(
            i.name, i.version or "-", "\n".join(i.operations) or "-", "ok" if i.ok else f"broken: {i.error}"
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add the command group to the root command."""
    app.add_typer(adapters_app, name="adapters")
