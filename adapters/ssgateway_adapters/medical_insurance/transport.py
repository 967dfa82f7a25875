"""Posting envelopes to the platform over httpx, and what a failed exchange becomes.

===========================================  ==============================================
what happened                                raised
===========================================  ==============================================
connect failed, refused, timed out           ``TransientError`` (nothing reached the platform)
reset / timeout / cut body after sending     ``OutcomeUnknown`` (the platform may have acted)
HTTP 503, 429, 408                           ``TransientError`` (with ``retry_after``)
other HTTP 5xx                               ``OutcomeUnknown``
other HTTP status but 200                    ``PermanentError``
answer too large (after decompression)       ``InputError`` (code ``response.too_large``)
answer not a JSON envelope                   ``OutcomeUnknown`` (code ``partner.invalid_answer``)
===========================================  ==============================================

Bodies are read with :func:`ssgateway.soap.read_body`, the SOAP layer's size-capped reader (it decompresses
gzip and deflate itself and stops at the cap).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import ssl
from typing import Any

import httpx

from ssgateway.errors import (
    AdapterError,
    InputError,
    OutcomeUnknown,
    PermanentError,
    TransientError,
    XMLSecurityError,
)
from ssgateway.masking import mask_text
from ssgateway.sdk import parse_retry_after
from ssgateway.soap import TlsSettings, read_body
from ssgateway_adapters.medical_insurance.config import MedicalInsuranceConfig
from ssgateway_adapters.medical_insurance.envelope import Answer, parse_answer

__all__ = ["PlatformTransport"]

_log = logging.getLogger("ssgateway.medical")
_SENT_AFTER = (httpx.ReadError, httpx.ReadTimeout, httpx.RemoteProtocolError)


@functools.cache
def _default_tls() -> ssl.SSLContext:
    # One context for every client without TLS settings: loading the trust store costs ~20 ms a time.
    return TlsSettings().ssl_context()


class _Progress:
    """httpcore's ``trace`` extension tells exactly when the request body has been sent."""

    __slots__ = ("sent", "traced")

    def __init__(self) -> None:
        self.sent = False
        self.traced = False

    async def __call__(self, name: str, info: dict[str, Any]) -> None:
        self.traced = True
        if name.endswith("send_request_body.complete"):
            self.sent = True

    def was_sent(self, exc: BaseException | None) -> bool:
        # Transports without tracing (respx, mocks): judge by the kind of failure.
        return self.sent if self.traced else isinstance(exc, _SENT_AFTER)


class PlatformTransport:
    """Posts envelopes to the platform's endpoint.

    Args:
        config: the adapter's settings (endpoint, timeouts, limits, headers, TLS).
        partner: the configured partner name, for errors and logs.
        transport: an httpx transport for tests (respx, mocks).
    """

    def __init__(
        self,
        config: MedicalInsuranceConfig,
        *,
        partner: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.config = config
        self.partner = partner
        self._http = httpx.AsyncClient(
            verify=config.tls.ssl_context() if config.tls is not None else _default_tls(),
            transport=transport,
            follow_redirects=False,
            trust_env=False,
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        )

    async def aclose(self) -> None:
        """Close the connections."""
        await self._http.aclose()

    def _who(self, infno: str) -> str:
        return f"{self.partner}: {infno}" if self.partner else infno

    def _transport_error(self, infno: str, exc: BaseException, progress: _Progress) -> AdapterError:
        kind = type(exc).__name__
        if progress.was_sent(exc):
            return OutcomeUnknown(
                f"{self._who(infno)}: the request was sent but no complete answer arrived ({kind}); "
                "the platform may have acted",
                partner=self.partner,
            )
        return TransientError(
            f"{self._who(infno)}: the request could not be sent ({kind}: {mask_text(str(exc))[:200]})",
            partner=self.partner,
        )

    def _status_error(self, infno: str, status: int, headers: httpx.Headers) -> AdapterError:
        who = self._who(infno)
        if status in (408, 429, 503):
            return TransientError(
                f"{who}: HTTP {status}",
                partner=self.partner,
                retry_after=parse_retry_after(headers.get("retry-after")),
            )
        if status >= 500:
            return OutcomeUnknown(f"{who}: HTTP {status}; the platform may have acted", partner=self.partner)
        return PermanentError(f"{who}: unexpected HTTP {status}", partner=self.partner)

    async def post(self, infno: str, body: bytes) -> Answer:
        """Post one envelope (already encoded) and read the platform's answer.

        Raises:
            TransientError, OutcomeUnknown, PermanentError, InputError: see the module.
        """
        config = self.config
        progress = _Progress()
        request = self._http.build_request(
            "POST",
            config.endpoint,
            content=body,
            headers={
                **config.headers,
                "Content-Type": "application/json; charset=utf-8",
                "Accept": "application/json",
                "Accept-Encoding": "gzip, deflate",
            },
            timeout=httpx.Timeout(config.timeout, connect=min(config.timeout, config.connect_timeout)),
            extensions={"trace": progress},
        )
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            async with asyncio.timeout(config.timeout):
                try:
                    response = await self._http.send(request, stream=True)
                except httpx.HTTPError as exc:
                    raise self._transport_error(infno, exc, progress) from exc
                try:
                    parts = [p async for p in read_body(response, config.max_response_bytes)]
                except httpx.HTTPError as exc:
                    progress.sent = progress.traced = True
                    raise self._transport_error(infno, exc, progress) from exc
                except XMLSecurityError as exc:  # the SOAP layer's reader names its cap that way
                    raise InputError(f"{self._who(infno)}: {exc.message}", code="response.too_large") from exc
                finally:
                    await response.aclose()
        except TimeoutError as exc:
            if progress.sent or not progress.traced:
                raise OutcomeUnknown(
                    f"{self._who(infno)}: no complete answer within {config.timeout:g}s; "
                    "the platform may have acted",
                    partner=self.partner,
                ) from exc
            raise TransientError(
                f"{self._who(infno)}: not sent within {config.timeout:g}s", partner=self.partner
            ) from exc
        data = b"".join(parts)
        _log.debug(
            "medical platform call",
            extra={
                "partner": self.partner,
                "infno": infno,
                "status": response.status_code,
                "bytes": len(data),
                "ms": round((loop.time() - started) * 1000, 1),
            },
        )
        if response.status_code != 200:
            raise self._status_error(infno, response.status_code, response.headers)
        return parse_answer(data, what=self._who(infno), partner=self.partner)
