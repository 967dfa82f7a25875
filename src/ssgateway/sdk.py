"""The public SDK for adapter authors: everything an adapter may import from ssgateway.

First-party adapters in ``adapters/`` import only from this module, :mod:`ssgateway.model`,
:mod:`ssgateway.errors`, :mod:`ssgateway.masking`, :mod:`ssgateway.xmlsafe`, :mod:`ssgateway.soap` and
:mod:`ssgateway.testing` (a test enforces it), so a third-party adapter can do everything they do.

Besides the adapter protocol, it offers the pieces of the mapping engine an adapter drives itself — the
runtime hands every adapter a :class:`MappingCatalog` as ``context.services["mappings"]``; outbound
mappings render canonical models, inbound ones map records read by :func:`read_csv` into
:class:`Accepted` entities or :class:`Rejection` s — and :func:`parse_retry_after` for partners that send
``Retry-After``.
"""

from ssgateway.adapter import Adapter, AdapterContext, BaseAdapter, Health, NoSettings, handles
from ssgateway.mapping import Accepted, MappingCatalog, Rejection, read_csv
from ssgateway.operations import OPERATIONS, Operation, get_operation
from ssgateway.reliability.retry import parse_retry_after

__all__ = [
    "OPERATIONS",
    "Accepted",
    "Adapter",
    "AdapterContext",
    "BaseAdapter",
    "Health",
    "MappingCatalog",
    "NoSettings",
    "Operation",
    "Rejection",
    "get_operation",
    "handles",
    "parse_retry_after",
    "read_csv",
]
