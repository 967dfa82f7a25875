"""Requests full of personal data through every path; none of it may appear unmasked in logs or problems."""

from __future__ import annotations

import io
import json
import logging
import random
import re
from collections.abc import Callable
from pathlib import Path

import httpx
from tests.runtime.conftest import write_records
from tests.vectors import make_citizen_id

from ssgateway.log import configure_logging
from ssgateway.runtime import Gateway
from ssgateway.server import create_app, hash_key
from ssgateway.testing import FaultKind, Faults, PartnerSimulator

KEY = "ssg_scan_key"
ID_SHAPED = re.compile(r"(?<![0-9A-Za-z])\d{17}[0-9Xx](?![0-9A-Za-z])")
NAMES = ["欧阳娜娜", "司马光明", "诸葛慧敏"]
ACCOUNT = "6222021234567890123"


async def test_no_personal_data_in_logs_or_problems(
    tmp_path: Path, make_gateway: Callable[..., Gateway], partner: PartnerSimulator
) -> None:
    rng = random.Random(11)
    ids = [make_citizen_id(rng, division="410105") for _ in range(6)]
    write_records(tmp_path / "henan.jsonl", ["202301"], "410105")
    partners = {
        "henan-files": {
            "adapter": "records-file",
            "regions": ["41"],
            "config": {"contributions": ["henan.jsonl"], "persons": []},
        },
        "henan": {
            "adapter": "test-ledger",
            "regions": ["41"],
            "config": {"url": partner.url},
            "operations": ["transfer.submit"],
        },
        "hubei": {"adapter": "test-down", "regions": ["42"]},
    }
    stream = io.StringIO()
    handler = configure_logging("DEBUG", "json", stream)
    bodies: list[str] = []
    try:
        gateway = make_gateway(
            partners,
            api_keys=[{"id": "app", "hash": hash_key(KEY)}],
            defaults={"retry": {"attempts": 2, "initial_backoff": 0.001}},
        )
        async with gateway:
            transport = httpx.ASGITransport(app=create_app(gateway))
            async with httpx.AsyncClient(transport=transport, base_url="http://sidecar") as http:
                ok = {"Authorization": f"Bearer {KEY}"}
                for cid, name in zip(ids, NAMES * 2, strict=False):
                    calls = [
                        ("contributions.history", {"citizen_id": cid}, ok),
                        ("contributions.history", {"citizen_id": cid, "regions": ["420100"]}, ok),
                        ("person.lookup", {"citizen_id": cid, "region": "410105"}, ok),
                        ("person.lookup", {"citizen_id": cid, "region": "110105"}, ok),
                        ("contributions.history", {"citizen_id": cid[:17] + "Q", "name": name}, ok),
                        ("contributions.history", {"citizen_id": cid, "account": ACCOUNT, "phone": "13812345678"}, ok),
                        ("medical.insurance_status", {"citizen_id": cid, "name": name, "region": "410105"}, ok),
                        ("contributions.history", {"citizen_id": cid}, {"Authorization": f"Bearer {cid}"}),
                        ("transfer.submit", {"certificate_number": cid, "citizen_id": cid, "from_region": "410000",
                                             "to_region": "440000", "receiving_account": ACCOUNT}, {**ok, "Idempotency-Key": cid}),
                        ("transfer.submit", {"certificate_number": cid, "citizen_id": cid, "from_region": "410000",
                                             "to_region": "440000", "receiving_account": "other"}, {**ok, "Idempotency-Key": cid}),
                        ("payments.submit", {"batch_id": "B1", "instructions": [{"citizen_id": cid, "name": name, "account": ACCOUNT}]}, {**ok, "Idempotency-Key": "p"}),
                    ]  # fmt: skip
                    for op, body, headers in calls:
                        r = await http.post(
                            f"/v1/ops/{op}", json=body, headers={**headers, "X-Request-Id": f"scan-{op}"}
                        )
                        if r.status_code >= 400:  # a canonical answer carries the person's data by design
                            bodies.append(r.text)
                partner.faults = Faults(rate=1.0, kinds=(FaultKind.UNAVAILABLE,))
                r = await http.post("/v1/ops/transfer.submit", json={"certificate_number": "C-9", "citizen_id": ids[0], "from_region": "410000",
                                                                    "to_region": "440000", "receiving_account": ACCOUNT},
                                    headers={**ok, "Idempotency-Key": "down"})  # fmt: skip
                assert r.status_code == 503
                bodies.append(r.text)
                metrics = (await http.get("/metrics")).text
    finally:
        logging.getLogger("ssgateway").removeHandler(handler)
    logs = stream.getvalue()
    assert logs.count("\n") > 50  # access lines and partner logs were written
    assert len(bodies) > 40  # problem bodies of every error path
    assert any(json.loads(line).get("request_id", "").startswith("scan-") for line in logs.splitlines())
    for text in (logs, *bodies):
        assert not ID_SHAPED.search(text), text[:500]
    for text in (logs, metrics, *bodies):  # metrics hold long float timestamps: scanned for the values only
        for secret in (*ids, *NAMES, ACCOUNT, "13812345678"):
            assert secret not in text, (secret, text[:500])
