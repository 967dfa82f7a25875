"""``ssgateway translate``: a legacy file → canonical JSON Lines through an inbound mapping."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from ssgateway.cli._common import console_err, emit_json, interactive
from ssgateway.mapping import MappingCatalog
from ssgateway.mapping.csvfile import CsvLimits
from ssgateway.translate import translate_file


class Counts(Protocol):
    """What the bar shows besides bytes: records read and rejected so far."""

    read: int
    rejected: int


ProgressFn = Callable[[int, int, Counts], None]
"""Called with bytes done, bytes in all, and the counts so far."""


@contextlib.contextmanager
def byte_progress(console: Console, label: str, *, enabled: bool) -> Iterator[ProgressFn | None]:
    """A progress callback drawing a bar on ``console`` (None when not ``enabled``)."""
    if not enabled:
        yield None
        return
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        DownloadColumn(),
        TextColumn("{task.fields[records]:>12,} records, {task.fields[rejected]:,} rejected"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )
    task = bar.add_task(label, total=None, records=0, rejected=0)

    def update(done: int, total: int, counts: Counts) -> None:
        bar.update(task, completed=done, total=total, records=counts.read, rejected=counts.rejected)

    with bar:
        yield update


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
        None,
        "--encoding",
        help="CSV encoding: gb18030, gbk, utf-8, utf-8-sig, or auto (strict UTF-8, else GB18030)."
        " Default: the mapping's.",
    ),
    source: str | None = typer.Option(
        None, "--source", help="Source system named in provenance (default: the mapping id)."
    ),
    mappings_dir: list[Path] = typer.Option(
        [], "--mappings-dir", help="Extra directory of mappings (repeatable)."
    ),
    workers: int | None = typer.Option(
        None, "--workers", min=0, help="CSV: worker processes (default: one per CPU for big files; 0: none)."
    ),
    max_field: int = typer.Option(
        CsvLimits().max_field,
        "--max-field",
        min=1,
        help="CSV: longest field in characters (longer: rejected).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON, and no progress."),
) -> None:
    """Translate INPUT to canonical JSON Lines; every record is accepted or written to the rejects file.

    On a terminal a progress bar shows how far a CSV file is; otherwise the command is quiet until its
    one-line summary (or, with --json, a JSON summary).
    """
    catalog = MappingCatalog(mappings_dir)
    compiled = catalog.inbound(mapping)
    stdout = sys.stdout.buffer if output is None else None
    with byte_progress(console_err, str(input_path), enabled=interactive() and not as_json) as progress:
        summary = translate_file(
            compiled,
            input_path,
            output=output,
            rejects=rejects,
            encoding=encoding,
            source_system=source,
            stdout=stdout,
            catalog=catalog,
            workers=workers,
            limits=CsvLimits(max_field=max_field),
            progress=progress,
        )
    if as_json:
        document = {"input": str(input_path), **summary.as_dict()}
        if output is None:  # stdout carries the records
            sys.stderr.write(json.dumps(document, ensure_ascii=False) + "\n")
        else:
            emit_json(document)
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
