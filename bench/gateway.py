"""Latency the sidecar adds: a simulated province called directly vs through `ssgateway serve`.

Three processes besides this one: the simulated province (SOAP, answering after a latency drawn between
--latency-ms and --latency-ms + --jitter-ms: real partners vary, and a constant latency would march
closed-loop clients in lockstep and measure only the burst they form), the
sidecar configured for it, and the load generator (bench/loadgen.py, closed loop, keep-alive). For 1, 16
and 64 connections it measures `person.lookup` sent as a SOAP `QueryPerson` straight to the province,
then as canonical JSON through the sidecar (which builds the envelope, calls the province, maps the answer
and validates it), and prints requests/s, p50, p99 and the added latency.

    python bench/gateway.py [--latency-ms 20] [--seconds 8]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _net import free_port, wait_listening

HERE = Path(__file__).resolve().parent
PARTNER = """
import asyncio, sys
from ssgateway.testing.population import Population
from ssgateway.testing.provincial import ProvincialSimulator

async def main():
    port, latency, jitter = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
    sim = ProvincialSimulator(Population.generate(seed=7, size=60, provinces=("41",)), region="41", port=port)
    if latency or jitter:
        sim.faults.add("latency", delay=latency, jitter=jitter)
    async with sim:
        print(sim.endpoint, sim.population.people[0].citizen_id, flush=True)
        await asyncio.Event().wait()

asyncio.run(main())
"""


def load(url: str, body: Path, headers: list[str], connections: int, seconds: float) -> dict[str, float]:
    args = [sys.executable, str(HERE / "loadgen.py"), url, "--body", str(body), "--connections", str(connections),
            "--seconds", str(seconds)]  # fmt: skip
    for header in headers:
        args += ["--header", header]
    return json.loads(subprocess.run(args, capture_output=True, text=True, check=True).stdout)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def soap_envelope(citizen_id: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
        '<soap:Body><gi:QueryPersonRequest xmlns:gi="urn:ssgateway:golden-insurance:v1">'
        f"<gi:AAC002>{citizen_id}</gi:AAC002></gi:QueryPersonRequest></soap:Body></soap:Envelope>"
    ).encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--latency-ms", type=float, default=50.0, help="the simulated province's least latency"
    )
    parser.add_argument("--jitter-ms", type=float, default=50.0, help="up to this much more, drawn uniformly")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--connections", default="1,16,64")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ssgateway-bench-"))
    partner_port, sidecar_port = free_port(), free_port()
    partner = subprocess.Popen(
        [
            sys.executable,
            "-c",
            PARTNER,
            str(partner_port),
            str(args.latency_ms / 1000),
            str(args.jitter_ms / 1000),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    sidecar = None
    try:
        assert partner.stdout is not None
        endpoint, citizen_id = partner.stdout.readline().split()
        config = work / "gateway.yaml"
        config.write_text(
            f"store: {{url: 'sqlite:///{work / 'gw.db'}'}}\n"
            "logging: {level: WARNING, format: json}\n"
            f"server: {{port: {sidecar_port}}}\n"
            "api_keys: [{id: bench, hash: 'sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08'}]\n"
            f"partners:\n  henan: {{adapter: provincial-soap, regions: ['41'], config: {{endpoint: '{endpoint}'}}}}\n",
            encoding="utf-8",
        )
        sidecar = subprocess.Popen([sys.executable, "-m", "ssgateway.cli", "serve", "--config", str(config)])
        wait_listening(sidecar_port)
        (work / "soap.xml").write_bytes(soap_envelope(citizen_id))
        (work / "json.json").write_text(json.dumps({"citizen_id": citizen_id, "region": "410105"}))
        direct_headers = [
            "Content-Type: text/xml; charset=utf-8",
            'SOAPAction: "urn:ssgateway:golden-insurance:v1#QueryPerson"',
        ]
        sidecar_headers = ["Content-Type: application/json", "Authorization: Bearer test"]
        print(
            f"partner latency {args.latency_ms:g}-{args.latency_ms + args.jitter_ms:g} ms (uniform); "
            f"{args.seconds:g} s per measurement; 2 shared cores"
        )
        print(
            f"{'conns':>5} {'path':>8} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6} {'cpu ms':>8}"
        )
        for connections in (int(c) for c in args.connections.split(",")):
            before = cpu_seconds(partner.pid)
            direct = load(endpoint, work / "soap.xml", direct_headers, connections, args.seconds)
            direct["cpu"] = cpu_seconds(partner.pid) - before
            before = cpu_seconds(sidecar.pid)
            through = load(
                f"http://127.0.0.1:{sidecar_port}/v1/ops/person.lookup",
                work / "json.json",
                sidecar_headers,
                connections,
                args.seconds,
            )
            through["cpu"] = cpu_seconds(sidecar.pid) - before
            for name, r in (("direct", direct), ("sidecar", through)):
                cpu_ms = 1000 * r["cpu"] / max(1, r["requests"] + r["warmup_requests"])
                print(
                    f"{connections:>5} {name:>8} {r['rps']:>9,.0f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} "
                    f"{r['errors']:>6} {cpu_ms:>8.2f}"
                )
            print(f"{connections:>5} {'added':>8} {'':>9} {through['p50_ms'] - direct['p50_ms']:>8.2f} "
                  f"{through['p99_ms'] - direct['p99_ms']:>8.2f}   (target at 16: p99 added <= 5 ms)")  # fmt: skip
    finally:
        for proc in (sidecar, partner):
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=30)


if __name__ == "__main__":
    main()
