from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.runtime.conftest import CID, write_records

from ssgateway.errors import IdempotencyConflict, NotFound, RequestInvalid
from ssgateway.model import ContributionHistory, TransferAcceptance
from ssgateway.runtime import Gateway
from ssgateway.testing import FaultKind, Faults, PartnerSimulator

SUBMISSION = {"certificate_number": "ZM41-1", "citizen_id": CID, "from_region": "410000", "to_region": "440000",
              "receiving_account": "44-POOL"}  # fmt: skip


def two_provinces(tmp_path: Path) -> dict[str, Any]:
    write_records(tmp_path / "henan.jsonl", ["202301", "202302", "202303"], "410105")
    write_records(tmp_path / "guangdong.jsonl", ["202306", "202307"], "440113")
    return {
        "henan": {"adapter": "records-file", "regions": ["41"], "config": {"contributions": ["henan.jsonl"]}},
        "guangdong": {
            "adapter": "records-file",
            "regions": ["44"],
            "config": {"contributions": ["guangdong.jsonl"]},
        },
    }


async def test_history_merges_provinces_with_gaps(
    tmp_path: Path, make_gateway: Callable[..., Gateway]
) -> None:
    async with make_gateway(two_provinces(tmp_path)) as gw:
        result = await gw.call("contributions.history", {"citizen_id": CID})
    history = result.response
    assert isinstance(history, ContributionHistory)
    assert history.total_months == 5 and history.complete
    assert [(str(g.start), str(g.end)) for g in history.gaps] == [("2023-04", "2023-05")]
    assert sorted(s.partner or "" for s in history.sources) == ["guangdong", "henan"]


async def test_a_province_down_gives_a_partial_history(
    tmp_path: Path, make_gateway: Callable[..., Gateway]
) -> None:
    partners = two_provinces(tmp_path) | {"hubei": {"adapter": "test-down", "regions": ["42"]}}
    async with make_gateway(partners, defaults={"retry": {"attempts": 2, "initial_backoff": 0.01}}) as gw:
        history = (await gw.call("contributions.history", {"citizen_id": CID})).response
    assert isinstance(history, ContributionHistory)
    assert not history.complete and history.total_months == 5
    (failed,) = [s for s in history.sources if not s.ok]
    assert (failed.partner, failed.error_code) == ("hubei", "partner.unavailable")


async def test_routing_longest_prefix_and_unknown_region(
    tmp_path: Path, make_gateway: Callable[..., Gateway]
) -> None:
    partners = two_provinces(tmp_path)
    write_records(tmp_path / "zhengzhou.jsonl", ["202212"], "410105")
    partners["zhengzhou"] = {
        "adapter": "records-file",
        "regions": ["4101"],
        "config": {"contributions": ["zhengzhou.jsonl"]},
    }
    async with make_gateway(partners) as gw:
        assert gw.router.route("contributions.history", "410105").partner == "zhengzhou"
        assert gw.router.route("contributions.history", "410300").partner == "henan"
        with pytest.raises(NotFound, match=r"no partner serves person\.lookup for region 110105"):
            await gw.call("person.lookup", {"citizen_id": CID, "region": "110105"})


async def test_mutating_call_is_idempotent(
    tmp_path: Path, make_gateway: Callable[..., Gateway], partner: PartnerSimulator
) -> None:
    partners = {"henan": {"adapter": "test-ledger", "regions": ["41"], "config": {"url": partner.url}}}
    async with make_gateway(partners) as gw:
        with pytest.raises(RequestInvalid, match="idempotency key is required"):
            await gw.call("transfer.submit", SUBMISSION)
        first = await gw.call("transfer.submit", SUBMISSION, idempotency_key="k-1", caller="app")
        again = await gw.call("transfer.submit", SUBMISSION, idempotency_key="k-1", caller="app")
        assert not first.replayed and again.replayed
        assert again.json() == first.json()
        assert isinstance(again.response, TransferAcceptance)
        with pytest.raises(IdempotencyConflict):
            await gw.call(
                "transfer.submit",
                {**SUBMISSION, "receiving_account": "other"},
                idempotency_key="k-1",
                caller="app",
            )
        # another caller's key space is its own; the province still dedupes on the certificate
        await gw.call("transfer.submit", SUBMISSION, idempotency_key="k-1", caller="other-app")
    assert len(partner.ledger) == 1


async def test_transient_faults_are_retried(tmp_path: Path, make_gateway: Callable[..., Gateway]) -> None:
    async with PartnerSimulator(
        faults=Faults(
            rate=0.5, seed=2, kinds=(FaultKind.UNAVAILABLE, FaultKind.THROTTLED, FaultKind.COMMIT_THEN_RESET)
        )
    ) as sim:
        partners = {"henan": {"adapter": "test-ledger", "regions": ["41"], "config": {"url": sim.url}}}
        retry = {"attempts": 10, "initial_backoff": 0.001, "max_backoff": 0.01, "honour_retry_after": False}
        async with make_gateway(
            partners, defaults={"retry": retry, "breaker": {"failure_threshold": 100}}
        ) as gw:
            for i in range(20):
                await gw.call(
                    "transfer.submit",
                    {**SUBMISSION, "certificate_number": f"ZM41-{i}"},
                    idempotency_key=f"k{i}",
                )
            metrics = gw.metrics.render().decode()
        assert len(sim.ledger) == 20
        assert sum(sim.injected.values()) > 0
        assert 'ssgateway_retries_total{operation="transfer.submit",partner="henan"}' in metrics


async def test_breaker_opens_and_readiness_follows(
    tmp_path: Path, make_gateway: Callable[..., Gateway]
) -> None:
    partners = {
        "hubei": {
            "adapter": "test-down",
            "regions": ["42"],
            "breaker": {"failure_threshold": 2, "reset_timeout": 60},
        }
    }
    async with make_gateway(partners, defaults={"retry": {"attempts": 1}}) as gw:
        assert (await gw.readiness())[0]
        for _ in range(3):
            await gw.call("contributions.history", {"citizen_id": CID})
        ready, checks = await gw.readiness()
        assert not ready and checks["partner:hubei"] == "open"


async def test_concurrent_identical_submissions_send_once(
    tmp_path: Path, make_gateway: Callable[..., Gateway], partner: PartnerSimulator
) -> None:
    partners = {"henan": {"adapter": "test-ledger", "regions": ["41"], "config": {"url": partner.url}}}
    async with make_gateway(partners) as gw:
        results = await asyncio.gather(
            *(gw.call("transfer.submit", SUBMISSION, idempotency_key="same") for _ in range(50)),
            return_exceptions=True,
        )
    done = [r for r in results if not isinstance(r, BaseException)]
    assert done and len(partner.ledger) == 1
    assert all(type(r).__name__ == "IdempotencyInProgress" for r in results if isinstance(r, BaseException))
