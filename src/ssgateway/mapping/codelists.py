"""Code lists: tables that translate a source system's codes to canonical values and back.

A code list is a YAML file in a ``codelists/`` directory::

    id: aae140-current
    description: AAE140 insurance type, current 3-digit scheme
    source: Golden-Insurance field dictionary
    target: InsuranceType          # a canonical enum of ssgateway.model.codes, or "str"
    codes:
      "110": enterprise_employee_pension
      "170": {value: resident_pension, label: 城乡居民基本养老保险, unverified: true}

Several codes may translate to one value; the reverse direction (canonical → code) uses the code marked
``preferred: true``, else the first one listed.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ssgateway import yamlfile
from ssgateway.errors import MappingError
from ssgateway.model import codes as canonical_codes

__all__ = ["CodeEntry", "CodeList", "load_codelist"]

_ENUMS: dict[str, type[Enum]] = {
    name: obj
    for name, obj in vars(canonical_codes).items()
    if isinstance(obj, type) and issubclass(obj, Enum) and obj.__module__ == canonical_codes.__name__
}


class CodeEntry(BaseModel):
    """One source code and what it means."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    value: str
    """The canonical value."""
    label: str | None = None
    """The source system's label, for people."""
    unverified: bool = False
    """True when the meaning was not confirmed against an authoritative source."""
    preferred: bool = False
    """The code to emit for ``value`` in the reverse direction when several codes share it."""


class CodeList(BaseModel):
    """A code list: source codes → canonical values."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    """How mappings refer to the list."""
    description: str
    source: str
    """Where the codes come from (a standard, a partner's documentation, a system's dictionary)."""
    target: str = "str"
    """The canonical enum in ``ssgateway.model.codes`` the values belong to, or ``str``."""
    codes: dict[str, CodeEntry]

    @model_validator(mode="before")
    @classmethod
    def _short_entries(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("codes"), dict):
            data = {
                **data,
                "codes": {
                    str(code): {"value": entry} if isinstance(entry, str) else entry
                    for code, entry in data["codes"].items()
                },
            }
        return data

    @model_validator(mode="after")
    def _values_in_target(self) -> CodeList:
        enum = self.enum
        if enum is not None:
            allowed = {m.value for m in enum}
            wrong = sorted({e.value for e in self.codes.values()} - allowed)
            if wrong:
                raise ValueError(f"values not in {self.target}: {', '.join(wrong)}")
        return self

    @property
    def enum(self) -> type[Enum] | None:
        """The canonical enum of the values, or None for plain strings."""
        if self.target == "str":
            return None
        try:
            return _ENUMS[self.target]
        except KeyError:
            known = ", ".join(sorted(_ENUMS))
            raise ValueError(f"unknown target {self.target!r}; use str or one of: {known}") from None

    def canonical(self, value: str) -> Any:
        """A canonical value as its enum member (or the string itself for ``str`` lists)."""
        enum = self.enum
        return value if enum is None else enum(value)

    def forward(self) -> dict[str, Any]:
        """Source code → canonical value (enum member or string)."""
        return {code: self.canonical(entry.value) for code, entry in self.codes.items()}

    def reverse(self) -> dict[str, str]:
        """Canonical value (as text) → the source code to emit."""
        out: dict[str, str] = {}
        for code, entry in self.codes.items():
            if entry.preferred or entry.value not in out:
                out[entry.value] = code
        return out

    def unverified_codes(self) -> list[str]:
        """Codes whose meaning is unverified."""
        return [code for code, entry in self.codes.items() if entry.unverified]


def load_codelist(path: Path) -> CodeList:
    """Read and validate one code-list file; errors name the file, line and key."""
    doc = yamlfile.load(path, error=MappingError)
    try:
        return CodeList.model_validate(doc.data)
    except ValidationError as exc:
        errors = doc.validation_errors(exc, error=MappingError)
        raise errors[0] from None
