"""Posting envelopes to the platform over httpx, and what a failed exchange becomes.

===========================================  ==============================================
what happened                                raised
===========================================  ==============================================
connect failed, refused, timed out           ``TransientError`` (nothing reached the platform)
reset / timeout / cut body after sending     ``OutcomeUnknown`` (the platform may have acted)
HTTP 503, 429, 408                           ``TransientError`` (with ``retry_after``)
other HTTP 5xx                               ``OutcomeUnknown``
other HTTP status but 200                    ``PermanentError``
answer too large (after decompression)       ``ResponseTooLarge`` (code ``response.too_large``)
answer not a JSON envelope                   ``OutcomeUnknown`` (code ``partner.invalid_answer``)
===========================================  ==============================================

Everything HTTP goes through :class:`ssgateway.partnerhttp.PartnerHttp`, like every partner's: bodies are
decompressed under the cap, transport failures classified by whether the request had been sent.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from ssgateway.partnerhttp import PartnerHttp
from ssgateway_adapters.medical_insurance.config import MedicalInsuranceConfig
from ssgateway_adapters.medical_insurance.envelope import Answer, parse_answer

__all__ = ["PlatformTransport"]

_log = logging.getLogger("ssgateway.medical")


class PlatformTransport:
    """Posts envelopes to the platform's endpoint.

    Args:
        config: the adapter's settings (endpoint, timeouts, limits, headers, TLS).
        partner: the configured partner name, for errors and logs.
        transport: an httpx transport for tests (respx, mocks).
    """

    def __init__(
        self, config: MedicalInsuranceConfig, *, partner: str | None = None, transport: Any = None
    ) -> None:
        self.config = config
        self.partner = partner
        self._http = PartnerHttp(
            partner=partner,
            who="the platform",
            tls=config.tls,
            timeout=config.timeout,
            connect_timeout=config.connect_timeout,
            max_response_bytes=config.max_response_bytes,
            headers=config.headers,
            transport=transport,
        )

    async def aclose(self) -> None:
        """Close the connections."""
        await self._http.aclose()

    async def post(self, infno: str, body: bytes) -> Answer:
        """Post one envelope (already encoded) and read the platform's answer.

        Raises:
            TransientError, OutcomeUnknown, PermanentError, InputError: see the module.
        """
        started = time.perf_counter()
        answer = await self._http.request(
            "POST",
            self.config.endpoint,
            what=infno,
            content=body,
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "Accept": "application/json",
                "Accept-Encoding": "gzip, deflate",
            },
        )
        _log.debug(
            "medical platform call",
            extra={
                "partner": self.partner,
                "infno": infno,
                "status": answer.status,
                "bytes": len(answer.body),
                "ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )
        if answer.status != 200:
            raise self._http.status_error(infno, answer.status, answer.headers)
        who = f"{self.partner}: {infno}" if self.partner else infno
        return parse_answer(answer.body, what=who, partner=self.partner)
