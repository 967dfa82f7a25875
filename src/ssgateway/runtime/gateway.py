"""The gateway runtime: adapters, routes, policies and the store wired from one configuration.

``Gateway`` is what the library facade, the HTTP sidecar and the sandbox all use::

    async with Gateway.from_config("gateway.yaml") as gw:
        history = (await gw.call("contributions.history", {"citizen_id": "…"})).response

Every partner call goes through the partner's circuit breaker, retry policy and timeout. Mutating
operations go through the idempotency store first: same key and payload → the stored result; another
payload → :class:`~ssgateway.errors.IdempotencyConflict`; still in flight →
:class:`~ssgateway.errors.IdempotencyInProgress`; store down → nothing is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from pydantic import BaseModel, ValidationError

from ssgateway.adapter import Adapter, AdapterContext
from ssgateway.config import GatewayConfig, load_config, validate_adapter_configs
from ssgateway.errors import (
    AdapterError,
    ConfigError,
    OutcomeUnknown,
    PermanentError,
    RequestInvalid,
    SSGatewayError,
    StoreUnavailable,
    TransientError,
)
from ssgateway.mapping import MappingCatalog
from ssgateway.masking import mask_text
from ssgateway.operations import Operation, get_operation
from ssgateway.registry import AdapterRegistry, default_registry
from ssgateway.reliability import (
    Breakers,
    BreakerState,
    Claim,
    Clock,
    Delivery,
    Relay,
    Replay,
    RetryEvent,
    RetryPolicy,
    Store,
    fingerprint,
    is_resendable,
    store_from_config,
)
from ssgateway.reliability.idempotency import MAX_KEY_LENGTH
from ssgateway.runtime.events import EventIntake
from ssgateway.runtime.fanout import duplicate_enrollments, gather_history
from ssgateway.runtime.metrics import GatewayMetrics
from ssgateway.runtime.router import Route, Router

if TYPE_CHECKING:
    from ssgateway.runtime.broker import JetStreamPublisher

__all__ = ["CallResult", "Gateway", "ReplayedError", "Special"]

log = logging.getLogger("ssgateway.runtime")

Special = Callable[["Gateway", BaseModel], Awaitable[BaseModel]]
"""An operation the runtime performs itself (fan-out, merge) instead of routing it to one partner."""

_BREAKER_VALUE = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}


@dataclass(frozen=True, slots=True)
class CallResult:
    """The canonical response of a call, and whether it was replayed from the idempotency store."""

    operation: str
    response: BaseModel
    replayed: bool = False

    def json(self) -> bytes:
        """The response as canonical JSON."""
        return type(self.response).__pydantic_serializer__.to_json(self.response)


class ReplayedError(SSGatewayError):
    """The stored error of an earlier request with the same idempotency key, replayed as it was."""

    def __init__(self, stored: Mapping[str, Any]) -> None:
        super().__init__(str(stored.get("message", "error")), code=str(stored.get("code", "error")))
        self.http_status = int(stored.get("status", 500))


async def _history(gateway: Gateway, request: BaseModel) -> BaseModel:
    return await gather_history(request, gateway.router, gateway.call_partner)  # type: ignore[arg-type]


async def _duplicates(gateway: Gateway, request: BaseModel) -> BaseModel:
    return await duplicate_enrollments(request, gateway.router, gateway.call_partner)  # type: ignore[arg-type]


async def _deaths(gateway: Gateway, request: BaseModel) -> BaseModel:
    return await gateway.events.notify("deaths.notify", request)


async def _survival(gateway: Gateway, request: BaseModel) -> BaseModel:
    return await gateway.events.notify("survival.report", request)


SPECIALS: dict[str, Special] = {
    "contributions.history": _history,
    "enrollment.duplicates": _duplicates,
    "deaths.notify": _deaths,
    "survival.report": _survival,
}
"""Operations the runtime performs itself: merges across partners, and events recorded once and fanned out
to their subscribers (:mod:`ssgateway.runtime.events`)."""


class Gateway:
    """The runtime: an async context manager that starts adapters, the store and relays, and closes them.

    Args:
        config: the validated configuration.
        registry: where adapter classes come from (default: installed entry points).
        catalog: mappings adapters may use (default: the configured ``mapping_paths``, then shipped ones).
        store: an open store to use instead of the configured one (the gateway closes it).
        clock: time and sleeping for policies (tests inject a fake one).
    """

    def __init__(
        self,
        config: GatewayConfig,
        *,
        registry: AdapterRegistry | None = None,
        catalog: MappingCatalog | None = None,
        store: Store | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.config = config
        self.registry = registry or default_registry()
        self.catalog = catalog or MappingCatalog([config.base_dir / p for p in config.mapping_paths])
        self.metrics = GatewayMetrics()
        self.clock = clock
        self.breakers = Breakers(config.breaker_for, clock=clock)
        self.router = Router(())
        self.adapters: dict[str, Adapter] = {}
        self._policies: dict[str, RetryPolicy] = {}
        self._store = store
        self._relays: list[asyncio.Task[Any]] = []
        self._stop = asyncio.Event()
        self._started = False
        self._events: EventIntake | None = None
        self._broker: JetStreamPublisher | None = None
        self.specials: dict[str, Special] = dict(SPECIALS)

    @classmethod
    def from_config(cls, path: str | Path, *, env: dict[str, str] | None = None, **kwargs: Any) -> Gateway:
        """A gateway for the configuration file at ``path`` (validated now, started on ``async with``).

        ``env`` replaces the process environment for ``${NAME}`` interpolation; other keyword arguments
        go to the constructor.
        """
        return cls(load_config(path, env=env), **kwargs)

    # --- lifecycle ----------------------------------------------------------------------------------

    @property
    def store(self) -> Store:
        """The durable store (opened on start)."""
        if self._store is None:
            raise ConfigError("the gateway is not started: use `async with gateway` first")
        return self._store

    @property
    def events(self) -> EventIntake:
        """Where deaths and survival certifications are recorded and fanned out (after start)."""
        if self._events is None:
            raise ConfigError("the gateway is not started: use `async with gateway` first")
        return self._events

    @property
    def started(self) -> bool:
        """Whether :meth:`start` has run (and :meth:`close` not since)."""
        return self._started

    async def start(self) -> None:
        """Validate adapter settings, start every adapter, open the store, start the outbox relays."""
        if self._started:
            return
        settings = validate_adapter_configs(self.config, self.registry)
        routes = []
        try:
            if self._store is None:
                self._store = store_from_config(self.config, clock=self.clock)
            self._start_events()
            for name, partner in self.config.partners.items():
                cls = self.registry.get(partner.adapter)
                services = {
                    "mappings": self.catalog,
                    "clock": self.clock,
                    "store": self._store,
                    "events": self._events,
                }
                context = AdapterContext(
                    partner=name,
                    regions=partner.regions,
                    base_dir=self.config.base_dir,
                    logger=logging.getLogger(f"ssgateway.partner.{name}"),
                    services=services,
                )
                adapter = cls(settings[name], context)
                await adapter.start()
                self.adapters[name] = adapter
                self._policies[name] = RetryPolicy.from_config(self.config.retry_for(name), clock=self.clock)
                operations = frozenset(partner.operations or adapter.operations)
                routes.append(Route(name, operations, partner.regions))
            self.router = Router(routes)
            self._start_relays()
        except BaseException:
            await self.close()
            raise
        self._started = True
        log.info(
            "gateway started",
            extra={"partners": sorted(self.adapters), "store": self.config.store.url.split(":", 1)[0]},
        )

    def _start_events(self) -> None:
        deduplicated = {
            name: self.registry.get(partner.adapter).deduplicated
            for name, partner in self.config.partners.items()
        }
        self._events = EventIntake(self.config, self.store, deduplicated, clock=self.clock)
        broker = self.config.events.broker
        if broker is not None:
            from ssgateway.runtime.broker import JetStreamPublisher  # the NATS client only when used

            self._broker = JetStreamPublisher(broker)

    def _start_relays(self) -> None:
        outbox_settings = self.config.outbox
        if outbox_settings.relays == 0 or not self.store.supports_outbox:
            return
        for i in range(outbox_settings.relays):
            relay = Relay(
                self.store.outbox,
                self._send_delivery,
                policy=self._policy,
                breakers=self.breakers,
                concurrency=outbox_settings.concurrency,
                lease=outbox_settings.lease,
                poll_interval=outbox_settings.poll_interval,
                clock=self.clock,
            )
            self._relays.append(asyncio.create_task(relay.run(self._stop), name=f"ssgateway-relay-{i}"))

    async def close(self) -> None:
        """Stop the relays (their in-flight deliveries finish), close adapters and the store."""
        self._stop.set()
        if self._relays:
            await asyncio.gather(*self._relays, return_exceptions=True)
            self._relays.clear()
        for name, adapter in list(self.adapters.items()):
            try:
                await adapter.close()
            except Exception:
                log.warning("adapter %s failed to close", name, exc_info=True)
        self.adapters.clear()
        if self._broker is not None:
            await self._broker.close()
            self._broker = None
        self._events = None
        if self._store is not None:
            await self._store.close()
            self._store = None
        self._started = False

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # --- calls --------------------------------------------------------------------------------------

    def _policy(self, partner: str) -> RetryPolicy:
        return self._policies.get(partner) or RetryPolicy.from_config(
            self.config.defaults.retry, clock=self.clock
        )

    async def call(
        self,
        operation: str,
        request: BaseModel | Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
        caller: str | None = None,
    ) -> CallResult:
        """Perform a canonical operation and return its canonical response.

        Args:
            operation: the operation's name (``person.lookup`` …).
            request: the request model, or a mapping validated into it.
            idempotency_key: required for mutating operations; unique per intended change.
            caller: who asks (scopes idempotency keys, names the caller in logs).

        Raises:
            RequestInvalid: the request does not validate, or a mutating call has no key.
            IdempotencyConflict, IdempotencyInProgress, StoreUnavailable: see the module docs.
            NotFound, TransientError, PermanentError, OutcomeUnknown: from routing and partners.
        """
        op = get_operation(operation)
        model = self._validated(op, request)
        if not op.mutating:
            return CallResult(operation, await self._perform(op, model))
        if not idempotency_key:
            raise RequestInvalid(
                f"{operation} changes state: an idempotency key is required", code="idempotency.key_required"
            )
        outcome = await self.store.idempotency.claim(
            _scoped_key(caller, operation, idempotency_key), fingerprint(model)
        )
        if isinstance(outcome, Replay):
            self.metrics.replays.labels(operation).inc()
            if outcome.succeeded:
                return CallResult(operation, op.response.model_validate(outcome.response), replayed=True)
            raise ReplayedError(outcome.error or {})
        return await self._perform_claimed(op, model, outcome)

    def _validated(self, op: Operation, request: BaseModel | Mapping[str, Any]) -> BaseModel:
        if isinstance(request, op.request):
            return request
        try:
            data = request.model_dump() if isinstance(request, BaseModel) else request
            return op.request.model_validate(data)
        except ValidationError as exc:
            first = exc.errors(include_input=False)[0]
            where = ".".join(str(p) for p in first["loc"])
            raise RequestInvalid(f"{op.name} request: {where}: {first['msg']}") from exc

    async def _perform_claimed(self, op: Operation, request: BaseModel, claim: Claim) -> CallResult:
        idem = self.store.idempotency
        if claim.takeover and not self._resendable(op, request):
            # the previous holder died mid-call: it may have reached the partner, which would not dedupe
            error = OutcomeUnknown(
                f"an earlier attempt of this {op.name} may have reached the partner; reconcile first"
            )
            await idem.fail(claim, error)
            raise error
        try:
            response = await self._perform(op, request)
        except OutcomeUnknown as exc:
            await idem.fail(claim, exc, permanent=not self._resendable(op, request))
            raise
        except TransientError as exc:
            await idem.fail(claim, exc, permanent=False)
            raise
        except StoreUnavailable:
            # our own store failed mid-call (a fan-out half enqueued, say): the caller's retry with the
            # same key must run again, not be answered this error for ever
            with contextlib.suppress(StoreUnavailable):
                await idem.release(claim)
            raise
        except SSGatewayError as exc:
            await idem.fail(claim, exc, permanent=True)
            raise
        except BaseException as exc:
            # A bug or a cancellation mid-call: nobody knows whether the partner acted. A resendable call
            # frees the key for a retry; any other keeps an ambiguous outcome, so a retry with the key is
            # answered "reconcile first" instead of being sent a second time.
            if self._resendable(op, request):
                await asyncio.shield(idem.release(claim))
            else:
                unknown = OutcomeUnknown(
                    f"{op.name} ended without an answer ({type(exc).__name__}); it may have reached the"
                    " partner: reconcile first"
                )
                await asyncio.shield(idem.fail(claim, unknown, permanent=True))
            raise
        await idem.complete(claim, response.model_dump(mode="json"))
        return CallResult(op.name, response)

    def _resendable(self, op: Operation, request: BaseModel) -> bool:
        if op.name in self.specials:
            return True  # the runtime's own fan-outs dedupe through the outbox
        try:
            route = self.router.route(op.name, op.region_of(request))
        except SSGatewayError:
            return False
        return is_resendable(op.name, self.adapters[route.partner].deduplicated)

    async def _perform(self, op: Operation, request: BaseModel) -> BaseModel:
        special = self.specials.get(op.name)
        if special is not None:
            return await special(self, request)
        route = self.router.route(op.name, op.region_of(request))
        return await self.call_partner(route.partner, op.name, request)

    async def call_partner(self, partner: str, operation: str, request: BaseModel) -> BaseModel:
        """One call to one partner through its breaker, retry policy and timeout."""
        adapter = self.adapters[partner]
        breaker = self.breakers.get(partner)
        timeout = self.config.partners[partner].timeout
        resendable = is_resendable(operation, adapter.deduplicated)

        async def attempt() -> BaseModel:
            return await self._timed(adapter, operation, request, timeout, resendable)

        def on_retry(event: RetryEvent) -> None:
            self.metrics.retries.labels(partner, operation).inc()
            detail = {
                "attempt": event.attempt,
                "delay": round(event.delay, 3),
                "error": mask_text(str(event.error)),
            }
            log.info(
                "retrying %s at %s after %s", operation, partner, type(event.error).__name__, extra=detail
            )

        start = time.perf_counter()
        outcome = "ok"
        try:
            # The breaker wraps the whole retried call: an open breaker fails fast instead of making the
            # caller wait out its reset, and one logical call counts once towards opening it.
            policy = self._policy(partner)
            return await breaker.call(lambda: policy.call(attempt, resendable=resendable, on_retry=on_retry))
        except BaseException as exc:
            outcome = _outcome_label(exc)
            raise
        finally:
            self.metrics.partner_calls.labels(partner, operation, outcome).inc()
            self.metrics.partner_seconds.labels(partner, operation).observe(time.perf_counter() - start)

    async def _timed(
        self, adapter: Adapter, operation: str, request: BaseModel, timeout: float, resendable: bool
    ) -> BaseModel:
        try:
            async with asyncio.timeout(timeout):  # in this task: wait_for would start another per call
                return await adapter.call(operation, request)
        except TimeoutError:
            partner = adapter.context.partner if hasattr(adapter, "context") else None
            message = f"{operation} at {partner} did not finish within {timeout:g}s"
            if resendable:
                raise TransientError(message, partner=partner, code="partner.timeout") from None
            raise OutcomeUnknown(message, partner=partner, code="partner.timeout") from None

    async def _send_delivery(self, delivery: Delivery) -> Any:
        if self._broker is not None and delivery.partner == self._broker.name:
            return await self._broker.publish(delivery)
        op = get_operation(delivery.operation)
        request = op.request.model_validate(delivery.payload)
        adapter = self.adapters.get(delivery.partner)
        if adapter is None:
            raise PermanentError(
                f"partner {delivery.partner!r} is not configured here", partner=delivery.partner
            )
        timeout = self.config.partners[delivery.partner].timeout
        response = await self._timed(adapter, op.name, request, timeout, delivery.deduplicated)
        return response.model_dump(mode="json")

    async def enqueue(self, partner: str, operation: str, request: BaseModel, key: str) -> int:
        """Store a delivery of ``request`` to ``partner`` in the outbox for a relay; returns its id."""
        adapter = self.adapters[partner]
        return await self.store.outbox.enqueue(
            partner=partner,
            operation=operation,
            payload=request,
            idempotency_key=key,
            deduplicated=is_resendable(operation, adapter.deduplicated),
        )

    # --- operations -------------------------------------------------------------------------------

    async def readiness(self) -> tuple[bool, dict[str, Any]]:
        """Ready when the store answers and no required partner's breaker is open."""
        checks: dict[str, Any] = {}
        try:
            await self.store.ping()
            checks["store"] = "ok"
        except SSGatewayError as exc:
            checks["store"] = exc.code
        for name, partner in self.config.partners.items():
            state = self.breakers.get(name).state
            checks[f"partner:{name}"] = state.value if partner.required else f"{state.value} (not required)"
        ready = checks["store"] == "ok" and all(
            self.breakers.get(n).state is not BreakerState.OPEN
            for n, p in self.config.partners.items()
            if p.required
        )
        return ready, checks

    async def refresh_metrics(self) -> None:
        """Update the gauges read at scrape time: breaker states and outbox depth."""
        for snapshot in self.breakers.snapshots():
            self.metrics.breaker_state.labels(snapshot.name).set(_BREAKER_VALUE[snapshot.state])
        for name in self.adapters:
            self.breakers.get(name)
        if self._store is not None and self._store.supports_outbox:
            try:
                totals = await self._store.outbox.totals()
            except SSGatewayError:
                return
            for state, count in totals.items():
                self.metrics.outbox.labels(state.value).set(count)


def _outcome_label(exc: BaseException) -> str:
    if isinstance(exc, OutcomeUnknown):
        return "unknown"
    if isinstance(exc, TransientError):
        return "breaker_open" if exc.code == "partner.breaker_open" else "transient"
    if isinstance(exc, AdapterError):
        return "permanent"
    return "error" if isinstance(exc, SSGatewayError) else "crash"


def _scoped_key(caller: str | None, operation: str, key: str) -> str:
    """The store key of a caller's idempotency key: scoped to the caller and the operation.

    The caller's key may be 1 to 255 characters; when the scoped form would be longer than the store takes,
    the key part is replaced by its SHA-256, so every key the caller may send fits and stays distinct.
    """
    if not key or len(key) > MAX_KEY_LENGTH:
        raise RequestInvalid(
            f"an Idempotency-Key is 1 to {MAX_KEY_LENGTH} characters, got {len(key)}",
            code="idempotency.key_invalid",
        )
    scoped = f"{caller or '-'}:{operation}:{key}"
    if len(scoped) <= MAX_KEY_LENGTH:
        return scoped
    return f"{caller or '-'}:{operation}:sha256:{hashlib.sha256(key.encode()).hexdigest()}"
