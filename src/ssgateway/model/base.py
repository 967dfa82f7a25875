"""Base classes of the canonical model: strict, frozen, masked in errors, with provenance."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ssgateway.masking import mask_text

__all__ = ["SCHEMA_VERSION", "CanonicalModel", "Entity", "Provenance"]

SCHEMA_VERSION = "1"
"""Version of the canonical model. Bumped on any incompatible change; exported schemas carry it."""


class CanonicalModel(BaseModel):
    """Base of every canonical model.

    Frozen, rejects unknown fields, and never echoes input values in validation errors (they may be
    personal data). Personal field types mask themselves in ``repr``.
    """

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        hide_input_in_errors=True,
        use_attribute_docstrings=True,
        validate_default=False,
    )

    # Output-only (computed) fields appear in serialised documents; they are dropped when a document is
    # read back, so canonical JSON round-trips.
    _output_only: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="before")
    @classmethod
    def _drop_output_only(cls, data: Any) -> Any:
        if cls._output_only and isinstance(data, dict) and not cls._output_only.isdisjoint(data):
            return {k: v for k, v in data.items() if k not in cls._output_only}
        return data

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        cls._output_only = frozenset(cls.__pydantic_computed_fields__)


class Provenance(CanonicalModel):
    """Where an entity came from."""

    source_system: str = Field(min_length=1, max_length=100)
    """The configured source or partner, e.g. ``henan-provincial``."""
    source_ref: str | None = Field(default=None, max_length=500)
    """Where in the source: ``file.csv:1234``, an element index, a partner's record id."""
    received_at: datetime | None = None
    """When ssgateway received it."""
    mapping: str | None = None
    """The mapping that produced it, ``id@version``."""
    extra: dict[str, str] = Field(default_factory=dict)
    """Source fields with no canonical home, carried along unchanged (masked in ``repr``)."""

    def __repr_args__(self) -> Any:
        for name, value in super().__repr_args__():
            if name == "extra" and isinstance(value, dict):
                yield name, {k: mask_text(v) for k, v in value.items()}
            else:
                yield name, value


class Entity(CanonicalModel):
    """A canonical entity: a canonical model that carries provenance."""

    provenance: Provenance | None = None
    """Where this record came from; set by adapters and mappings."""
