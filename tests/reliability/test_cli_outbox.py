"""``ssgateway outbox list|show|replay|resolve|purge`` on a SQLite store."""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ssgateway.cli import app
from ssgateway.errors import SSGatewayError
from ssgateway.reliability import DeliveryState, open_store

ACCOUNT = "6222020200012345678"


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


def run(*args: str, cwd: Path) -> Ran:
    """Run the command line in this process (as ``ssgateway.cli.main`` would report errors)."""
    previous = Path.cwd()
    os.chdir(cwd)
    try:
        result = CliRunner().invoke(app, list(args))
    finally:
        os.chdir(previous)
    if isinstance(result.exception, SSGatewayError):
        return Ran(1, result.stdout, f"error [{result.exception.code}]: {result.exception.message}")
    return Ran(result.exit_code, result.stdout, result.stderr)


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    async def fill() -> None:
        async with open_store("sqlite:///gw.db", base_dir=tmp_path, namespace="gw") as store:
            for i in range(4):
                await store.outbox.enqueue(
                    partner="bank" if i < 3 else "other",
                    operation="payments.submit",
                    payload={"ref": f"P{i}", "account": ACCOUNT},
                    idempotency_key=f"k{i}",
                    deduplicated=i != 1,
                )
            dead, unknown, delivered = await store.outbox.lease("relay", limit=3)
            await store.outbox.mark_dead(dead, f"account {ACCOUNT} closed")
            await store.outbox.mark_unknown(unknown, "reset after send")
            await store.outbox.mark_delivered(delivered, {"status": "ACCP"})

    asyncio.run(fill())
    (tmp_path / "gateway.yaml").write_text("version: 1\nstore:\n  url: sqlite:///gw.db\n  namespace: gw\n")
    return tmp_path


def totals(store_dir: Path) -> dict[str, int]:
    result = run("outbox", "list", "--config", "gateway.yaml", "--json", cwd=store_dir)
    assert result.returncode == 0, result.stderr
    data: dict[str, int] = json.loads(result.stdout)["totals"]
    return data


def test_list_and_show_mask_personal_data(store_dir: Path) -> None:
    table = run("outbox", "list", "--store", "sqlite:///gw.db", "--namespace", "gw", cwd=store_dir)
    assert table.returncode == 0, table.stderr
    assert "pending 1 · leased 0 · delivered 1 · dead 1 · unknown 1" in table.stdout
    assert ACCOUNT not in table.stdout
    listed = run("outbox", "list", "--config", "gateway.yaml", "--state", "dead", "--json", cwd=store_dir)
    (dead,) = json.loads(listed.stdout)["deliveries"]
    assert dead["state"] == "dead" and dead["payload"]["account"].endswith("5678")
    assert ACCOUNT not in listed.stdout and "lease_token" not in dead
    shown = run("outbox", "show", str(dead["id"]), "--config", "gateway.yaml", cwd=store_dir)
    assert shown.returncode == 0 and "last_error_code: error" in shown.stdout and ACCOUNT not in shown.stdout
    revealed = run(
        "outbox", "show", str(dead["id"]), "--config", "gateway.yaml", "--reveal", "--json", cwd=store_dir
    )
    assert json.loads(revealed.stdout)["payload"]["account"] == ACCOUNT
    missing = run("outbox", "show", "999", "--config", "gateway.yaml", cwd=store_dir)
    assert missing.returncode == 1 and "outbox.not_found" in missing.stderr


def test_awkward_payloads_are_masked_and_listed(tmp_path: Path) -> None:
    cid = "11010519491231002X"

    async def fill() -> None:
        async with open_store("sqlite:///gw.db", base_dir=tmp_path, namespace="gw") as store:
            payloads = (
                {"memo": f"pensioner\n{cid}\tcard\t{ACCOUNT}"},  # escaped in JSON text: \n11010…
                {"account": int(ACCOUNT), "count": 3},  # a card number sent as a JSON number
                {"instructions": [{"name": "赵慧慧", "account": "6222-0212"}]},  # names by their field
            )
            for n, payload in enumerate(payloads):
                await store.outbox.enqueue(
                    partner="bank",
                    operation="payments.submit",
                    payload=payload,
                    idempotency_key=f"k{n}",
                    deduplicated=True,
                )

    asyncio.run(fill())
    listed = run("outbox", "list", "--store", "sqlite:///gw.db", "--namespace", "gw", "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    memo, numeric, named = (d["payload"] for d in json.loads(listed.stdout)["deliveries"])
    assert memo["memo"] == "pensioner\n110105********002X\tcard\t***************5678"
    assert numeric == {"account": "***************5678", "count": 3}
    assert named == {"instructions": [{"name": "赵**", "account": "****0212"}]}
    assert "赵慧慧" not in listed.stdout
    shown = run("outbox", "show", "2", "--store", "sqlite:///gw.db", "--namespace", "gw", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    for text in (listed.stdout, shown.stdout):
        assert cid not in text and ACCOUNT not in text


def test_replay_all_leaves_unknown_deliveries_to_reconciliation(store_dir: Path) -> None:
    replayed = run("outbox", "replay", "--all", "--config", "gateway.yaml", cwd=store_dir)
    assert "replayed 1 deliveries" in replayed.stdout  # the dead one
    assert totals(store_dir) == {"pending": 2, "leased": 0, "delivered": 1, "dead": 0, "unknown": 1}
    named = run("outbox", "replay", "--all", "--state", "unknown", "--config", "gateway.yaml", cwd=store_dir)
    assert "replayed 1 deliveries" in named.stdout
    assert totals(store_dir)["unknown"] == 0


def test_replay_resolve_purge(store_dir: Path) -> None:
    assert totals(store_dir) == {"pending": 1, "leased": 0, "delivered": 1, "dead": 1, "unknown": 1}
    resolved = run(
        "outbox",
        "resolve",
        "2",
        "--note",
        "in the bank's statement",
        "--config",
        "gateway.yaml",
        cwd=store_dir,
    )
    assert resolved.returncode == 0, resolved.stderr
    replayed = run("outbox", "replay", "--all", "--config", "gateway.yaml", cwd=store_dir)
    assert "replayed 1 deliveries" in replayed.stdout
    assert totals(store_dir) == {"pending": 2, "leased": 0, "delivered": 2, "dead": 0, "unknown": 0}
    purged = run("outbox", "purge", "--older-than", "0s", "--config", "gateway.yaml", cwd=store_dir)
    assert "purged 2 deliveries" in purged.stdout
    assert totals(store_dir)[DeliveryState.DELIVERED.value] == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["outbox", "list"], "exactly one of --store URL or --config FILE"),
        (["outbox", "replay", "--store", "sqlite:///gw.db"], "ids, or pass --all"),
        (["outbox", "purge", "--older-than", "soon", "--store", "sqlite:///gw.db"], "a duration is"),
        (["outbox", "list", "--state", "lost", "--store", "sqlite:///gw.db"], "a state is one of"),
        (
            ["outbox", "purge", "--older-than", "1d", "--state", "pending", "--store", "sqlite:///gw.db"],
            "never purged",
        ),
        (["outbox", "list", "--store", "redis://127.0.0.1:1/0"], "needs a SQLite or PostgreSQL store"),
    ],
)
def test_usage_errors_are_clear(store_dir: Path, args: list[str], message: str) -> None:
    result = run(*args, cwd=store_dir)
    assert result.returncode != 0
    assert message in " ".join((result.stdout + result.stderr).split())
