"""The bank adapter's costs per payment, against validating the canonical batch itself.

For a batch of N payments (default 10,000), in one run: validating the canonical ``PaymentBatch`` (the
baseline: every call pays it), building its pain.001 messages and validating them against the XSD, reading
the pain.002 answers, and the whole ``payments.submit`` over loopback to the simulated bank (in the same
process, so its parsing, XSD check, booking and answering count too). Prints payments/s of each and its
cost relative to the baseline.

    python bench/bank.py [--payments 10000] [--per-message 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
from lxml import etree

from ssgateway.model import PaymentBatch
from ssgateway.sdk import AdapterContext
from ssgateway.testing import BankSimulator, Population
from ssgateway_adapters.bank_iso20022 import (
    PAIN001,
    BankIso20022Adapter,
    BankSettings,
    build_pain001,
    read_status_report,
    split_batch,
    validate,
)


def batch_data(bank: BankSimulator, n: int) -> dict[str, Any]:
    people = bank.population.people
    return {
        "batch_id": "BENCH-202406",
        "debtor_name": "郑州市社会保险基金",
        "debtor_account": "410100000123456789",
        "debtor_bank_code": "102491000010",
        "requested_execution_date": "2024-06-28",
        "instructions": [
            {
                "end_to_end_id": f"BENCH-{i:07d}",
                "citizen_id": people[i % len(people)].citizen_id,
                "name": people[i % len(people)].name,
                "account": bank.account_of(people[i % len(people)].citizen_id),
                "bank_code": "102100099996",
                "amount": f"{2000 + i % 997}.45",
                "payout_period": "2024-06",
            }
            for i in range(n)
        ],
    }


def build(batch: PaymentBatch, settings: BankSettings) -> list[tuple[list[str], bytes]]:
    """What the adapter does before sending: every message built and validated against the XSD."""
    now = datetime.now(UTC)
    messages = []
    for part in split_batch(batch, settings.max_transactions_per_message):
        document = build_pain001(batch, part, settings, now)
        validate(document, PAIN001)
        body = etree.tostring(document, xml_declaration=True, encoding="UTF-8")
        messages.append(([i.end_to_end_id for i in part.instructions], body))
    return messages


async def answers(population: Population, messages: list[tuple[list[str], bytes]]) -> list[bytes]:
    async with BankSimulator(population, seed=1) as bank, httpx.AsyncClient(base_url=bank.url) as client:
        return [(await client.post("/pain.001", content=body)).content for _, body in messages]


def best(repeat: int, run: Callable[[], Any]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


async def submit(bank: BankSimulator, batch: PaymentBatch, per_message: int) -> float:
    settings = BankSettings(endpoint=bank.url, max_transactions_per_message=per_message, timeout=120)
    adapter = BankIso20022Adapter(settings, AdapterContext(partner="bench"))
    await adapter.start()
    try:
        start = time.perf_counter()
        result = await adapter.call("payments.submit", batch)
        elapsed = time.perf_counter() - start
    finally:
        await adapter.close()
    assert result.accepted == batch.count  # type: ignore[attr-defined]
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payments", type=int, default=10_000)
    parser.add_argument("--per-message", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    n = args.payments
    population = Population.generate(seed=1, size=200)
    data = batch_data(BankSimulator(population, seed=1), n)
    batch = PaymentBatch.model_validate(data)
    settings = BankSettings(endpoint="http://127.0.0.1:9", max_transactions_per_message=args.per_message)

    baseline = best(args.repeat, lambda: PaymentBatch.model_validate(data))
    messages = build(batch, settings)
    building = best(args.repeat, lambda: build(batch, settings))
    reports = asyncio.run(answers(population, messages))
    read = best(
        args.repeat,
        lambda: [read_status_report(a, expected=e) for a, (e, _) in zip(reports, messages, strict=True)],
    )

    async def end_to_end() -> float:
        times = []
        for _ in range(args.repeat):
            async with BankSimulator(population, seed=1) as bank:
                times.append(await submit(bank, batch, args.per_message))
        return min(times)

    total = asyncio.run(end_to_end())
    size = sum(len(body) for _, body in messages)
    print(f"{n:,} payments in {len(messages)} messages ({size / 1e6:.1f} MB of pain.001)")
    print(f"{'step':<52}{'payments/s':>12}{'x baseline':>12}")
    for name, seconds in (
        ("canonical PaymentBatch validation (baseline)", baseline),
        ("build pain.001 + XSD validation", building),
        ("read the pain.002 answers", read),
        ("payments.submit end to end (bank in-process)", total),
    ):
        print(f"{name:<52}{n / seconds:>12,.0f}{seconds / baseline:>12.2f}")


if __name__ == "__main__":
    main()
