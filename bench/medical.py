"""Medical-insurance adapter: what msgid blocks cost and save, and calls/s against the simulated platform.

Run:  .venv/bin/python bench/medical.py [--msgids 9000] [--calls 2000]
      (PostgreSQL rows too when SSGATEWAY_TEST_POSTGRES_DSN is set)

Prints, in one run:
- msgids/s from the generator alone, with the in-process counter as the baseline, and with blocks of 1, 10
  and 100 reserved through the store's checkpoints (SQLite, PostgreSQL), each as a ratio of the baseline,
  with the store round trips (reservations) it took;
- 1101 calls/s through the Gateway against the simulator in the same process, 32 at a time, msgids from
  the gateway's SQLite store vs from memory.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "adapters")]

INSTITUTION = "H44010600001"


async def msgids(count: int, counter: Any, block: int) -> tuple[float, int]:
    from ssgateway_adapters.medical_insurance.msgid import MsgIdGenerator

    generator = MsgIdGenerator(INSTITUTION, counter, block_size=block)
    await generator.next()  # a memory counter waits for the next second once; not what is measured
    started = time.perf_counter()
    for _ in range(count):
        await generator.next()
    return count / (time.perf_counter() - started), generator.reservations


async def generator_table(count: int, dsn: str | None) -> None:
    import psycopg

    from ssgateway.reliability import open_store
    from ssgateway_adapters.medical_insurance.msgid import CheckpointCounter, MemoryCounter

    baseline, _ = await msgids(count, MemoryCounter(time.time()), 100)
    print(f"msgids/s, {count} msgids per row; baseline: the in-process counter")
    print(f"  {'counter':<24}{'msgids/s':>12}{'ratio':>9}{'round trips':>13}")
    print(f"  {'memory':<24}{baseline:>12,.0f}{1.0:>9.2f}{0:>13}")
    with tempfile.TemporaryDirectory() as scratch:
        stores = [("sqlite", f"sqlite:///{scratch}/bench.db", "bench")]
        if dsn:
            stores.append(("postgresql", dsn, f"bench_{uuid.uuid4().hex[:8]}"))
        for kind, url, namespace in stores:
            try:
                async with open_store(url, namespace=namespace) as store:
                    for block in (1, 10, 100):
                        name = f"medical-insurance/msgid/{INSTITUTION}/{block}"
                        rate, trips = await msgids(count, CheckpointCounter(store.checkpoints, name), block)
                        label = f"{kind}, block {block}"
                        print(f"  {label:<24}{rate:>12,.0f}{rate / baseline:>9.3f}{trips:>13}")
            finally:
                if kind == "postgresql":
                    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
                        await conn.execute(f'DROP SCHEMA IF EXISTS "{namespace}" CASCADE')


async def calls(count: int, store: str) -> float:
    from tests.medical.conftest import adapter_config

    from ssgateway.config import parse_config
    from ssgateway.runtime import Gateway
    from ssgateway.testing import MedicalSimulator, Population
    from ssgateway.yamlfile import Located

    population = Population.generate(seed=1, size=50)
    with tempfile.TemporaryDirectory() as scratch:
        async with MedicalSimulator(population) as platform:
            config = adapter_config(platform.endpoint, msgid={"store": store})
            data = {
                "store": {"url": f"sqlite:///{scratch}/gw.db"},
                "partners": {"nhsa": {"adapter": "medical-insurance", "config": config}},
            }
            async with Gateway(parse_config(Located(data=data, file=f"{scratch}/gateway.yaml"))) as gw:
                people = [(p.citizen_id, p.spells[-1].region) for p in population.people]
                limit = asyncio.Semaphore(32)

                async def one(i: int) -> None:
                    citizen_id, region = people[i % len(people)]
                    async with limit:
                        await gw.call(
                            "medical.insurance_status", {"citizen_id": citizen_id, "region": region}
                        )

                await asyncio.gather(*(one(i) for i in range(len(people))))  # warm: sign-in, cached answers
                started = time.perf_counter()
                await asyncio.gather(*(one(i) for i in range(count)))
                return count / (time.perf_counter() - started)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--msgids", type=int, default=9000, help="msgids per row (10,000 a second at most)")
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    await generator_table(args.msgids, os.environ.get("SSGATEWAY_TEST_POSTGRES_DSN"))
    memory = await calls(args.calls, "memory")
    shared = await calls(args.calls, "gateway")
    print(f"1101 calls/s through the Gateway, {args.calls} calls, 32 at a time, simulator in-process")
    print(f"  msgids from memory              {memory:>10,.0f}  1.00")
    print(f"  msgids from the SQLite store    {shared:>10,.0f}  {shared / memory:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
