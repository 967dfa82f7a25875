"""A separate gateway process for the msgid tests.

    python tests/medical/worker.py generate URL NAMESPACE COUNT BLOCK [AT]
        make COUNT msgids straight from the generator (AT: a frozen wall clock, epoch seconds)
    python tests/medical/worker.py gateway URL NAMESPACE ENDPOINT COUNT CITIZEN_ID REGION
        run a Gateway with the medical-insurance adapter and make COUNT 1101 calls, 16 at a time

Each prints {"ready": true} once set up, waits for "go" on stdin, then prints one JSON line of results.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "adapters"), str(ROOT)]

from tests.medical.conftest import INSTITUTION, adapter_config  # noqa: E402

from ssgateway.config import parse_config  # noqa: E402
from ssgateway.errors import SSGatewayError  # noqa: E402
from ssgateway.reliability import open_store  # noqa: E402
from ssgateway.runtime import Gateway  # noqa: E402
from ssgateway.testing import FakeClock  # noqa: E402
from ssgateway.yamlfile import Located  # noqa: E402
from ssgateway_adapters.medical_insurance.msgid import CheckpointCounter, MsgIdGenerator  # noqa: E402


def emit(data: object) -> None:
    sys.stdout.write(json.dumps(data) + "\n")
    sys.stdout.flush()


async def go() -> None:
    emit({"ready": True})
    await asyncio.to_thread(sys.stdin.readline)


async def generate(url: str, namespace: str, count: int, block: int, at: float | None) -> None:
    clock = FakeClock(at) if at is not None else None
    async with open_store(url, namespace=namespace) as store:
        await store.ping()
        counter = CheckpointCounter(store.checkpoints, f"medical-insurance/msgid/{INSTITUTION}")
        generator = MsgIdGenerator(INSTITUTION, counter, block_size=block, clock=clock)
        await go()
        msgids = [await generator.next() for _ in range(count)]
    emit({"msgids": msgids, "conflicts": counter.conflicts, "reservations": generator.reservations})


async def gateway(url: str, namespace: str, endpoint: str, count: int, citizen_id: str, region: str) -> None:
    data: dict[str, Any] = {
        "store": {"url": url, "namespace": namespace},
        "defaults": {"retry": {"attempts": 1}},
        "partners": {
            "nhsa": {
                "adapter": "medical-insurance",
                "config": adapter_config(endpoint, msgid={"block_size": 3}),
            }
        },
    }
    config = parse_config(Located(data=data, file=str(ROOT / "worker-gateway.yaml")))
    errors: list[str] = []
    async with Gateway(config) as gw:
        await go()
        limit = asyncio.Semaphore(16)

        async def one() -> None:
            async with limit:
                try:
                    await gw.call("medical.insurance_status", {"citizen_id": citizen_id, "region": region})
                except SSGatewayError as exc:
                    errors.append(f"{exc.code}: {exc.message}")

        await asyncio.gather(*(one() for _ in range(count)))
    emit({"ok": count - len(errors), "errors": errors[:5]})


def main(argv: list[str]) -> None:
    mode, url, namespace, *rest = argv
    if mode == "generate":
        at = float(rest[2]) if len(rest) > 2 else None
        asyncio.run(generate(url, namespace, int(rest[0]), int(rest[1]), at))
    else:
        asyncio.run(gateway(url, namespace, rest[0], int(rest[1]), rest[2], rest[3]))


if __name__ == "__main__":
    main(sys.argv[1:])
