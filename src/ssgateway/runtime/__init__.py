"""The runtime: a :class:`Gateway` wires adapters, routes, policies and the store from one configuration."""

from ssgateway.runtime.events import EventIntake, event_key
from ssgateway.runtime.gateway import SPECIALS, CallResult, Gateway, ReplayedError, Special
from ssgateway.runtime.metrics import GatewayMetrics
from ssgateway.runtime.router import Route, Router

__all__ = [
    "SPECIALS",
    "CallResult",
    "EventIntake",
    "Gateway",
    "GatewayMetrics",
    "ReplayedError",
    "Route",
    "Router",
    "Special",
    "event_key",
]
