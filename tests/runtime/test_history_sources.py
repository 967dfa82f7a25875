"""A merged history names every source it could not ask, so ``complete`` never claims too much."""

from __future__ import annotations

from pydantic import BaseModel
from tests.model.test_entities import CID, record

from ssgateway.model import ContributionHistory, HistoryQuery
from ssgateway.runtime.fanout import MAX_ROUNDS, gather_history
from ssgateway.runtime.router import Route, Router

OP = "contributions.history"
COUNTIES = {"41": "410105", "42": "420102", "43": "430102", "44": "440104", "45": "450102", "46": "460105",
            "50": "500101", "51": "510104", "52": "520102", "53": "530102"}  # fmt: skip
PROVINCES = list(COUNTIES)


def router(prefixes: list[str]) -> Router:
    return Router([Route(f"p{p}", frozenset({OP}), (p,)) for p in prefixes])


def chain(prefixes: list[str]) -> tuple[list[str], object]:
    """Each province's answer has a record pointing to the next province (a chain of transfers)."""
    asked: list[str] = []

    async def call(partner: str, operation: str, query: BaseModel) -> BaseModel:
        asked.append(partner)
        at = prefixes.index(partner[1:])
        regions = [COUNTIES[p] for p in prefixes[at : at + 2]]
        return ContributionHistory(citizen_id=CID, records=tuple(record("202001", region=r) for r in regions))

    return asked, call


async def test_a_chain_of_transfers_is_followed_and_what_is_left_is_named() -> None:
    asked, call = chain(PROVINCES)
    history = await gather_history(HistoryQuery(citizen_id=CID, regions=("410105",)), router(PROVINCES), call)  # type: ignore[arg-type]
    assert len(asked) == MAX_ROUNDS < len(PROVINCES)
    not_asked = [s for s in history.sources if s.error_code == "history.not_asked"]
    assert [s.partner for s in not_asked] == [f"p{PROVINCES[MAX_ROUNDS]}"]
    assert not history.complete


async def test_a_province_nobody_serves_makes_the_history_incomplete() -> None:
    asked, call = chain(["41", "42"])
    history = await gather_history(HistoryQuery(citizen_id=CID), router(["41"]), call)  # type: ignore[arg-type]
    assert asked == ["p41"]
    (unserved,) = [s for s in history.sources if not s.ok]
    assert (unserved.region, unserved.partner, unserved.error_code) == ("420000", None, "route.none")
    assert not history.complete and sorted(history.regions) == ["410000", "420000"]
