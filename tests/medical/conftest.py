from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from ssgateway.config import parse_config
from ssgateway.runtime import Gateway
from ssgateway.testing import MedicalSimulator, Population
from ssgateway.testing.medical import DEATH_REPORT_INFNO
from ssgateway.yamlfile import Located

INSTITUTION = "H44010600001"


@pytest.fixture(scope="session")
def population() -> Population:
    return Population.generate(seed=11, size=40)


@pytest.fixture
async def platform(population: Population) -> AsyncIterator[MedicalSimulator]:
    async with MedicalSimulator(population, institution_code=INSTITUTION) as sim:
        yield sim


def adapter_config(endpoint: str, **overrides: Any) -> dict[str, Any]:
    """The adapter's config block for a simulator at ``endpoint``."""
    config: dict[str, Any] = {
        "endpoint": endpoint,
        "institution_code": INSTITUTION,
        "institution_name": "广州市越秀区测试医院",
        "treatment_division": "440106",
        "operator": "0001",
        "operator_name": "收费员",
        "timeout": 5,
        "death_report": {"infno": DEATH_REPORT_INFNO},
    }
    config.update(overrides)
    return config


@pytest.fixture
def make_gateway(tmp_path: Path) -> Callable[..., Gateway]:
    def make(config: dict[str, Any], store: str | None = None, **sections: Any) -> Gateway:
        data = {
            "store": {"url": store or f"sqlite:///{tmp_path / 'gw.db'}"},
            "partners": {
                "nhsa": {"adapter": "medical-insurance", "config": config, **sections.pop("partner", {})}
            },
            **sections,
        }
        doc = Located(
            data=yaml.safe_load(yaml.safe_dump(data, allow_unicode=True)), file=str(tmp_path / "gateway.yaml")
        )
        return Gateway(parse_config(doc))

    return make
