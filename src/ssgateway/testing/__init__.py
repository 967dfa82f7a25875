"""Helpers for testing ssgateway and adapters built on it: loopback-only networking, service addresses.

Installed as a pytest plugin, so the fixtures in :mod:`ssgateway.testing.plugin` are available to any test
suite that has ssgateway installed.
"""

from ssgateway.testing.network import NetworkForbidden, loopback_only
from ssgateway.testing.services import SERVICES, service_address

__all__ = ["SERVICES", "NetworkForbidden", "loopback_only", "service_address"]
