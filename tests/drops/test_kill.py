"""SIGKILL at random points, restart each time: the output is a clean run's, byte for byte."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.drops.test_protocol import SOURCE, copy_drop

from ssgateway.testing.drops import STANDARD_DEFECTS, write_drop

COMMAND = [sys.executable, "-c", "from ssgateway.cli import main; main()", "drops", "ingest", "in", "--source",
           SOURCE, "--checkpoint-every", "5000", "--json"]  # fmt: skip


def children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):  # every thread: the pool starts from a worker thread
        with contextlib.suppress(OSError):
            found.update(map(int, (task / "children").read_text().split()))
    return found


def gone(pids: set[int], within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not any(Path(f"/proc/{pid}").exists() for pid in pids):
            return True
        time.sleep(0.1)
    return False


@pytest.mark.slow
def test_a_drop_killed_at_random_points_ends_as_a_clean_run(tmp_path: Path) -> None:
    seed = int(os.environ.get("SSGATEWAY_KILL_SEED", time.time_ns() % 10**6))
    print(f"kill points drawn with seed {seed} (set SSGATEWAY_KILL_SEED to replay)")
    rng = random.Random(seed)
    defects = {kind: count * 20 for kind, count in STANDARD_DEFECTS.items()}
    sent = write_drop(tmp_path / "sent", "henan-202406", rows=200_000, defects=defects, seed=17)

    clean, killed = tmp_path / "clean", tmp_path / "killed"
    copy_drop(sent, clean / "in", sent.stem)  # same bytes, same done-marker time
    copy_drop(sent, killed / "in", sent.stem)
    result = subprocess.run(COMMAND, cwd=clean, capture_output=True, text=True, check=False, timeout=300)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["status"] == "ingested"

    # kill points: once while starting (imports, hashing, claiming, workers starting), then as the staged
    # output passes growing sizes
    total = (clean / "in" / "output" / f"{sent.stem}.jsonl").stat().st_size
    points: list[tuple[str, float]] = [("seconds", rng.uniform(0.3, 4.0))]
    points += [("bytes", fraction * total) for fraction in sorted(rng.uniform(0.05, 0.95) for _ in range(3))]
    staged = killed / "in" / "output" / ".partial"
    kills = 0
    for kind, point in points:
        with subprocess.Popen(COMMAND, cwd=killed, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
            started, workers = time.monotonic(), set()
            while proc.poll() is None:
                workers |= children(proc.pid)
                if kind == "seconds":
                    reached = time.monotonic() - started >= point
                else:
                    reached = sum(p.stat().st_size for p in staged.glob("*[0-9a-f].jsonl")) >= point
                if reached:
                    proc.send_signal(signal.SIGKILL)
                    kills += 1
                    break
                time.sleep(0.01)
            try:
                _out, err = proc.communicate(timeout=120)
            except subprocess.TimeoutExpired:  # something still holds its pipes: an orphaned worker?
                for pid in workers:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                raise
        assert gone(workers, within=5), "worker processes outlived their killed parent"
        assert proc.returncode in (0, -signal.SIGKILL), err
        print(f"{kind} {point:,.1f}: {'killed' if proc.returncode else 'finished first'}")
    result = subprocess.run(COMMAND, cwd=killed, capture_output=True, text=True, check=False, timeout=300)
    assert result.returncode == 0, result.stderr
    assert kills >= 3, f"only {kills} runs were killed mid-way"

    for name in (f"{sent.stem}.jsonl", f"{sent.stem}.rejects.jsonl"):
        assert (killed / "in" / "output" / name).read_bytes() == (clean / "in" / "output" / name).read_bytes()
    accepted = (killed / "in" / "output" / f"{sent.stem}.jsonl").read_bytes().count(b"\n")
    assert accepted == sent.accepted()
    assert sorted(p.name for p in (killed / "in" / "processed").iterdir()) == sorted(
        p.name for p in (clean / "in" / "processed").iterdir()
    )
    assert not list((killed / "in" / "output" / ".partial").iterdir())
    assert not (killed / "in" / "failed").exists() and not (killed / "in" / "duplicates").exists()


def test_a_worker_started_by_a_parent_already_gone_exits_at_once() -> None:
    # pid 1 is not this interpreter's parent: as for a worker whose parent was killed while it started
    code = "from ssgateway.drops.worker import init_worker; init_worker(None, 1); print('still here')"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 1 and "still here" not in result.stdout
