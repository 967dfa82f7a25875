"""Prometheus metrics of one gateway: requests, latency, partner calls, retries, breakers, outbox depth.

Each :class:`~ssgateway.runtime.gateway.Gateway` has its own registry, so several gateways (tests, the
sandbox) never mix their figures. Labels never carry personal data: operations, partners, outcomes.
"""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

__all__ = ["GatewayMetrics"]

# ``*_created`` timestamps double every series and say nothing a scraper does not know already.
disable_created_metrics()  # type: ignore[no-untyped-call]

# Latency buckets from 1 ms (a cached replay) to 30 s (a partner at its timeout).
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class GatewayMetrics:
    """The metrics a gateway updates, in their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "ssgateway_requests",
            "Sidecar requests by operation and HTTP status.",
            ["operation", "status"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "ssgateway_request_duration_seconds",
            "Sidecar request latency.",
            ["operation"],
            buckets=_BUCKETS,
            registry=r,
        )
        self.partner_calls = Counter(
            "ssgateway_partner_calls",
            "Calls to partners by outcome (ok, transient, permanent, unknown, breaker_open).",
            ["partner", "operation", "outcome"],
            registry=r,
        )
        self.partner_seconds = Histogram(
            "ssgateway_partner_call_duration_seconds",
            "Latency of calls to partners, retries included.",
            ["partner", "operation"],
            buckets=_BUCKETS,
            registry=r,
        )
        self.retries = Counter(
            "ssgateway_retries", "Retried partner calls.", ["partner", "operation"], registry=r
        )
        self.breaker_state = Gauge(
            "ssgateway_breaker_state",
            "Circuit breaker state: 0 closed, 1 half-open, 2 open.",
            ["partner"],
            registry=r,
        )
        self.replays = Counter(
            "ssgateway_idempotent_replays",
            "Responses replayed for a repeated Idempotency-Key.",
            ["operation"],
            registry=r,
        )
        self.outbox = Gauge(
            "ssgateway_outbox_deliveries", "Outbox deliveries by state.", ["state"], registry=r
        )

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)
