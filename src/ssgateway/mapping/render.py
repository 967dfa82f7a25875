"""Compile an outbound mapping: canonical model → a legacy CSV row, XML element or JSON object.

Field keys name the output: a CSV column, an element path relative to the record element
(``gi:person/gi:AAC002``), or a dotted JSON path. Sources are dotted paths into the canonical model.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from enum import Enum
from typing import Any

from lxml import etree
from pydantic import BaseModel

from ssgateway.errors import RecordRejected
from ssgateway.mapping import paths
from ssgateway.mapping.compiler import Fail, FieldReject, build_steps, step_failed
from ssgateway.mapping.spec import FieldGroup, FieldRule, FieldSpec, MappingSpec, RepeatedGroup
from ssgateway.mapping.transforms import Reject, text_of
from ssgateway.masking import mask_text

__all__ = ["OutboundMapping", "as_text"]

Emit = Callable[[Any, Any], None]


def as_text(value: Any) -> str | None:
    """The legacy text of a value: enums by value, decimals exactly, dates ISO, personal strings real."""
    if value is None:
        return None
    if isinstance(value, str):
        return text_of(value)
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (Decimal, int, date)):
        return value.isoformat() if isinstance(value, date) else str(value)
    return str(value)


class OutboundMapping:
    """A compiled outbound mapping."""

    def __init__(
        self, spec: MappingSpec, model: type[BaseModel], codelists: Callable[[str], Any], fail: Fail
    ):
        self.spec = spec
        self.model = model
        self._codelists = codelists
        self._fail = fail
        self._namespaces = spec.xml.namespaces if spec.xml else {}
        self.record_tag = paths.clark(spec.xml.record, self._namespaces) if spec.xml else None
        self.columns: list[str] = []
        """CSV: the columns written, in order."""
        self._emit = self._level(spec.fields, ("fields",), "")

    def _value(self, rule: FieldRule, where: tuple[str | int, ...], path: str) -> Callable[[Any], Any]:
        sources = rule.source if isinstance(rule.source, list) else [rule.source]
        getters = [paths.attr_getter(s) if s else _nothing for s in sources]
        steps = build_steps(rule, where, self._codelists, self._fail)
        many = isinstance(rule.source, list)
        single = rule.source if isinstance(rule.source, str) else None
        names: list[str] = [step.type for step in rule.transforms]

        def value(obj: Any) -> Any:
            raw = v = [g(obj) for g in getters] if many else getters[0](obj)
            at = 0
            try:
                for at, step in enumerate(steps):  # noqa: B007 - `at` names the step that failed
                    v = step(v)
            except Reject as exc:
                raise FieldReject(path, single, raw, exc.reason) from None
            except Exception as exc:  # noqa: BLE001 - one bad value rejects one record
                raise step_failed(path, single, raw, names[at], exc) from None
            return v

        return value

    def _level(self, fields: dict[str, FieldSpec], loc: tuple[str | int, ...], prefix: str) -> Emit:
        emitters: list[Emit] = []
        for key, spec in fields.items():
            where = (*loc, key)
            if isinstance(spec, FieldRule):
                emitters.append(self._leaf(key, self._value(spec, where, f"{prefix}{key}")))
            elif isinstance(spec, FieldGroup):
                emitters.append(
                    self._nest(key, self._level(spec.fields, (*where, "fields"), f"{prefix}{key}."), None)
                )
            else:
                emitters.append(self._repeat(key, spec, where, prefix))

        def emit(obj: Any, out: Any) -> None:
            for emitter in emitters:
                emitter(obj, out)

        return emit

    # Output containers: dict rows/objects for CSV and JSON, elements for XML.

    def _leaf(self, key: str, value: Callable[[Any], Any]) -> Emit:
        fmt = self.spec.format
        if fmt == "csv":
            self.columns.append(key)

            def put_cell(obj: Any, row: Any) -> None:
                row[key] = as_text(value(obj)) or ""

            return put_cell
        if fmt == "json":
            parts = key.split(".")

            def put_json(obj: Any, doc: Any) -> None:
                v = value(obj)
                target = doc
                for part in parts[:-1]:
                    target = target.setdefault(part, {})
                target[parts[-1]] = (
                    as_text(v)
                    if isinstance(v, (Enum, Decimal, date))
                    else text_of(v)
                    if isinstance(v, str)
                    else v
                )

            return put_json
        tags = self._tags(key)

        def put_element(obj: Any, element: Any) -> None:
            text = as_text(value(obj))
            if text is not None:
                _descend(element, tags).text = text

        return put_element

    def _tags(self, key: str) -> list[str]:
        try:
            return [paths.clark(step, self._namespaces) for step in key.split("/")]
        except KeyError as exc:
            raise self._fail(("fields", key), f"unknown namespace prefix {exc}") from None

    def _nest(self, key: str, inner: Emit, items: Callable[[Any], Any] | None) -> Emit:
        if self.spec.format == "xml":
            tags = self._tags(key)

            def nest_xml(obj: Any, element: Any) -> None:
                if items is None:
                    inner(obj, _descend(element, tags))
                    return
                parent = _descend(element, tags[:-1]) if len(tags) > 1 else element
                for item in items(obj) or ():
                    inner(item, etree.SubElement(parent, tags[-1]))

            return nest_xml
        if self.spec.format == "csv":
            return inner

        def nest_json(obj: Any, doc: Any) -> None:
            if items is None:
                inner(obj, doc.setdefault(key, {}))
                return
            out = doc.setdefault(key, [])
            for item in items(obj) or ():
                child: dict[str, Any] = {}
                inner(item, child)
                out.append(child)

        return nest_json

    def _repeat(self, key: str, spec: RepeatedGroup, where: tuple[str | int, ...], prefix: str) -> Emit:
        if self.spec.format == "csv":
            raise self._fail(where, "a CSV row cannot hold a repeated group")
        return self._nest(
            key,
            self._level(spec.fields, (*where, "fields"), f"{prefix}{key}[]."),
            paths.attr_getter(spec.each),
        )

    def render(self, entity: BaseModel | dict[str, Any]) -> Any:
        """Render one canonical entity: a row (``dict[str, str]``), an element, or a JSON object.

        Raises:
            RecordRejected: a transform refused a value (field and masked value named).
        """
        obj = entity if isinstance(entity, self.model) else self.model.model_validate(entity)
        out: Any = etree.Element(self.record_tag, nsmap=_nsmap(self._namespaces)) if self.record_tag else {}
        try:
            self._emit(obj, out)
        except FieldReject as exc:
            # str() of a personal value is already masked; mask_text catches id-shaped text elsewhere
            raw = None if exc.raw is None else mask_text(str(exc.raw))
            raise RecordRejected(exc.reason, field=exc.field, raw=raw) from None
        return out


def _nothing(_obj: Any) -> None:
    return None


def _nsmap(namespaces: dict[str, str]) -> dict[str | None, str]:
    return {prefix or None: uri for prefix, uri in namespaces.items()}


def _descend(element: Any, tags: list[str]) -> Any:
    for tag in tags:
        child = element.find(tag)
        element = child if child is not None else etree.SubElement(element, tag)
    return element
