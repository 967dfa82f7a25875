"""The public SDK for adapter authors: everything an adapter may import from ssgateway.

First-party adapters in ``adapters/`` import only from this module, :mod:`ssgateway.model`,
:mod:`ssgateway.errors`, :mod:`ssgateway.masking`, :mod:`ssgateway.xmlsafe`, :mod:`ssgateway.partnerhttp`
(HTTP to partners: TLS, capped bodies, failures classified), :mod:`ssgateway.soap` and
:mod:`ssgateway.testing` (a test enforces it), so a third-party adapter can do everything they do.

Besides the adapter protocol, the SDK carries the mapping engine's pieces an adapter uses to translate
with the partner's mappings instead of code: the runtime hands every adapter the gateway's
:class:`MappingCatalog` as ``context.services["mappings"]``; :meth:`MappingCatalog.outbound` gives an
:class:`OutboundMapping` that renders canonical requests, :meth:`MappingCatalog.inbound` an
:class:`InboundMapping` whose ``map_record`` turns one partner record into :class:`Accepted` (a validated
entity) or :class:`Rejection` (where and why), and :func:`provenance_factory` makes the provenance of
many records cheaply.

Adapters that keep durable state across calls and processes (sequence counters, sessions) use the
gateway's store, handed to them as ``context.services["store"]``: a :class:`Store` whose
:attr:`Store.checkpoints` are named states written with compare-and-set (:class:`CheckpointConflict` when
another process wrote first). :func:`open_store` opens one from a URL for adapters used outside a gateway,
and ``context.services["clock"]`` is the :class:`Clock` to read time from (None: :data:`SYSTEM_CLOCK`).
:func:`parse_retry_after` reads a partner's ``Retry-After`` header (seconds or an HTTP-date).
"""

from ssgateway.adapter import Adapter, AdapterContext, BaseAdapter, Health, NoSettings, handles
from ssgateway.mapping import Accepted, InboundMapping, MappingCatalog, OutboundMapping, Rejection, read_csv
from ssgateway.mapping.compiler import provenance_factory
from ssgateway.operations import OPERATIONS, Operation, get_operation
from ssgateway.reliability import (
    SYSTEM_CLOCK,
    Checkpoint,
    CheckpointConflict,
    Checkpoints,
    Clock,
    Store,
    open_store,
    parse_retry_after,
)
from ssgateway.resources import shipped_contracts_dir

__all__ = [
    "OPERATIONS",
    "SYSTEM_CLOCK",
    "Accepted",
    "Adapter",
    "AdapterContext",
    "BaseAdapter",
    "Checkpoint",
    "CheckpointConflict",
    "Checkpoints",
    "Clock",
    "Health",
    "InboundMapping",
    "MappingCatalog",
    "NoSettings",
    "Operation",
    "OutboundMapping",
    "Rejection",
    "Store",
    "get_operation",
    "handles",
    "open_store",
    "parse_retry_after",
    "provenance_factory",
    "read_csv",
    "shipped_contracts_dir",
]
