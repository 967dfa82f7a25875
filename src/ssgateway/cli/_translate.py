"""``ssgateway translate``: a legacy file → canonical JSON Lines through an inbound mapping."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from ssgateway.cli._common import console_err, emit_json, interactive
from ssgateway.mapping import MappingCatalog
from ssgateway.mapping.csvfile import CsvLimits
from ssgateway.translate import TranslateSummary, translate_file


class Counts(Protocol):
    """What a bar shows besides bytes: records read and rejected so far."""

    read: int
    rejected: int


class FileProgress:
    """Progress bars on standard error, one per file, for long file jobs (terminals only)."""

    def __init__(self, console: Console) -> None:
        self._bar = Progress(
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
        self._tasks: dict[str, TaskID] = {}

    def update(self, label: str, done: int, total: int, counts: Counts) -> None:
        """Show ``label``'s file at ``done`` of ``total`` bytes."""
        task = self._tasks.get(label)
        if task is None:
            task = self._tasks[label] = self._bar.add_task(label, total=total, records=0, rejected=0)
        self._bar.update(task, completed=done, total=total, records=counts.read, rejected=counts.rejected)

    def finish(self, label: str) -> None:
        """Take ``label``'s bar away."""
        task = self._tasks.pop(label, None)
        if task is not None:
            self._bar.remove_task(task)

    @classmethod
    @contextlib.contextmanager
    def shown(cls, console: Console, *, enabled: bool) -> Iterator[FileProgress | None]:
        """Bars drawn while the block runs (None when not ``enabled``)."""
        if not enabled:
            yield None
            return
        progress = cls(console)
        with progress._bar:
            yield progress


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
    with FileProgress.shown(console_err, enabled=interactive() and not as_json) as bars:
        label = str(input_path)

        def progress(done: int, total: int, counts: TranslateSummary) -> None:
            if bars is not None:
                bars.update(label, done, total, counts)

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
            progress=progress if bars else None,
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
