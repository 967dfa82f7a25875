"""msgids never repeat across gateway processes running at once (PostgreSQL) nor across a restart (SQLite)."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.medical.conftest import INSTITUTION
from tests.reliability.conftest import drop_postgres, unique_namespace

from ssgateway.testing import MedicalSimulator, Population

WORKER = Path(__file__).with_name("worker.py")


@contextlib.contextmanager
def spawned(*commands: list[str]) -> Iterator[list[subprocess.Popen[str]]]:
    """Worker processes, all set up before any starts ("go"); killed if still running on exit."""
    with contextlib.ExitStack() as stack:
        processes = [
            stack.enter_context(
                subprocess.Popen(
                    [sys.executable, str(WORKER), *args],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )
            )
            for args in commands
        ]
        try:
            for process in processes:
                assert read_json(process) == {"ready": True}
            for process in processes:
                assert process.stdin is not None
                process.stdin.write("go\n")
                process.stdin.flush()
            yield processes
        finally:
            for process in processes:
                if process.poll() is None:
                    process.kill()


def read_json(process: subprocess.Popen[str]) -> dict[str, object]:
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line, f"worker exited with {process.wait()}"
    result: dict[str, object] = json.loads(line)
    return result


def seconds(msgids: list[str]) -> set[str]:
    return {m[12:26] for m in msgids}


@pytest.mark.postgres
async def test_two_generators_in_two_processes_at_once(postgres_dsn: str) -> None:
    namespace = unique_namespace()
    try:
        with spawned(*[["generate", postgres_dsn, namespace, "4000", "5"]] * 2) as processes:
            results = [read_json(p) for p in processes]
        first, second = (list(r["msgids"]) for r in results)  # type: ignore[call-overload]
        everything = first + second
        assert len(set(everything)) == len(everything) == 8000
        assert all(len(m) == 30 and m.startswith(INSTITUTION) for m in everything)
        # they ran at the same time: both numbered within the same seconds
        assert seconds(first) & seconds(second)
    finally:
        await drop_postgres(postgres_dsn, namespace)


@pytest.mark.postgres
async def test_two_gateway_processes_at_once_send_no_msgid_twice(
    postgres_dsn: str, population: Population
) -> None:
    namespace = unique_namespace()
    person = population.people[3]
    simulator = MedicalSimulator(population, institution_code=INSTITUTION)
    try:
        with simulator.in_thread():
            command = ["gateway", postgres_dsn, namespace, simulator.endpoint, "150"]
            command += [person.citizen_id, person.spells[-1].region]
            with spawned(command, command) as processes:
                results = [read_json(p) for p in processes]
    finally:
        await drop_postgres(postgres_dsn, namespace)
    assert results == [{"ok": 150, "errors": []}] * 2
    assert simulator.calls["1101"] == 300
    assert len(simulator.msgids) == 300 + simulator.sign_ins
    assert simulator.duplicate_msgids == []


def test_a_restart_within_the_same_second_repeats_no_msgid(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    at = "1772331330.25"  # both lives of the process see the same instant
    lives = []
    for _ in range(2):
        with spawned(["generate", url, "ssgateway", "30", "20", at]) as (process,):
            lives.append(list(read_json(process)["msgids"]))  # type: ignore[call-overload]
            assert process.wait() == 0
    before, after = lives
    assert seconds(before) == seconds(after) and len(seconds(before)) == 1
    assert not set(before) & set(after)
    assert [int(m[26:]) for m in after][:3] == [40, 41, 42]  # after the two blocks the first life took
