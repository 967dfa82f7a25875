"""What the sidecar does when a call goes wrong in ways a partner's answer does not cover.

The partner here (``test-fragile``) does not dedupe transfers, so a second send would be a second transfer.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from tests.runtime.adapters import FragileAdapter
from tests.runtime.conftest import CID
from tests.server.test_app import KEY, SUBMISSION, assert_problem, auth

from ssgateway.log import configure_logging
from ssgateway.runtime import Gateway, ReplayedError
from ssgateway.server import create_app, hash_key

SUBMIT = "/v1/ops/transfer.submit"


@pytest.fixture
def fragile() -> Iterator[type[FragileAdapter]]:
    FragileAdapter.mode, FragileAdapter.calls = "ok", 0
    yield FragileAdapter
    FragileAdapter.mode, FragileAdapter.calls = "ok", 0


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = configure_logging("DEBUG", "json", stream)
    yield stream
    logging.getLogger("ssgateway").removeHandler(handler)


@pytest.fixture
async def gateway(make_gateway: Callable[..., Gateway], tmp_path: Path) -> AsyncIterator[Gateway]:
    partners = {"henan": {"adapter": "test-fragile", "regions": ["41"]}}
    gw = make_gateway(partners, api_keys=[{"id": "app", "hash": hash_key(KEY)}])
    async with gw:
        yield gw


@pytest.fixture
async def client(gateway: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(gateway))
    async with httpx.AsyncClient(transport=transport, base_url="http://sidecar") as http:
        yield http


async def test_a_replayed_error_says_it_is_replayed(
    client: httpx.AsyncClient, fragile: type[FragileAdapter]
) -> None:
    fragile.mode = "refuse"
    headers = {**auth(), "Idempotency-Key": "refused"}
    first = await client.post(SUBMIT, json=SUBMISSION, headers=headers)
    again = await client.post(SUBMIT, json=SUBMISSION, headers=headers)
    assert_problem(first, 502, "partner.refused")
    assert_problem(again, 502, "partner.refused")
    assert "idempotent-replayed" not in first.headers and again.headers["idempotent-replayed"] == "true"
    assert fragile.calls == 1


async def test_a_defect_is_a_masked_500_problem_and_never_a_second_send(
    client: httpx.AsyncClient, fragile: type[FragileAdapter], logs: io.StringIO
) -> None:
    fragile.mode = "bug"
    headers = {**auth(), "Idempotency-Key": "bug"}
    body = assert_problem(await client.post(SUBMIT, json=SUBMISSION, headers=headers), 500, "internal")
    assert CID not in str(body)
    fragile.mode = "ok"
    # the partner may have acted: the same key is answered "reconcile first", not sent again
    assert_problem(
        await client.post(SUBMIT, json=SUBMISSION, headers=headers), 504, "partner.outcome_unknown"
    )
    assert fragile.calls == 1
    text = logs.getvalue()
    assert "transfer.submit failed unexpectedly" in text and "KeyError" in text
    assert CID not in text


async def test_a_cancelled_call_is_not_sent_again(gateway: Gateway, fragile: type[FragileAdapter]) -> None:
    fragile.mode = "hang"
    call = asyncio.create_task(gateway.call("transfer.submit", SUBMISSION, idempotency_key="k", caller="app"))
    while fragile.calls == 0:
        await asyncio.sleep(0.01)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    fragile.mode = "ok"
    with pytest.raises(ReplayedError) as replayed:  # the stored outcome: unknown, reconcile first
        await gateway.call("transfer.submit", SUBMISSION, idempotency_key="k", caller="app")
    assert replayed.value.code == "partner.outcome_unknown"
    assert fragile.calls == 1


async def test_keys_of_up_to_255_characters_are_taken(
    client: httpx.AsyncClient, fragile: type[FragileAdapter]
) -> None:
    for size in (1, 200, 255):
        r = await client.post(SUBMIT, json=SUBMISSION, headers={**auth(), "Idempotency-Key": "k" * size})
        assert r.status_code == 200, (size, r.text)
        again = await client.post(SUBMIT, json=SUBMISSION, headers={**auth(), "Idempotency-Key": "k" * size})
        assert again.headers["idempotent-replayed"] == "true"
    assert fragile.calls == 3
    body = assert_problem(
        await client.post(SUBMIT, json=SUBMISSION, headers={**auth(), "Idempotency-Key": "k" * 256}),
        422,
        "idempotency.key_invalid",
    )
    assert "got 256" in body["detail"]


async def test_a_request_id_that_looks_personal_is_replaced(
    client: httpx.AsyncClient, logs: io.StringIO
) -> None:
    r = await client.post(SUBMIT, json=SUBMISSION, headers={"X-Request-Id": CID})
    body = assert_problem(r, 401, "auth.required")
    assert body["request_id"] != CID and CID not in logs.getvalue()
    r = await client.post(SUBMIT, json=SUBMISSION, headers={"X-Request-Id": "order-17"})
    assert r.headers["x-request-id"] == "order-17"


async def test_an_empty_api_key_header_does_not_hide_a_bearer_key(client: httpx.AsyncClient) -> None:
    r = await client.post(
        SUBMIT, json=SUBMISSION, headers={**auth(), "X-API-Key": "", "Idempotency-Key": "e"}
    )
    assert r.status_code == 200, r.text
