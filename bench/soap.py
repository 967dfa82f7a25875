"""SOAP bulk answers and contract loading: streaming vs zeep, and what the contract cache saves.

Run:  .venv/bin/python bench/soap.py [--rows 100000]

Prints, in one run:
- records/s for one QueryContributions answer of --rows rows parsed by the streaming path
  (RecordStream + a flat dict per row) and by zeep's own deserialisation, and the ratio;
- the streaming path through the compiled mapping (provincial-soap/query-contributions) to validated
  ContributionRecord entities, each let go once mapped;
- the peak RSS of each, each measured in its own fresh process;
- the same answer streamed end to end through SoapClient from the simulator over loopback (the
  simulator runs in the same process, so its copy of the answer counts in that RSS), and through the
  provincial-soap adapter's contributions.history, whose answer holds every record;
- contract loading: cold (fresh process), uncached rebuild, cached, and a SoapClient built on the cache.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

CHUNK = 64 * 1024


def rss_mib() -> float:
    """Peak resident set size of this process so far, in MiB.

    ``VmHWM`` rather than ``ru_maxrss``: Linux carries ``ru_maxrss`` across ``exec``, so a worker would
    report its parent's peak.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text(encoding="ascii").splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_answer(rows: int, path: Path) -> None:
    from ssgateway.testing.dialect import REFERENCE_DIALECT
    from ssgateway.testing.envelopes import EnvelopeWriter
    from ssgateway.testing.population import Population

    population = Population.generate(seed=1, size=50)
    person = population.people_in("41")[0]
    body = EnvelopeWriter(REFERENCE_DIALECT).contributions(
        person.citizen_id, population.bulk_contributions(person.citizen_id, rows, "41")
    )
    path.write_bytes(body)


def worker_stream(path: Path) -> dict[str, float]:
    from ssgateway.soap import RecordStream, record_texts
    from ssgateway.testing.dialect import REFERENCE_DIALECT

    before = rss_mib()
    started = time.perf_counter()
    stream = RecordStream(REFERENCE_DIALECT.tag("row"))
    count = 0
    with path.open("rb") as body:  # read as it would arrive: 64 KiB at a time
        while chunk := body.read(CHUNK):
            for record in stream.feed(chunk):
                record_texts(record)
                count += 1
    for record in stream.close():
        record_texts(record)
        count += 1
    elapsed = time.perf_counter() - started
    return {"records": count, "seconds": elapsed, "rss_before": before, "rss_peak": rss_mib()}


def worker_mapped(path: Path) -> dict[str, float]:
    from datetime import UTC, datetime

    from ssgateway.mapping import Accepted, MappingCatalog
    from ssgateway.mapping.compiler import provenance_factory
    from ssgateway.soap import RecordStream

    mapping = MappingCatalog().inbound("provincial-soap/query-contributions")
    make = provenance_factory(source_system="henan", received_at=datetime.now(UTC), mapping=mapping.spec.ref)
    map_record = mapping.map_record
    before = rss_mib()
    started = time.perf_counter()
    stream = RecordStream(mapping.record_tag or "")
    count = accepted = 0

    def take(records: Iterator[Any]) -> None:
        nonlocal count, accepted
        for record in records:  # the adapter's loop: map, validate, hand on, let go
            count += 1
            outcome = map_record(record, count, make(f"QueryContributions:{count}", {}))
            accepted += isinstance(outcome, Accepted)

    with path.open("rb") as body:
        while chunk := body.read(CHUNK):
            take(stream.feed(chunk))
    take(stream.close())
    elapsed = time.perf_counter() - started
    assert accepted == count, "every row of the prepared answer is valid"
    return {"records": count, "seconds": elapsed, "rss_before": before, "rss_peak": rss_mib()}


def worker_adapter(path: Path) -> dict[str, float]:
    import asyncio

    from ssgateway.model import ContributionHistory, HistoryQuery
    from ssgateway.sdk import AdapterContext
    from ssgateway.testing.faultplan import FaultKind
    from ssgateway.testing.population import Population
    from ssgateway.testing.provincial import ProvincialSimulator
    from ssgateway_adapters.provincial_soap import ProvincialSoapAdapter, ProvincialSoapConfig

    body = path.read_bytes()
    rows = body.count(b"</gi:row>")
    simulator = ProvincialSimulator(Population.generate(seed=1, size=50))
    simulator.faults.add(FaultKind.BODY, body=body)
    person = simulator.population.people_in("41")[0]
    del body

    async def run() -> tuple[int, float]:
        config = ProvincialSoapConfig(endpoint=simulator.endpoint, stream_timeout=600)
        adapter = ProvincialSoapAdapter(config, AdapterContext(partner="henan", regions=("41",)))
        await adapter.start()
        try:
            started = time.perf_counter()
            history = await adapter.call("contributions.history", HistoryQuery(citizen_id=person.citizen_id))
            elapsed = time.perf_counter() - started
        finally:
            await adapter.close()
        assert isinstance(history, ContributionHistory) and not history.rejections
        return len(history.records), elapsed

    with simulator.in_thread():
        before = rss_mib()
        kept, elapsed = asyncio.run(run())
    return {"records": rows, "kept": kept, "seconds": elapsed, "rss_before": before, "rss_peak": rss_mib()}


def worker_zeep(path: Path) -> dict[str, float]:
    from ssgateway.soap import load_contract
    from ssgateway.xmlsafe import parse_xml

    contract = load_contract("provincial/v1/provincial.wsdl")
    before = rss_mib()
    started = time.perf_counter()
    envelope = parse_xml(path.read_bytes())  # what SoapClient.call_zeep does with a whole answer
    answer = contract.deserialize("QueryContributions", envelope)
    count = len(answer.rows.row)
    elapsed = time.perf_counter() - started
    return {"records": count, "seconds": elapsed, "rss_before": before, "rss_peak": rss_mib()}


def worker_client(path: Path) -> dict[str, float]:
    import asyncio

    from ssgateway.soap import SoapClient, SoapSettings, record_texts
    from ssgateway.testing.dialect import REFERENCE_DIALECT
    from ssgateway.testing.faultplan import FaultKind
    from ssgateway.testing.population import Population
    from ssgateway.testing.provincial import ProvincialSimulator

    body = path.read_bytes()  # the simulator serves the prepared answer verbatim
    simulator = ProvincialSimulator(Population.generate(seed=1, size=50))
    simulator.faults.add(FaultKind.BODY, body=body)
    person = simulator.population.people_in("41")[0]
    del body

    async def run() -> tuple[int, float]:
        async with SoapClient(SoapSettings(endpoint=simulator.endpoint)) as client:
            started = time.perf_counter()
            count = 0
            async with client.stream(
                "QueryContributions", REFERENCE_DIALECT.tag("row"), AAC002=person.citizen_id
            ) as rows:
                async for row in rows:
                    record_texts(row)
                    count += 1
            return count, time.perf_counter() - started

    with simulator.in_thread():
        before = rss_mib()
        count, elapsed = asyncio.run(run())
    return {"records": count, "seconds": elapsed, "rss_before": before, "rss_peak": rss_mib()}


def worker_cold(_: Path) -> dict[str, float]:
    started = time.perf_counter()
    import zeep  # noqa: F401 - the import is part of what a fresh process pays

    imported = time.perf_counter()
    from ssgateway.soap import load_contract

    ready = time.perf_counter()
    load_contract("provincial/v1/provincial.wsdl")
    loaded = time.perf_counter()
    return {"import_zeep": imported - started, "cold_load": loaded - ready}


def worker_warm(_: Path) -> dict[str, float]:
    from ssgateway.soap import SoapClient, SoapSettings, clear_contract_cache, load_contract

    load_contract("provincial/v1/provincial.wsdl")
    uncached = []
    for _ in range(30):
        clear_contract_cache()
        started = time.perf_counter()
        load_contract("provincial/v1/provincial.wsdl")
        uncached.append(time.perf_counter() - started)
    cached = []
    for _ in range(300):
        started = time.perf_counter()
        load_contract("provincial/v1/provincial.wsdl")
        cached.append(time.perf_counter() - started)
    settings = SoapSettings(endpoint="http://127.0.0.1:9/provincial")
    clients = []
    for _ in range(100):
        started = time.perf_counter()
        SoapClient(settings)  # the httpx client is never used, so nothing to close
        clients.append(time.perf_counter() - started)
    return {
        "uncached": statistics.median(uncached),
        "cached": statistics.median(cached),
        "client": statistics.median(clients),
    }


WORKERS = {
    "stream": worker_stream,
    "mapped": worker_mapped,
    "zeep": worker_zeep,
    "client": worker_client,
    "adapter": worker_adapter,
    "cold": worker_cold,
    "warm": worker_warm,
}


def run_worker(name: str, path: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--worker", name, str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=900,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--worker", choices=sorted(WORKERS))
    parser.add_argument("path", nargs="?")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(WORKERS[args.worker](Path(args.path))))
        return

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "answer.xml"
        make_answer(args.rows, path)
        size = path.stat().st_size / 1024 / 1024
        print(f"QueryContributions answer: {args.rows:,} rows, {size:.1f} MiB")
        names = ("stream", "mapped", "zeep", "client", "adapter")
        results = {name: run_worker(name, path) for name in names}
        rate = {name: r["records"] / r["seconds"] for name, r in results.items()}
        labels = {
            "stream": "streaming (RecordStream + dict per row)",
            "mapped": "streaming + compiled mapping -> ContributionRecord",
            "zeep": "zeep deserialisation (whole answer)",
            "client": "SoapClient.stream over loopback (+ simulator)",
            "adapter": "provincial-soap history over loopback (+ sim)",
        }
        print(f"{'path':52} {'records':>9} {'records/s':>11} {'peak RSS':>10} {'RSS before':>11}")
        for name, r in results.items():
            print(
                f"{labels[name]:52} {int(r['records']):>9,} {rate[name]:>11,.0f} "
                f"{r['rss_peak']:>7.0f} MiB {r['rss_before']:>7.0f} MiB"
            )
        speedup = rate["stream"] / rate["zeep"]
        memory = results["zeep"]["rss_peak"] / results["stream"]["rss_peak"]
        print(f"streaming vs zeep: {speedup:.1f}x records/s (target >= 3x), {memory:.1f}x less peak RSS")
        mapped = rate["mapped"] / rate["zeep"]
        print(
            f"streaming to validated records vs zeep objects: {mapped:.1f}x records/s, "
            f"{results['zeep']['rss_peak'] / results['mapped']['rss_peak']:.1f}x less peak RSS; "
            f"mapping costs {rate['stream'] / rate['mapped']:.1f}x the bare streaming time"
        )
        print(
            f"the adapter's history holds {int(results['adapter']['kept']):,} distinct records "
            "(identical rows are one record)"
        )

        cold = run_worker("cold", path)
        warm = run_worker("warm", path)
        print("contract loading (provincial/v1/provincial.wsdl):")
        print(f"  import zeep, fresh process          {cold['import_zeep'] * 1000:8.1f} ms")
        print(f"  cold load_contract, fresh process   {cold['cold_load'] * 1000:8.2f} ms")
        print(f"  uncached rebuild, warm process      {warm['uncached'] * 1000:8.2f} ms (median of 30)")
        print(f"  cached load_contract                {warm['cached'] * 1000:8.3f} ms (median of 300)")
        print(f"  SoapClient(...) on the cache        {warm['client'] * 1000:8.3f} ms (median of 100)")
        print(f"  cached vs cold: {cold['cold_load'] / warm['cached']:.0f}x faster; "
              f"vs uncached rebuild: {warm['uncached'] / warm['cached']:.0f}x")  # fmt: skip


if __name__ == "__main__":
    main()
