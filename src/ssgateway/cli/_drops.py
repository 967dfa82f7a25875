"""``ssgateway drops ingest``: ingest a folder of contribution drops exactly once, resumable."""

from __future__ import annotations

import asyncio
import signal
import sys
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import typer
from rich.markup import escape

from ssgateway.cli._common import console, console_err, emit_json, interactive
from ssgateway.cli._translate import FileProgress
from ssgateway.config import DropsConfig, DropSourceConfig, load_config
from ssgateway.drops import Drop, DropIngestor, DropOutcome
from ssgateway.mapping import MappingCatalog
from ssgateway.mapping.csvfile import csv_encoding
from ssgateway.reliability import open_store

drops_app = typer.Typer(help="Contribution file drops.", no_args_is_help=True)

_STYLE = {
    "ingested": "green",
    "duplicate": "yellow",
    "failed": "red",
    "busy": "blue",
    "interrupted": "yellow",
}


@drops_app.command("ingest")
def ingest(
    folder: Path = typer.Argument(..., metavar="DIR", help="The drop folder.", file_okay=False, exists=True),
    source: str = typer.Option(..., "--source", help="The source the folder is for; each manifest names it."),
    store_url: str | None = typer.Option(
        None,
        "--store",
        help="Where progress is kept: sqlite:///path or postgresql://… (default: the configuration's"
        " store, else DIR/.ssgateway-drops.db).",
    ),
    config: Path | None = typer.Option(
        None, "--config", help="Configuration file: its store:, drops: and mapping_paths."
    ),
    namespace: str | None = typer.Option(
        None, "--namespace", help="Store namespace (default: the configuration's, or ssgateway)."
    ),
    output: Path | None = typer.Option(
        None, "-o", "--output", help="Where canonical JSON Lines go (default: DIR/output)."
    ),
    watch: bool = typer.Option(False, "--watch", help="Keep polling the folder until interrupted."),
    interval: float | None = typer.Option(
        None, "--interval", min=0.01, help="Seconds between polls under --watch (default: 30)."
    ),
    checkpoint_every: int | None = typer.Option(
        None, "--checkpoint-every", min=1, help="Records between checkpoints (default: 50,000)."
    ),
    encoding: str | None = typer.Option(
        None, "--encoding", help="The drops' encoding, over the configuration and the manifests (or auto)."
    ),
    workers: int | None = typer.Option(
        None, "--workers", min=0, help="Worker processes (default: one per CPU for big files; 0: none)."
    ),
    mappings_dir: list[Path] = typer.Option(
        [], "--mappings-dir", help="Extra directory of mappings (repeatable)."
    ),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per drop on stdout, no progress."),
) -> None:
    """Ingest the complete drops of DIR: each exactly once, resuming any a killed run left halfway.

    Records go to the output folder as canonical JSON Lines (and rejections beside them); handled drops
    move to processed/, failed/ (with an error report, nothing emitted) or duplicates/. Exit status: 0,
    or 2 when a drop failed.
    """
    settings = load_config(config) if config else None
    drops = settings.drops if settings else DropsConfig()
    chosen = drops.sources.get(source, DropSourceConfig())
    if encoding is not None:
        chosen = chosen.model_copy(update={"encoding": csv_encoding(encoding)})
    if settings is not None and store_url is None:
        where = settings.store
        store = open_store(
            where.url,
            base_dir=settings.base_dir,
            namespace=namespace or where.namespace,
            timeout=where.timeout,
        )
    else:
        url = store_url or f"sqlite:///{(folder / '.ssgateway-drops.db').resolve()}"
        store = open_store(url, base_dir=Path.cwd(), namespace=namespace or "ssgateway")
    roots = (
        [*mappings_dir, *((settings.base_dir / p) for p in settings.mapping_paths)]
        if settings
        else mappings_dir
    )
    failed = False

    def report(outcome: DropOutcome) -> None:
        nonlocal failed
        failed = failed or outcome.status == "failed"
        if as_json:
            emit_json(outcome.as_dict())
        else:
            style = _STYLE[outcome.status]
            console.print(
                f"[{style}]{outcome.status}[/{style}] {escape(outcome.stem)}: {escape(outcome.message)}"
            )

    async def main() -> None:
        async with store:
            with FileProgress.shown(console_err, enabled=interactive() and not as_json) as bars:

                def progress(drop: Drop, done: int, total: int, counts: DropOutcome) -> None:
                    if bars is not None:
                        bars.update(drop.stem, done, total, counts)

                ingestor = DropIngestor(
                    folder, source, store, settings=chosen, output=output, catalog=MappingCatalog(roots),
                    checkpoint_every=checkpoint_every or drops.checkpoint_every, lease=drops.lease,
                    workers=workers, progress=progress if bars else None,
                )  # fmt: skip
                loop = asyncio.get_running_loop()
                for signum in (signal.SIGINT, signal.SIGTERM):
                    loop.add_signal_handler(signum, ingestor.stop.set)

                def done(outcome: DropOutcome) -> None:
                    if bars is not None:
                        bars.finish(outcome.stem)
                    report(outcome)

                if watch:
                    await ingestor.watch(interval or drops.poll_interval, done)
                else:
                    for outcome in await ingestor.run_once():
                        done(outcome)

    try:
        asyncio.run(main())
    except (OSError, BrokenProcessPool) as exc:  # the machine, not the drop: it resumes next time
        console_err.print(
            f"[red]error[/red] {escape(str(exc) or type(exc).__name__)}; drops resume on the next run"
        )
        sys.exit(1)
    if failed and not watch:
        sys.exit(3)  # 2 is a usage error, as for every command


def register(app: typer.Typer) -> None:
    """Add the command group to the root command."""
    app.add_typer(drops_app, name="drops")
