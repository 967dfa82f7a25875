"""The adapter's page documents every configuration key (its example is checked by tests/test_docs.py)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from ssgateway.partnerhttp import TlsSettings
from ssgateway_adapters.medical_insurance import MedicalInsuranceConfig

PAGE = Path(__file__).resolve().parents[2] / "docs" / "adapters" / "medical-insurance.md"


def keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    found = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            found += keys(annotation, f"{prefix}{name}.")
        else:
            found.append(f"{prefix}{name}")
    return found


def test_every_key_is_documented() -> None:
    text = PAGE.read_text(encoding="utf-8")
    documented = [*keys(MedicalInsuranceConfig), "tls", *TlsSettings.model_fields]
    missing = [key for key in documented if f"`{key}`" not in text]
    assert not missing, f"docs/adapters/medical-insurance.md does not document {missing}"
