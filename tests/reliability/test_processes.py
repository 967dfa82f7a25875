"""Several processes against one store: one winner per key, lease takeover after SIGKILL."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.reliability.conftest import make_factory, unique_namespace

from ssgateway.errors import IdempotencyInProgress
from ssgateway.reliability import Claim, fingerprint

WORKER = Path(__file__).with_name("worker.py")
PROCESSES, KEYS = 8, 500


def store_url(kind: str, address: str, namespace: str) -> str:
    return f"sqlite:///{Path(address) / namespace}.db" if kind == "sqlite" else address


@contextlib.contextmanager
def spawned(*commands: list[str]) -> Iterator[list[subprocess.Popen[str]]]:
    """Worker processes; killed (if still running) and their pipes closed on exit."""
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
            yield processes
        finally:
            for p in processes:
                if p.poll() is None:
                    p.kill()


def read_json(process: subprocess.Popen[str]) -> dict[str, object]:
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line, f"worker exited with {process.wait()}"
    result: dict[str, object] = json.loads(line)
    return result


@pytest.mark.slow
def test_contention_one_winner_per_key(backend: tuple[str, str], tmp_path: Path) -> None:
    kind, address = backend
    namespace = unique_namespace()
    factory = make_factory(kind, address, tmp_path)

    async def cleanup() -> None:
        async with factory(namespace=namespace) as store:
            await store.ping()

    url = store_url(kind, address, namespace)
    try:
        with spawned(*[["claim", url, namespace, str(KEYS)]] * PROCESSES) as workers:
            results = run_claimers(workers)
    finally:
        asyncio.run(cleanup())
    wins = Counter(key for r in results for key in r["won"])  # type: ignore[attr-defined]
    assert len(wins) == KEYS, f"{len(wins)} keys won of {KEYS}"
    assert set(wins.values()) == {1}, f"double winners: {[k for k, n in wins.items() if n > 1][:5]}"
    assert sum(1 for r in results if r["won"]) > 1, "the processes really competed"


def run_claimers(workers: list[subprocess.Popen[str]]) -> list[dict[str, object]]:
    for w in workers:
        assert read_json(w) == {"ready": True}
    for w in workers:  # start them together
        assert w.stdin is not None
        w.stdin.write("go\n")
        w.stdin.flush()
    results = [read_json(w) for w in workers]
    for w in workers:
        assert w.wait(timeout=60) == 0
    return results


@pytest.mark.slow
def test_lease_of_killed_holder_is_taken_over_after_it_ends(backend: tuple[str, str], tmp_path: Path) -> None:
    kind, address = backend
    namespace = unique_namespace()
    factory = make_factory(kind, address, tmp_path)
    lease = 1.5
    with spawned(["hold", store_url(kind, address, namespace), namespace, "pension-42", str(lease)]) as (
        holder,
    ):
        held = read_json(holder)
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
    expires = float(held["lease_expires_at"])  # type: ignore[arg-type]

    async def scenario() -> Claim:
        async with factory(namespace=namespace) as store:
            fp = fingerprint("pension-42")
            # before the lease ends: still the dead holder's (the lease is long enough for this to run first)
            assert time.time() < expires - 0.2, "the machine was too slow to check before the lease ended"
            with pytest.raises(IdempotencyInProgress):
                await store.idempotency.claim("pension-42", fp)
            await asyncio.sleep(max(0.0, expires - time.time()) + 0.05)
            taken = await store.idempotency.claim("pension-42", fp)
            assert isinstance(taken, Claim)
            await store.idempotency.complete(taken, {"paid": True})
            return taken

    taken = asyncio.run(scenario())
    assert taken.takeover and taken.attempt == 2 and taken.token != held["token"]
