"""Compile an inbound mapping into plain functions, then map records with them.

Compilation walks the specification once: it checks every target field exists in the canonical model,
resolves code lists, compiles XPath and regular expressions, and leaves one function per field. Mapping
a record calls those functions and validates the result; it never looks at the specification again.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from lxml import etree
from pydantic import BaseModel, ValidationError

from ssgateway.errors import MappingError
from ssgateway.mapping import paths
from ssgateway.mapping.outcomes import Accepted, Outcome, Rejection
from ssgateway.mapping.spec import FieldGroup, FieldRule, FieldSpec, MappingSpec, RepeatedGroup
from ssgateway.mapping.targets import field_info
from ssgateway.mapping.transforms import BuildContext, Reject, TransformFn
from ssgateway.masking import PersonalKind, mask, mask_text
from ssgateway.model import Provenance

__all__ = [
    "FieldReject",
    "InboundMapping",
    "build_steps",
    "located_failure",
    "provenance_factory",
    "step_failed",
]

Loc = tuple[str | int, ...]
_INDEX = re.compile(r"\[[0-9]+\]")
Fail = Callable[[Loc, str], MappingError]


class FieldReject(Exception):
    """A field's transforms rejected its value."""

    def __init__(self, field: str, source: str | None, raw: Any, reason: str) -> None:
        super().__init__(reason)
        self.field, self.source, self.raw, self.reason = field, source, raw, reason


def located_failure(doc: Any, file: str | None) -> Fail:
    """A function making located :class:`MappingError` s from a YAML document's line map."""

    def fail(loc: Loc, message: str) -> MappingError:
        if doc is not None:
            return cast("MappingError", doc.error(loc, message, error=MappingError))
        return MappingError(message, file=file, key=".".join(map(str, loc)) or None)

    return fail


def build_steps(
    rule: FieldRule,
    where: Loc,
    codelists: Callable[[str], Any],
    fail: Fail,
    coded: type[BaseModel] | None = None,
) -> list[TransformFn]:
    """Build the transform functions of one rule; a step's problems are located at its own key."""
    steps: list[TransformFn] = []
    for i, step in enumerate(rule.transforms):

        def step_fail(key: str, message: str, loc: Loc = (*where, "transforms", i)) -> MappingError:
            return fail((*loc, key), message)

        steps.append(step.build(BuildContext(codelist=codelists, coded=coded, fail=step_fail)))
    return steps


def step_failed(field: str, source: str | None, raw: Any, step: str, exc: Exception) -> FieldReject:
    """The rejection of a record whose transform failed unexpectedly (not with ``Reject``).

    The reason names the transform and the exception's type, never its message (which may quote the value).
    """
    return FieldReject(field, source, raw, f"transform {step} failed ({type(exc).__name__})")


def _chain(
    getter: paths.Getter, steps: list[TransformFn], names: list[str], field: str, source: str | None
) -> paths.Getter:
    # Chains of one and two steps (most fields) are unrolled: this runs for every field of every record.
    # A transform rejects with Reject; any other exception from one also rejects the record, never the
    # whole batch.
    if not steps:
        return getter
    if len(steps) == 1:
        (only,) = steps

        def run1(record: Any) -> Any:
            raw = getter(record)
            try:
                return only(raw)
            except Reject as exc:
                raise FieldReject(field, source, raw, exc.reason) from None
            except Exception as exc:  # noqa: BLE001 - one bad value rejects one record
                raise step_failed(field, source, raw, names[0], exc) from None

        return run1
    if len(steps) == 2:
        first, second = steps

        def run2(record: Any) -> Any:
            raw = getter(record)
            at = 0
            try:
                value = first(raw)
                at = 1
                return second(value)
            except Reject as exc:
                raise FieldReject(field, source, raw, exc.reason) from None
            except Exception as exc:  # noqa: BLE001 - one bad value rejects one record
                raise step_failed(field, source, raw, names[at], exc) from None

        return run2

    def run(record: Any) -> Any:
        raw = value = getter(record)
        at = 0
        try:
            for at, step in enumerate(steps):  # noqa: B007 - `at` names the step that failed
                value = step(value)
        except Reject as exc:
            raise FieldReject(field, source, raw, exc.reason) from None
        except Exception as exc:  # noqa: BLE001 - one bad value rejects one record
            raise step_failed(field, source, raw, names[at], exc) from None
        return value

    return run


def _child_getter(expr: str, namespaces: dict[str, str]) -> paths.Getter:
    tag = paths.clark(expr, namespaces)  # KeyError for an unknown prefix, located by the caller
    return lambda record: record.get(tag) or None


def _sources(rule: FieldRule) -> list[str | None]:
    return list(rule.source) if isinstance(rule.source, list) else [rule.source]


def provenance_factory(**fixed: Any) -> Callable[[str, dict[str, str]], Provenance]:
    """A fast maker of trusted ``Provenance`` objects that differ only in ``source_ref`` and ``extra``.

    It sets the same attributes ``Provenance.model_construct`` sets (a test holds them equal) without
    its per-call walk over the fields: provenance is built for every record of a file.
    """
    template = Provenance.model_construct(**fixed, source_ref="", extra={})
    base = dict(template.__dict__)
    fields_set = template.__pydantic_fields_set__
    new, setattr_ = object.__new__, object.__setattr__

    def make(source_ref: str, extra: dict[str, str]) -> Provenance:
        prov = new(Provenance)
        state = base.copy()
        state["source_ref"] = source_ref
        state["extra"] = extra
        setattr_(prov, "__dict__", state)
        setattr_(prov, "__pydantic_fields_set__", fields_set)
        setattr_(prov, "__pydantic_extra__", None)
        setattr_(prov, "__pydantic_private__", None)
        return prov

    return make


@dataclass(frozen=True, slots=True)
class _FieldMeta:
    source: str | None
    getter: paths.Getter
    personal: PersonalKind | None


class InboundMapping:
    """A compiled inbound mapping: records of the source format → validated canonical entities."""

    def __init__(
        self,
        spec: MappingSpec,
        model: type[BaseModel],
        codelists: Callable[[str], Any],
        fail: Fail,
    ) -> None:
        self.spec = spec
        self.model = model
        self._codelists = codelists
        self._fail = fail
        self._meta: dict[str, _FieldMeta] = {}
        self.columns: list[str] = []
        """CSV: the columns the mapping reads (a source file must have them all)."""
        namespaces = spec.xml.namespaces if spec.xml else {}
        self._namespaces = namespaces
        # A flat XML record (every field a plain child element) is read into a dict once per record:
        # one pass over its children instead of one findtext per field.
        self._flat_xml = spec.format == "xml" and all(
            isinstance(rule, FieldRule)
            and all(isinstance(s, str) and paths.is_child_name(s) for s in _sources(rule))
            for rule in spec.fields.values()
        )
        self._build = self._level(spec.fields, model, ("fields",), "", top=True)
        self._context = {"credit_code_mode": spec.options.credit_code_mode}
        self._validate = model.model_validate
        self._has_provenance = "provenance" in model.model_fields
        self.record_tag = paths.clark(spec.xml.record, namespaces) if spec.xml else None

    # --- compilation --------------------------------------------------------------------------------

    def _getter(self, source: str | list[str] | None, loc: Loc) -> paths.Getter:
        if source is None:
            return lambda _record: None
        if isinstance(source, list):
            getters = [self._getter(s, loc) for s in source]
            return lambda record: [g(record) for g in getters]
        fmt, empty_as_null = self.spec.format, self.spec.options.empty_as_null
        if fmt == "csv":
            self.columns.append(source)
            if empty_as_null:
                return lambda record: record.get(source) or None
            return lambda record: record.get(source)
        if fmt == "xml" and self._flat_xml:
            return self._xpath(_child_getter, source, loc)
        if fmt == "xml":
            get = self._xpath(paths.xml_getter, source, loc)
            if empty_as_null:
                return lambda record: get(record) or None
            return get
        get = paths.json_getter(source)
        if empty_as_null:
            return lambda record: None if (v := get(record)) == "" else v
        return get

    def _xpath(
        self, make: Callable[[str, dict[str, str]], paths.Getter], expr: str, loc: Loc
    ) -> paths.Getter:
        try:
            return make(expr, self._namespaces)
        except KeyError as exc:
            raise self._fail(
                loc, f"unknown namespace prefix {exc} in {expr!r}; declare it in xml.namespaces"
            ) from None
        except etree.XPathSyntaxError as exc:
            raise self._fail(loc, f"bad XPath {expr!r}: {exc}") from None

    def _level(
        self,
        fields: dict[str, FieldSpec],
        owner: type[BaseModel],
        loc: Loc,
        prefix: str,
        *,
        top: bool = False,
    ) -> Callable[[Any], dict[str, Any]]:
        pairs: list[tuple[str, paths.Getter]] = []
        for name, spec in fields.items():
            where = (*loc, name)
            try:
                info = field_info(owner, name)
            except KeyError:
                known = ", ".join(n for n in owner.model_fields if n != "provenance")
                raise self._fail(where, f"{owner.__name__} has no field {name!r}; fields: {known}") from None
            path = f"{prefix}{name}"
            if isinstance(spec, FieldRule):
                pairs.append((name, self._rule(spec, info, where, path)))
            elif info.model is None:
                raise self._fail(where, f"{owner.__name__}.{name} is not an object; use source/transforms")
            elif isinstance(spec, FieldGroup):
                if info.repeated:
                    raise self._fail(where, f"{owner.__name__}.{name} is a list; use each: and fields:")
                pairs.append((name, self._level(spec.fields, info.model, (*where, "fields"), f"{path}.")))
            else:
                pairs.append((name, self._repeat(spec, info.model, where, path)))
        produced = {name for name, _ in pairs}
        missing = [n for n, f in owner.model_fields.items() if f.is_required() and n not in produced]
        if missing:
            raise self._fail(
                loc[:-1] or loc, f"{owner.__name__} fields required but not mapped: {', '.join(missing)}"
            )

        def build(record: Any) -> dict[str, Any]:
            return {name: fn(record) for name, fn in pairs}

        return build

    def _rule(self, rule: FieldRule, info: Any, where: Loc, path: str) -> paths.Getter:
        getter = self._getter(rule.source, (*where, "source"))
        steps = build_steps(rule, where, self._codelists, self._fail, info.coded)
        source = rule.source if isinstance(rule.source, str) else None
        self._meta[path] = _FieldMeta(source, getter, info.personal)
        names: list[str] = [step.type for step in rule.transforms]
        return _chain(getter, steps, names, path, source)

    def _repeat(
        self, spec: RepeatedGroup, item_model: type[BaseModel], where: Loc, path: str
    ) -> paths.Getter:
        if self.spec.format == "xml":
            each = self._xpath(paths.xml_list_getter, spec.each, (*where, "each"))
        elif self.spec.format == "json":
            json_each = paths.json_getter(spec.each)

            def each(record: Any) -> list[Any]:
                items = json_each(record)
                return items if isinstance(items, list) else []
        else:
            raise self._fail((*where, "each"), "repeated groups need an XML or JSON source")
        build_item = self._level(spec.fields, item_model, (*where, "fields"), f"{path}[].")

        def repeat(record: Any) -> list[dict[str, Any]]:
            items = []
            for i, element in enumerate(each(record)):
                try:
                    items.append(build_item(element))
                except FieldReject as exc:
                    exc.field = exc.field.replace(f"{path}[]", f"{path}[{i}]", 1)
                    raise
            return items

        return repeat

    # --- mapping ------------------------------------------------------------------------------------

    def _masked(self, path: str, raw: Any) -> str | None:
        if raw is None:
            return None
        # a field inside a repeated group is named with its index (items[3].name), its rule without
        meta = self._meta.get(_INDEX.sub("[]", path) if "[" in path else path)
        text = str.__str__(raw) if isinstance(raw, str) else str(raw)
        if meta is not None and meta.personal is not None:
            return mask(text, meta.personal)
        return mask_text(text)

    def _invalid(self, exc: ValidationError, record: Any, position: int) -> Rejection:
        errors = exc.errors(include_url=False, include_input=False)
        first = errors[0]
        loc = [p for p in first["loc"] if not (isinstance(p, str) and ("[" in p or p.startswith("function")))]
        field = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in loc).replace(".[", "[") or None
        key = ".".join(str(p) if not isinstance(p, int) else "[]" for p in loc).replace(".[]", "[]")
        meta = None
        while key and meta is None:  # a nested part of a field (period.year) belongs to the field
            meta = self._meta.get(key)
            key = key.rpartition(".")[0]
        reason = first["msg"]
        if len(errors) > 1:
            others = {".".join(map(str, e["loc"][:1])) for e in errors[1:]}
            reason += f" (and {len(errors) - 1} more: {', '.join(sorted(others))})"
        raw = (
            self._masked(key, meta.getter(record)) if meta is not None and "[" not in (field or "") else None
        )
        return Rejection(position, mask_text(reason), field, meta.source if meta else None, raw)

    def map_record(self, record: Any, position: int, provenance: Provenance | None = None) -> Outcome:
        """Map one record (a CSV row as a dict, an XML element, a JSON object)."""
        if self._flat_xml:
            record = {child.tag: child.text for child in record}
        try:
            data = self._build(record)
        except FieldReject as exc:
            reason = mask_text(exc.reason)  # a reason may quote the value (a code not in its list)
            return Rejection(position, reason, exc.field, exc.source, self._masked(exc.field, exc.raw))
        if provenance is not None and self._has_provenance:
            data["provenance"] = provenance
        try:
            return Accepted(position, self._validate(data, context=self._context))
        except ValidationError as exc:
            return self._invalid(exc, record, position)

    def map_records(
        self,
        records: Iterable[tuple[int, Any] | Rejection],
        *,
        source_system: str | None = None,
        source_name: str | None = None,
        received_at: datetime | None = None,
    ) -> Iterator[Outcome]:
        """Map records lazily, in order; rejections from the reader pass through unchanged.

        Each accepted entity carries provenance: ``source_system`` (default: the mapping id),
        ``source_ref`` ``"<source_name>:<position>"``, the time received, the mapping's ``id@version``
        and (CSV) the values of columns the mapping does not read.
        """
        system = source_system or self.spec.id
        name = source_name or "record"
        when = received_at or datetime.now(UTC)
        make_provenance = provenance_factory(source_system=system, received_at=when, mapping=self.spec.ref)
        carry = self.spec.format == "csv" and self.spec.options.carry_unknown_columns
        read = set(self.columns)
        unknown: list[str] | None = None
        map_record = self.map_record
        for item in records:
            if isinstance(item, Rejection):
                yield item
                continue
            position, record = item
            extra: dict[str, str] = {}
            if carry:
                if unknown is None:
                    unknown = [k for k in record if k not in read]
                if unknown:
                    extra = {k: v for k in unknown if (v := record.get(k))}
            yield map_record(record, position, make_provenance(f"{name}:{position}", extra))
