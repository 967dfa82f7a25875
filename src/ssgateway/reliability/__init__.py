"""The reliability core: retries, circuit breakers, idempotency records, the outbox and its relays.

Open a store from a URL, then use its parts::

    store = open_store("sqlite:///ssgateway.db")
    claim = await store.idempotency.claim(key, fingerprint(payload))
    delivery_id = await store.outbox.enqueue(partner=..., operation=..., payload=..., ...)

See ``docs/reliability.md`` for the guarantees, the settings and how to choose a store.
"""

from ssgateway.reliability.breaker import BreakerOpen, Breakers, BreakerSnapshot, BreakerState, CircuitBreaker
from ssgateway.reliability.checkpoints import Checkpoint, CheckpointConflict, Checkpoints
from ssgateway.reliability.clock import SYSTEM_CLOCK, Clock, SystemClock
from ssgateway.reliability.idempotency import (
    Claim,
    IdempotencyRecord,
    IdempotencyState,
    IdempotencyStore,
    Replay,
    fingerprint,
)
from ssgateway.reliability.outbox import Delivery, DeliveryState, Outbox
from ssgateway.reliability.relay import Relay, RelayStats, SendFunction
from ssgateway.reliability.retry import RetryEvent, RetryPolicy, is_resendable, parse_retry_after
from ssgateway.reliability.store import Store, open_store, redact_url, store_from_config

__all__ = [
    "SYSTEM_CLOCK",
    "BreakerOpen",
    "BreakerSnapshot",
    "BreakerState",
    "Breakers",
    "Checkpoint",
    "CheckpointConflict",
    "Checkpoints",
    "CircuitBreaker",
    "Claim",
    "Clock",
    "Delivery",
    "DeliveryState",
    "IdempotencyRecord",
    "IdempotencyState",
    "IdempotencyStore",
    "Outbox",
    "Relay",
    "RelayStats",
    "Replay",
    "RetryEvent",
    "RetryPolicy",
    "SendFunction",
    "Store",
    "SystemClock",
    "fingerprint",
    "is_resendable",
    "open_store",
    "parse_retry_after",
    "redact_url",
    "store_from_config",
]
