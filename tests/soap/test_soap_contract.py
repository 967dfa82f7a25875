from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from lxml import etree

from ssgateway.errors import ConfigError, RequestInvalid, XMLSecurityError
from ssgateway.resources import shipped_contracts_dir
from ssgateway.soap import ZEEP_SETTINGS, ContractLoader, clear_contract_cache, load_contract
from ssgateway.testing.dialect import CANONICAL_NAMES, LOWERCASE_DIALECT, REFERENCE_DIALECT, Dialect

NS = "urn:ssgateway:golden-insurance:v1"


def test_zeep_runs_with_every_protection_on() -> None:
    assert ZEEP_SETTINGS.strict is True
    assert ZEEP_SETTINGS.forbid_dtd is True
    assert ZEEP_SETTINGS.forbid_entities is True
    assert ZEEP_SETTINGS.forbid_external is True
    assert ZEEP_SETTINGS.xml_huge_tree is False


def test_the_shipped_contract_has_the_five_operations() -> None:
    contract = load_contract("provincial/v1/provincial.wsdl")
    assert contract.path.is_relative_to(shipped_contracts_dir())
    assert contract.operations == (
        "AcceptTransfer",
        "ChangeBenefit",
        "IssueTransferCertificate",
        "QueryContributions",
        "QueryPerson",
    )
    assert contract.soap_action("QueryPerson") == f"{NS}#QueryPerson"
    assert contract.request_element("QueryContributions") == f"{{{NS}}}QueryContributionsRequest"
    assert contract.response_element("AcceptTransfer") == f"{{{NS}}}AcceptTransferResponse"
    assert {p.name for p in contract.files} == {"provincial.wsdl", "provincial.xsd"}


def test_contracts_are_parsed_once_and_shared() -> None:
    clear_contract_cache()
    first = load_contract("provincial/v1/provincial.wsdl")
    assert load_contract(REFERENCE_DIALECT.wsdl) is first
    assert load_contract(LOWERCASE_DIALECT.wsdl, roots=[LOWERCASE_DIALECT.contract_dir]) is not first


def test_a_changed_import_is_noticed(tmp_path: Path) -> None:
    shutil.copytree(REFERENCE_DIALECT.contract_dir, tmp_path / "v1")
    wsdl = tmp_path / "v1" / "provincial.wsdl"
    first = load_contract(wsdl, roots=[tmp_path])
    assert load_contract(wsdl, roots=[tmp_path]) is first
    xsd = tmp_path / "v1" / "provincial.xsd"
    xsd.write_text(
        xsd.read_text(encoding="utf-8").replace('name="AAE042"', 'name="AAE043"'), encoding="utf-8"
    )
    second = load_contract(wsdl, roots=[tmp_path])
    assert second is not first
    assert (
        "AAE043"
        in etree.tostring(second.build("QueryContributions", AAC002="1" * 18, AAE043="202401")).decode()
    )


def test_requests_are_built_from_the_contract() -> None:
    contract = load_contract("provincial/v1/provincial.wsdl")
    envelope = contract.build(
        "AcceptTransfer", certificateNo="ZY1", receivingDivision="110105", receivingAccount="A1"
    )
    body = envelope.find("{http://schemas.xmlsoap.org/soap/envelope/}Body")
    assert body is not None
    assert [el.tag for el in body[0]] == [
        f"{{{NS}}}certificateNo",
        f"{{{NS}}}receivingDivision",
        f"{{{NS}}}receivingAccount",
    ]
    with pytest.raises(RequestInvalid, match="unexpected keyword argument 'AAC003'"):
        contract.build("QueryPerson", AAC003="x")
    with pytest.raises(RequestInvalid, match="Missing element AAC002"):
        contract.build("QueryPerson")
    with pytest.raises(ConfigError, match="no operation 'Nope'"):
        contract.build("Nope")


def test_the_loader_reads_only_under_its_roots(tmp_path: Path) -> None:
    (tmp_path / "a.xsd").write_text("<x/>", encoding="utf-8")
    loader = ContractLoader([tmp_path])
    assert loader.load(str(tmp_path / "a.xsd")) == b"<x/>"
    for refused in (
        "http://127.0.0.1:1/a.xsd",
        "https://example.invalid/a",
        (tmp_path / "a.xsd").as_uri(),
        "a.xsd",
        "/etc/hostname",
    ):
        with pytest.raises(XMLSecurityError, match="refused"):
            loader.load(refused)
    for method in (loader.get, loader.post, loader.post_xml):
        with pytest.raises(XMLSecurityError, match="never sends"):
            method("http://127.0.0.1:1/", b"", {})
    assert list(loader.loaded) == [tmp_path / "a.xsd"]


def test_missing_and_unusable_contracts_are_configuration_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot be read"):
        load_contract(tmp_path / "missing.wsdl", roots=[tmp_path])
    (tmp_path / "not.wsdl").write_text("<html/>", encoding="utf-8")
    with pytest.raises(ConfigError, match="not a usable SOAP 1\\.1 WSDL"):
        load_contract(tmp_path / "not.wsdl", roots=[tmp_path])


@pytest.mark.parametrize("dialect", [REFERENCE_DIALECT, LOWERCASE_DIALECT], ids=lambda d: d.name)
def test_each_dialect_xsd_declares_exactly_its_names(dialect: Dialect) -> None:
    schema = etree.parse(str(dialect.xsd))
    assert schema.getroot().get("targetNamespace") == dialect.namespace
    declared = {el.get("name") for el in schema.iter("{http://www.w3.org/2001/XMLSchema}element")}
    assert declared == {dialect.local(name) for name in CANONICAL_NAMES}
    contract = load_contract(dialect.wsdl, roots=[dialect.contract_dir])
    assert contract.request_element("QueryPerson") == dialect.tag("QueryPersonRequest")
    assert dialect.canonical(dialect.local("row")) == "row"
