"""Running a mapping's examples: each input must give the expected output or the expected rejection."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any

from lxml import etree

from ssgateway.errors import RecordRejected
from ssgateway.mapping.compiler import InboundMapping
from ssgateway.mapping.outcomes import Accepted, Rejection
from ssgateway.mapping.render import OutboundMapping
from ssgateway.mapping.sources import read_xml
from ssgateway.mapping.spec import MappingExample
from ssgateway.xmlsafe import parse_xml

__all__ = ["ExampleResult", "element_to_data", "run_examples"]


@dataclass(frozen=True)
class ExampleResult:
    """One example's outcome; ``problems`` lists each difference (empty when it passed)."""

    name: str
    problems: list[str]

    @property
    def ok(self) -> bool:
        """Whether the example passed."""
        return not self.problems


def element_to_data(element: Any) -> Any:
    """An element as plain data for comparison: ``{local-name: text or children}``; repeats become lists."""
    children = list(element)
    if not children:
        return (element.text or "").strip()
    out: dict[str, Any] = {}
    for child in children:
        key = etree.QName(child).localname
        value = element_to_data(child)
        if key in out:
            out[key] = out[key] if isinstance(out[key], list) else [out[key]]
            out[key].append(value)
        else:
            out[key] = value
    return out


def _diff(expected: Any, actual: Any, path: str, out: list[str], *, strict: bool = False) -> None:
    """Differences of ``actual`` from ``expected``; ``strict`` also reports keys only ``actual`` has."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key, value in expected.items():
            if key not in actual:
                out.append(f"{path}{key}: expected {value!r}, missing")
            else:
                _diff(value, actual[key], f"{path}{key}.", out, strict=strict)
        if strict:
            out.extend(f"{path}{key}: unexpected {actual[key]!r}" for key in actual if key not in expected)
    elif isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            out.append(f"{path.rstrip('.')}: expected {len(expected)} items, got {len(actual)}")
        for i, (e, a) in enumerate(zip(expected, actual, strict=False)):
            _diff(e, a, f"{path.rstrip('.')}[{i}].", out, strict=strict)
    elif _norm(expected) != _norm(actual):
        out.append(f"{path.rstrip('.')}: expected {expected!r}, got {actual!r}")


def _norm(value: Any) -> Any:
    return str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value


def _inbound_record(mapping: InboundMapping, example: MappingExample) -> Any:
    if mapping.spec.format == "csv":
        return {str(k): "" if v is None else str(v) for k, v in dict(example.input).items()}
    if mapping.spec.format == "xml":
        assert mapping.record_tag is not None  # noqa: S101 - guaranteed by the spec's validation
        data = str(example.input).encode("utf-8")
        for _index, element in read_xml(io.BytesIO(data), record_tag=mapping.record_tag, source="example"):
            return element
        raise ValueError(
            f"the example has no {mapping.spec.xml.record if mapping.spec.xml else 'record'} element"
        )
    return example.input


def _check_inbound(mapping: InboundMapping, example: MappingExample) -> list[str]:
    problems: list[str] = []
    try:
        record = _inbound_record(mapping, example)
        outcome = mapping.map_record(record, 1)
    except Exception as exc:  # noqa: BLE001 - an example that crashes is reported, not fatal
        return [f"raised {type(exc).__name__}: {exc}"]
    if example.reject is not None:
        if isinstance(outcome, Accepted):
            return [f"expected a rejection ({example.reject.reason!r}) but the record was accepted"]
        if example.reject.field is not None and outcome.field != example.reject.field:
            problems.append(f"rejected field: expected {example.reject.field!r}, got {outcome.field!r}")
        if example.reject.reason not in outcome.reason:
            problems.append(
                f"rejection reason: expected it to contain {example.reject.reason!r}, got {outcome.reason!r}"
            )
        return problems
    if isinstance(outcome, Rejection):
        return [f"rejected: {outcome.field}: {outcome.reason} (raw {outcome.raw!r})"]
    actual = json.loads(outcome.entity.model_dump_json(exclude={"provenance"}))
    _diff(example.output, actual, "", problems)
    return problems


def _check_outbound(mapping: OutboundMapping, example: MappingExample) -> list[str]:
    try:
        rendered = mapping.render(mapping.model.model_validate(example.input))
    except RecordRejected as exc:
        if example.reject is not None and example.reject.reason in exc.reason:
            return []
        return [f"rejected: {exc}"]
    except Exception as exc:  # noqa: BLE001 - an example that crashes is reported, not fatal
        return [f"raised {type(exc).__name__}: {exc}"]
    if example.reject is not None:
        return ["expected a rejection but the entity rendered"]
    problems: list[str] = []
    if mapping.spec.format == "xml":
        expected = element_to_data(parse_xml(str(example.output).encode(), what="the example output"))
        _diff(expected, element_to_data(rendered), "", problems, strict=True)
    else:
        _diff(example.output, rendered, "", problems, strict=True)
    return problems


def run_examples(mapping: InboundMapping | OutboundMapping) -> list[ExampleResult]:
    """Run every example of a compiled mapping."""
    results = []
    for example in mapping.spec.examples:
        if isinstance(mapping, InboundMapping):
            problems = _check_inbound(mapping, example)
        else:
            problems = _check_outbound(mapping, example)
        results.append(ExampleResult(example.name, problems))
    return results
