"""Civil affairs end to end: pushes to the sidecar and a CSV batch in the inbox become one fan-out."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.events.conftest import API_KEY, Partners, sidecar
from tests.events.test_fanout import settled

from ssgateway.config import parse_config
from ssgateway.errors import ConfigError
from ssgateway.reliability import DeliveryState
from ssgateway.runtime import Gateway
from ssgateway.sdk import AdapterContext
from ssgateway.testing import CivilAffairsSimulator
from ssgateway.testing.faultplan import FaultKind
from ssgateway.yamlfile import loads
from ssgateway_adapters.civil_affairs import CivilAffairsAdapter, InboxConfig

BAD_ROWS = [
    {"SWBH": "X1", "GMSFHM": "36042619910102009X", "XM": "王五", "SWRQ": "20240601", "ZJLX": "3",
     "XZQH": "410105", "TBRQ": "20240603"},  # bad check character
    {"SWBH": "X2", "GMSFHM": "360426199101010071", "XM": "赵六", "SWRQ": "20240601", "ZJLX": "9",
     "XZQH": "410105", "TBRQ": "20240603"},  # unknown evidence code
]  # fmt: skip


async def test_five_pushes_and_a_batch_are_one_fan_out_with_a_subscriber_down(
    tmp_path: Path, partners: Partners, make_gateway: Callable[..., Gateway]
) -> None:
    civil = CivilAffairsSimulator(partners.henan.population, seed=4)
    person = partners.retiree("41")
    notice = civil.death_of(person)
    others = civil.deaths(2, exclude=[person])
    inbox = tmp_path / "inbox"
    # the medical platform is down for a while: thirty refusals before it takes anything
    down = partners.medical.faults.add(FaultKind.HTTP_ERROR, operations="SD01", times=30, status=503)
    extra = {"civil": {"adapter": "civil-affairs", "config": {"inbox": str(inbox), "poll_interval": 0.05}}}
    gateway = make_gateway(partners_extra=extra)
    async with sidecar(gateway) as url:
        civil.target(url, API_KEY)
        pushes = await civil.push(notice, times=5)
        assert [p.status for p in pushes] == [200] * 5
        assert [p.duplicate for p in pushes] == [False, True, True, True, True]
        assert len({p.idempotency_key for p in pushes}) == 5
        batch = civil.drop(inbox, [*others, notice], extra_rows=BAD_ROWS)
        await wait_for((inbox / "done" / batch.name).exists)
        totals = await settled(gateway, timeout=60)
        assert totals[DeliveryState.DEAD] == 0 and totals[DeliveryState.DELIVERED] == 3 * 4
        again = await civil.push(notice)
        assert again[0].duplicate and {d["state"] for d in again[0].answer["deliveries"]} == {"delivered"}  # type: ignore[index]
    assert down.fired == 30
    stopped = [c.citizen_id for c in partners.henan.benefits.entries]
    assert stopped.count(person) == 1 and partners.henan.benefits.attempts == len(stopped)
    assert [e.citizen_id for e in partners.bank.ledger.events].count(person) == 1
    assert [r.certno for r in partners.medical.ledger.entries].count(person) == 1
    assert len(partners.medical.ledger) == 3 and partners.medical.ledger.attempts == 3
    rejected = (inbox / "rejects" / f"{batch.name}.rejects.jsonl").read_text(encoding="utf-8")
    rejects = [json.loads(line) for line in rejected.splitlines()]
    assert [(r["line"], r["field"]) for r in rejects] == [(5, "citizen_id"), (6, "evidence")]
    assert "36042619910102009X" not in json.dumps(rejects, ensure_ascii=False)


async def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    import asyncio

    for _ in range(int(timeout / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the condition did not come true in time")


async def test_pushes_whose_answer_is_lost_or_whose_body_is_cut(
    partners: Partners, make_gateway: Callable[..., Gateway]
) -> None:
    civil = CivilAffairsSimulator(partners.henan.population, seed=5)
    notice = civil.death_of(partners.retiree("41"))
    gateway = make_gateway()
    async with sidecar(gateway) as url:
        civil.target(url, API_KEY)
        civil.faults.add(FaultKind.TRUNCATE, times=1)
        cut = await civil.push(notice)
        assert cut[0].status is None
        civil.faults.add(FaultKind.MALFORMED, times=1)
        malformed = await civil.push(notice)
        assert malformed[0].status == 422 and malformed[0].answer["code"] == "request.invalid"  # type: ignore[index]
        assert await gateway.events.record_of(notice.event_key) is None  # nothing was recorded yet
        civil.faults.add(FaultKind.RESET, times=1)
        lost = await civil.push(notice)  # recorded, but the answer never reached civil affairs
        assert lost[0].status is None
        assert await gateway.events.record_of(notice.event_key) is not None
        resent = await civil.push(notice)  # so it sends again, under a new key
        assert resent[0].status == 200 and resent[0].duplicate is True
        await settled(gateway)
    assert len(partners.bank.ledger.events) == 1


async def test_an_unreadable_batch_is_set_aside_with_the_reason(
    tmp_path: Path, partners: Partners, make_gateway: Callable[..., Gateway]
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "broken.csv").write_bytes(b"SWBH,GMSFHM\r\n1,2\r\n")
    extra = {"civil": {"adapter": "civil-affairs", "config": {"inbox": "inbox", "poll_interval": 60}}}
    async with make_gateway(partners_extra=extra) as gw:
        adapter = gw.adapters["civil"]
        assert isinstance(adapter, CivilAffairsAdapter)
        assert await adapter.poll() == 0 or True  # the watcher may have taken it first
        assert (inbox / "rejects" / "broken.csv").exists()
        reason = (inbox / "rejects" / "broken.csv.error.txt").read_text(encoding="utf-8")
        assert "XM" in reason  # a missing column is named
        health = await adapter.check()
        assert health.ok and "0 batches waiting" in (health.detail or "")


async def test_a_batch_under_yesterdays_name_keeps_yesterdays_rejects(
    tmp_path: Path, partners: Partners, make_gateway: Callable[..., Gateway]
) -> None:
    civil = CivilAffairsSimulator(partners.henan.population, seed=5)
    inbox = tmp_path / "inbox"
    extra = {"civil": {"adapter": "civil-affairs", "config": {"inbox": str(inbox), "poll_interval": 3600}}}
    async with make_gateway(partners_extra=extra) as gw:
        adapter = gw.adapters["civil"]
        assert isinstance(adapter, CivilAffairsAdapter)
        for day, bad in enumerate(BAD_ROWS):  # the office names every daily batch deaths.csv
            civil.drop(inbox, civil.deaths(1), name="deaths.csv", extra_rows=[bad])
            assert await adapter.poll() == 1, day
        gone = inbox / "taken-by-another-replica.csv"  # listed, then moved by another replica
        await adapter._import(gone, adapter._mapping)  # type: ignore[arg-type]
    assert sorted(p.name for p in (inbox / "done").iterdir()) == ["deaths.1.csv", "deaths.csv"]
    reasons = {
        p.name: [json.loads(line)["reason"] for line in p.read_text(encoding="utf-8").splitlines()]
        for p in (inbox / "rejects").iterdir()
    }
    assert reasons == {
        "deaths.csv.rejects.jsonl": ["the check character does not match (GB 11643)"],
        "deaths.1.csv.rejects.jsonl": ["code '9' is not in code list civil-affairs-evidence"],
    }  # nothing about the batch another replica took


async def test_the_adapter_needs_a_gateway_and_an_event_mapping(tmp_path: Path) -> None:
    alone = CivilAffairsAdapter(InboxConfig(inbox=tmp_path), AdapterContext(partner="civil"))
    with pytest.raises(ConfigError, match="event intake"):
        await alone.start()
    wrong = CivilAffairsAdapter(
        InboxConfig(inbox=tmp_path, mapping="golden-insurance/contribution-drop"),
        AdapterContext(partner="civil", services={"events": object()}),
    )
    with pytest.raises(ConfigError, match="not an event") as caught:
        await wrong.start()
    assert caught.value.key == "partners.civil.config.mapping"


def test_subscribers_must_serve_their_event(tmp_path: Path) -> None:
    text = """
store: {url: "sqlite:///x.db"}
partners:
  civil: {adapter: civil-affairs, config: {inbox: inbox}}
events:
  subscribers:
    deaths.notify: [civil]
    births.notify: [civil]
"""
    with pytest.raises(ConfigError, match=r"births\.notify"):
        parse_config(loads(text, str(tmp_path / "g.yaml")), env={})
    config = parse_config(
        loads(text.replace("    births.notify: [civil]\n", ""), str(tmp_path / "g.yaml")), env={}
    )
    from ssgateway.config import validate_adapter_configs
    from ssgateway.registry import default_registry

    with pytest.raises(ConfigError) as caught:
        validate_adapter_configs(config, default_registry())
    assert caught.value.key == "events.subscribers.deaths.notify.0" and caught.value.line == 7
    assert "does not serve deaths.notify" in caught.value.message
    redis = text.replace("sqlite:///x.db", "redis://127.0.0.1:6379/0").replace(
        "    births.notify: [civil]\n", ""
    )
    with pytest.raises(ConfigError, match="SQLite or PostgreSQL"):
        parse_config(loads(redis, str(tmp_path / "g.yaml")), env={})
