"""The public SDK for adapter authors: everything an adapter may import from ssgateway.

First-party adapters in ``adapters/`` import only from this module, :mod:`ssgateway.model`,
:mod:`ssgateway.errors`, :mod:`ssgateway.masking` and :mod:`ssgateway.testing` (a test enforces it), so a
third-party adapter can do everything they do.
"""

from ssgateway.adapter import Adapter, AdapterContext, BaseAdapter, Health, NoSettings, handles
from ssgateway.operations import OPERATIONS, Operation, get_operation

__all__ = [
    "OPERATIONS",
    "Adapter",
    "AdapterContext",
    "BaseAdapter",
    "Health",
    "NoSettings",
    "Operation",
    "get_operation",
    "handles",
]
