"""Canonical events on a NATS JetStream stream, for consumers that subscribe instead of being called.

Publishing is an outbox delivery like any other (the event intake enqueues one per event, named after the
broker): a relay calls :meth:`JetStreamPublisher.publish`, so an event acknowledged to its sender reaches
the stream even if the broker is down for a while. Each message carries the event key as its
``Nats-Msg-Id`` header, so JetStream stores a resent message once (within the stream's duplicate window);
consumers dedupe on the same header beyond it. The body is the canonical event as JSON, the subject
``<subject_prefix>.<operation>``.

The connection is opened on the first publish, not at start: a gateway starts while its broker is down,
and the deliveries wait in the outbox. A lost connection is opened again by the next publish.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import TYPE_CHECKING, Any

import nats
from nats.errors import Error as NatsError
from nats.errors import NoServersError
from nats.js.api import StorageType, StreamConfig
from nats.js.errors import APIError, NoStreamResponseError, NotFoundError, ServiceUnavailableError

from ssgateway.config import BrokerConfig
from ssgateway.errors import OutcomeUnknown, PermanentError, TransientError
from ssgateway.masking import mask_text
from ssgateway.reliability import Delivery, redact_url

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.js import JetStreamContext

__all__ = ["MSG_ID_HEADER", "JetStreamPublisher"]

MSG_ID_HEADER = "Nats-Msg-Id"
"""The header JetStream dedupes on."""

log = logging.getLogger("ssgateway.broker")


async def _log_error(error: Exception) -> None:
    log.debug("event broker connection: %s", type(error).__name__)


class JetStreamPublisher:
    """Publishes outbox deliveries of events to one JetStream stream.

    Args:
        settings: the ``events.broker`` section.
    """

    def __init__(self, settings: BrokerConfig) -> None:
        self.settings = settings
        self.name = settings.name
        self._client: Client | None = None
        self._js: JetStreamContext | None = None
        self._lock = asyncio.Lock()

    def subject(self, operation: str) -> str:
        """The subject events of ``operation`` are published on."""
        return f"{self.settings.subject_prefix}.{operation}"

    async def _context(self) -> JetStreamContext:
        async with self._lock:
            if self._js is not None and self._client is not None and self._client.is_connected:
                return self._js
            await self._drop()
            settings = self.settings
            where = redact_url(settings.url)
            try:
                # No reconnecting inside the client: a lost connection fails the publishes in flight
                # (their deliveries are resent) and the next publish connects again.
                client = await nats.connect(
                    settings.url,
                    connect_timeout=settings.timeout,
                    allow_reconnect=False,
                    max_reconnect_attempts=1,  # the first connect, too, gives up after two tries
                    reconnect_time_wait=0.1,
                    error_cb=_log_error,
                    name="ssgateway",
                )
            except (OSError, NatsError) as exc:
                raise TransientError(
                    f"the event broker at {where} cannot be reached: {type(exc).__name__}",
                    partner=self.name,
                    code="partner.unavailable",
                ) from exc
            js = client.jetstream(timeout=settings.timeout)
            try:
                await self._ensure_stream(js)
            except BaseException:
                await client.close()
                raise
            self._client, self._js = client, js
            log.info("connected to the event broker", extra={"broker": where, "stream": settings.stream})
            return js

    async def _ensure_stream(self, js: JetStreamContext) -> None:
        settings = self.settings
        try:
            await js.stream_info(settings.stream)
            return
        except NotFoundError:
            if not settings.create_stream:
                raise PermanentError(
                    f"the JetStream stream {settings.stream!r} does not exist (events.broker.create_stream "
                    "is false: create it on the broker)",
                    partner=self.name,
                    code="broker.no_stream",
                ) from None
        except (NatsError, OSError) as exc:
            raise TransientError(
                f"the event broker did not describe stream {settings.stream!r}: {type(exc).__name__}",
                partner=self.name,
                code="partner.unavailable",
            ) from exc
        config = StreamConfig(
            name=settings.stream,
            subjects=[f"{settings.subject_prefix}.>"],
            storage=StorageType.FILE,
            duplicate_window=settings.duplicate_window,
        )
        try:
            await js.add_stream(config)
        except (NatsError, OSError) as exc:
            raise TransientError(
                f"the event broker did not create stream {settings.stream!r}: {mask_text(str(exc))}",
                partner=self.name,
                code="partner.unavailable",
            ) from exc

    async def publish(self, delivery: Delivery) -> dict[str, Any]:
        """Publish one delivery's event; returns JetStream's acknowledgement (stream, sequence, duplicate).

        Raises:
            TransientError: the broker cannot be reached (nothing was sent).
            OutcomeUnknown: the message went out but no acknowledgement came back; resending is safe
                (the message id is the event key).
            PermanentError: JetStream refused the message (no stream for the subject, too large).
        """
        js = await self._context()
        payload = json.dumps(delivery.payload, ensure_ascii=False, separators=(",", ":")).encode()
        subject = self.subject(delivery.operation)
        headers = {MSG_ID_HEADER: delivery.idempotency_key}
        try:
            ack = await js.publish(subject, payload, timeout=self.settings.timeout, headers=headers)
        except TimeoutError as exc:  # nats' own timeout is one too
            raise OutcomeUnknown(
                f"the event broker did not acknowledge {delivery.idempotency_key} in time",
                partner=self.name,
                code="partner.timeout",
            ) from exc
        except NoServersError as exc:
            raise TransientError(
                "the event broker cannot be reached", partner=self.name, code="partner.unavailable"
            ) from exc
        except (NoStreamResponseError, ServiceUnavailableError) as exc:
            # nothing stored it: the stream is missing (deleted?) or JetStream is busy; look again next time
            await self.close()
            raise TransientError(
                f"no JetStream stream took {subject} ({type(exc).__name__})",
                partner=self.name,
                code="partner.unavailable",
            ) from exc
        except APIError as exc:
            raise PermanentError(
                f"JetStream refused {delivery.idempotency_key} on {subject}: {mask_text(str(exc))}",
                partner=self.name,
                code="broker.refused",
            ) from exc
        except (NatsError, OSError) as exc:
            # the connection failed around the publish: JetStream may have stored it; resending is safe
            raise OutcomeUnknown(
                f"publishing {delivery.idempotency_key} failed: {type(exc).__name__}",
                partner=self.name,
                code="partner.unavailable",
            ) from exc
        return {"stream": ack.stream, "seq": ack.seq, "duplicate": bool(ack.duplicate)}

    async def _drop(self) -> None:
        client, self._client, self._js = self._client, None, None
        if client is not None and not client.is_closed:
            try:
                await client.close()
            except (NatsError, OSError):  # closing a broken connection: nothing left to save
                log.debug("closing the broker connection failed", exc_info=True)

    async def close(self) -> None:
        """Close the connection (pending acknowledgements are abandoned; their deliveries are resent)."""
        async with self._lock:
            await self._drop()
