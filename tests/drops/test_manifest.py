"""Manifests: strict about what docs/drops.md promises, and a hostile one fails its drop, never the folder."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from ssgateway.drops import DropIngestor, Manifest, read_manifest
from ssgateway.errors import InputError
from ssgateway.reliability import Store, open_store
from ssgateway.testing.drops import write_drop

SOURCE = "henan-provincial"
BASE: dict[str, Any] = {
    "format": "golden-insurance/contribution-drop@1", "source": SOURCE, "region": "410000",
    "period": "202406", "records": 3, "sha256": "a" * 64, "encoding": "gb18030",
    "created_at": "2024-07-03T02:15:00+08:00",
}  # fmt: skip


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with open_store(f"sqlite:///{tmp_path / 'state.db'}") as opened:
        yield opened


def test_the_documented_manifest_is_valid() -> None:
    manifest = Manifest.model_validate(BASE)
    assert manifest.records == 3 and manifest.created_at.utcoffset() is not None


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("records", True),  # a JSON boolean is not a count
        ("records", "3"),
        ("records", 3.0),
        ("created_at", 0),  # a Unix time has no offset
        ("created_at", 1720000000),
        ("created_at", "1720000000"),
        ("created_at", "2024-07-03T02:15:00"),  # no offset
        ("created_at", "yesterday"),
    ],
)
def test_counts_and_timestamps_are_strict(key: str, value: object) -> None:
    with pytest.raises(ValidationError) as raised:
        Manifest.model_validate({**BASE, key: value})
    assert [e["loc"] for e in raised.value.errors()] == [(key,)]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"records": ' + "9" * 5_000 + "}", "a number far too long"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ],
)
def test_a_hostile_manifest_is_a_clear_input_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "d.manifest.json"
    path.write_text(text)
    with pytest.raises(InputError, match=message) as raised:
        read_manifest(path)
    assert raised.value.code == "drop.manifest"


async def test_a_hostile_manifest_fails_its_drop_and_the_folder_goes_on(tmp_path: Path, store: Store) -> None:
    folder = tmp_path / "in"
    for stem in ("big-int", "deep", "good"):
        drop = write_drop(folder, stem, rows=3, seed=1 + len(stem))
        assert drop.manifest is not None
        manifest = drop.manifest.read_text()
        if stem == "big-int":
            drop.manifest.write_text(manifest.replace('"records": 3', '"records": ' + "9" * 5_000))
            assert drop.manifest.read_text() != manifest
        elif stem == "deep":
            drop.manifest.write_text("[" * 100_000 + "]" * 100_000)
    outcomes = {o.stem: o for o in await DropIngestor(folder, SOURCE, store, workers=0).run_once()}
    assert {stem: o.status for stem, o in outcomes.items()} == {
        "big-int": "failed", "deep": "failed", "good": "ingested"
    }  # fmt: skip
    for stem in ("big-int", "deep"):
        report = json.loads((folder / "failed" / f"{stem}.error.json").read_text())
        assert report["code"] == "drop.manifest"
        assert sorted(p.name for p in (folder / "failed").glob(f"{stem}.*")) == [
            f"{stem}.csv", f"{stem}.done", f"{stem}.error.json", f"{stem}.manifest.json"
        ]  # fmt: skip
