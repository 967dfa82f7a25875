"""A history is mapped row by row as it streams in: memory stays flat however long the answer is."""

from __future__ import annotations

import tracemalloc

import pytest

from ssgateway.errors import ResponseTooLarge
from ssgateway.model import ContributionRecord, HistoryQuery
from ssgateway.sdk import AdapterContext
from ssgateway.testing.dialect import REFERENCE_DIALECT as GI
from ssgateway.testing.faultplan import FaultKind, gzip_bomb
from ssgateway.testing.population import Population, SyntheticPerson
from ssgateway.testing.provincial import ProvincialSimulator
from ssgateway_adapters.provincial_soap import ProvincialSoapAdapter, ProvincialSoapConfig

ROW_BYTES = 1024  # a divisor of 1 MiB, as gzip_bomb's fill unit must be
BOMB = 64 * 1024 * 1024


def endless_answer(population: Population, person: SyntheticPerson) -> tuple[bytes, bytes]:
    """The opening of a QueryContributions answer, and one valid row padded to ROW_BYTES, repeated forever."""
    opening = (
        '<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
        f'<soap:Body><gi:QueryContributionsResponse xmlns:gi="{GI.namespace}"><gi:AAC002>{person.citizen_id}</gi:AAC002>'
        "<gi:rows>"
    ).encode()
    fields = population.contributions(person.citizen_id, "41")[0].as_row()
    row = ("<gi:row>" + "".join(f"<gi:{k}>{v}</gi:{k}>" for k, v in fields.items()) + "</gi:row>").encode()
    assert len(row) < ROW_BYTES
    return opening, row + b" " * (ROW_BYTES - len(row))


async def test_an_endless_history_is_mapped_with_flat_memory(
    henan: ProvincialSimulator, population: Population, mover: SyntheticPerson
) -> None:
    cap = 4 * 1024 * 1024
    opening, row = endless_answer(population, mover)
    gzip_bomb(BOMB, opening, row)  # built (and cached) before memory is traced
    config = ProvincialSoapConfig.model_validate(
        {
            "endpoint": henan.endpoint,
            "wsse": {"username": "gateway", "password": "henan-secret"},
            "max_stream_bytes": cap,
            "stream_timeout": 120,
        }
    )
    adapter = ProvincialSoapAdapter(config, AdapterContext(partner="henan", regions=("41",)))
    await adapter.start()
    records = 0
    try:
        await adapter.call("contributions.history", HistoryQuery(citizen_id=mover.citizen_id))  # warm up
        henan.faults.add(
            FaultKind.GZIP_BOMB, operations="QueryContributions", size=BOMB, body=opening, fill=row
        )
        tracemalloc.start()
        try:
            with pytest.raises(ResponseTooLarge, match="larger than the limit"):
                async for item in adapter.iter_history(HistoryQuery(citizen_id=mover.citizen_id)):
                    assert isinstance(item, ContributionRecord)
                    records += 1
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    finally:
        await adapter.close()
    assert records > cap // ROW_BYTES - 100  # every row up to the cap was mapped to a validated record ...
    assert peak < cap // 4, f"peak {peak} bytes while mapping a {cap}-byte stream"  # ... and let go
