"""A big GB18030 contribution drop: ``ssgateway translate`` against the naive loop, and peak memory.

Generates a 1,000,000-row GB18030 drop (``ssgateway.testing.drops``), then prints, in one run:

- rows/s of ``ssgateway translate`` (the whole process, timed from outside: start-up, worker processes,
  reading, mapping, writing);
- rows/s of ``bench/naive_drop.py``: csv.DictReader + ``model_validate`` per row, the same JSON Lines;
- their ratio (target >= 1.0), after checking both outputs are the same (``received_at`` aside);
- the peak RSS of ``ssgateway translate`` on 1M and on 3M rows: the whole process tree (each process's
  high-water mark, summed over the command and its worker processes) and, as the kernel reports it
  (``getrusage(RUSAGE_CHILDREN)`` in a fresh wrapper process), the largest single process. Targets:
  under 200 MB, and 3M within 10 % of 1M.

    python bench/drops.py [--rows 1000000] [--big-rows 3000000] [--repeat 1] [--dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ssgateway.testing.drops import write_drop

HERE = Path(__file__).resolve().parent
TRANSLATE = [sys.executable, "-c", "from ssgateway.cli import main; main()", "translate"]
# runs a command, waits for it, prints the largest RSS (KiB) of it and every descendant it waited for, and
# the CPU seconds they used
WRAPPER = ("import resource, subprocess, sys; rc = subprocess.call(sys.argv[1:]); "
           "u = resource.getrusage(resource.RUSAGE_CHILDREN); "
           "print(u.ru_maxrss, u.ru_utime + u.ru_stime, file=sys.stderr); sys.exit(rc)")  # fmt: skip
RECEIVED = re.compile(rb'"received_at":"[^"]*"')


def descendants(root: int) -> set[int]:
    found, todo = {root}, [root]
    while todo:
        pid = todo.pop()
        children: list[str] = []
        for task in Path(f"/proc/{pid}/task").glob("*"):  # every thread's children
            try:
                children += (task / "children").read_text().split()
            except OSError:
                continue
        for child in map(int, children):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def high_water_kib(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    return int(match.group(1)) if match else 0


def run(command: list[str], stdout: Path | None = None) -> tuple[float, int, int, float, str]:
    """Seconds, tree peak (KiB), largest process (KiB), CPU seconds, the command's stdout (if not to a file)."""
    out = stdout.open("wb") if stdout else subprocess.PIPE
    peaks: dict[int, int] = {}
    start = time.perf_counter()
    with subprocess.Popen([sys.executable, "-c", WRAPPER, *command], stdout=out,
                          stderr=subprocess.PIPE) as proc:  # fmt: skip
        while proc.poll() is None:
            for pid in descendants(proc.pid) - {proc.pid}:  # the wrapper itself is not measured
                peaks[pid] = max(peaks.get(pid, 0), high_water_kib(pid))
            time.sleep(0.05)
        elapsed = time.perf_counter() - start
        text = proc.stdout.read().decode() if proc.stdout else ""
        errors = proc.stderr.read().decode() if proc.stderr else ""
    if stdout:
        out.close()  # type: ignore[union-attr]
    if proc.returncode:
        raise SystemExit(f"{command} failed:\n{errors}")
    largest, cpu = errors.strip().splitlines()[-1].split()
    return elapsed, sum(peaks.values()), int(largest), float(cpu), text


def same_output(a: Path, b: Path) -> int:
    lines = 0
    with a.open("rb") as left, b.open("rb") as right:
        for x, y in zip(left, right, strict=True):
            if RECEIVED.sub(b"", x) != RECEIVED.sub(b"", y):
                raise SystemExit(f"outputs differ at line {lines + 1}:\n{x[:300]!r}\n{y[:300]!r}")
            lines += 1
    return lines


def translate(
    csv_path: Path, work: Path, *, keep_output: bool
) -> tuple[float, int, int, float, dict[str, object]]:
    args = [*TRANSLATE, str(csv_path), "-m", "golden-insurance/contribution-drop", "--rejects",
            str(work / "rejects.jsonl"), "--json"]  # fmt: skip
    if keep_output:
        elapsed, tree, largest, cpu, text = run([*args, "-o", str(work / "translate.jsonl")])
        summary = json.loads(text.strip().splitlines()[0])
    else:  # records to stdout, thrown away: only memory is of interest
        elapsed, tree, largest, cpu, _ = run(args, stdout=Path("/dev/null"))
        summary = {}
    return elapsed, tree, largest, cpu, summary


def mib(kib: int) -> str:
    return f"{kib / 1024:,.0f} MiB"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--big-rows", type=int, default=3_000_000)
    parser.add_argument("--repeat", type=int, default=1, help="timed runs of each; the best is reported")
    parser.add_argument("--dir", type=Path, help="where to write the drops (default: a temporary directory)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-drops-", dir=args.dir))
    try:
        print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the start")
        start = time.perf_counter()
        drop = write_drop(work, "henan-202406", rows=args.rows, defects={"quoted": 500, "legacy_id": 500},
                          seed=1, manifest=False, done=False)  # fmt: skip
        size = drop.csv.stat().st_size
        print(
            f"drop: {args.rows:,} rows, {size / 2**20:,.0f} MiB GB18030 (generated in {time.perf_counter() - start:.1f} s)"
        )
        best = {"translate": float("inf"), "naive": float("inf")}
        cpu = {"translate": 0.0, "naive": 0.0}
        for _ in range(args.repeat):  # interleaved, so machine noise hits both alike
            elapsed, tree_1m, largest_1m, used, summary = translate(drop.csv, work, keep_output=True)
            if elapsed < best["translate"]:
                best["translate"], cpu["translate"] = elapsed, used
            naive = [sys.executable, str(HERE / "naive_drop.py"), str(drop.csv), str(work / "naive.jsonl"),
                     str(work / "naive-rejects.jsonl")]  # fmt: skip
            elapsed, _tree, _largest, used, _ = run(naive)
            if elapsed < best["naive"]:
                best["naive"], cpu["naive"] = elapsed, used
        assert summary["read"] == args.rows and summary["rejected"] == 0, summary
        lines = same_output(work / "translate.jsonl", work / "naive.jsonl")
        rate = {name: args.rows / seconds for name, seconds in best.items()}
        print(
            f"ssgateway translate: {rate['translate']:>9,.0f} rows/s ({best['translate']:.1f} s, whole process,"
            f" {summary['workers']} worker processes; {cpu['translate']:.1f} CPU-s in all)"
        )
        print(
            f"naive DictReader + model_validate: {rate['naive']:>9,.0f} rows/s ({best['naive']:.1f} s;"
            f" {cpu['naive']:.1f} CPU-s)"
        )
        print(
            f"ratio translate / naive: {rate['translate'] / rate['naive']:.2f} (target >= 1.0);"
            f" outputs identical ({lines:,} lines, received_at aside)"
        )
        for name in ("translate.jsonl", "naive.jsonl", "naive-rejects.jsonl"):
            (work / name).unlink()
        drop.csv.unlink()
        start = time.perf_counter()
        big = write_drop(work, "henan-big", rows=args.big_rows, seed=2, manifest=False, done=False)
        print(
            f"drop: {args.big_rows:,} rows, {big.csv.stat().st_size / 2**20:,.0f} MiB GB18030"
            f" (generated in {time.perf_counter() - start:.1f} s)"
        )
        elapsed, tree_3m, largest_3m, _cpu, _ = translate(big.csv, work, keep_output=False)
        print(f"translate {args.big_rows:,} rows: {args.big_rows / elapsed:,.0f} rows/s ({elapsed:.1f} s)")
        print(
            f"peak RSS, process tree (sum of each process's peak): {args.rows:,} rows {mib(tree_1m)},"
            f" {args.big_rows:,} rows {mib(tree_3m)}; {tree_3m / tree_1m:.3f} x (target: < 200 MiB, within 10 %)"
        )
        print(
            f"peak RSS, largest single process (getrusage): {args.rows:,} rows {mib(largest_1m)},"
            f" {args.big_rows:,} rows {mib(largest_3m)}"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
