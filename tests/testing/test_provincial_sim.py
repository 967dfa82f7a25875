from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from lxml import etree

from ssgateway.testing.dialect import LOWERCASE_DIALECT, REFERENCE_DIALECT
from ssgateway.testing.faultplan import FaultKind, FaultPlan
from ssgateway.testing.population import Population
from ssgateway.testing.provincial import ProvincialSimulator, TransferLedger
from ssgateway.xmlsafe import parse_xml

ENV = "http://schemas.xmlsoap.org/soap/envelope/"


@pytest.fixture(scope="module")
def population() -> Population:
    return Population.generate(seed=11, size=60)


def soap(payload: str) -> bytes:
    return f'<s:Envelope xmlns:s="{ENV}"><s:Body>{payload}</s:Body></s:Envelope>'.encode()


def query_person(inner: str) -> bytes:
    ns = REFERENCE_DIALECT.namespace
    return soap(f'<gi:QueryPersonRequest xmlns:gi="{ns}">{inner}</gi:QueryPersonRequest>')


def test_the_wsdl_is_served_with_the_simulator_address(population: Population) -> None:
    for dialect in (REFERENCE_DIALECT, LOWERCASE_DIALECT):
        with ProvincialSimulator(population, dialect=dialect).in_thread() as sim:
            wsdl = parse_xml(httpx.get(sim.wsdl_url).content)
            address = wsdl.find(".//{http://schemas.xmlsoap.org/wsdl/soap/}address")
            assert address is not None and address.get("location") == sim.endpoint
            assert wsdl.get("targetNamespace") == dialect.namespace
            xsd = httpx.get(sim.endpoint + "?xsd=provincial.xsd")
            assert xsd.content == dialect.xsd.read_bytes()
            assert httpx.get(sim.url + "/other").status_code == 404
            assert httpx.put(sim.endpoint).status_code == 405
            assert sim.contract_requests == 2


def test_requests_are_parsed_hardened_and_validated(population: Population) -> None:
    with ProvincialSimulator(population).in_thread() as sim:
        hostile = httpx.post(
            sim.endpoint, content=b"<!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]><x>&e;</x>"
        )
        assert hostile.status_code == 500 and b"E1000" in hostile.content and b"root:" not in hostile.content
        wrong_ns = httpx.post(
            sim.endpoint,
            content=soap('<QueryPersonRequest xmlns="urn:other"><AAC002>1</AAC002></QueryPersonRequest>'),
        )
        assert b"no operation of this service" in wrong_ns.content
        invalid = httpx.post(
            sim.endpoint,
            content=query_person("<gi:AAC003>x</gi:AAC003>"),
        )
        fault = parse_xml(invalid.content)
        assert fault.findtext(f".//{{{REFERENCE_DIALECT.namespace}}}code") == "E1001"
        assert sim.calls["QueryPerson"] == 1


def test_the_ledger_dedupes_on_the_certificate_number() -> None:
    ledger = TransferLedger("41")
    at = datetime(2024, 6, 28, tzinfo=UTC)
    first = ledger.accept("ZY1", "110105", "A", at)
    assert ledger.accept("ZY1", "110105", "A", datetime.now(UTC)) is first
    second = ledger.accept("ZY2", "110105", "A", at)
    assert (first.letter_number, second.letter_number) == ("LX4100000001", "LX4100000002")
    with pytest.raises(ValueError, match="other receiving details"):
        ledger.accept("ZY1", "310101", "A", at)
    assert len(ledger) == 2 and ledger.attempts == 4 and ledger.get("ZY2") is second


def test_fault_rates_are_repeatable_from_the_seed() -> None:
    def pattern(seed: int) -> list[bool]:
        plan = FaultPlan(seed)
        plan.add(FaultKind.FAULT, operations=["QueryPerson"], rate=0.3)
        return [bool(plan.draw("QueryPerson")) for _ in range(200)]

    assert pattern(7) == pattern(7)
    assert pattern(7) != pattern(8)
    assert 30 < sum(pattern(7)) < 90


def test_fault_rules_apply_per_operation_and_up_to_a_count() -> None:
    plan = FaultPlan()
    once = plan.add("reset", operations="AcceptTransfer", times=1)
    slow = plan.add(FaultKind.LATENCY, delay=0.5)
    assert plan.draw("QueryPerson") == [slow]
    assert plan.draw("AcceptTransfer") == [once, slow]
    assert plan.draw("AcceptTransfer") == [slow]
    assert once.fired == 1 and not once.before_work
    with pytest.raises(ValueError, match="rate"):
        plan.add(FaultKind.FAULT, rate=2)
    plan.clear()
    assert plan.draw("AcceptTransfer") == []


def test_people_of_other_provinces_are_not_found(population: Population) -> None:
    outsider = next(p for p in population.people if not p.spells_in("41"))
    with ProvincialSimulator(population, region="41").in_thread() as sim:
        answer = httpx.post(
            sim.endpoint,
            content=query_person(f"<gi:AAC002>{outsider.citizen_id}</gi:AAC002>"),
        )
    root = parse_xml(answer.content)
    assert root.findtext(".//faultcode") == "soap:Client.NotFound"
    assert outsider.citizen_id not in etree.tostring(root).decode()  # the fault text masks the id
