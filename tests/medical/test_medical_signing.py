"""Signing: SM3 and HMAC-SM3 (known answers), what is signed, the platform checking it, pluggable signers."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from tests.medical.conftest import adapter_config

from ssgateway.config import load_config, validate_adapter_configs
from ssgateway.errors import ConfigError, PermanentError
from ssgateway.registry import default_registry
from ssgateway.runtime import Gateway
from ssgateway.testing import MedicalSimulator, Population
from ssgateway_adapters.medical_insurance import HmacSM3, SM3Digest, signing_bytes, sm3_hexdigest
from ssgateway_adapters.medical_insurance.signing import load_signer, sign_envelope

ROOT = Path(__file__).resolve().parents[2]


def test_sm3_known_answers() -> None:
    # GB/T 32905-2016, appendix A
    assert sm3_hexdigest(b"abc") == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    assert sm3_hexdigest(b"abcd" * 16) == "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"


def test_hmac_sm3_is_rfc_2104_over_sm3() -> None:
    key, message = b"shared-key", "报文".encode()
    block = key.ljust(64, b"\0")  # SM3 works on 64-byte blocks
    inner = hashlib.new("sm3", bytes(b ^ 0x36 for b in block) + message).digest()
    outer = hashlib.new("sm3", bytes(b ^ 0x5C for b in block) + inner).hexdigest()
    assert HmacSM3(key).sign(message) == outer
    with pytest.raises(ConfigError):
        HmacSM3(b"")


async def test_what_is_signed() -> None:
    envelope: dict[str, Any] = {
        "infno": "1101",
        "opter_name": "收费员",
        "input": {"data": {"b": 1, "a": "x"}},
    }
    await sign_envelope(envelope, SM3Digest())
    assert envelope["signtype"] == "SM3"
    signed = signing_bytes(envelope)
    assert (
        signed
        == '{"infno":"1101","input":{"data":{"a":"x","b":1}},"opter_name":"收费员","signtype":"SM3"}'.encode()
    )
    assert envelope["cainfo"] == sm3_hexdigest(signed)
    tampered = {**envelope, "input": {"data": {"b": 2, "a": "x"}}}
    assert sm3_hexdigest(signing_bytes(tampered)) != envelope["cainfo"]


@pytest.mark.parametrize(
    ("signing", "check"),
    [
        (
            {"method": "sm3"},
            lambda e: e["signtype"] == "SM3" and e["cainfo"] == sm3_hexdigest(signing_bytes(e)),
        ),
        (
            {"method": "hmac-sm3", "key": "k3y"},
            lambda e: e["cainfo"] == HmacSM3(b"k3y").sign(signing_bytes(e)),
        ),
        (
            {"method": "custom", "signer": "tests.medical.signers:make", "options": {"key_label": "hsm-1"}},
            lambda e: e["signtype"] == "SM2" and e["cainfo"] == f"hsm-1:{sm3_hexdigest(signing_bytes(e))}",
        ),
    ],
)
async def test_the_platform_checks_every_signature(
    population: Population,
    make_gateway: Callable[..., Gateway],
    signing: dict[str, Any],
    check: Callable[[Mapping[str, Any]], bool],
) -> None:
    person = population.people[0]
    query = {"citizen_id": person.citizen_id, "region": person.spells[-1].region}
    async with MedicalSimulator(population, verify=check) as platform:
        async with make_gateway(adapter_config(platform.endpoint, signing=signing)) as gw:
            await gw.call("medical.insurance_status", query)
        assert platform.sign_ins == 1 and platform.calls["1101"] == 1
        # signed with something else, the same call is refused
        async with make_gateway(adapter_config(platform.endpoint), defaults={"retry": {"attempts": 1}}) as gw:
            with pytest.raises(PermanentError, match="验签失败"):
                await gw.call("medical.insurance_status", query)


def test_signer_references_are_checked() -> None:
    assert load_signer("tests.medical.signers:make", {"key_label": "x"}).signtype == "SM2"
    for reference, reason in [
        ("tests.medical.signers", "package.module:factory"),
        ("tests.medical.nowhere:make", "cannot load"),
        ("tests.medical.signers:absent", "cannot load"),
        ("tests.medical.signers:broken", "no signtype"),
    ]:
        with pytest.raises(ConfigError, match=reason):
            load_signer(reference, {})


def test_the_hmac_key_comes_from_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text(
        "partners:\n  nhsa:\n    adapter: medical-insurance\n    config:\n"
        "      endpoint: https://nhsa.test/fsi\n      institution_code: H44010600001\n"
        "      institution_name: 测试医院\n      treatment_division: '440106'\n"
        "      operator: '0001'\n      operator_name: 收费员\n"
        "      signing: {method: hmac-sm3, key: '${MI_HMAC_KEY}'}\n",
        encoding="utf-8",
    )
    config = load_config(path, env={"MI_HMAC_KEY": "from-env"})
    settings = validate_adapter_configs(config, default_registry())["nhsa"]
    assert settings.signing.key.get_secret_value() == "from-env"  # type: ignore[attr-defined]
    assert "from-env" not in repr(settings)


def test_nothing_imports_gmssl() -> None:
    # gmssl draws SM2 nonces from Python's `random`: an SM2 signer must come from an HSM or a vetted library
    sources = [*(ROOT / "adapters").rglob("*.py"), *(ROOT / "src").rglob("*.py")]
    offenders = [
        p for p in sources if "import gmssl" in (text := p.read_text("utf-8")) or "from gmssl" in text
    ]
    assert not offenders
