"""A progress bar for long file jobs, shown on a terminal only."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Protocol

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
