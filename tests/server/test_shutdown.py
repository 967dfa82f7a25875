"""`ssgateway serve` stopped by SIGTERM finishes the requests in flight before it exits."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import sys
from pathlib import Path

import httpx

from ssgateway.server import hash_key
from ssgateway.testing.faultplan import FaultKind
from ssgateway.testing.population import Population
from ssgateway.testing.provincial import ProvincialSimulator

KEY = "ssg_shutdown_test"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_sigterm_lets_requests_in_flight_finish(tmp_path: Path) -> None:
    population = Population.generate(seed=3, size=10, provinces=("41",))
    async with ProvincialSimulator(population, region="41") as henan:
        henan.faults.add(FaultKind.LATENCY, operations="QueryPerson", delay=1.5)
        port = free_port()
        config = tmp_path / "gateway.yaml"
        config.write_text(
            json.dumps({  # JSON is YAML
                "store": {"url": "sqlite:///gateway.db"},
                "server": {"port": port, "graceful_timeout": 10},
                "api_keys": [{"id": "app", "hash": hash_key(KEY)}],
                "partners": {"henan": {"adapter": "provincial-soap", "regions": ["41"],
                                       "config": {"endpoint": henan.endpoint}}},
            }),
            encoding="utf-8",
        )  # fmt: skip
        sidecar = await asyncio.create_subprocess_exec(
            sys.executable, "-c", "from ssgateway.cli import main; main()", "serve", "--config", str(config),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            url = f"http://127.0.0.1:{port}"
            async with httpx.AsyncClient(base_url=url, timeout=30) as http:
                for _ in range(300):
                    try:
                        if (await http.get("/readyz")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    await asyncio.sleep(0.1)
                person = population.people[0]
                asked = {"citizen_id": person.citizen_id, "region": person.spells[-1].region}
                in_flight = asyncio.create_task(
                    http.post("/v1/ops/person.lookup", json=asked, headers={"Authorization": f"Bearer {KEY}"})
                )
                await asyncio.sleep(0.5)  # the sidecar is waiting for the slow province
                sidecar.send_signal(signal.SIGTERM)
                answer = await in_flight
            assert answer.status_code == 200, answer.text
            assert answer.json()["person"]["citizen_id"] == person.citizen_id
            # uvicorn re-raises the signal once it has shut down, so the exit reads "terminated by SIGTERM"
            assert await asyncio.wait_for(sidecar.wait(), 20) in (0, -signal.SIGTERM)
            assert sidecar.stderr is not None
            assert b"Traceback" not in await sidecar.stderr.read()
        finally:
            if sidecar.returncode is None:
                sidecar.kill()
                await sidecar.wait()
