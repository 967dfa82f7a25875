"""``ssgateway translate``: a legacy file → canonical JSON Lines through an inbound mapping."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from ssgateway.cli._common import console_err, emit_json
from ssgateway.mapping import MappingCatalog
from ssgateway.translate import translate_file


def translate(
    input_path: Path = typer.Argument(..., metavar="INPUT", help="The file to translate (CSV, XML or JSON)."),
    mapping: str = typer.Option(..., "--mapping", "-m", help="Inbound mapping id (or id@version)."),
    output: Path | None = typer.Option(
        None, "-o", "--output", help="Write canonical JSON Lines here (default: stdout)."
    ),
    rejects: Path | None = typer.Option(
        None, "--rejects", help="Write rejected records here, one JSON object each."
    ),
    encoding: str | None = typer.Option(
        None, "--encoding", help="Text encoding of a CSV input (default: the mapping's)."
    ),
    source: str | None = typer.Option(
        None, "--source", help="Source system named in provenance (default: the mapping id)."
    ),
    mappings_dir: list[Path] = typer.Option(
        [], "--mappings-dir", help="Extra directory of mappings (repeatable)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Translate INPUT to canonical JSON Lines; every record is accepted or written to the rejects file."""
    compiled = MappingCatalog(mappings_dir).inbound(mapping)
    stdout = sys.stdout.buffer if output is None else None
    summary = translate_file(
        compiled,
        input_path,
        output=output,
        rejects=rejects,
        encoding=encoding,
        source_system=source,
        stdout=stdout,
    )
    if as_json:
        (console_err.print if output is None else emit_json)(summary.as_dict())
        return
    console_err.print(
        f"{input_path}: read {summary.read:,}, accepted {summary.accepted:,}, rejected {summary.rejected:,}"
        f" in {summary.seconds:.2f} s ({summary.records_per_second:,.0f} records/s)"
    )
    if summary.rejected and rejects is None:
        console_err.print("rejected records were not kept: pass --rejects FILE to keep them")


def register(app: typer.Typer) -> None:
    """Add the command to the root command."""
    app.command("translate")(translate)
