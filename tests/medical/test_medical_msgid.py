"""msgid: the 30-character form, blocks per second, restarts within a second, lagging clocks, exhaustion."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest

from ssgateway.errors import ConfigError, TransientError
from ssgateway.reliability import Store, open_store
from ssgateway.testing import FakeClock
from ssgateway_adapters.medical_insurance.msgid import (
    BEIJING,
    SEQUENCE_LIMIT,
    CheckpointCounter,
    MemoryCounter,
    MsgIdGenerator,
    second_of,
)

INSTITUTION = "H44010600001"
# 2026-03-01 10:15:30.250 in Beijing
START = datetime(2026, 3, 1, 10, 15, 30, 250_000, tzinfo=BEIJING).timestamp()
NAME = f"medical-insurance/msgid/{INSTITUTION}"


class FrozenClock(FakeClock):
    """Time that never moves, not even while sleeping."""

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        await asyncio.sleep(0)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with open_store(f"sqlite:///{tmp_path / 'msgid.db'}") as opened:
        yield opened


def parts(msgid: str) -> tuple[str, str, int]:
    assert len(msgid) == 30 and re.fullmatch(r"[A-Z0-9]{12}\d{18}", msgid), msgid
    return msgid[:12], msgid[12:26], int(msgid[26:])


async def test_the_form_and_the_first_second_of_a_memory_counter() -> None:
    clock = FakeClock(START)
    generator = MsgIdGenerator(INSTITUTION, MemoryCounter(clock.time()), clock=clock)
    first, second = await generator.next(), await generator.next()
    # a memory counter never numbers in the second it was created in: a predecessor may have used it
    assert parts(first) == (INSTITUTION, "20260301101531", 0)
    assert parts(second) == (INSTITUTION, "20260301101531", 1)
    assert clock.sleeps == [pytest.approx(0.75)]


async def test_a_block_is_dropped_when_its_second_passes(store: Store) -> None:
    clock = FakeClock(START)
    generator = MsgIdGenerator(
        INSTITUTION, CheckpointCounter(store.checkpoints, NAME), block_size=10, clock=clock
    )
    early = [parts(await generator.next()) for _ in range(3)]
    clock.advance(1)
    later = parts(await generator.next())
    assert [s for _, _, s in early] == [0, 1, 2] and {t for _, t, _ in early} == {"20260301101530"}
    assert later == (INSTITUTION, "20260301101531", 0)
    assert generator.reservations == 2
    stored = await store.checkpoints.get(NAME)
    assert stored is not None and stored.state == {"second": "20260301101531", "next": 10}


async def test_a_restart_within_the_same_second_continues_the_sequence(tmp_path: Path) -> None:
    clock = FakeClock(START)  # the same instant for both lives of the process
    url = f"sqlite:///{tmp_path / 'restart.db'}"
    seen: list[str] = []
    for _life in range(2):
        async with open_store(url) as store:
            generator = MsgIdGenerator(
                INSTITUTION, CheckpointCounter(store.checkpoints, NAME), block_size=50, clock=clock
            )
            seen += [await generator.next() for _ in range(5)]
    assert len(set(seen)) == 10
    assert [parts(m)[2] for m in seen] == [0, 1, 2, 3, 4, 50, 51, 52, 53, 54]
    assert {parts(m)[1] for m in seen} == {second_of(START)}


async def test_a_process_whose_clock_lags_borrows_the_later_second(store: Store) -> None:
    ahead, behind = FakeClock(START + 1), FakeClock(START)
    a = MsgIdGenerator(INSTITUTION, CheckpointCounter(store.checkpoints, NAME), block_size=4, clock=ahead)
    b = MsgIdGenerator(INSTITUTION, CheckpointCounter(store.checkpoints, NAME), block_size=4, clock=behind)
    first = parts(await a.next())
    lagging = parts(await b.next())
    assert first == (INSTITUTION, "20260301101531", 0)
    assert lagging == (INSTITUTION, "20260301101531", 4)  # never the earlier second: numbers only move on


async def test_a_full_second_waits_for_the_next(store: Store) -> None:
    clock = FakeClock(START)
    await store.checkpoints.put(NAME, {"second": second_of(START), "next": SEQUENCE_LIMIT}, 0)
    generator = MsgIdGenerator(INSTITUTION, CheckpointCounter(store.checkpoints, NAME), clock=clock)
    assert parts(await generator.next()) == (INSTITUTION, "20260301101531", 0)
    assert clock.sleeps == [pytest.approx(0.75)]


async def test_a_full_second_that_never_ends_fails_transiently(store: Store) -> None:
    clock = FrozenClock(START)
    await store.checkpoints.put(NAME, {"second": second_of(START), "next": SEQUENCE_LIMIT}, 0)
    generator = MsgIdGenerator(
        INSTITUTION, CheckpointCounter(store.checkpoints, NAME), clock=clock, max_wait=2
    )
    with pytest.raises(TransientError) as caught:
        await generator.next()
    assert caught.value.code == "msgid.busy" and len(clock.sleeps) == 2


async def test_concurrent_tasks_and_generators_share_one_counter(store: Store) -> None:
    clock = FakeClock(START)
    generators = [
        MsgIdGenerator(INSTITUTION, CheckpointCounter(store.checkpoints, NAME), block_size=7, clock=clock)
        for _ in range(3)
    ]
    found = await asyncio.gather(*(generators[i % 3].next() for i in range(600)))
    assert len(set(found)) == 600
    # at most the unused rest of each generator's last block is skipped
    assert max(parts(m)[2] for m in found) < 600 + 3 * 7


def test_an_institution_code_has_twelve_characters() -> None:
    for bad in ("H4401060000", "H440106000011", "H44010600OO十"):
        with pytest.raises(ConfigError):
            MsgIdGenerator(bad, MemoryCounter(START))
