"""The mapping language: the pydantic models that define what a mapping file may say.

These models are the single source of truth: files are validated by them (unknown keys rejected, errors
with file and line), the JSON Schema for editors is generated from them, and the language reference in
``docs/mappings.md`` is checked against them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

from ssgateway.mapping.transforms import Transform

__all__ = [
    "CsvSettings",
    "ExpectedReject",
    "FieldGroup",
    "FieldRule",
    "FieldSpec",
    "JsonSettings",
    "MappingExample",
    "MappingOptions",
    "MappingSpec",
    "RepeatedGroup",
    "XmlSettings",
]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class FieldRule(_Spec):
    """How one field is produced: where its value comes from and the transforms it goes through."""

    source: str | list[str] | None = None
    """Inbound: a CSV column name, an XPath relative to the record element, or a dotted JSON path; a list
    gives the transforms a list of values (for ``concat``). Outbound: a dotted path into the canonical
    model. Omitted: the value starts empty (for ``constant`` or ``default``)."""
    transforms: list[Transform] = Field(default_factory=list)
    """Applied in order."""
    description: str | None = None


class FieldGroup(_Spec):
    """A nested object: its fields are built from the same record (``person`` of a lookup answer)."""

    fields: dict[str, FieldSpec]


class RepeatedGroup(_Spec):
    """A list of nested objects, one per repeated element or array item (``enrollments``)."""

    each: str
    """Inbound: an XPath relative to the record (XML) or a dotted path to an array (JSON). Outbound: a
    dotted path to a list in the canonical model."""
    fields: dict[str, FieldSpec]
    """The fields of each item, with sources relative to the item."""


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "repeat" if "each" in value else "group" if "fields" in value else "rule"
    if isinstance(value, RepeatedGroup):
        return "repeat"
    return "group" if isinstance(value, FieldGroup) else "rule"


FieldSpec = Annotated[
    Annotated[FieldRule, Tag("rule")]
    | Annotated[FieldGroup, Tag("group")]
    | Annotated[RepeatedGroup, Tag("repeat")],
    Discriminator(_kind),
]
"""A field: a rule, a nested group (``fields:``) or a repeated group (``each:`` and ``fields:``)."""


class CsvSettings(_Spec):
    """CSV sources and outputs: columns are matched by header name, in any order."""

    delimiter: str = Field(default=",", min_length=1, max_length=1)
    encoding: str = "utf-8-sig"
    """Default encoding of files read with this mapping (a command-line option can override it)."""


class XmlSettings(_Spec):
    """XML sources and outputs."""

    namespaces: dict[str, str] = Field(default_factory=dict)
    """Prefixes used in ``record`` and in field sources."""
    record: str
    """Inbound: the qualified name of the record element (``gi:row``); every such element is one record,
    read by streaming. Outbound: the element to build."""


class JsonSettings(_Spec):
    """JSON sources and outputs."""

    records: str | None = None
    """Inbound: dotted path to the array of records in a document; empty means the document (or each
    line of a JSON Lines file) is one record."""


class MappingOptions(_Spec):
    """Switches that change how records are validated."""

    credit_code_mode: Literal["strict", "legacy"] = "strict"
    """``legacy`` accepts unified social credit codes issued before the check was enforced."""
    empty_as_null: bool = True
    """Empty source values (``""``, empty elements) are treated as absent."""
    carry_unknown_columns: bool = True
    """CSV: columns no rule reads are kept in the record's provenance (``provenance.extra``)."""


class ExpectedReject(_Spec):
    """What an example expects when its input must be rejected."""

    field: str | None = None
    """The canonical field at fault."""
    reason: str
    """A part of the rejection's reason."""


class MappingExample(_Spec):
    """An example the mapping must reproduce: ``ssgateway mappings test`` runs every one."""

    name: str
    input: Any
    """Inbound: a CSV row as a mapping of column → text, an XML string, a JSON object. Outbound: a
    canonical document."""
    output: Any = None
    """Inbound: the expected canonical document (only the keys given are compared). Outbound: the
    expected row (mapping), XML string or JSON object."""
    reject: ExpectedReject | None = None
    """Instead of ``output``: the input must be rejected like this."""

    @model_validator(mode="after")
    def _one_expectation(self) -> MappingExample:
        if (self.output is None) == (self.reject is None):
            raise ValueError("an example has either output or reject")
        return self


class MappingSpec(_Spec):
    """One mapping: a source format, a direction, a canonical entity and the rules between them."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*(/[a-z0-9][a-z0-9_.-]*)*$")
    """Name of the mapping, e.g. ``golden-insurance/contribution-drop``."""
    version: int = Field(ge=1)
    description: str
    direction: Literal["inbound", "outbound"]
    """``inbound``: legacy → canonical. ``outbound``: canonical → legacy."""
    format: Literal["csv", "xml", "json"]
    entity: str
    """The canonical model produced (inbound) or read (outbound): an entity such as
    ``ContributionRecord`` or an operation message such as ``PersonRecord``."""
    csv: CsvSettings | None = None
    xml: XmlSettings | None = None
    json_: JsonSettings | None = Field(default=None, alias="json")
    options: MappingOptions = MappingOptions()
    fields: dict[str, FieldSpec]
    examples: list[MappingExample] = Field(default_factory=list)

    model_config = ConfigDict(
        extra="forbid", frozen=True, use_attribute_docstrings=True, populate_by_name=True
    )

    @model_validator(mode="after")
    def _settings_match_format(self) -> MappingSpec:
        if self.format == "xml" and self.xml is None:
            raise ValueError("an xml mapping needs an xml: section with record:")
        others = {"csv": self.csv, "xml": self.xml, "json": self.json_}
        extra = [name for name, value in others.items() if value is not None and name != self.format]
        if extra:
            raise ValueError(f"a {self.format} mapping cannot have a {', '.join(extra)} section")
        return self

    @property
    def ref(self) -> str:
        """``id@version``."""
        return f"{self.id}@{self.version}"
