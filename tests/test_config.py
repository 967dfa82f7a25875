from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from ssgateway.adapter import BaseAdapter, handles
from ssgateway.config import ConfigErrors, load_config, validate_adapter_configs
from ssgateway.errors import ConfigError
from ssgateway.model import PersonQuery, PersonRecord
from ssgateway.registry import AdapterRegistry

GOOD = """\
version: 1
store:
  url: sqlite:///gateway.db
partners:
  henan:
    adapter: fake
    regions: ["41"]
    timeout: 5
    config:
      endpoint: http://127.0.0.1:9000/soap
      password: ${HENAN_PASSWORD}
      user: ${HENAN_USER:-gateway}
api_keys:
  - id: payroll
    hash: sha256:0000000000000000000000000000000000000000000000000000000000000000
    operations: [person.lookup]
"""


class FakeConfig(BaseModel):
    model_config = {"extra": "forbid"}
    endpoint: str
    password: str
    user: str
    retries: int = 1


class Fake(BaseAdapter):
    name = "fake"
    version = "1"
    config_model = FakeConfig

    @handles("person.lookup")
    async def lookup(self, request: PersonQuery) -> PersonRecord:
        raise AssertionError("not called")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gateway.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def registry() -> AdapterRegistry:
    reg = AdapterRegistry(load_entry_points=False)
    reg.register(Fake)
    return reg


def test_good_config_loads_with_env_interpolation(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD), env={"HENAN_PASSWORD": "s3cret"})
    assert config.partners["henan"].config["password"] == "s3cret"
    assert config.partners["henan"].config["user"] == "gateway"
    assert config.base_dir == tmp_path.resolve()
    assert config.retry_for("henan").attempts == 4
    adapter_configs = validate_adapter_configs(config, registry())
    assert isinstance(adapter_configs["henan"], FakeConfig)


def test_missing_env_names_file_line_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    err = info.value
    assert (err.file, err.line, err.key) == (str(path), 11, "partners.henan.config.password")
    assert "HENAN_PASSWORD is not set" in str(err)
    assert str(err).startswith(f"{path}:11: partners.henan.config.password:")


def test_validation_errors_name_line_and_key(tmp_path: Path) -> None:
    text = GOOD.replace("timeout: 5", "timeout: -1").replace('regions: ["41"]', 'regions: ["4x"]')
    with pytest.raises(ConfigErrors) as info:
        load_config(write(tmp_path, text), env={"HENAN_PASSWORD": "x"})
    where = {(e.line, e.key) for e in info.value.errors}
    assert (7, "partners.henan.regions") in where
    assert (8, "partners.henan.timeout") in where


def test_unknown_key_is_reported(tmp_path: Path) -> None:
    text = GOOD.replace("store:\n", "stor:\n  x: 1\nstore:\n")
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text), env={"HENAN_PASSWORD": "x"})
    assert info.value.line == 2 and info.value.key == "stor"
    assert "Extra inputs are not permitted" in str(info.value)


def test_duplicate_keys_are_errors(tmp_path: Path) -> None:
    text = GOOD.replace("    timeout: 5\n", "    timeout: 5\n    timeout: 6\n")
    with pytest.raises(ConfigError, match="duplicate key") as info:
        load_config(write(tmp_path, text), env={"HENAN_PASSWORD": "x"})
    assert info.value.line == 9


def test_yaml_syntax_error_has_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="invalid YAML") as info:
        load_config(write(tmp_path, "partners:\n  a: [1, 2\n  b: 3\n"))
    assert info.value.line is not None


def test_adapter_config_errors_point_into_the_block(tmp_path: Path) -> None:
    text = GOOD.replace(
        "      user: ${HENAN_USER:-gateway}\n", "      user: ${HENAN_USER:-gateway}\n      retries: many\n"
    )
    config = load_config(write(tmp_path, text), env={"HENAN_PASSWORD": "x"})
    with pytest.raises(ConfigError) as info:
        validate_adapter_configs(config, registry())
    assert (info.value.line, info.value.key) == (13, "partners.henan.config.retries")


def test_two_partners_for_one_operation_and_region_are_refused(tmp_path: Path) -> None:
    second = """  henan-new:
    adapter: fake
    regions: ["41"]
    config: {endpoint: "http://127.0.0.1:9001/soap", password: x, user: y}
api_keys:"""
    config = load_config(write(tmp_path, GOOD.replace("api_keys:", second, 1)), env={"HENAN_PASSWORD": "x"})
    with pytest.raises(
        ConfigError, match=r"'henan' and 'henan-new' both serve person\.lookup for region 41"
    ) as info:
        validate_adapter_configs(config, registry())
    assert info.value.key == "partners.henan-new.regions"
    narrower = GOOD.replace("api_keys:", second.replace('["41"]', '["4101"]'), 1)  # a city's own system
    validate_adapter_configs(load_config(write(tmp_path, narrower), env={"HENAN_PASSWORD": "x"}), registry())


def test_unknown_adapter_names_installed_ones(tmp_path: Path) -> None:
    config = load_config(
        write(tmp_path, GOOD.replace("adapter: fake", "adapter: soap")), env={"HENAN_PASSWORD": "x"}
    )
    with pytest.raises(ConfigError, match="installed adapters: fake") as info:
        validate_adapter_configs(config, registry())
    assert info.value.line == 6


def test_secret_values_never_appear_in_errors(tmp_path: Path) -> None:
    text = GOOD.replace("operations: [person.lookup]", "operations: [nope]")
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text), env={"HENAN_PASSWORD": "topsecret"})
    assert "topsecret" not in str(info.value)
    assert "unknown operation 'nope'" in str(info.value)


def test_bad_api_key_hash_is_rejected(tmp_path: Path) -> None:
    text = GOOD.replace("sha256:0000", "md5:0000")
    with pytest.raises(ConfigError, match="sha256") as info:
        load_config(write(tmp_path, text), env={"HENAN_PASSWORD": "x"})
    assert info.value.key == "api_keys.0.hash"


def test_empty_file_gives_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, ""))
    assert config.store.url == "sqlite:///ssgateway.db" and not config.partners


def test_config_file_not_found() -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_config("/nonexistent/gateway.yaml")
