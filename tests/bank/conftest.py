"""Fixtures of the bank tests: a population, the simulated bank, an adapter on it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from ssgateway.config import parse_config
from ssgateway.runtime import Gateway
from ssgateway.sdk import AdapterContext
from ssgateway.testing import BankSimulator, Population
from ssgateway.yamlfile import Located
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
    assert bank.refused == 0, "the adapter sent a pain.001 the bank found invalid"
    assert bank.problems == [], bank.problems


@pytest.fixture
def gateway(tmp_path: Path, bank: BankSimulator) -> Callable[..., Gateway]:
    """A gateway with the bank as partner ``icbc`` (routing debtor bank codes 102…), SQLite store."""

    def make(*, config: dict[str, Any] | None = None, **sections: Any) -> Gateway:
        partner = {
            "adapter": "bank-iso20022",
            "regions": ["102"],
            "timeout": 60,
            "config": {"endpoint": bank.url, "timeout": 10, **(config or {})},
        }
        data = {
            "store": {"url": f"sqlite:///{tmp_path / 'gateway.db'}"},
            "partners": {"icbc": partner},
            "outbox": {"poll_interval": 0.05},
            **sections,
        }
        doc = Located(
            data=yaml.safe_load(yaml.safe_dump(data, allow_unicode=True)), file=str(tmp_path / "gw.yaml")
        )
        return Gateway(parse_config(doc))

    return make
