"""Fixtures of the bank tests: a population, the simulated bank, an adapter on it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from ssgateway.sdk import AdapterContext
from ssgateway.testing import BankSimulator, Population
from ssgateway_adapters.bank_iso20022 import BankIso20022Adapter, BankSettings

Adapter = Callable[..., Awaitable[BankIso20022Adapter]]


@pytest.fixture(scope="session")
def population() -> Population:
    return Population.generate(seed=5, size=60)


@pytest.fixture
async def bank(population: Population) -> AsyncIterator[BankSimulator]:
    async with BankSimulator(population, seed=5) as sim:
        yield sim
        await asyncio.sleep(0)  # let closed client connections end before the server stops


@pytest.fixture
async def adapter(bank: BankSimulator) -> AsyncIterator[Adapter]:
    made: list[BankIso20022Adapter] = []

    async def make(**settings: Any) -> BankIso20022Adapter:
        config = BankSettings.model_validate({"endpoint": bank.url, "timeout": 5, **settings})
        instance = BankIso20022Adapter(config, AdapterContext(partner="icbc-zhengzhou"))
        await instance.start()
        made.append(instance)
        return instance

    yield make
    for instance in made:
        await instance.close()
