"""HTTPS to the bank: uploads and polls over httpx, client certificates, capped answers, our errors.

Everything HTTP goes through :class:`ssgateway.partnerhttp.PartnerHttp`, like every partner's: the TLS
context (the bank's CA, the client certificate), answers read under ``max_response_bytes`` (after
decompression), no redirects, no proxies from the environment. Failures become our errors:

==============================================  ==================================================
what happened                                   raised
==============================================  ==================================================
connect failed, refused, timed out              ``TransientError`` (nothing reached the bank)
reset / timeout / cut body after sending        ``OutcomeUnknown`` (the bank may have acted)
HTTP 503, 429, 408                              ``TransientError`` (with ``retry_after``)
other HTTP 5xx                                  ``OutcomeUnknown``
other HTTP status                               ``PermanentError`` (with the bank's reason code
                                                when the body is a pain.002)
answer too large                                ``ResponseTooLarge``
DOCTYPE in an answer                            ``XMLSecurityError``
==============================================  ==================================================
"""

from __future__ import annotations

from typing import Any

from ssgateway.errors import AdapterError
from ssgateway.partnerhttp import Answer, PartnerHttp

from .settings import BankSettings

__all__ = ["Answer", "BankTransport"]


class BankTransport:
    """Requests to one bank (one connection pool, kept for the adapter's life).

    Args:
        settings: endpoint, TLS, limits, headers.
        partner: the configured partner name, for errors.
        transport: an httpx transport to use instead of the network (tests).
    """

    def __init__(self, settings: BankSettings, *, partner: str, transport: Any = None) -> None:
        self.settings = settings
        self.partner = partner
        self._http = PartnerHttp(
            partner=partner,
            who="the bank",
            tls=settings.tls,
            timeout=settings.timeout,
            connect_timeout=settings.connect_timeout,
            max_response_bytes=settings.max_response_bytes,
            headers={"User-Agent": "ssgateway-bank-iso20022", **settings.headers},
            base_url=settings.endpoint,
            transport=transport,
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
            ResponseTooLarge: the body passed ``max_response_bytes``.
        """
        sent_headers = dict(headers or {})
        if content_type:
            sent_headers["Content-Type"] = content_type
        return await self._http.request(
            method, path, what=what, content=content, params=params, headers=sent_headers
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
        return self._http.status_error(what, answer.status, answer.headers, code=code, detail=detail)
