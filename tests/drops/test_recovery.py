"""Recovering from what stops an ingestion halfway: a disk error under --watch, a kill mid-move, a purge."""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO, Any

import pytest
from tests.drops.test_protocol import copy_drop, lines, tree

import ssgateway.drops.ingest as ingest_module
from ssgateway.drops import DropIngestor
from ssgateway.drops.folder import move_drop
from ssgateway.reliability import Store, open_store
from ssgateway.testing.drops import STANDARD_DEFECTS, write_drop

SOURCE = "henan-provincial"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with open_store(f"sqlite:///{tmp_path / 'state.db'}") as opened:
        yield opened


async def test_a_drop_stopped_by_a_disk_error_is_resumed_by_the_same_process(
    tmp_path: Path, store: Store
) -> None:
    drop = write_drop(tmp_path / "sent", "d", rows=2_000, defects=STANDARD_DEFECTS, seed=1)
    clean, folder = tmp_path / "clean", tmp_path / "in"
    copy_drop(drop, clean, "d")
    copy_drop(drop, folder, "d")
    async with open_store(f"sqlite:///{tmp_path / 'clean.db'}") as other:
        await DropIngestor(clean, SOURCE, other, workers=0).run_once()
    ingestor = DropIngestor(folder, SOURCE, store, checkpoint_every=500, workers=0)
    real = ingestor._checkpoint
    calls = 0

    async def disk_full_once(claim: Any, files: tuple[IO[bytes], IO[bytes]]) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise OSError(28, "No space left on device")
        await real(claim, files)

    ingestor._checkpoint = disk_full_once  # type: ignore[method-assign]
    with pytest.raises(OSError, match="No space left"):  # what --watch logs before it looks again
        await ingestor.run_once()
    (outcome,) = await ingestor.run_once()  # the checkpoint names this very process as the owner
    assert outcome.status == "ingested", outcome.message
    assert outcome.resumed_from is not None and outcome.resumed_from > 1
    for output in ("d.jsonl", "d.rejects.jsonl"):
        assert (folder / "output" / output).read_bytes() == (clean / "output" / output).read_bytes()
    assert not list((folder / "output" / ".partial").iterdir())


class Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs."""


async def test_a_kill_while_moving_to_processed_is_finished_not_failed(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "in"
    drop = write_drop(tmp_path / "sent", "d", rows=300, defects=STANDARD_DEFECTS, seed=3)
    copy_drop(drop, folder, "d")

    def killed_after_the_csv(
        folder: Path, stem: str, to: str, *, name: str | None = None, report: dict[str, Any] | None = None
    ) -> Path:
        target = folder / to
        target.mkdir(exist_ok=True)
        (target / f"{name}.summary.json").write_text(json.dumps(report))
        (folder / f"{stem}.csv").replace(target / f"{name}.csv")
        raise Killed

    monkeypatch.setattr(ingest_module, "move_drop", killed_after_the_csv)
    with pytest.raises(Killed):
        await DropIngestor(folder, SOURCE, store).run_once()
    monkeypatch.setattr(ingest_module, "move_drop", move_drop)
    assert sorted(p.name for p in folder.iterdir() if p.is_file() and ".db" not in p.name) == [
        "d.done",
        "d.manifest.json",
    ]
    (outcome,) = await DropIngestor(folder, SOURCE, store).run_once()
    assert outcome.status == "ingested", outcome.message
    assert tree(folder) == [
        "output/d.jsonl", "output/d.rejects.jsonl", "processed/d.csv", "processed/d.done",
        "processed/d.manifest.json", "processed/d.summary.json",
    ]  # fmt: skip
    summary = json.loads((folder / "processed" / "d.summary.json").read_text())
    assert summary["accepted"] == drop.accepted() == len(lines(folder / "output" / "d.jsonl"))
    copy_drop(drop, folder, "d")  # delivered again afterwards: a duplicate
    assert [o.status for o in await DropIngestor(folder, SOURCE, store).run_once()] == ["duplicate"]


async def test_a_kill_while_moving_to_duplicates_is_finished_not_failed(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "in"
    drop = write_drop(tmp_path / "sent", "d", rows=100, seed=4)
    copy_drop(drop, folder, "d")
    await DropIngestor(folder, SOURCE, store).run_once()
    copy_drop(drop, folder, "d-resent")

    def killed_after_the_csv(
        folder: Path, stem: str, to: str, *, name: str | None = None, report: dict[str, Any] | None = None
    ) -> Path:
        (folder / to).mkdir(exist_ok=True)
        (folder / f"{stem}.csv").replace(folder / to / f"{name}.csv")
        raise Killed

    monkeypatch.setattr(ingest_module, "move_drop", killed_after_the_csv)
    with pytest.raises(Killed):
        await DropIngestor(folder, SOURCE, store).run_once()
    monkeypatch.setattr(ingest_module, "move_drop", move_drop)
    (outcome,) = await DropIngestor(folder, SOURCE, store).run_once()
    assert outcome.status == "duplicate", outcome.message
    assert sorted(p.name for p in (folder / "duplicates").iterdir()) == [
        "d-resent.csv", "d-resent.done", "d-resent.duplicate.json", "d-resent.manifest.json"
    ]  # fmt: skip
    assert not (folder / "failed").exists()


async def test_a_redelivery_after_processed_is_purged_is_still_a_duplicate(
    tmp_path: Path, store: Store
) -> None:
    folder = tmp_path / "in"
    drop = write_drop(tmp_path / "sent", "henan-202406", rows=200, defects=STANDARD_DEFECTS, seed=5)
    copy_drop(drop, folder, "henan-202406")
    (first,) = await DropIngestor(folder, SOURCE, store).run_once()
    assert first.status == "ingested"
    output = (folder / "output" / "henan-202406.jsonl").read_bytes()
    shutil.rmtree(folder / "processed")  # archived or purged, as docs/drops.md allows
    copy_drop(drop, folder, "henan-202406")
    copy_drop(drop, folder, "other-name")
    again = await DropIngestor(folder, SOURCE, store).run_once()
    assert [o.status for o in again] == ["duplicate", "duplicate"], [o.message for o in again]
    assert not (folder / "processed").exists()
    assert (folder / "output" / "henan-202406.jsonl").read_bytes() == output
    assert sorted(p.name for p in (folder / "output").glob("*.jsonl")) == [
        "henan-202406.jsonl",
        "henan-202406.rejects.jsonl",
    ]
