"""Helpers for testing ssgateway and the adapters and stores built on it.

Loopback-only networking, service addresses, a fake clock, partner simulators (a generic HTTP partner
with a deduplicating ledger, a provincial SOAP service, the medical-insurance platform, a paying bank
speaking ISO 20022), the synthetic population they serve, contribution drops with known defects and the
store conformance suite.

Installed as a pytest plugin, so the fixtures in :mod:`ssgateway.testing.plugin` are available to any test
suite that has ssgateway installed. Everything but networking and service addresses loads on first use,
so the plugin stays light for suites that never touch the simulators.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ssgateway.testing.network import NetworkForbidden, loopback_only
from ssgateway.testing.services import SERVICES, service_address

if TYPE_CHECKING:
    from ssgateway.testing.bank import BankSimulator
    from ssgateway.testing.canary import Canary
    from ssgateway.testing.civil import CivilAffairsSimulator
    from ssgateway.testing.clock import FakeClock
    from ssgateway.testing.dialect import LOWERCASE_DIALECT, REFERENCE_DIALECT, Dialect
    from ssgateway.testing.drops import write_drop
    from ssgateway.testing.faultplan import FaultPlan
    from ssgateway.testing.medical import MedicalSimulator
    from ssgateway.testing.partner import FaultKind, Faults, PartnerSimulator, partner_sender
    from ssgateway.testing.population import Population
    from ssgateway.testing.provincial import ProvincialSimulator
    from ssgateway.testing.stores import store_conformance

__all__ = [
    "LOWERCASE_DIALECT",
    "REFERENCE_DIALECT",
    "SERVICES",
    "BankSimulator",
    "Canary",
    "CivilAffairsSimulator",
    "Dialect",
    "FakeClock",
    "FaultKind",
    "FaultPlan",
    "Faults",
    "MedicalSimulator",
    "NetworkForbidden",
    "PartnerSimulator",
    "Population",
    "ProvincialSimulator",
    "loopback_only",
    "partner_sender",
    "running_sidecar",
    "service_address",
    "store_conformance",
    "write_drop",
]

_LAZY = {
    "BankSimulator": "ssgateway.testing.bank",
    "Canary": "ssgateway.testing.canary",
    "CivilAffairsSimulator": "ssgateway.testing.civil",
    "FakeClock": "ssgateway.testing.clock",
    "Dialect": "ssgateway.testing.dialect",
    "LOWERCASE_DIALECT": "ssgateway.testing.dialect",
    "REFERENCE_DIALECT": "ssgateway.testing.dialect",
    "FaultPlan": "ssgateway.testing.faultplan",
    "MedicalSimulator": "ssgateway.testing.medical",
    "FaultKind": "ssgateway.testing.partner",
    "Faults": "ssgateway.testing.partner",
    "PartnerSimulator": "ssgateway.testing.partner",
    "partner_sender": "ssgateway.testing.partner",
    "Population": "ssgateway.testing.population",
    "ProvincialSimulator": "ssgateway.testing.provincial",
    "running_sidecar": "ssgateway.testing.sidecar",
    "store_conformance": "ssgateway.testing.stores",
    "write_drop": "ssgateway.testing.drops",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ssgateway.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
