from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.runtime.conftest import CID, write_records

from ssgateway.runtime import Gateway
from ssgateway.server import create_app, hash_key
from ssgateway.testing import PartnerSimulator

KEY = "ssg_test_key_for_everything"
LIMITED = "ssg_test_key_lookup_only"
SUBMISSION = {"certificate_number": "ZM41-7", "citizen_id": CID, "from_region": "410000", "to_region": "440000",
              "receiving_account": "44-POOL"}  # fmt: skip


@pytest.fixture
async def client(
    tmp_path: Path, make_gateway: Callable[..., Gateway], partner: PartnerSimulator
) -> AsyncIterator[httpx.AsyncClient]:
    write_records(tmp_path / "henan.jsonl", ["202301", "202302", "202304"], "410105")
    partners = {
        "henan-files": {"adapter": "records-file", "regions": ["41"], "config": {"contributions": ["henan.jsonl"]},
                        "operations": ["contributions.history"]},
        "henan": {"adapter": "test-ledger", "regions": ["41"], "config": {"url": partner.url}},
    }  # fmt: skip
    keys = [
        {"id": "app", "hash": hash_key(KEY)},
        {"id": "reader", "hash": hash_key(LIMITED), "operations": ["contributions.history"]},
    ]
    gateway = make_gateway(partners, api_keys=keys)
    async with gateway:
        transport = httpx.ASGITransport(app=create_app(gateway))
        async with httpx.AsyncClient(transport=transport, base_url="http://sidecar") as http:
            yield http


def auth(key: str = KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["code"] == code and body["type"].endswith(code)
    assert body["request_id"] == response.headers["x-request-id"]
    return body


async def test_history_over_http(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/ops/contributions.history", json={"citizen_id": CID}, headers=auth())
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total_months"] == 3 and body["gaps"] == [{"start": "2023-03", "end": "2023-03", "months": 1}]


async def test_auth_and_scopes(client: httpx.AsyncClient) -> None:
    assert_problem(
        await client.post("/v1/ops/contributions.history", json={"citizen_id": CID}), 401, "auth.required"
    )
    assert_problem(
        await client.post("/v1/ops/contributions.history", json={"citizen_id": CID}, headers=auth("wrong")),
        401,
        "auth.required",
    )
    r = await client.post(
        "/v1/ops/contributions.history", json={"citizen_id": CID}, headers={"X-API-Key": LIMITED}
    )
    assert r.status_code == 200
    assert_problem(
        await client.post(
            "/v1/ops/transfer.submit", json=SUBMISSION, headers={"X-API-Key": LIMITED, "Idempotency-Key": "a"}
        ),
        403,
        "auth.forbidden",
    )


async def test_request_problems(client: httpx.AsyncClient) -> None:
    assert_problem(await client.post("/v1/ops/no.such", json={}, headers=auth()), 404, "operation.unknown")
    body = assert_problem(
        await client.post(
            "/v1/ops/contributions.history", json={"citizen_id": "36042619910102009X"}, headers=auth()
        ),
        422,
        "request.invalid",
    )
    assert body["errors"][0]["loc"] == "citizen_id" and "36042619910102009X" not in json.dumps(body)
    assert_problem(
        await client.post("/v1/ops/contributions.history", content=b"{not json", headers=auth()),
        422,
        "request.invalid",
    )
    assert_problem(
        await client.post(
            "/v1/ops/contributions.history?citizen_id=1", json={"citizen_id": CID}, headers=auth()
        ),
        400,
        "request.query_refused",
    )
    assert_problem(
        await client.get("/v1/ops/contributions.history", headers=auth()), 405, "method_not_allowed"
    )
    assert_problem(await client.post("/nowhere", headers=auth()), 404, "not_found")
    assert_problem(
        await client.post(
            "/v1/ops/person.lookup", json={"citizen_id": CID, "region": "110105"}, headers=auth()
        ),
        404,
        "route.none",
    )


async def test_a_body_past_the_limit_is_refused_without_reading_it_all(
    make_gateway: Callable[..., Gateway],
) -> None:
    read = 0

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the limit is found while reading
        nonlocal read
        for _ in range(100):
            read += 1
            yield b" " * 1024

    keys = [{"id": "app", "hash": hash_key(KEY)}]
    async with make_gateway({}, api_keys=keys) as gateway:
        app = create_app(gateway, max_body=4096)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://sidecar"
        ) as http:
            declared = await http.post("/v1/ops/person.lookup", content=b"{}" + b" " * 5000, headers=auth())
            assert_problem(declared, 413, "request.too_large")
            streamed = await http.post("/v1/ops/person.lookup", content=chunks(), headers=auth())
            assert_problem(streamed, 413, "request.too_large")
    assert read < 10


async def test_idempotency_over_http(client: httpx.AsyncClient, partner: PartnerSimulator) -> None:
    assert_problem(
        await client.post("/v1/ops/transfer.submit", json=SUBMISSION, headers=auth()),
        400,
        "idempotency.key_required",
    )
    headers = {**auth(), "Idempotency-Key": "once"}
    first = await client.post("/v1/ops/transfer.submit", json=SUBMISSION, headers=headers)
    again = await client.post("/v1/ops/transfer.submit", json=SUBMISSION, headers=headers)
    assert first.status_code == again.status_code == 200
    assert "idempotent-replayed" not in first.headers and again.headers["idempotent-replayed"] == "true"
    assert first.content == again.content
    assert_problem(
        await client.post(
            "/v1/ops/transfer.submit", json={**SUBMISSION, "receiving_account": "X"}, headers=headers
        ),
        422,
        "idempotency.conflict",
    )
    assert len(partner.ledger) == 1


async def test_in_flight_conflict(client: httpx.AsyncClient, partner: PartnerSimulator) -> None:
    from ssgateway.testing import FaultKind, Faults

    partner.faults = Faults(rate=1.0, kinds=(FaultKind.COMMIT_THEN_BLACKHOLE,))
    headers = {**auth(), "Idempotency-Key": "slow"}
    slow = asyncio.create_task(
        client.post("/v1/ops/transfer.submit", json=SUBMISSION, headers=headers, timeout=30)
    )
    await asyncio.sleep(0.3)
    assert_problem(
        await client.post("/v1/ops/transfer.submit", json=SUBMISSION, headers=headers),
        409,
        "idempotency.in_progress",
    )
    slow.cancel()


async def test_health_readiness_metrics_openapi(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["store"] == "ok"
    await client.post("/v1/ops/contributions.history", json={"citizen_id": CID}, headers=auth())
    metrics = (await client.get("/metrics")).text
    assert 'ssgateway_requests_total{operation="contributions.history",status="200"}' in metrics
    assert "ssgateway_request_duration_seconds_bucket" in metrics and "ssgateway_breaker_state" in metrics
    assert 'ssgateway_outbox_deliveries{state="pending"}' in metrics
    doc = (await client.get("/openapi.json")).json()
    assert doc["openapi"] == "3.1.0" and "/v1/ops/transfer.submit" in doc["paths"]
    submit = doc["paths"]["/v1/ops/transfer.submit"]["post"]
    assert submit["parameters"][0]["name"] == "Idempotency-Key" and submit["parameters"][0]["required"]
