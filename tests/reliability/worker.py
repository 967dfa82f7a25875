"""A separate process for the multi-process reliability tests.

    python tests/reliability/worker.py claim URL NAMESPACE KEYS    # wait for "go" on stdin, claim keys
    python tests/reliability/worker.py hold URL NAMESPACE KEY LEASE # claim one key, then hang
    python tests/reliability/worker.py relay URL NAMESPACE PARTNER_URL NAME   # relay until SIGTERM

Each prints one JSON line with its result (a relay: its stats, on SIGTERM).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import signal
import sys
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

import httpx

from ssgateway.errors import IdempotencyInProgress
from ssgateway.reliability import Claim, Relay, RetryPolicy, fingerprint, open_store
from ssgateway.testing.partner import partner_sender

CHAOS_POLICY = RetryPolicy(attempts=5, deadline=60.0, initial_backoff=0.05, max_backoff=0.5)


def emit(data: object) -> None:
    sys.stdout.write(json.dumps(data) + "\n")
    sys.stdout.flush()


async def claim(url: str, namespace: str, keys: int) -> None:
    async with open_store(url, namespace=namespace, pool_size=8) as store:
        await store.ping()
        names = [f"key-{i}" for i in range(keys)]
        random.shuffle(names)
        emit({"ready": True})
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)  # the start signal
        won: list[str] = []
        semaphore = asyncio.Semaphore(8)

        async def one(key: str) -> None:
            async with semaphore:
                try:
                    result = await store.idempotency.claim(key, fingerprint(key))
                except IdempotencyInProgress:
                    return
                if isinstance(result, Claim):
                    won.append(key)

        await asyncio.gather(*(one(k) for k in names))
        emit({"won": won})


async def hold(url: str, namespace: str, key: str, lease: float) -> None:
    async with open_store(url, namespace=namespace) as store:
        result = await store.idempotency.claim(key, fingerprint(key), lease=lease)
        assert isinstance(result, Claim)
        emit({"lease_expires_at": result.lease_expires_at, "token": result.token})
        await asyncio.sleep(3600)  # until killed


async def relay(url: str, namespace: str, partner_url: str, name: str) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
    async with (
        open_store(url, namespace=namespace, pool_size=4) as store,
        httpx.AsyncClient(base_url=partner_url, timeout=1.0, limits=limits) as client,
    ):
        worker = Relay(
            store.outbox,
            partner_sender(client),
            policy=CHAOS_POLICY,
            name=name,
            concurrency=16,
            lease=3.0,
            poll_interval=0.1,
        )
        emit({"started": name})
        stats = await worker.run(stop)
        emit(asdict(stats))


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("claim")
    p.add_argument("url")
    p.add_argument("namespace")
    p.add_argument("keys", type=int)
    p = sub.add_parser("hold")
    p.add_argument("url")
    p.add_argument("namespace")
    p.add_argument("key")
    p.add_argument("lease", type=float)
    p = sub.add_parser("relay")
    p.add_argument("url")
    p.add_argument("namespace")
    p.add_argument("partner_url")
    p.add_argument("name")
    args = parser.parse_args()
    if args.command == "claim":
        asyncio.run(claim(args.url, args.namespace, args.keys))
    elif args.command == "hold":
        asyncio.run(hold(args.url, args.namespace, args.key, args.lease))
    else:
        asyncio.run(relay(args.url, args.namespace, args.partner_url, args.name))


if __name__ == "__main__":
    main()
