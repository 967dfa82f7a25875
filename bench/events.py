"""What recording an event once costs, against the outbox writes its fan-out needs anyway.

For N death notices (default 500) and S subscribers (default 3), on a SQLite store in one run:

- baseline: S plain outbox enqueues per notice (the deliveries any fan-out must write);
- ``notify``: the event intake — read the record, compare-and-set it, the same S enqueues, mark it fanned
  out — for new events;
- ``notify`` again for every notice: a repeat (one read of the record, S reads of the deliveries' states).

No relay runs: this is what the caller waits for. Prints events/s and each against the baseline.

    python bench/events.py [--events 500] [--subscribers 3] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from ssgateway.config import parse_config
from ssgateway.model import DeathNotice
from ssgateway.reliability import open_store
from ssgateway.runtime import EventIntake
from ssgateway.testing import CivilAffairsSimulator, Population
from ssgateway.yamlfile import Located


async def measure(events: int, subscribers: int, workdir: Path) -> dict[str, float]:
    names = [f"s{i}" for i in range(subscribers)]
    partners = {n: {"adapter": "bank-iso20022", "config": {"endpoint": "http://127.0.0.1:1"}} for n in names}
    config = parse_config(
        Located(
            data={"partners": partners, "events": {"subscribers": {"deaths.notify": names}}},
            file=str(workdir / "g.yaml"),
        )
    )
    population = Population.generate(seed=1, size=events)
    civil = CivilAffairsSimulator(population, seed=1)
    notices: list[DeathNotice] = [civil.death_of(p.citizen_id) for p in population.people]
    found: dict[str, float] = {}
    async with open_store(f"sqlite:///{workdir / 'base.db'}") as store:
        start = time.perf_counter()
        for notice in notices:
            for name in names:
                await store.outbox.enqueue(
                    partner=name, operation="deaths.notify", payload=notice,
                    idempotency_key=notice.event_key, deduplicated=True,
                )  # fmt: skip
        found["baseline"] = time.perf_counter() - start
    async with open_store(f"sqlite:///{workdir / 'events.db'}") as store:
        intake = EventIntake(config, store, dict.fromkeys(names, frozenset({"deaths.notify"})))
        start = time.perf_counter()
        for notice in notices:
            await intake.notify("deaths.notify", notice)
        found["notify"] = time.perf_counter() - start
        start = time.perf_counter()
        for notice in notices:
            assert (await intake.notify("deaths.notify", notice)).duplicate
        found["repeat"] = time.perf_counter() - start
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--subscribers", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    best: dict[str, float] = {}
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            for key, seconds in asyncio.run(measure(args.events, args.subscribers, Path(tmp))).items():
                best[key] = min(best.get(key, seconds), seconds)
    base = best["baseline"]
    print(f"{args.events} death notices, {args.subscribers} subscribers, SQLite, best of {args.repeat}")
    for key, label in (
        ("baseline", f"{args.subscribers} plain outbox enqueues per notice"),
        ("notify", "notify, a new event (record + fan-out)"),
        ("repeat", "notify, a repeat (answered duplicate)"),
    ):
        rate = args.events / best[key]
        print(f"  {label:<48} {rate:8,.0f} events/s   {best[key] / base:5.2f}x the baseline")


if __name__ == "__main__":
    main()
