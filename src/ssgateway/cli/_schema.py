"""``ssgateway schema``: export the canonical model's JSON Schemas."""

from __future__ import annotations

from pathlib import Path

import typer

from ssgateway.cli._common import console
from ssgateway.errors import InputError
from ssgateway.schema import export_schemas

schema_app = typer.Typer(help="JSON Schemas of the canonical model.", no_args_is_help=True)


@schema_app.command("export")
def export(directory: Path = typer.Argument(..., help="Directory to write the schemas into.")) -> None:
    """Write one JSON Schema per canonical entity, plus index.json."""
    if directory.exists() and not directory.is_dir():
        raise InputError(
            f"{directory}: is a file; name a directory to write the schemas into", code="output.file"
        )
    try:
        paths = export_schemas(directory)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        message = f"{directory}: cannot write the schemas there ({reason})"
        raise InputError(message, code="output.unwritable") from None
    console.print(f"wrote {len(paths) - 1} entity schemas and index.json to {directory}")


def register(app: typer.Typer) -> None:
    """Add the command group to the root command."""
    app.add_typer(schema_app, name="schema")
