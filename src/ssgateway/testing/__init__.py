"""Helpers for testing ssgateway and adapters built on it: loopback networking, simulators, test data.

Loopback-only networking, service addresses, partner simulators and the synthetic population they serve.
Installed as a pytest plugin, so the fixtures in :mod:`ssgateway.testing.plugin` are available to any test
suite that has ssgateway installed. The simulators and the population load on first use, so the plugin
stays light for suites that never touch them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ssgateway.testing.network import NetworkForbidden, loopback_only
from ssgateway.testing.services import SERVICES, service_address

if TYPE_CHECKING:
    from ssgateway.testing.canary import Canary
    from ssgateway.testing.dialect import LOWERCASE_DIALECT, REFERENCE_DIALECT, Dialect
    from ssgateway.testing.faultplan import FaultKind, FaultPlan
    from ssgateway.testing.population import Population
    from ssgateway.testing.provincial import ProvincialSimulator

__all__ = [
    "LOWERCASE_DIALECT",
    "REFERENCE_DIALECT",
    "SERVICES",
    "Canary",
    "Dialect",
    "FaultKind",
    "FaultPlan",
    "NetworkForbidden",
    "Population",
    "ProvincialSimulator",
    "loopback_only",
    "service_address",
]

_LAZY = {
    "Canary": "ssgateway.testing.canary",
    "Dialect": "ssgateway.testing.dialect",
    "LOWERCASE_DIALECT": "ssgateway.testing.dialect",
    "REFERENCE_DIALECT": "ssgateway.testing.dialect",
    "FaultKind": "ssgateway.testing.faultplan",
    "FaultPlan": "ssgateway.testing.faultplan",
    "Population": "ssgateway.testing.population",
    "ProvincialSimulator": "ssgateway.testing.provincial",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ssgateway.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
