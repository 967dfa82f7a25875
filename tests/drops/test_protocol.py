"""The drop protocol: done markers, manifests, digests and counts, exactly once, failures emit nothing."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import psycopg
import pytest
from tests.drops.test_translate import check_rejects

from ssgateway.config import DropSourceConfig, RateConfig
from ssgateway.drops import Drop, DropIngestor
from ssgateway.errors import InputError
from ssgateway.mapping import Accepted, Rejection
from ssgateway.model import InsuranceType, Period
from ssgateway.reliability import Store, open_store
from ssgateway.testing.drops import FLEXIBLE_RATES, RATES, STANDARD_DEFECTS, GeneratedDrop, write_drop

SOURCE = "henan-provincial"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with open_store(f"sqlite:///{tmp_path / 'state.db'}") as opened:
        yield opened


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def tree(folder: Path) -> list[str]:
    return sorted(
        str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and ".db" not in p.name
    )


def copy_drop(drop: GeneratedDrop, folder: Path, stem: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for suffix in (".csv", ".manifest.json", ".done"):
        shutil.copy2(drop.csv.with_name(drop.stem + suffix), folder / f"{stem}{suffix}")


async def test_a_drop_is_ingested_with_exact_counts_and_moved_to_processed(
    tmp_path: Path, store: Store
) -> None:
    folder = tmp_path / "in"
    drop = write_drop(folder, "henan-202406", rows=3_000, defects=STANDARD_DEFECTS, seed=21)
    write_drop(folder, "still-writing", rows=10, done=False)  # no done marker: left alone
    (outcome,) = await DropIngestor(folder, SOURCE, store).run_once()
    assert outcome.status == "ingested", outcome.message
    rejected = drop.rejections(drop_checks=True)  # a period after the manifest's is rejected too
    assert (outcome.read, outcome.accepted, outcome.rejected) == (3_000, drop.accepted(), len(rejected))
    assert outcome.accepted + outcome.rejected == drop.records
    check_rejects(drop, lines(folder / "output" / "henan-202406.rejects.jsonl"), drop_checks=True)
    accepted = lines(folder / "output" / "henan-202406.jsonl")
    assert len(accepted) == outcome.accepted
    assert {r["provenance"]["source_system"] for r in accepted} == {SOURCE}  # type: ignore[index]
    assert tree(folder) == [
        "output/henan-202406.jsonl", "output/henan-202406.rejects.jsonl", "processed/henan-202406.csv",
        "processed/henan-202406.done", "processed/henan-202406.manifest.json",
        "processed/henan-202406.summary.json", "still-writing.csv", "still-writing.manifest.json",
    ]  # fmt: skip
    summary = json.loads((folder / "processed" / "henan-202406.summary.json").read_text())
    assert summary["rejected_by"]["period"] == 4 and summary["records"] == 3_000


async def test_the_same_drop_delivered_twice_even_renamed_is_ingested_once(
    tmp_path: Path, store: Store
) -> None:
    folder = tmp_path / "in"
    drop = write_drop(tmp_path / "sent", "henan-202406", rows=500, defects=STANDARD_DEFECTS, seed=5)
    copy_drop(drop, folder, "henan-202406")
    copy_drop(drop, folder, "henan-202406-resent")
    first = await DropIngestor(folder, SOURCE, store).run_once()
    assert sorted(o.status for o in first) == ["duplicate", "ingested"]
    copy_drop(drop, folder, "henan-202406")  # once more, under its first name, after it was processed
    copy_drop(drop, folder, "other-name")
    second = await DropIngestor(folder, SOURCE, store).run_once()
    assert [o.status for o in second] == ["duplicate", "duplicate"]
    assert all("already ingested as" in o.message for o in second)
    assert sorted(p.name for p in (folder / "output").glob("*.jsonl")) == [
        f"{drop.stem}.jsonl",
        f"{drop.stem}.rejects.jsonl",
    ]
    assert len(lines(folder / "output" / f"{drop.stem}.jsonl")) == drop.accepted()
    assert len(list((folder / "duplicates").glob("*.duplicate.json"))) == 3
    assert len(list((folder / "processed").glob("*.done"))) == 1


@pytest.mark.parametrize(
    ("damage", "code"),
    [
        ("manifest-invalid", "drop.manifest"),
        ("digest", "drop.digest"),
        ("count", "drop.count"),
        ("undecodable", "input.encoding"),
        ("source", "drop.source"),
        ("columns", "input.header"),
    ],
)
async def test_an_unusable_drop_moves_to_failed_and_emits_nothing(
    tmp_path: Path, store: Store, damage: str, code: str
) -> None:
    folder = tmp_path / "in"
    drop = write_drop(folder, "bad", rows=8_000, defects=STANDARD_DEFECTS, seed=8)
    assert drop.manifest is not None
    manifest = json.loads(drop.manifest.read_text())
    data = bytearray(drop.csv.read_bytes())
    if damage == "manifest-invalid":
        manifest.update(records=-1, period="202413")
        del manifest["sha256"]
    elif damage == "digest":
        data[-30] ^= 1
    elif damage == "count":
        manifest["records"] += 1
    elif damage == "undecodable":  # late in the file: batches were written before it was found
        data[data.index(b"\n", len(data) * 9 // 10) + 1] = 0x80
    elif damage == "source":
        manifest["source"] = "hubei-provincial"
    else:
        data[:6] = b"XXX002"  # AAC002 is no more
    if damage in ("undecodable", "columns", "digest"):
        drop.csv.write_bytes(bytes(data))
        if damage != "digest":
            manifest["sha256"] = hashlib.sha256(bytes(data)).hexdigest()
    drop.manifest.write_text(json.dumps(manifest))
    workers = 2 if damage == "undecodable" else 0  # failing in worker processes too
    (outcome,) = await DropIngestor(folder, SOURCE, store, checkpoint_every=2_000, workers=workers).run_once()
    assert outcome.status == "failed", outcome.message
    report = json.loads((folder / "failed" / "bad.error.json").read_text())
    assert report["code"] == code, report
    assert tree(folder) == [
        "failed/bad.csv",
        "failed/bad.done",
        "failed/bad.error.json",
        "failed/bad.manifest.json",
    ]
    # nothing emitted, not even staged: the tree above holds every file under the folder
    if damage == "manifest-invalid":
        assert "records: Input should be greater than or equal to 0" in report["error"]
        assert "sha256: Field required" in report["error"] and "period" in report["error"]
    if damage == "count":
        assert "the manifest says 8001 records, the CSV holds 8000" in report["error"]


async def test_amounts_are_checked_against_rates_only_where_configured(tmp_path: Path, store: Store) -> None:
    folder = tmp_path / "in"
    defects = {**STANDARD_DEFECTS, "inconsistent_amount": 4}
    drop = write_drop(tmp_path / "sent", "d", rows=2_000, defects=defects, seed=13)
    copy_drop(drop, folder, "d")
    (plain,) = await DropIngestor(folder, SOURCE, store, output=tmp_path / "plain").run_once()
    assert plain.rejected == len(drop.rejections(rates=False))
    kinds = {"110": InsuranceType.ENTERPRISE_EMPLOYEE_PENSION, "210": InsuranceType.UNEMPLOYMENT,
             "310": InsuranceType.EMPLOYEE_MEDICAL, "410": InsuranceType.WORK_INJURY,
             "510": InsuranceType.MATERNITY}  # fmt: skip
    flexible = {code: individual for code, (_employer, individual) in FLEXIBLE_RATES.items()}
    rates = tuple(
        RateConfig(
            region="41",
            insurance_type=kinds[code],
            employer=employer,
            individual=individual,
            flexible=flexible.get(code),
            from_period=Period(2023, 1),
        )
        for code, (employer, individual) in RATES.items()
    )
    checked_folder = tmp_path / "checked"
    copy_drop(drop, checked_folder, "d")
    async with open_store(f"sqlite:///{tmp_path / 'other.db'}") as other:
        settings = DropSourceConfig(rates=rates)
        (checked,) = await DropIngestor(checked_folder, SOURCE, other, settings=settings).run_once()
    assert checked.rejected == len(drop.rejections(rates=True)) == plain.rejected + 4
    got = {r["line"]: r for r in lines(checked_folder / "output" / "d.rejects.jsonl")}
    for line, expected in drop.rejections(rates=True).items():
        if expected.defect == "inconsistent_amount":
            assert got[line]["field"] == "employer_amount" and "employer rate 0.16" in str(
                got[line]["reason"]
            )


async def test_a_drop_owned_by_a_live_ingester_is_left_to_it(tmp_path: Path, store: Store) -> None:
    folder = tmp_path / "in"
    drop = write_drop(folder, "d", rows=100, seed=1)
    ingestor = DropIngestor(folder, SOURCE, store)
    scan = Drop.open(folder, "d").verify()
    live = os.getppid()  # another process of this host, running: the owner
    owner = {
        "host": socket.gethostname(),
        "pid": live,
        "start": Path(f"/proc/{live}/stat").read_text().rsplit(")", 1)[1].split()[19],
    }
    await store.checkpoints.put(f"drops/{SOURCE}/{scan.sha256}", {"status": "running", "owner": owner,
                                                                   "heartbeat": time.time()}, 0)  # fmt: skip
    (outcome,) = await ingestor.run_once()
    assert outcome.status == "busy" and f"{owner['host']}:{owner['pid']}" in outcome.message
    assert drop.done is not None and drop.done.exists()


async def test_an_owner_gone_quiet_on_another_host_is_taken_over(tmp_path: Path, store: Store) -> None:
    folder = tmp_path / "in"
    drop = write_drop(folder, "d", rows=4_000, defects=STANDARD_DEFECTS, seed=2)
    clean = tmp_path / "clean"
    copy_drop(drop, clean, "d")
    async with open_store(f"sqlite:///{tmp_path / 'clean.db'}") as other:
        await DropIngestor(clean, SOURCE, other).run_once()
    ingestor = DropIngestor(folder, SOURCE, store, checkpoint_every=500, workers=0)
    ingestor.stop.set()  # stops after the first batch, with a checkpoint
    first = await ingestor.ingest("d")
    assert first.status == "interrupted"
    name = f"drops/{SOURCE}/{drop.sha256}"
    checkpoint = await store.checkpoints.get(name)
    assert checkpoint is not None
    stale = {**checkpoint.state, "owner": {"host": "elsewhere", "pid": 1}, "heartbeat": time.time() - 61}
    await store.checkpoints.put(name, stale, checkpoint.version)
    (old_staged,) = (folder / "output" / ".partial").glob("d.*[0-9a-f].jsonl")
    with old_staged.open("ab") as late:  # the old owner wakes up and writes on: not into the new files
        late.write(b"written late by the old owner\n")
    busy = await DropIngestor(folder, SOURCE, store, lease=120).ingest("d")
    assert busy.status == "busy" and "elsewhere:1" in busy.message  # within its lease: left alone
    outcome = await DropIngestor(folder, SOURCE, store, lease=60, workers=0).ingest("d")
    assert outcome.status == "ingested" and outcome.resumed_from == stale["line"]
    for output in ("d.jsonl", "d.rejects.jsonl"):
        assert (folder / "output" / output).read_bytes() == (clean / "output" / output).read_bytes()
    assert not list((folder / "output" / ".partial").iterdir())


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from ssgateway.cli import main; main()", *args],
                          capture_output=True, text=True, check=False, cwd=cwd, timeout=120)  # fmt: skip


def test_the_command_reports_each_drop_and_fails_with_status_3(tmp_path: Path) -> None:
    drop = write_drop(tmp_path / "in", "good", rows=300, defects=STANDARD_DEFECTS, seed=4)
    copy_drop(drop, tmp_path / "in", "good-again")
    write_drop(tmp_path / "in", "wrong-source", rows=10, source="hubei-provincial")
    result = cli("drops", "ingest", "in", "--source", SOURCE, "--json", cwd=tmp_path)
    assert result.returncode == 3, result.stderr
    outcomes = {o["stem"]: o for o in map(json.loads, result.stdout.splitlines())}
    assert {k: o["status"] for k, o in outcomes.items()} == {
        "good": "ingested", "good-again": "duplicate", "wrong-source": "failed"
    }  # fmt: skip
    assert outcomes["good"]["accepted"] == drop.accepted() and outcomes["good"]["rejected"] == len(
        drop.rejections()
    )
    assert (tmp_path / "in" / ".ssgateway-drops.db").exists()  # the default store lives with the drops
    again = cli("drops", "ingest", "in", "--source", SOURCE, cwd=tmp_path)
    assert again.returncode == 0 and again.stdout == ""


def test_watch_picks_up_drops_as_they_complete_and_stops_on_sigterm(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    args = [sys.executable, "-c", "from ssgateway.cli import main; main()", "drops", "ingest", "in", "--source",
            SOURCE, "--watch", "--interval", "0.2", "--json"]  # fmt: skip
    with subprocess.Popen(
        args, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        try:
            time.sleep(1.0)
            write_drop(folder, "first", rows=200, seed=1)
            write_drop(folder, "second", rows=200, seed=2, done=False)
            deadline = time.monotonic() + 30
            while not (folder / "processed" / "first.done").exists() and time.monotonic() < deadline:
                time.sleep(0.1)
            (folder / "second.done").touch()  # complete now
            while not (folder / "processed" / "second.done").exists() and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert [json.loads(line)["stem"] for line in out.splitlines()] == ["first", "second"]


@pytest.mark.postgres
def test_postgresql_keeps_the_checkpoints_when_asked(tmp_path: Path, postgres_dsn: str) -> None:
    namespace = f"drops_{uuid.uuid4().hex[:12]}"
    drop = write_drop(tmp_path / "in", "pg", rows=300, seed=6)
    copy_drop(drop, tmp_path / "in", "pg-renamed")
    try:
        result = cli("drops", "ingest", "in", "--source", SOURCE, "--store", postgres_dsn, "--namespace",
                     namespace, "--json", cwd=tmp_path)  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert sorted(json.loads(line)["status"] for line in result.stdout.splitlines()) == [
            "duplicate",
            "ingested",
        ]
        with psycopg.connect(postgres_dsn) as conn:
            rows = conn.execute(f'SELECT name FROM "{namespace}".checkpoints').fetchall()  # noqa: S608 - our namespace
        assert rows == [(f"drops/{SOURCE}/{drop.sha256}",)]
        assert not (tmp_path / "in" / ".ssgateway-drops.db").exists()
    finally:
        with psycopg.connect(postgres_dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{namespace}" CASCADE')


async def test_records_of_a_drop_for_services(tmp_path: Path) -> None:
    drop = write_drop(tmp_path, "d", rows=1_000, defects=STANDARD_DEFECTS, seed=10)
    outcomes = [o async for o in Drop.open(tmp_path, "d").records()]
    assert len(outcomes) == 1_000
    assert {o.position for o in outcomes if isinstance(o, Rejection)} == set(drop.rejections())
    assert sum(isinstance(o, Accepted) for o in outcomes) == drop.accepted()
    assert drop.manifest is not None
    manifest = json.loads(drop.manifest.read_text())
    manifest["records"] = 999
    drop.manifest.write_text(json.dumps(manifest))
    with pytest.raises(InputError, match="the manifest says 999 records, the CSV holds 1000"):
        async for _outcome in Drop.open(tmp_path, "d").records():
            pass
