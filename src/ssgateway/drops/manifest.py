"""The manifest of a contribution drop (``<stem>.manifest.json``), validated by a pydantic model."""

from __future__ import annotations

import codecs
import json
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictInt, ValidationError, field_validator

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
    records: StrictInt = Field(ge=0)
    """Data records in the CSV file (the header excluded); accepted + rejected must equal it. A JSON
    integer: ``true``, ``"3"`` or ``3.0`` are refused."""
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    """Hex SHA-256 of the CSV file's bytes."""
    encoding: Literal["gb18030", "gbk", "utf-8", "utf-8-sig"]
    """The CSV file's encoding."""
    created_at: AwareDatetime
    """When the sender wrote the drop: an ISO 8601 string with its offset (not a Unix time)."""

    @field_validator("sha256", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("created_at", mode="before")
    @classmethod
    def _iso(cls, value: Any) -> Any:
        if isinstance(value, datetime):  # built in Python, not read from JSON
            return value
        if not isinstance(value, str):
            raise ValueError("a timestamp is an ISO 8601 string with its offset")
        try:
            return datetime.fromisoformat(value)  # a number in a string ("1720000000") is refused here
        except ValueError:
            raise ValueError("a timestamp is an ISO 8601 string with its offset") from None

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
    except ValueError:  # a number of more digits than Python converts (4,300)
        raise InputError(
            f"{path.name}: not a manifest: a number far too long", code="drop.manifest"
        ) from None
    except RecursionError:
        raise InputError(f"{path.name}: not a manifest: nested too deeply", code="drop.manifest") from None
    try:
        return Manifest.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'manifest'}: {e['msg']}"
            for e in exc.errors(include_url=False, include_input=False)
        )
        raise InputError(f"{path.name}: invalid manifest: {problems}", code="drop.manifest") from None
