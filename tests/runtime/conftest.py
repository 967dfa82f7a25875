from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.model.test_entities import record
from tests.runtime.adapters import DownAdapter, FragileAdapter, LedgerAdapter

from ssgateway.config import parse_config
from ssgateway.registry import AdapterRegistry, default_registry
from ssgateway.runtime import Gateway
from ssgateway.testing import PartnerSimulator
from ssgateway.yamlfile import Located

CID = "360426199101010071"


def test_adapters() -> AdapterRegistry:
    """The records-file adapter and the test adapters, registered in code."""
    reg = AdapterRegistry(load_entry_points=False)
    reg.register(default_registry().get("records-file"))
    reg.register(LedgerAdapter)
    reg.register(DownAdapter)
    reg.register(FragileAdapter)
    return reg


test_adapters.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


@pytest.fixture
def registry() -> AdapterRegistry:
    return test_adapters()


def write_records(path: Path, periods: list[str], region: str) -> None:
    path.write_text(
        "".join(record(p, region=region).model_dump_json() + "\n" for p in periods), encoding="utf-8"
    )


@pytest.fixture
async def partner() -> AsyncIterator[PartnerSimulator]:
    async with PartnerSimulator() as sim:
        yield sim


@pytest.fixture
def make_gateway(tmp_path: Path, registry: AdapterRegistry) -> Callable[..., Gateway]:
    def make(partners: dict[str, Any], **sections: Any) -> Gateway:
        data = {"store": {"url": f"sqlite:///{tmp_path / 'gw.db'}"}, "partners": partners, **sections}
        doc = Located(data=yaml.safe_load(yaml.safe_dump(data)), file=str(tmp_path / "gateway.yaml"))
        return Gateway(parse_config(doc), registry=registry)

    return make
