"""Fixtures of the SOAP tests: a seeded population, a simulated province, a client, a canary listener."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import date

import pytest

from ssgateway.soap import SoapClient, SoapSettings
from ssgateway.testing.canary import Canary
from ssgateway.testing.population import Population, SyntheticPerson
from ssgateway.testing.provincial import ProvincialSimulator

TODAY = date(2024, 6, 28)


@pytest.fixture(scope="session")
def population() -> Population:
    return Population.generate(seed=11, size=120)


@pytest.fixture(scope="session")
def henan_person(population: Population) -> SyntheticPerson:
    """Someone with pension contributions in Henan (41) who also worked elsewhere."""
    for person in population.people_in("41"):
        if len(person.provinces) > 1 and population.certificate(person.citizen_id, "41", "110105", TODAY):
            return person
    raise AssertionError("the seeded population has nobody who moved out of Henan")


@pytest.fixture
async def simulator(population: Population) -> AsyncIterator[ProvincialSimulator]:
    async with ProvincialSimulator(population, region="41") as sim:
        yield sim


@pytest.fixture
async def client(simulator: ProvincialSimulator) -> AsyncIterator[SoapClient]:
    async with SoapClient(SoapSettings(endpoint=simulator.endpoint, timeout=5), partner="henan") as soap:
        yield soap


@pytest.fixture(scope="module")
def canary() -> Iterator[Canary]:
    listener = Canary()
    yield listener
    listener.close()
    assert listener.hits == 0, f"the canary listener was contacted {listener.hits} times"
