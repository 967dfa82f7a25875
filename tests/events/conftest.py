"""Fixtures of the event tests: one synthetic population and every subscriber's simulator, a gateway for them."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from ssgateway.config import parse_config
from ssgateway.runtime import Gateway
from ssgateway.testing import BankSimulator, MedicalSimulator, Population, ProvincialSimulator
from ssgateway.testing.dialect import LOWERCASE_DIALECT
from ssgateway.testing.medical import DEATH_REPORT_INFNO
from ssgateway.testing.provincial import retired
from ssgateway.testing.sidecar import running_sidecar
from ssgateway.yamlfile import Located

FAST_RETRY = {"attempts": 40, "deadline": 60, "initial_backoff": 0.02, "max_backoff": 0.1}


@pytest.fixture(scope="session")
def population() -> Population:
    return Population.generate(seed=5, size=60, provinces=("41", "44"))


@dataclass
class Partners:
    henan: ProvincialSimulator
    guangdong: ProvincialSimulator
    bank: BankSimulator
    medical: MedicalSimulator

    def _only_in(self, prefix: str, pensioner: bool) -> str:
        population = self.henan.population
        other = "44" if prefix == "41" else "41"
        return next(
            p.citizen_id
            for p in population.people_in(prefix)
            if retired(p, population.as_of) is pensioner and not p.spells_in(other)
        )

    def retiree(self, prefix: str = "41") -> str:
        """A retired person known in the province ``prefix`` only."""
        return self._only_in(prefix, True)

    def in_service(self, prefix: str = "41") -> str:
        """A person of working age known in the province ``prefix`` only."""
        return self._only_in(prefix, False)


@pytest.fixture
async def partners(population: Population) -> AsyncIterator[Partners]:
    sims = Partners(
        henan=ProvincialSimulator(population, region="41"),
        guangdong=ProvincialSimulator(population, region="44", dialect=LOWERCASE_DIALECT),
        bank=BankSimulator(population, seed=3),
        medical=MedicalSimulator(population, seed=3),
    )
    async with contextlib.AsyncExitStack() as stack:
        for sim in (sims.henan, sims.guangdong, sims.bank, sims.medical):
            await stack.enter_async_context(sim)
        yield sims
        await asyncio.sleep(0)  # let closed client connections end before the servers stop


def partner_blocks(sims: Partners) -> dict[str, Any]:
    return {
        "henan": {
            "adapter": "provincial-soap",
            "regions": ["41"],
            "config": {"endpoint": sims.henan.endpoint},
        },
        "guangdong": {
            "adapter": "provincial-soap",
            "regions": ["44"],
            "config": {
                "endpoint": sims.guangdong.endpoint,
                "wsdl": "sandbox/lowercase/v1/provincial.wsdl",
                "mappings": "provincial-soap-lowercase",
            },
        },
        "bank": {
            "adapter": "bank-iso20022",
            "regions": ["102"],
            "config": {"endpoint": sims.bank.url, "timeout": 5},
        },
        "medical": {
            "adapter": "medical-insurance",
            "config": {
                "endpoint": sims.medical.endpoint,
                "institution_code": "H41010500001",
                "institution_name": "郑州市测试医院",
                "treatment_division": "410105",
                "operator": "0001",
                "operator_name": "测试",
                "timeout": 5,
                "death_report": {"infno": DEATH_REPORT_INFNO},
            },
        },
    }


SUBSCRIBERS = {
    "deaths.notify": ["henan", "guangdong", "medical", "bank"],
    "survival.report": ["henan", "guangdong", "bank"],
}


@pytest.fixture
def make_gateway(tmp_path: Path, partners: Partners) -> Callable[..., Gateway]:
    """A gateway for every simulator, the events fanned out to all of them (SQLite unless ``store``)."""

    def make(
        *,
        events: dict[str, Any] | None = None,
        store: dict[str, Any] | None = None,
        partners_extra: dict[str, Any] | None = None,
        **sections: Any,
    ) -> Gateway:
        data = {
            "store": store or {"url": f"sqlite:///{tmp_path / 'gateway.db'}"},
            "partners": {**partner_blocks(partners), **(partners_extra or {})},
            "defaults": {"retry": FAST_RETRY, "breaker": {"failure_threshold": 1000}},
            "outbox": {"poll_interval": 0.05},
            "events": events if events is not None else {"subscribers": SUBSCRIBERS},
            "api_keys": [
                {
                    "id": "civil",
                    "hash": "sha256:" + "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                }
            ],
            **sections,
        }
        doc = Located(
            data=yaml.safe_load(yaml.safe_dump(data, allow_unicode=True)), file=str(tmp_path / "gateway.yaml")
        )
        return Gateway(parse_config(doc))

    return make


sidecar = running_sidecar
"""The sidecar for a gateway on a free port of 127.0.0.1; yields its URL."""


API_KEY = "test"  # its hash is in make_gateway's api_keys
