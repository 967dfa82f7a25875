"""HTTPS to the bank: uploads and polls over httpx, client certificates, capped answers, our errors.

The TLS context (the bank's CA, the client certificate) comes from :class:`ssgateway.soap.TlsSettings`,
answers are read with :func:`ssgateway.soap.read_body` under ``max_response_bytes`` (after decompression),
redirects are not followed and proxies from the environment are not used. Failures become our errors:

==============================================  ==================================================
what happened                                   raised
==============================================  ==================================================
connect failed, refused, timed out              ``TransientError`` (nothing reached the bank)
reset / timeout / cut body after sending        ``OutcomeUnknown`` (the bank may have acted)
HTTP 503, 429, 408                              ``TransientError`` (with ``retry_after``)
other HTTP 5xx                                  ``OutcomeUnknown``
other HTTP status                               ``PermanentError`` (with the bank's reason code
                                                when the body is a pain.002)
answer too large, DOCTYPE                       ``XMLSecurityError``
==============================================  ==================================================
"""

from __future__ import annotations

import asyncio
import functools
import ssl
from dataclasses import dataclass
from typing import Any

import httpx

from ssgateway.errors import AdapterError, OutcomeUnknown, PermanentError, TransientError
from ssgateway.masking import mask_text
from ssgateway.sdk import parse_retry_after
from ssgateway.soap import TlsSettings, read_body

from .settings import BankSettings

__all__ = ["Answer", "BankTransport"]

_SENT_AFTER = (httpx.ReadError, httpx.ReadTimeout, httpx.RemoteProtocolError)


@functools.cache
def _system_tls() -> ssl.SSLContext:
    # building a context loads the system trust store (~20 ms): one for every bank without TLS settings
    return TlsSettings().ssl_context()


@dataclass(frozen=True, slots=True)
class Answer:
    """A complete answer: status, headers, the decoded body."""

    status: int
    headers: httpx.Headers
    body: bytes


class _Progress:
    """httpcore's ``trace`` extension says exactly when the request body has gone out."""

    __slots__ = ("sent", "traced")

    def __init__(self) -> None:
        self.sent = False
        self.traced = False

    async def __call__(self, name: str, info: dict[str, Any]) -> None:
        self.traced = True
        if name.endswith("send_request_body.complete"):
            self.sent = True

    def was_sent(self, exc: BaseException) -> bool:
        # transports without tracing (mocks): judge by the kind of failure
        return self.sent if self.traced else isinstance(exc, _SENT_AFTER)


class BankTransport:
    """Requests to one bank (one connection pool, kept for the adapter's life).

    Args:
        settings: endpoint, TLS, limits, headers.
        partner: the configured partner name, for errors.
        transport: an httpx transport to use instead of the network (tests).
    """

    def __init__(
        self, settings: BankSettings, *, partner: str, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.settings = settings
        self.partner = partner
        self._http = httpx.AsyncClient(
            base_url=settings.endpoint,
            verify=settings.tls.ssl_context() if settings.tls is not None else _system_tls(),
            transport=transport,
            follow_redirects=False,
            trust_env=False,
            timeout=httpx.Timeout(settings.timeout, connect=settings.connect_timeout),
            headers={"User-Agent": "ssgateway-bank-iso20022", **settings.headers},
        )

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        what: str,
        content: bytes | None = None,
        content_type: str | None = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        """One exchange; returns the answer whatever its status (see :meth:`failure` for errors).

        Raises:
            TransientError, OutcomeUnknown: transport failures (see the module).
            XMLSecurityError: the body passed ``max_response_bytes``.
        """
        progress = _Progress()
        sent_headers = dict(headers or {})
        if content_type:
            sent_headers["Content-Type"] = content_type
        request = self._http.build_request(
            method, path, content=content, params=params, headers=sent_headers, extensions={"trace": progress}
        )
        try:
            async with asyncio.timeout(self.settings.timeout):
                try:
                    response = await self._http.send(request, stream=True)
                except httpx.HTTPError as exc:
                    raise self._transport_error(what, exc, progress.was_sent(exc)) from exc
                try:
                    parts = [p async for p in read_body(response, self.settings.max_response_bytes)]
                except httpx.HTTPError as exc:
                    raise self._transport_error(what, exc, sent=True) from exc
                finally:
                    await response.aclose()
        except TimeoutError as exc:
            if progress.sent or not progress.traced:
                raise OutcomeUnknown(
                    f"{self.partner}: {what}: no complete answer within {self.settings.timeout:g}s; "
                    "the bank may have acted",
                    partner=self.partner,
                    code="partner.timeout",
                ) from exc
            raise TransientError(
                f"{self.partner}: {what}: not sent within {self.settings.timeout:g}s",
                partner=self.partner,
                code="partner.timeout",
            ) from exc
        return Answer(response.status_code, response.headers, b"".join(parts))

    def _transport_error(self, what: str, exc: BaseException, sent: bool) -> AdapterError:
        kind = type(exc).__name__
        if sent:
            return OutcomeUnknown(
                f"{self.partner}: {what}: the request was sent but no complete answer arrived ({kind}); "
                "the bank may have acted",
                partner=self.partner,
            )
        return TransientError(
            f"{self.partner}: {what}: the request could not be sent ({kind}: {mask_text(str(exc))[:200]})",
            partner=self.partner,
        )

    def failure(
        self, what: str, answer: Answer, *, code: str | None = None, detail: str | None = None
    ) -> AdapterError:
        """The error for an answer whose HTTP status is not a success.

        Args:
            what: the exchange, for the message.
            answer: the answer.
            code: the bank's reason code, when its body said one (a pain.002 group rejection).
            detail: the bank's reason text (masked here).
        """
        said = f": {code or ''} {mask_text(detail or '')}".rstrip() if code or detail else ""
        message = f"{self.partner}: {what}: HTTP {answer.status}{said}"
        if answer.status in (408, 429, 503):
            retry_after = parse_retry_after(answer.headers.get("retry-after"))
            return TransientError(message, partner=self.partner, retry_after=retry_after, partner_code=code)
        if answer.status >= 500:
            return OutcomeUnknown(
                f"{message}; the bank may have acted", partner=self.partner, partner_code=code
            )
        return PermanentError(
            message,
            partner=self.partner,
            partner_code=code,
            partner_message=mask_text(detail) if detail else None,
        )
