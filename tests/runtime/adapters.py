"""Adapters the runtime tests register in code: one that talks to the HTTP partner simulator, one that is down."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
from pydantic import BaseModel

from ssgateway.errors import OutcomeUnknown, PermanentError, TransientError
from ssgateway.model import HistoryQuery, TransferAcceptance, TransferSubmission
from ssgateway.sdk import AdapterContext, BaseAdapter, handles


class LedgerConfig(BaseModel):
    url: str
    timeout: float = 5.0


class LedgerAdapter(BaseAdapter):
    """Accepts transfers at an HTTP partner that dedupes on the Idempotency-Key header (the certificate)."""

    name = "test-ledger"
    version = "1"
    config_model = LedgerConfig
    deduplicated = frozenset({"transfer.submit"})

    def __init__(self, config: LedgerConfig, context: AdapterContext) -> None:
        super().__init__(config, context)
        self.client = httpx.AsyncClient(base_url=config.url, timeout=config.timeout)

    async def close(self) -> None:
        await self.client.aclose()

    @handles("transfer.submit")
    async def submit(self, request: TransferSubmission) -> TransferAcceptance:
        try:
            response = await self.client.post(
                "/accept",
                content=request.model_dump_json(),
                headers={"Idempotency-Key": request.certificate_number, "content-type": "application/json"},
            )
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise TransientError("partner unreachable", partner=self.context.partner) from exc
        except httpx.TransportError as exc:
            raise OutcomeUnknown("no answer after sending", partner=self.context.partner) from exc
        if response.status_code in (429, 503):
            raise TransientError(f"partner said {response.status_code}", partner=self.context.partner)
        if response.status_code >= 400:
            raise PermanentError(f"partner refused: {response.status_code}", partner=self.context.partner)
        entry = response.json()
        return TransferAcceptance(
            certificate_number=request.certificate_number,
            letter_number=f"L-{entry['seq']}",
            from_region=request.from_region,
            to_region=request.to_region,
            accepted_at=datetime.now(UTC),
        )


class DownAdapter(BaseAdapter):
    """A province whose service is unreachable."""

    name = "test-down"
    version = "1"

    @handles("contributions.history")
    async def history(self, request: HistoryQuery) -> BaseModel:
        raise TransientError("connection refused", partner=self.context.partner, code="partner.unavailable")


class FragileAdapter(BaseAdapter):
    """Accepts transfers at a partner that does not dedupe; ``mode`` makes it refuse, fail on a bug or hang.

    ``calls`` counts the requests that reached the partner (the partner acted on each).
    """

    name = "test-fragile"
    version = "1"
    deduplicated: frozenset[str] = frozenset()
    mode = "ok"
    calls = 0

    @handles("transfer.submit")
    async def submit(self, request: TransferSubmission) -> TransferAcceptance:
        type(self).calls += 1
        if self.mode == "refuse":
            raise PermanentError("partner refused", partner=self.context.partner)
        if self.mode == "bug":  # a defect after the partner acted, with personal data in its message
            raise KeyError(f"no letter for {request.citizen_id.reveal()}")
        if self.mode == "hang":
            await asyncio.sleep(3600)
        return TransferAcceptance(
            certificate_number=request.certificate_number,
            letter_number=f"L-{self.calls}",
            from_region=request.from_region,
            to_region=request.to_region,
            accepted_at=datetime.now(UTC),
        )
