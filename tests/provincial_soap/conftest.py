"""Fixtures of the provincial-soap adapter tests: a population moving between Henan (41) and Guangdong (44),
simulated provinces, and gateways started from configuration files written like an operator would."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from ssgateway.runtime import Gateway
from ssgateway.testing.dialect import LOWERCASE_DIALECT
from ssgateway.testing.population import Population, SyntheticPerson
from ssgateway.testing.provincial import ProvincialSimulator

TODAY = date(2024, 6, 28)
HENAN, GUANGDONG = "410105", "440106"


@pytest.fixture(scope="session")
def population() -> Population:
    return Population.generate(seed=5, size=40, provinces=("41", "44"))


@pytest.fixture(scope="session")
def mover(population: Population) -> SyntheticPerson:
    """Someone who worked in Guangdong, then (after a gap) in Henan: one spell in each."""
    for person in population.people:
        spells = person.spells
        if [s.province for s in spells] == ["44", "41"] and spells[0].end.next() < spells[1].start:
            return person
    raise AssertionError("the seeded population has nobody who moved from Guangdong to Henan after a gap")


@pytest.fixture
async def henan(population: Population) -> AsyncIterator[ProvincialSimulator]:
    async with ProvincialSimulator(population, region="41", passwords={"gateway": "henan-secret"}) as sim:
        yield sim


@pytest.fixture
async def guangdong(population: Population) -> AsyncIterator[ProvincialSimulator]:
    async with ProvincialSimulator(population, region="44", dialect=LOWERCASE_DIALECT) as sim:
        yield sim


def closed_port() -> int:
    """A loopback port nothing listens on (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def henan_partner(sim: ProvincialSimulator, **extra: Any) -> dict[str, Any]:
    """Henan on the reference contract, with a UsernameToken (the password from the environment)."""
    return {
        "adapter": "provincial-soap",
        "regions": ["41"],
        "config": {
            "endpoint": sim.endpoint,
            "wsse": {"username": "gateway", "password": "${HENAN_SOAP_PASSWORD}"},
            "timeout": 5,
            **extra,
        },
    }


def guangdong_partner(sim: ProvincialSimulator, **extra: Any) -> dict[str, Any]:
    """Guangdong, the lower-case sandbox province: its WSDL and mapping set, no code."""
    return {
        "adapter": "provincial-soap",
        "regions": ["44"],
        "config": {
            "endpoint": sim.endpoint,
            "wsdl": "sandbox/lowercase/v1/provincial.wsdl",
            "mappings": "provincial-soap-lowercase",
            "timeout": 5,
            **extra,
        },
    }


@pytest.fixture
def write_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Path]:
    """Write a gateway configuration file (SQLite store in the test's directory); returns its path."""
    monkeypatch.setenv("HENAN_SOAP_PASSWORD", "henan-secret")

    def write(partners: dict[str, Any], **sections: Any) -> Path:
        path = tmp_path / "gateway.yaml"
        document = {"version": 1, "store": {"url": "sqlite:///gateway.db"}, "partners": partners, **sections}
        path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
        return path

    return write


@pytest.fixture
def gateway(write_config: Callable[..., Path]) -> Callable[..., Gateway]:
    """A gateway from a configuration file written by ``write_config``, through the installed adapters."""

    def make(partners: dict[str, Any], **sections: Any) -> Gateway:
        return Gateway.from_config(write_config(partners, **sections))

    return make
