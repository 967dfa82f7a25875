"""The manifest of a contribution drop (``<stem>.manifest.json``), validated by a pydantic model."""

from __future__ import annotations

import codecs
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator

from ssgateway.errors import InputError
from ssgateway.masking import mask_text
from ssgateway.model import Period, RegionCode

__all__ = ["MANIFEST_FORMAT", "Manifest", "read_manifest"]

MANIFEST_FORMAT = "golden-insurance/contribution-drop@1"
"""The drop format this version reads."""


class Manifest(BaseModel):
    """What a drop's sender says about its CSV file; written before the done marker."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, hide_input_in_errors=True, use_attribute_docstrings=True
    )

    format: Literal["golden-insurance/contribution-drop@1"]
    """The drop format and its version."""
    source: str = Field(min_length=1, max_length=100)
    """The sending system, e.g. ``henan-provincial``."""
    region: RegionCode
    """The division the drop is for (usually a province, ``410000``)."""
    period: Period
    """The month the drop is for (``YYYYMM``); no record may be for a later month."""
    records: int = Field(ge=0)
    """Data records in the CSV file (the header excluded); accepted + rejected must equal it."""
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    """Hex SHA-256 of the CSV file's bytes."""
    encoding: Literal["gb18030", "gbk", "utf-8", "utf-8-sig"]
    """The CSV file's encoding."""
    created_at: AwareDatetime
    """When the sender wrote the drop."""

    @field_validator("sha256", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("encoding", mode="before")
    @classmethod
    def _canonical(cls, value: Any) -> Any:
        try:
            return codecs.lookup(value).name if isinstance(value, str) else value
        except LookupError:
            return value


def read_manifest(path: Path) -> Manifest:
    """Read and validate a manifest.

    Raises:
        InputError: not JSON, or not a valid manifest (every problem named, no value echoed).
    """
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise InputError(f"{path.name}: no manifest", code="drop.manifest") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(
            f"{path.name}: not valid JSON: {mask_text(str(exc))}", code="drop.manifest"
        ) from None
    try:
        return Manifest.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'manifest'}: {e['msg']}"
            for e in exc.errors(include_url=False, include_input=False)
        )
        raise InputError(f"{path.name}: invalid manifest: {problems}", code="drop.manifest") from None
