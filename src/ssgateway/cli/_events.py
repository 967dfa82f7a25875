"""``ssgateway events``: import a batch of events, list subscribers, show what happened to one event."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from ssgateway.cli._common import console, console_err, emit_json
from ssgateway.config import EVENT_OPERATIONS, GatewayConfig, load_config, validate_adapter_configs
from ssgateway.errors import NotFound
from ssgateway.mapping import MappingCatalog
from ssgateway.registry import default_registry
from ssgateway.reliability import store_from_config
from ssgateway.runtime.batches import ImportSummary
from ssgateway.runtime.events import EventIntake

events_app = typer.Typer(
    help="Events (deaths, survival certifications): import batches, subscribers, one event's deliveries.",
    no_args_is_help=True,
)

CONFIG = typer.Option(..., "--config", help="The gateway's configuration file.")
JSON = typer.Option(False, "--json", help="Print JSON.")


def _intake(config: GatewayConfig) -> EventIntake:
    registry = default_registry()
    validate_adapter_configs(config, registry)  # subscribers exist and serve their events
    deduplicated = {
        name: registry.get(partner.adapter).deduplicated for name, partner in config.partners.items()
    }
    return EventIntake(config, store_from_config(config), deduplicated)


@events_app.command("import")
def import_(
    input_path: Path = typer.Argument(..., metavar="FILE", help="The batch (a civil-affairs CSV of deaths)."),
    mapping: str = typer.Option(
        ..., "--mapping", "-m", help="Inbound mapping of DeathNotice or SurvivalCertification."
    ),
    config: Path = CONFIG,
    rejects: Path | None = typer.Option(
        None, "--rejects", help="Rejected records, one JSON object each (default: FILE.rejects.jsonl)."
    ),
    encoding: str | None = typer.Option(
        None, "--encoding", help="The file's encoding (default: the mapping's)."
    ),
    mappings_dir: list[Path] = typer.Option(
        [], "--mappings-dir", help="Extra directory of mappings (repeatable)."
    ),
    as_json: bool = JSON,
) -> None:
    """Record every event of FILE once and fan it out, as if each had been pushed; reject bad records.

    Deliveries go to the outbox: the gateway's relays send them (run `ssgateway serve` on the same store).
    Importing a file again is safe: its events are repeats.
    """
    settings = load_config(config)
    catalog = MappingCatalog([*mappings_dir, *(settings.base_dir / p for p in settings.mapping_paths)])
    compiled = catalog.inbound(mapping)
    intake = _intake(settings)
    target = rejects or input_path.with_name(input_path.name + ".rejects.jsonl")

    async def main() -> ImportSummary:
        async with intake.store:
            return await intake.import_file(compiled, input_path, rejects=target, encoding=encoding)

    summary = asyncio.run(main())
    if as_json:
        emit_json({**summary.as_dict(), "rejects": str(target)})
        return
    console_err.print(
        f"{escape(str(input_path))}: read {summary.read:,}: {summary.recorded:,} new events fanned out, "
        f"{summary.duplicates:,} repeats, {summary.rejected:,} rejected (in {escape(str(target))})"
    )


@events_app.command("subscribers")
def subscribers(config: Path = CONFIG, as_json: bool = JSON) -> None:
    """Who receives each event, and the broker events are published to."""
    settings = load_config(config)
    validate_adapter_configs(settings, default_registry())
    events = settings.events
    broker = events.broker
    found: dict[str, Any] = {
        "subscribers": {op: list(events.subscribers.get(op, ())) for op in EVENT_OPERATIONS},
        "broker": None
        if broker is None
        else {"name": broker.name, "stream": broker.stream, "subjects": f"{broker.subject_prefix}.>"},
    }
    if as_json:
        emit_json(found)
        return
    table = Table("event", "subscribers")
    for op, names in found["subscribers"].items():
        table.add_row(op, ", ".join(names) or "(none: refused)")
    console.print(table)
    if broker is not None:
        console.print(f"also published to JetStream stream {broker.stream} ({broker.subject_prefix}.<event>)")


@events_app.command("show")
def show(
    key: str = typer.Argument(
        ..., help="The event key (death:<digest>), as a receipt or a log line names it."
    ),
    config: Path = CONFIG,
    as_json: bool = JSON,
) -> None:
    """What was recorded for one event and where each of its deliveries stands."""
    intake = _intake(load_config(config))

    async def main() -> dict[str, Any]:
        async with intake.store:
            record = await intake.record_of(key)
            if record is None:
                raise NotFound(f"no event {key} was recorded", code="event.not_found")
            deliveries = []
            for name, delivery_id in record.get("deliveries", {}).items():
                delivery = await intake.store.outbox.get(int(delivery_id))
                deliveries.append(
                    {"subscriber": name, "id": delivery.id, "state": delivery.state.value,
                     "attempts": delivery.attempts, "last_error": delivery.last_error}
                )  # fmt: skip
            return {
                "key": key,
                "operation": record["operation"],
                "received_at": record["received_at"],
                "fanned_out": record["fanned_out"],
                "deliveries": deliveries,
            }

    found = asyncio.run(main())
    if as_json:
        emit_json(found)
        return
    console.print(f"{found['operation']} {key}, received {found['received_at']}")
    table = Table("subscriber", "delivery", "state", "attempts", "last error")
    for d in found["deliveries"]:
        table.add_row(
            d["subscriber"], str(d["id"]), d["state"], str(d["attempts"]), escape(d["last_error"] or "")
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add the command group to the root command."""
    app.add_typer(events_app, name="events")
