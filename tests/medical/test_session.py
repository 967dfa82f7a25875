"""The platform session: one sign-in in flight, shared by every call that found the number stale."""

from __future__ import annotations

import asyncio

import pytest

from ssgateway.errors import TransientError
from ssgateway_adapters.medical_insurance.session import Session


class Platform:
    def __init__(self) -> None:
        self.sign_ins = 0
        self.fail = False
        self.gate = asyncio.Event()

    async def sign_in(self) -> str:
        self.sign_ins += 1
        await self.gate.wait()
        if self.fail:
            raise TransientError("sign-in refused for now")
        return f"S{self.sign_ins}"


async def test_many_calls_finding_the_number_stale_share_one_sign_in() -> None:
    platform = Platform()
    platform.gate.set()
    session = Session(platform.sign_in)
    first = await session.current()
    platform.gate.clear()
    waiting = [asyncio.create_task(session.renew(first)) for _ in range(50)]
    await asyncio.sleep(0)
    platform.gate.set()
    assert set(await asyncio.gather(*waiting)) == {"S2"}
    assert platform.sign_ins == session.sign_ins == 2
    assert await session.renew(first) == "S2"  # renewed since: no sign-in
    assert await session.renew("S2") == "S3"


async def test_a_failed_sign_in_reaches_every_waiter_and_the_next_call_tries_again() -> None:
    platform = Platform()
    platform.fail = True
    session = Session(platform.sign_in)
    waiting = [asyncio.create_task(session.renew(None)) for _ in range(5)]
    await asyncio.sleep(0)
    platform.gate.set()
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert all(isinstance(r, TransientError) for r in results) and platform.sign_ins == 1
    platform.fail = False
    assert await session.current() == "S2"


async def test_a_cancelled_waiter_leaves_the_sign_in_to_the_others() -> None:
    platform = Platform()
    session = Session(platform.sign_in)
    quitter = asyncio.create_task(session.renew(None))
    stayer = asyncio.create_task(session.renew(None))
    await asyncio.sleep(0)
    quitter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await quitter
    platform.gate.set()
    assert await stayer == "S1" and session.sign_no == "S1" and platform.sign_ins == 1
