"""Translating drops: known defects give exact counts and reasons; parallel output equals serial output."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ssgateway.drops import CsvTranslator
from ssgateway.errors import InputError
from ssgateway.mapping import Accepted, MappingCatalog, Rejection
from ssgateway.testing.drops import COLUMNS, STANDARD_DEFECTS, GeneratedDrop, write_drop
from ssgateway.translate import translate_file

DROP = "golden-insurance/contribution-drop"
WHEN = datetime(2024, 7, 3, 2, 15, tzinfo=UTC)


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from ssgateway.cli import main; main()", *args],
        capture_output=True, text=True, check=False, cwd=cwd,
    )  # fmt: skip


def check_rejects(drop: GeneratedDrop, rejects: list[dict[str, object]], *, drop_checks: bool) -> None:
    expected = drop.rejections(drop_checks=drop_checks)
    got = {r["line"]: r for r in rejects}
    assert sorted(got) == sorted(expected)
    for line, want in expected.items():
        rejection = got[line]
        assert rejection["field"] == want.kind.field, (want, rejection)
        assert want.kind.reason in str(rejection["reason"]), (want, rejection)
        assert rejection["code"] == want.kind.code, (want, rejection)


VARIANTS = {
    "gb18030-crlf": {"encoding": "gb18030"},
    "gb18030-bom-lf": {"encoding": "gb18030", "bom": True, "line_end": "\n"},
    "utf8-bom-lf": {"encoding": "utf-8-sig", "line_end": "\n"},
    "gbk-crlf-columns-reordered": {"encoding": "gbk", "columns": tuple(reversed(COLUMNS))},
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_a_drop_with_known_defects_gives_exact_counts_and_reasons(tmp_path: Path, variant: str) -> None:
    drop = write_drop(tmp_path, "henan-202406", rows=3_000, defects=STANDARD_DEFECTS, seed=7,
                      **VARIANTS[variant])  # type: ignore[arg-type]  # fmt: skip
    encoding = "auto" if variant.startswith("utf8") else drop.encoding
    result = cli("translate", drop.csv.name, "-m", DROP, "-o", "out.jsonl", "--rejects", "rej.jsonl",
                 "--encoding", encoding, "--json", cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    rejected = len(drop.rejections(drop_checks=False))
    assert summary["read"] == drop.records == 3_000
    assert (summary["accepted"], summary["rejected"]) == (drop.accepted(drop_checks=False), rejected)
    assert summary["accepted"] + summary["rejected"] == summary["read"]
    assert summary["rejected_by"] == {"citizen_id": 4, "insurance_type": 4, "period": 2, "base": 1,
                                      "record.malformed": 2}  # fmt: skip
    rejects = [json.loads(line) for line in (tmp_path / "rej.jsonl").read_text(encoding="utf-8").splitlines()]
    check_rejects(drop, rejects, drop_checks=False)
    accepted = [
        json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert len(accepted) == summary["accepted"]
    quoted = [r for r in accepted if r["provenance"]["extra"].get("AAE013")]
    assert [r["provenance"]["extra"]["AAE013"] for r in quoted] == [
        '补缴,含滞纳金\n单位名称变更为"郑州市某某科技有限公司"'
    ] * 3
    assert any(len(r["citizen_id"]) == 18 for r in accepted)
    assert "11010519491231002X" not in (tmp_path / "rej.jsonl").read_text(encoding="utf-8")


def test_rejected_personal_values_are_masked(tmp_path: Path) -> None:
    drop = write_drop(tmp_path, "d", rows=300, defects={"bad_check_digit": 5}, seed=3)
    translate_file(MappingCatalog().inbound(DROP), drop.csv, output=None, rejects=tmp_path / "r.jsonl")
    for line in (tmp_path / "r.jsonl").read_text(encoding="utf-8").splitlines():
        raw = json.loads(line)["raw"]
        assert len(raw) == 18 and raw[6:14] == "********"


def test_worker_processes_give_the_same_bytes_as_one_process(tmp_path: Path) -> None:
    drop = write_drop(tmp_path, "d", rows=6_000, defects=STANDARD_DEFECTS, seed=11)
    outputs = []
    for workers in (0, 2):
        translator = CsvTranslator(drop.csv, DROP, catalog=MappingCatalog(), received_at=WHEN, workers=workers,
                                   frame_bytes=64 * 1024)  # fmt: skip
        with translator:
            batches = list(translator.batches())
        assert translator.workers == workers
        assert len(batches) > 2  # several frames, so order matters
        outputs.append((b"".join(b.output for b in batches), b"".join(b.rejects for b in batches),
                        [b.end for b in batches]))  # fmt: skip
    assert outputs[0] == outputs[1]


def test_resuming_at_a_batch_end_gives_the_rest(tmp_path: Path) -> None:
    drop = write_drop(tmp_path, "d", rows=5_000, defects=STANDARD_DEFECTS, seed=5)
    with CsvTranslator(drop.csv, DROP, received_at=WHEN, workers=0, frame_bytes=32 * 1024) as translator:
        batches = list(translator.batches())
        middle = batches[len(batches) // 2]
        rest = list(translator.batches(middle.end))
    assert b"".join(b.output for b in rest) == b"".join(b.output for b in batches[len(batches) // 2 + 1 :])
    assert rest[-1].end.offset == drop.csv.stat().st_size


def test_a_file_unusable_halfway_leaves_no_output_even_in_parallel(tmp_path: Path) -> None:
    drop = write_drop(tmp_path, "d", rows=20_000, seed=2)
    data = bytearray(drop.csv.read_bytes())
    cut = data.index(b"\n", len(data) * 3 // 4) + 1  # an ASCII byte: the error is at it
    data[cut] = 0xFF
    drop.csv.write_bytes(bytes(data))
    line = data.count(b"\n", 0, cut) + 1
    result = cli("translate", "d.csv", "-m", DROP, "-o", "out.jsonl", "--rejects", "rej.jsonl",
                 "--workers", "2", cwd=tmp_path)  # fmt: skip
    assert result.returncode == 1
    assert f"at byte {cut} (line {line})" in result.stderr
    assert not (tmp_path / "out.jsonl").exists() and not (tmp_path / "rej.jsonl").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.csv", "d.done", "d.manifest.json"]


def test_a_terminal_gets_a_progress_bar_and_a_pipe_gets_quiet(tmp_path: Path) -> None:
    drop = write_drop(tmp_path, "d", rows=2_000, seed=1)
    args = [sys.executable, "-c", "from ssgateway.cli import main; main()", "translate", drop.csv.name,
            "-m", DROP, "-o", "out.jsonl"]  # fmt: skip
    leader, follower = pty.openpty()
    with subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.PIPE, stderr=follower,
                          env={**os.environ, "COLUMNS": "120", "TERM": "xterm"}) as proc:  # fmt: skip
        os.close(follower)
        drawn = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            drawn += chunk
        proc.wait()
    os.close(leader)
    assert proc.returncode == 0
    assert b"records" in drawn and b"\x1b[" in drawn  # the bar, drawn with terminal controls
    assert b"read 2,000, accepted 2,000, rejected 0" in drawn
    quiet = cli(*args[3:], cwd=tmp_path)
    assert quiet.returncode == 0 and "\x1b[" not in quiet.stderr and quiet.stderr.count("\n") == 1


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["somedir", "-m", DROP], "input.directory"),
        (["somedir", "-m", "medical-insurance/1101-output"], "input.directory"),  # a JSON mapping
        (["d.csv", "-m", DROP, "-o", "somedir"], "output.directory"),
        (["d.csv", "-m", DROP, "-o", "out.jsonl", "--rejects", "somedir"], "output.directory"),
    ],
)
def test_a_directory_for_a_file_is_a_one_line_error(tmp_path: Path, args: list[str], code: str) -> None:
    write_drop(tmp_path, "d", rows=20, seed=1)
    (tmp_path / "somedir").mkdir()
    result = cli("translate", *args, cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith(f"error [{code}]: somedir: is a directory")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.csv", "d.done", "d.manifest.json", "somedir"]
    assert not list((tmp_path / "somedir").iterdir())


async def test_records_come_off_the_event_loop_in_order(tmp_path: Path) -> None:
    drop = write_drop(tmp_path, "d", rows=4_000, defects=STANDARD_DEFECTS, seed=9)
    ticks = 0
    stop = asyncio.Event()

    async def heartbeat() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0)

    beat = asyncio.create_task(heartbeat())
    outcomes = [o async for o in CsvTranslator(drop.csv, DROP, source_system="henan").records()]
    stop.set()
    await beat
    assert len(outcomes) == 4_000
    assert [o.position for o in outcomes] == sorted(o.position for o in outcomes)
    rejected = {o.position for o in outcomes if isinstance(o, Rejection)}
    assert rejected == set(drop.rejections(drop_checks=False))
    first = next(o for o in outcomes if isinstance(o, Accepted))
    assert first.entity.provenance.source_system == "henan"  # type: ignore[attr-defined]
    assert ticks > 100  # the loop kept running while the file was parsed and mapped


async def test_async_batches_surface_input_errors(tmp_path: Path) -> None:
    (tmp_path / "bad.csv").write_bytes(b"AAC002,AAC002\n1,2\n")
    with pytest.raises(InputError, match="duplicate header columns"):
        async for _batch in CsvTranslator(tmp_path / "bad.csv", DROP).abatches():
            pass
    drop = write_drop(tmp_path, "d", rows=9_000, seed=4)
    batches = [b async for b in CsvTranslator(drop.csv, DROP, workers=2).abatches()]
    assert sum(b.read for b in batches) == 9_000
