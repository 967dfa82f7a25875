"""The public SDK for adapter authors: everything an adapter may import from ssgateway.

First-party adapters in ``adapters/`` import only from this module, :mod:`ssgateway.model`,
:mod:`ssgateway.errors`, :mod:`ssgateway.masking`, :mod:`ssgateway.xmlsafe`, :mod:`ssgateway.soap` and
:mod:`ssgateway.testing` (a test enforces it), so a third-party adapter can do everything they do.

Besides the adapter protocol, the SDK carries the mapping engine's pieces an adapter uses to translate
with the partner's mappings instead of code: the runtime hands every adapter the gateway's
:class:`MappingCatalog` as ``context.services["mappings"]``; :meth:`MappingCatalog.outbound` gives an
:class:`OutboundMapping` that renders canonical requests, :meth:`MappingCatalog.inbound` an
:class:`InboundMapping` whose ``map_record`` turns one partner record into :class:`Accepted` (a validated
entity) or :class:`Rejection` (where and why), and :func:`provenance_factory` makes the provenance of
many records cheaply.
"""

from ssgateway.adapter import Adapter, AdapterContext, BaseAdapter, Health, NoSettings, handles
from ssgateway.mapping import Accepted, InboundMapping, MappingCatalog, OutboundMapping, Rejection
from ssgateway.mapping.compiler import provenance_factory
from ssgateway.operations import OPERATIONS, Operation, get_operation

__all__ = [
    "OPERATIONS",
    "Accepted",
    "Adapter",
    "AdapterContext",
    "BaseAdapter",
    "Health",
    "InboundMapping",
    "MappingCatalog",
    "NoSettings",
    "Operation",
    "OutboundMapping",
    "Rejection",
    "get_operation",
    "handles",
    "provenance_factory",
]
