"""Inbound after outbound gives back the canonical record, for drop rows and SOAP rows."""

from __future__ import annotations

import io

from hypothesis import HealthCheck, given, settings
from lxml import etree
from tests.mapping.strategies import contribution_records

from ssgateway.mapping import Accepted, MappingCatalog, read_xml
from ssgateway.model import ContributionRecord

CATALOG = MappingCatalog()
DROP_IN = CATALOG.inbound("golden-insurance/contribution-drop")
DROP_OUT = CATALOG.outbound("golden-insurance/contribution-drop-out")
SOAP_IN = CATALOG.inbound("provincial-soap/query-contributions")
SOAP_OUT = CATALOG.outbound("provincial-soap/contribution-row-out")


def same(record: ContributionRecord, again: object) -> None:
    assert isinstance(again, Accepted), again
    assert again.entity.model_dump(exclude={"provenance"}) == record.model_dump(exclude={"provenance"})


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(contribution_records())
def test_drop_row_round_trip(record: ContributionRecord) -> None:
    row = DROP_OUT.render(record)
    assert set(row) == set(DROP_IN.columns)
    same(record, DROP_IN.map_record(row, 2))


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(contribution_records())
def test_soap_row_round_trip(record: ContributionRecord) -> None:
    element = SOAP_OUT.render(record)
    data = etree.tostring(element)
    outcomes = [
        SOAP_IN.map_record(el, i)
        for i, el in read_xml(io.BytesIO(data), record_tag=SOAP_IN.record_tag or "", source="t")
    ]
    assert len(outcomes) == 1
    same(record, outcomes[0])
