"""One canonical operation made ready: its WSDL operation and two compiled mappings, checked to fit.

Preparing happens once, when the adapter starts. A mapping set written for another contract, entity or
format stops the start with the partner and the configuration key, rather than failing on every call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ssgateway.errors import ConfigError, MappingError, NotFound
from ssgateway.model import ContributionRecord
from ssgateway.sdk import InboundMapping, MappingCatalog, OutboundMapping, get_operation
from ssgateway.soap import Contract
from ssgateway_adapters.provincial_soap.config import ResolvedOperation
from ssgateway_adapters.provincial_soap.elements import namespace_of

__all__ = ["Exchange", "prepare_exchange"]

Fail = Callable[[str, str], ConfigError]
"""Makes the error for a configuration key (relative to the partner's ``config:``) and a reason."""


@dataclass(frozen=True, slots=True)
class Exchange:
    """One canonical operation, ready to call: the WSDL operation and its two compiled mappings."""

    name: str
    operation: str
    request: OutboundMapping
    response: InboundMapping


def _compiled(get: Callable[[str], Any], ref: str, key: str, fail: Fail) -> Any:
    try:
        return get(ref)
    except (NotFound, MappingError) as exc:
        raise fail(key, exc.message) from exc


def prepare_exchange(
    op: ResolvedOperation, contract: Contract, catalog: MappingCatalog, fail: Fail
) -> Exchange:
    """Compile an operation's mappings and check they fit the contract and the canonical operation.

    The request mapping must build the WSDL operation's request element from the operation's request
    model; the response mapping must read XML of the answer's namespace into the operation's response
    model (``ContributionRecord`` rows for ``contributions.history``).

    Raises:
        ConfigError: made by ``fail``, naming the key (``operations.person.lookup.request``) and the reason.
    """
    where = f"operations.{op.name}"
    if op.operation not in contract.operations:
        raise fail(
            f"{where}.operation",
            f"the contract {contract.path.name} has no operation {op.operation!r}; "
            f"it has {', '.join(contract.operations)}",
        )
    request: OutboundMapping = _compiled(catalog.outbound, op.request, f"{where}.request", fail)
    response: InboundMapping = _compiled(catalog.inbound, op.response, f"{where}.response", fail)
    canonical = get_operation(op.name)
    answer = ContributionRecord if op.name == "contributions.history" else canonical.response
    for mapping, model, key in ((request, canonical.request, "request"), (response, answer, "response")):
        if mapping.model is not model:
            raise fail(
                f"{where}.{key}",
                f"mapping {mapping.spec.ref} maps {mapping.spec.entity}; {op.name} needs {model.__name__}",
            )
        if mapping.spec.format != "xml" or mapping.record_tag is None:
            raise fail(f"{where}.{key}", f"mapping {mapping.spec.ref} is not an XML mapping")
    expected = contract.request_element(op.operation)
    if request.record_tag != expected:
        raise fail(
            f"{where}.request",
            f"mapping {request.spec.ref} builds {request.record_tag}, but {op.operation} of "
            f"{contract.path.name} takes {expected}",
        )
    answer_ns = namespace_of(contract.response_element(op.operation))
    record_ns = namespace_of(response.record_tag or "")
    if record_ns is not None and record_ns != answer_ns:
        raise fail(
            f"{where}.response",
            f"mapping {response.spec.ref} reads elements of namespace {record_ns}, but the "
            f"{op.operation} answer of {contract.path.name} is in {answer_ns}",
        )
    return Exchange(op.name, op.operation, request, response)
