"""Events: deaths and survival certifications, recorded once and delivered once to every subscriber.

``deaths.notify`` and ``survival.report`` are performed by the gateway itself. An event is named by its
*event key* — the dedupe key (same person, same death; same person, certification time and result) with
the personal part replaced by a digest — and handled in three steps:

1. **record**: an atomic compare-and-set in the store's checkpoints (``events/<event key>``) keeps the
   first report of the event, whoever sends it and however often;
2. **fan out**: one outbox delivery per subscriber, and one for the broker when one is configured, each
   with the event key as its idempotency key, so a subscriber that is down gets it when it is back;
3. **mark** the record fanned out, with the delivery ids.

A repeat finds the record and is answered ``duplicate`` with the deliveries' current states; nothing new is
sent. A process that dies between 1 and 3 leaves a record not yet fanned out: the next report of the same
event finishes the fan-out (enqueueing is idempotent per subscriber and key), so nothing acknowledged is
lost and nothing is sent twice. Concurrent reports race on the compare-and-set; losers finish or read what
the winner did.

The payload every subscriber receives is the first report's, as recorded: a later report of the same death
by another agency (another evidence type, another notice number) changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ssgateway.config import EVENT_OPERATIONS, GatewayConfig
from ssgateway.errors import NotFound, RequestInvalid, SSGatewayError
from ssgateway.mapping import InboundMapping
from ssgateway.masking import personal_digest
from ssgateway.model import DeathNotice, DeliveryReceipt, NoticeReceipt, SurvivalCertification
from ssgateway.operations import get_operation
from ssgateway.reliability import CheckpointConflict, Clock, Store, is_resendable
from ssgateway.reliability.checkpoints import Checkpoint
from ssgateway.runtime.batches import ImportSummary, import_events

__all__ = ["EVENT_OPERATIONS", "Event", "EventIntake", "event_key"]

Event = DeathNotice | SurvivalCertification
"""A canonical event."""

log = logging.getLogger("ssgateway.events")

_RECORDS = "events/"


def event_key(event: Event, secret: bytes | None = None) -> str:
    """The key naming ``event``: ``death:<digest>`` or ``survival:<digest>`` of its dedupe key.

    Without ``secret`` it is the event's own ``event_key`` (an unkeyed digest partners can derive too);
    with one, a keyed digest that cannot be recomputed from a guessed citizen id.
    """
    if secret is None:
        return event.event_key
    kind = event.dedupe_key.split(":", 1)[0]
    return f"{kind}:{personal_digest(event.dedupe_key, secret)}"


class EventIntake:
    """Where events come in: deduplicated, recorded and fanned out (see the module).

    Args:
        config: the gateway configuration (its ``events:`` section names the subscribers).
        store: an open store with an outbox and checkpoints.
        deduplicated: per partner, the operations it dedupes on the key a request carries (from its
            adapter class): deliveries to it may be resent after an ambiguous failure.
        clock: wall-clock time for ``received_at``.
    """

    def __init__(
        self,
        config: GatewayConfig,
        store: Store,
        deduplicated: Mapping[str, Iterable[str]],
        *,
        clock: Clock | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self._deduplicated = {name: frozenset(ops) for name, ops in deduplicated.items()}
        self._clock = clock
        secret = config.events.digest_key
        self._secret = secret.get_secret_value().encode() if secret is not None else None
        broker = config.events.broker
        self.broker_name = broker.name if broker is not None else None
        """The broker's name in the outbox, when one is configured."""

    def subscribers(self, operation: str) -> tuple[str, ...]:
        """The partners ``operation`` is delivered to (the broker not included)."""
        return tuple(self.config.events.subscribers.get(operation, ()))

    def destinations(self, operation: str) -> tuple[str, ...]:
        """Every outbox destination of ``operation``: its subscribers, then the broker."""
        broker = (self.broker_name,) if self.broker_name is not None else ()
        return (*self.subscribers(operation), *broker)

    def key(self, event: Event) -> str:
        """The event key of ``event`` under this gateway's ``events.digest_key``."""
        return event_key(event, self._secret)

    def _now(self) -> datetime:
        stamp = self._clock.time() if self._clock is not None else None
        return datetime.fromtimestamp(stamp, UTC) if stamp is not None else datetime.now(UTC)

    async def notify(self, operation: str, event: BaseModel) -> NoticeReceipt:
        """Record ``event`` once and fan it out; a repeat is answered ``duplicate``, nothing sent again.

        Raises:
            RequestInvalid: ``operation`` is not an event, or ``event`` is not its request model.
            NotFound: no subscriber and no broker is configured for ``operation`` (code ``route.none``):
                the event is refused rather than recorded for nobody.
            StoreUnavailable: the event could not be recorded; nothing was sent.
        """
        if operation not in EVENT_OPERATIONS:
            raise RequestInvalid(f"{operation} is not an event; events are {', '.join(EVENT_OPERATIONS)}")
        model = get_operation(operation).request
        if not isinstance(event, DeathNotice | SurvivalCertification) or not isinstance(event, model):
            raise RequestInvalid(f"{operation} takes a {model.__name__}, not a {type(event).__name__}")
        destinations = self.destinations(operation)
        if not destinations:
            raise NotFound(
                f"no subscriber is configured for {operation}: list them under events.subscribers",
                code="route.none",
            )
        key = self.key(event)
        record, duplicate = await self._record(key, operation, event, destinations)
        if duplicate and isinstance(event, DeathNotice):
            first = record.state["event"].get("date_of_death")
            if first != event.date_of_death.isoformat():
                log.warning(  # the dates are not logged: with the region they would point to the person
                    "%s %s: this report gives another date of death; the first report stands", operation, key
                )
        if not record.state.get("fanned_out"):
            record = await self._fan_out(key, record)
        receipt = await self._receipt(key, record, duplicate)
        log.info(
            "%s %s %s",
            operation,
            key,
            "repeated" if duplicate else "recorded",
            extra={"event": key, "duplicate": duplicate, "deliveries": len(receipt.deliveries)},
        )
        return receipt

    async def _record(
        self, key: str, operation: str, event: Event, destinations: tuple[str, ...]
    ) -> tuple[Checkpoint, bool]:
        checkpoints = self.store.checkpoints
        name = _RECORDS + key
        found = await checkpoints.get(name)
        if found is not None:
            return found, True
        state: dict[str, Any] = {
            "operation": operation,
            "received_at": self._now().isoformat(),
            "event": event.model_dump(mode="json"),
            "destinations": list(destinations),
            "fanned_out": False,
        }
        try:
            version = await checkpoints.put(name, state, 0)
        except CheckpointConflict:
            # another report of the same event won the race: it is the record
            raced = await checkpoints.get(name)
            if raced is None:  # pragma: no cover - records are never deleted by the gateway
                raise
            return raced, True
        return Checkpoint(name, state, version, 0.0), False

    async def _fan_out(self, key: str, record: Checkpoint) -> Checkpoint:
        """Enqueue the record's deliveries (idempotent per destination and key), then mark it fanned out."""
        state = record.state
        operation = str(state["operation"])
        deliveries: dict[str, int] = {}
        for destination in state["destinations"]:
            deliveries[destination] = await self.store.outbox.enqueue(
                partner=destination,
                operation=operation,
                payload=state["event"],
                idempotency_key=key,
                deduplicated=self._resendable(destination, operation),
            )
        done = {**state, "fanned_out": True, "deliveries": deliveries}
        try:
            version = await self.store.checkpoints.put(record.name, done, record.version)
        except CheckpointConflict:
            # another report finished the same fan-out meanwhile (the same delivery ids)
            return Checkpoint(record.name, done, record.version + 1, 0.0)
        return Checkpoint(record.name, done, version, 0.0)

    def _resendable(self, destination: str, operation: str) -> bool:
        if destination == self.broker_name:
            return True  # JetStream dedupes on the message id, which is the event key
        return is_resendable(operation, self._deduplicated.get(destination, ()))

    async def _receipt(self, key: str, record: Checkpoint, duplicate: bool) -> NoticeReceipt:
        state = record.state
        receipts = []
        for destination, delivery_id in state.get("deliveries", {}).items():
            current = "pending"
            if duplicate:
                try:
                    current = (await self.store.outbox.get(int(delivery_id))).state.value
                except NotFound:
                    current = "purged"
                except SSGatewayError as exc:  # the event is safe; only its progress is unknown now
                    log.warning("state of delivery %s unknown: %s", delivery_id, exc.code)
                    current = "unknown"
            receipts.append(
                DeliveryReceipt(subscriber=destination, delivery_id=str(delivery_id), state=current)
            )
        return NoticeReceipt(
            key=key,
            duplicate=duplicate,
            received_at=datetime.fromisoformat(str(state["received_at"])),
            deliveries=tuple(receipts),
        )

    async def record_of(self, key: str) -> dict[str, Any] | None:
        """What is recorded for an event key (the first report, destinations, delivery ids), if anything."""
        found = await self.store.checkpoints.get(_RECORDS + key)
        return dict(found.state) if found is not None else None

    async def import_file(
        self,
        mapping: InboundMapping,
        path: Path,
        *,
        rejects: Path | None,
        encoding: str | None = None,
        source_system: str | None = None,
    ) -> ImportSummary:
        """Every event of a file through :meth:`notify` (:func:`~ssgateway.runtime.batches.import_events`)."""
        return await import_events(
            self, mapping, path, rejects=rejects, encoding=encoding, source_system=source_system
        )
