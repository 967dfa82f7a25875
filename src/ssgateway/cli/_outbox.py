"""``ssgateway outbox``: inspect the outbox, replay dead or unknown deliveries, resolve, purge."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.markup import escape
from rich.table import Table

from ssgateway.cli._common import console, emit_json
from ssgateway.config import load_config
from ssgateway.errors import ConfigError, RequestInvalid
from ssgateway.masking import mask_data
from ssgateway.reliability import Delivery, DeliveryState, Store, open_store

outbox_app = typer.Typer(
    help="The outbox: deliveries waiting, delivered, dead or unknown.", no_args_is_help=True
)

T = TypeVar("T")

STORE = typer.Option(None, "--store", help="Store URL: sqlite:///path, postgresql://… (not redis://).")
CONFIG = typer.Option(None, "--config", help="Configuration file whose store: section to use.")
NAMESPACE = typer.Option(
    None, "--namespace", help="Store namespace (default: the configuration's, or ssgateway)."
)
JSON = typer.Option(False, "--json", help="Print JSON instead of a table.")


def _run(
    store_url: str | None, config: Path | None, namespace: str | None, work: Callable[[Store], Awaitable[T]]
) -> T:
    if (store_url is None) == (config is None):
        raise typer.BadParameter("give exactly one of --store URL or --config FILE")

    async def main() -> T:
        if config is not None:
            settings = load_config(config)
            chosen = settings.store
            store = open_store(
                chosen.url,
                base_dir=settings.base_dir,
                namespace=namespace or chosen.namespace,
                pool_size=chosen.pool_size,
                timeout=chosen.timeout,
            )
        else:
            assert store_url is not None  # noqa: S101 - checked above
            store = open_store(store_url, base_dir=Path.cwd(), namespace=namespace or "ssgateway")
        path = getattr(store, "path", None)  # a SQLite store's file: reading must not create one
        if isinstance(path, str) and path != ":memory:" and not Path(path).exists():
            raise ConfigError(
                f"no store at {path}: check --store or the configuration (the gateway creates it when it "
                "first starts)",
                code="store.missing",
            )
        async with store:
            return await work(store)

    return asyncio.run(main())


def _when(stamp: float | None) -> str:
    return "-" if stamp is None else datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _as_json(delivery: Delivery, *, reveal: bool) -> dict[str, Any]:
    data = dataclasses.asdict(delivery)
    data["state"] = delivery.state.value
    data.pop("lease_token")
    if not reveal:
        data["payload"] = mask_data(delivery.payload)
        data["response"] = mask_data(delivery.response)
    return data


def _states(values: list[str] | None) -> list[DeliveryState] | None:
    if not values:
        return None
    try:
        return [DeliveryState(v) for v in values]
    except ValueError:
        known = ", ".join(s.value for s in DeliveryState)
        raise typer.BadParameter(f"a state is one of {known}") from None


def _totals_line(totals: dict[DeliveryState, int]) -> str:
    return " · ".join(f"{state.value} {totals[state]}" for state in DeliveryState)


@outbox_app.command("list")
def list_deliveries(
    state: list[str] | None = typer.Option(None, "--state", help="Only this state (repeatable)."),
    partner: str | None = typer.Option(None, "--partner", help="Only this partner."),
    after: int = typer.Option(0, "--after", help="Start after this delivery id."),
    limit: int = typer.Option(50, "--limit", min=1, help="At most this many."),
    as_json: bool = JSON,
    store: str | None = STORE,
    config: Path | None = CONFIG,
    namespace: str | None = NAMESPACE,
) -> None:
    """List deliveries (by id) and the number in each state."""
    states = _states(state)

    async def work(s: Store) -> tuple[list[Delivery], dict[DeliveryState, int]]:
        return await s.outbox.list(
            states=states, partner=partner, after=after, limit=limit
        ), await s.outbox.totals()

    deliveries, totals = _run(store, config, namespace, work)
    if as_json:
        emit_json(
            {
                "totals": {s.value: n for s, n in totals.items()},
                "deliveries": [_as_json(d, reveal=False) for d in deliveries],
            }
        )
        return
    table = Table("id", "state", "partner", "operation", "attempts", "next attempt (UTC)", "last error")
    for d in deliveries:
        error = f"[{d.last_error_code}] {d.last_error}" if d.last_error else ""
        table.add_row(
            str(d.id),
            d.state.value,
            d.partner,
            d.operation,
            str(d.attempts),
            _when(d.next_attempt_at),
            escape(error),
        )
    if deliveries:
        console.print(table)
    else:
        console.print("no deliveries match")
    console.print(_totals_line(totals))


@outbox_app.command("show")
def show(
    delivery_id: int = typer.Argument(..., help="The delivery id."),
    reveal: bool = typer.Option(False, "--reveal", help="Show personal data in the payload unmasked."),
    as_json: bool = JSON,
    store: str | None = STORE,
    config: Path | None = CONFIG,
    namespace: str | None = NAMESPACE,
) -> None:
    """Show one delivery: its state, attempts, last error and payload (masked unless --reveal)."""

    async def work(s: Store) -> Delivery:
        return await s.outbox.get(delivery_id)

    data = _as_json(_run(store, config, namespace, work), reveal=reveal)
    if as_json:
        emit_json(data)
        return
    for key, value in data.items():
        if key.endswith("_at"):
            shown = _when(value)
        elif key in ("payload", "response"):
            shown = json.dumps(value, ensure_ascii=False, indent=2)
        else:
            shown = str(value)
        console.print(f"[bold]{key}[/bold]: {escape(shown)}")


@outbox_app.command("replay")
def replay(
    ids: list[int] | None = typer.Argument(None, help="Delivery ids to replay."),
    every: bool = typer.Option(False, "--all", help="Replay every delivery in the chosen states."),
    state: list[str] | None = typer.Option(
        None,
        "--state",
        help="dead or unknown (repeatable). Default: both for named ids, dead only with --all.",
    ),
    partner: str | None = typer.Option(None, "--partner", help="Only this partner's."),
    store: str | None = STORE,
    config: Path | None = CONFIG,
    namespace: str | None = NAMESPACE,
) -> None:
    """Move dead or unknown deliveries back to pending, with a fresh retry budget.

    Reconcile an unknown delivery with the partner first: if the partner does not dedupe and already has
    it, replaying sends it twice (use `ssgateway outbox resolve` instead). So --all replays dead deliveries
    only, unless --state unknown names them.
    """
    if not ids and not every:
        raise typer.BadParameter("name delivery ids, or pass --all")
    states = _states(state)

    async def work(s: Store) -> int:
        return await s.outbox.replay(ids or None, states=states, partner=partner)

    moved = _run(store, config, namespace, work)
    console.print(f"replayed {moved} deliveries")


@outbox_app.command("resolve")
def resolve(
    delivery_id: int = typer.Argument(..., help="The delivery id."),
    note: str = typer.Option("reconciled", "--note", help="Why (kept as the delivery's last message)."),
    store: str | None = STORE,
    config: Path | None = CONFIG,
    namespace: str | None = NAMESPACE,
) -> None:
    """Mark a dead or unknown delivery as delivered, after reconciliation showed the partner has it."""

    async def work(s: Store) -> Delivery:
        return await s.outbox.resolve(delivery_id, note=note)

    _run(store, config, namespace, work)
    console.print(f"delivery {delivery_id} resolved as delivered")


_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd]?)$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def _seconds(text: str) -> float:
    match = _DURATION.match(text.strip())
    if match is None:
        raise RequestInvalid(f"a duration is a number with s, m, h or d (30d, 12h), got {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


@outbox_app.command("purge")
def purge(
    older_than: str = typer.Option(..., "--older-than", help="Age since the last change: 90s, 30m, 12h, 7d."),
    state: list[str] | None = typer.Option(
        None, "--state", help="delivered, dead or unknown (repeatable; default delivered)."
    ),
    store: str | None = STORE,
    config: Path | None = CONFIG,
    namespace: str | None = NAMESPACE,
) -> None:
    """Delete finished deliveries that have not changed for a while (never pending or leased ones)."""
    seconds = _seconds(older_than)
    states = _states(state) or [DeliveryState.DELIVERED]

    async def work(s: Store) -> int:
        return await s.outbox.purge(older_than=seconds, states=states)

    console.print(f"purged {_run(store, config, namespace, work)} deliveries")


def register(app: typer.Typer) -> None:
    """Add the command group to the root command."""
    app.add_typer(outbox_app, name="outbox")
