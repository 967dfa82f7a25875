"""Helpers for testing ssgateway and the adapters and stores built on it.

Loopback-only networking, service addresses, a fake clock, an HTTP partner simulator and the store
conformance suite.

Installed as a pytest plugin, so the fixtures in :mod:`ssgateway.testing.plugin` are available to any test
suite that has ssgateway installed.
"""

from ssgateway.testing.clock import FakeClock
from ssgateway.testing.network import NetworkForbidden, loopback_only
from ssgateway.testing.partner import FaultKind, Faults, PartnerSimulator, partner_sender
from ssgateway.testing.services import SERVICES, service_address
from ssgateway.testing.stores import store_conformance

__all__ = [
    "SERVICES",
    "FakeClock",
    "FaultKind",
    "Faults",
    "NetworkForbidden",
    "PartnerSimulator",
    "loopback_only",
    "partner_sender",
    "service_address",
    "store_conformance",
]
