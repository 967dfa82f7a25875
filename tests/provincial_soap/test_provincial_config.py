"""The provincial-soap configuration: defaults, file errors, secrets, paths; what start() refuses."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from ssgateway.config import load_config, validate_adapter_configs
from ssgateway.errors import ConfigError
from ssgateway.mapping import MappingCatalog
from ssgateway.model import PersonQuery
from ssgateway.partnerhttp import TlsSettings
from ssgateway.registry import default_registry
from ssgateway.sdk import AdapterContext
from ssgateway.soap import FaultPolicy, WsseSettings
from ssgateway.testing.dialect import LOWERCASE_DIALECT
from ssgateway_adapters.provincial_soap import OperationSettings, ProvincialSoapAdapter, ProvincialSoapConfig

ENDPOINT = "https://henan.province.test/ws/provincial"


def test_defaults_follow_the_reference_contract() -> None:
    config = ProvincialSoapConfig(endpoint=ENDPOINT)
    assert [
        (op.operation, op.request, op.response)
        for op in map(config.resolved, ("person.lookup", "contributions.history", "transfer.certificate", "transfer.submit", "deaths.notify", "survival.report"))
    ] == [
        ("QueryPerson", "provincial-soap/query-person-request", "provincial-soap/query-person"),
        ("QueryContributions", "provincial-soap/query-contributions-request", "provincial-soap/query-contributions"),
        ("IssueTransferCertificate", "provincial-soap/transfer-certificate-request", "provincial-soap/transfer-certificate"),
        ("AcceptTransfer", "provincial-soap/accept-transfer-request", "provincial-soap/accept-transfer"),
        ("ChangeBenefit", "provincial-soap/death-change-request", "provincial-soap/benefit-change"),
        ("ChangeBenefit", "provincial-soap/survival-change-request", "provincial-soap/benefit-change"),
    ]  # fmt: skip
    assert config.not_found_faults == ("Client.NotFound",) and config.count_element == "count"
    assert ProvincialSoapAdapter.deduplicated == frozenset(
        {"transfer.submit", "deaths.notify", "survival.report"}
    )


def test_a_mapping_set_and_overrides() -> None:
    config = ProvincialSoapConfig.model_validate(
        {
            "endpoint": ENDPOINT,
            "mappings": "hubei",
            "operations": {"transfer.submit": {"operation": "JieShouZhuanYi", "response": "hubei-v2/accept"}},
        }
    )
    submit = config.resolved("transfer.submit")
    assert (submit.operation, submit.request, submit.response) == (
        "JieShouZhuanYi",
        "hubei/accept-transfer-request",
        "hubei-v2/accept",
    )
    assert config.resolved("person.lookup").response == "hubei/query-person"


def write(tmp_path: Path, config: str) -> Path:
    path = tmp_path / "gateway.yaml"
    path.write_text(
        "version: 1\npartners:\n  henan:\n    adapter: provincial-soap\n    regions: ['41']\n    config:\n"
        + "".join(f"      {line}\n" for line in config.splitlines()),
        encoding="utf-8",
    )
    return path


def test_errors_name_the_file_line_and_key(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"endpoint: {ENDPOINT}\noperations:\n  person.lookupp: {{response: x/y}}\nwsdl: http://evil.test/x.wsdl\n",
    )
    with pytest.raises(ConfigError) as caught:
        validate_adapter_configs(load_config(path), default_registry())
    text = caught.value.message
    assert f"{path}:9: partners.henan.config.operations.person.lookupp" in text
    assert f"{path}:10: partners.henan.config.wsdl" in text and "never a URL" in text


def test_secrets_come_from_the_environment_and_stay_hidden(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"endpoint: {ENDPOINT}\nwsse: {{username: gateway, password: '${{HENAN_SOAP_PASSWORD}}'}}\n"
        "tls: {client_cert: certs/gateway.pem, client_key_password: '${HENAN_KEY_PASSWORD}'}\n",
    )
    settings = validate_adapter_configs(
        load_config(path, env={"HENAN_SOAP_PASSWORD": "pa55-word", "HENAN_KEY_PASSWORD": "k3y"}),
        default_registry(),
    )["henan"]
    assert isinstance(settings, ProvincialSoapConfig) and settings.wsse and settings.tls
    assert (
        isinstance(settings.wsse.password, SecretStr)
        and settings.wsse.password.get_secret_value() == "pa55-word"
    )
    assert isinstance(settings.tls.client_key_password, SecretStr)
    assert "pa55-word" not in repr(settings) and "k3y" not in repr(settings)
    with pytest.raises(ConfigError, match="HENAN_SOAP_PASSWORD is not set"):
        load_config(path, env={"HENAN_KEY_PASSWORD": "k3y"})


def test_paths_are_relative_to_the_configuration(tmp_path: Path) -> None:
    config = ProvincialSoapConfig.model_validate(
        {
            "endpoint": ENDPOINT,
            "contract_dir": "contracts/hubei",
            "wsdl": "hubei.wsdl",
            "tls": {"ca_file": "certs/ca.pem", "client_cert": "/etc/gateway/client.pem"},
        }
    )
    settings = config.soap_settings(AdapterContext(partner="hubei", base_dir=tmp_path).resolve)
    assert settings.wsdl_path() == tmp_path / "contracts" / "hubei" / "hubei.wsdl"
    assert settings.tls is not None
    assert (settings.tls.ca_file, settings.tls.client_cert) == (
        tmp_path / "certs" / "ca.pem",
        Path("/etc/gateway/client.pem"),
    )
    assert type(settings).__name__ == "SoapSettings"


async def start(tmp_path: Path, **config: object) -> ProvincialSoapAdapter:
    settings = ProvincialSoapConfig.model_validate({"endpoint": ENDPOINT, **config})
    catalog = MappingCatalog([tmp_path / "mappings"])
    adapter = ProvincialSoapAdapter(
        settings, AdapterContext(partner="henan", base_dir=tmp_path, services={"mappings": catalog})
    )
    await adapter.start()
    return adapter


@pytest.mark.parametrize(
    ("config", "key", "reason"),
    [
        (
            {"operations": {"person.lookup": {"response": "nobody/query-person"}}},
            "operations.person.lookup.response",
            "no mapping 'nobody/query-person'",
        ),
        (
            {"operations": {"person.lookup": {"response": "provincial-soap/accept-transfer"}}},
            "operations.person.lookup.response",
            "maps TransferAcceptance; person.lookup needs PersonRecord",
        ),
        (
            {"operations": {"person.lookup": {"request": "provincial-soap/query-person"}}},
            "operations.person.lookup.request",
            "mapping 'provincial-soap/query-person' is inbound",
        ),
        (
            {"operations": {"contributions.history": {"response": "golden-insurance/contribution-drop"}}},
            "operations.contributions.history.response",
            "is not an XML mapping",
        ),
        (
            {"operations": {"transfer.submit": {"operation": "AcceptTransfers"}}},
            "operations.transfer.submit.operation",
            "has no operation 'AcceptTransfers'; it has AcceptTransfer, ChangeBenefit, IssueTransferCertificate",
        ),
        (  # the lower-case province's WSDL with the reference mappings
            {"wsdl": "sandbox/lowercase/v1/provincial.wsdl"},
            "operations.person.lookup.request",
            "builds {urn:ssgateway:golden-insurance:v1}QueryPersonRequest, but QueryPerson of provincial.wsdl "
            "takes {urn:ssgateway:sandbox:lowercase-province:v1}QueryPersonRequest",
        ),
        (
            {
                "wsdl": "sandbox/lowercase/v1/provincial.wsdl",
                "mappings": "provincial-soap-lowercase",
                "operations": {"transfer.certificate": {"response": "provincial-soap/transfer-certificate"}},
            },
            "operations.transfer.certificate.response",
            "reads elements of namespace urn:ssgateway:golden-insurance:v1, but the IssueTransferCertificate "
            "answer of provincial.wsdl is in urn:ssgateway:sandbox:lowercase-province:v1",
        ),
    ],
    ids=["unknown", "entity", "direction", "format", "operation", "other-wsdl", "namespace"],
)
async def test_start_refuses_mappings_that_do_not_fit(
    tmp_path: Path, config: dict[str, object], key: str, reason: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        await start(tmp_path, **config)
    assert caught.value.key == f"partners.henan.config.{key}"
    assert reason in caught.value.message


async def test_a_local_contract_directory(tmp_path: Path) -> None:
    contracts = tmp_path / "contracts"
    contracts.mkdir()
    for source in LOWERCASE_DIALECT.contract_dir.iterdir():
        (contracts / source.name).write_bytes(source.read_bytes())
    adapter = await start(
        tmp_path, contract_dir="contracts", wsdl="provincial.wsdl", mappings="provincial-soap-lowercase"
    )
    try:
        assert (await adapter.check()).ok
        assert adapter.client.contract.path == (contracts / "provincial.wsdl").resolve()
    finally:
        await adapter.close()
    assert not (await adapter.check()).ok
    # outside the contract directory nothing is read
    with pytest.raises(Exception, match="outside the allowed contract directories"):
        await start(tmp_path, wsdl=str(contracts / "provincial.wsdl"), mappings="provincial-soap-lowercase")


async def test_calls_before_start_are_refused(tmp_path: Path) -> None:
    adapter = ProvincialSoapAdapter(ProvincialSoapConfig(endpoint=ENDPOINT), AdapterContext(partner="henan"))
    assert not (await adapter.check()).ok
    with pytest.raises(ConfigError, match="not started"):
        await adapter.call("person.lookup", PersonQuery(citizen_id="11010519491231002X", region="110105"))  # type: ignore[arg-type]


def test_every_key_is_in_the_configuration_reference() -> None:
    page = (Path(__file__).resolve().parents[2] / "docs" / "adapters" / "provincial-soap.md").read_text(
        "utf-8"
    )
    section = page.split("\n## Configuration reference\n", 1)[1].split("\n## ", 1)[0]
    for model in (ProvincialSoapConfig, WsseSettings, TlsSettings, FaultPolicy, OperationSettings):
        missing = [name for name in model.model_fields if f"`{name}`" not in section]
        assert not missing, f"{model.__name__}: {missing} not in the configuration reference"
