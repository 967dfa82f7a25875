"""Events on NATS JetStream: each canonical event reaches a real consumer once, however often it is reported."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import nats
import pytest
from nats.js.errors import NotFoundError
from tests.events.conftest import Partners
from tests.events.test_fanout import settled

from ssgateway.config import BrokerConfig
from ssgateway.errors import TransientError
from ssgateway.reliability import Delivery, DeliveryState
from ssgateway.runtime import Gateway
from ssgateway.runtime.broker import MSG_ID_HEADER, JetStreamPublisher
from ssgateway.testing import CivilAffairsSimulator

pytestmark = pytest.mark.nats


@pytest.fixture
async def stream(nats_url: str) -> AsyncIterator[dict[str, str]]:
    """A unique stream and subject prefix for one test; the stream is deleted afterwards."""
    tag = uuid.uuid4().hex[:10]
    names = {"url": nats_url, "stream": f"SSGW_TEST_{tag}", "subject_prefix": f"ssgw-test.{tag}"}
    yield names
    client = await nats.connect(nats_url)
    try:
        await client.jetstream().delete_stream(names["stream"])
    except NotFoundError:
        pass
    finally:
        await client.close()


async def consume(stream: dict[str, str], expected: int) -> list[Any]:
    """Every message of the stream, read by a fresh pull consumer until none is left."""
    client = await nats.connect(stream["url"])
    try:
        js = client.jetstream()
        subscription = await js.pull_subscribe(f"{stream['subject_prefix']}.>", stream=stream["stream"])
        received = []
        while True:
            try:
                batch = await subscription.fetch(max(1, expected), timeout=1.0)
            except nats.errors.TimeoutError:
                return received
            for message in batch:
                await message.ack()
                received.append(message)
    finally:
        await client.close()


async def test_each_event_reaches_a_jetstream_consumer_once(
    stream: dict[str, str], partners: Partners, make_gateway: Callable[..., Gateway]
) -> None:
    civil = CivilAffairsSimulator(partners.henan.population, seed=2)
    notices = civil.deaths(3)
    events = {"subscribers": {"deaths.notify": ["bank"]}, "broker": stream}
    async with make_gateway(events=events) as gw:
        for notice in notices:
            for i in range(4):  # pushed four times each, under different keys
                await gw.call("deaths.notify", notice, idempotency_key=f"{notice.notice_id}-{i}")
        totals = await settled(gw)
        assert totals[DeliveryState.DELIVERED] == 6 and totals[DeliveryState.DEAD] == 0
        broker = [d for d in await gw.store.outbox.list(partner="events-broker") if d.response]
        assert [d.response["duplicate"] for d in broker] == [False, False, False]
    received = await consume(stream, expected=len(notices))
    assert sorted(m.headers[MSG_ID_HEADER] for m in received) == sorted(n.event_key for n in notices)
    assert {m.subject for m in received} == {f"{stream['subject_prefix']}.deaths.notify"}
    bodies = sorted(json.loads(m.data)["notice_id"] for m in received)
    assert bodies == sorted(str(n.notice_id) for n in notices)


async def test_a_resent_message_is_stored_once(stream: dict[str, str]) -> None:
    publisher = JetStreamPublisher(BrokerConfig.model_validate(stream))
    delivery = Delivery(
        id=1, partner="events-broker", operation="survival.report", payload={"citizen_id": "x"},
        idempotency_key="survival:0123456789abcdef01234567", deduplicated=True, state=DeliveryState.LEASED,
        attempts=1, created_at=0.0, updated_at=0.0, next_attempt_at=0.0,
    )  # fmt: skip
    try:
        first = await publisher.publish(delivery)
        again = await publisher.publish(delivery)  # the ack was "lost": the relay sends it again
    finally:
        await publisher.close()
    assert (first["duplicate"], again["duplicate"], first["seq"]) == (False, True, again["seq"])
    assert len(await consume(stream, expected=1)) == 1


async def test_a_broker_that_cannot_be_reached_is_a_transient_failure() -> None:
    settings = BrokerConfig.model_validate({"url": "nats://127.0.0.1:1", "timeout": 0.5})
    publisher = JetStreamPublisher(settings)
    delivery = Delivery(
        id=1, partner="events-broker", operation="deaths.notify", payload={}, idempotency_key="death:1",
        deduplicated=True, state=DeliveryState.LEASED, attempts=1, created_at=0.0, updated_at=0.0,
        next_attempt_at=0.0,
    )  # fmt: skip
    with pytest.raises(TransientError) as caught:
        await asyncio.wait_for(publisher.publish(delivery), 10)
    assert caught.value.code == "partner.unavailable"
    await publisher.close()
