"""A hardened SOAP 1.1 client: zeep builds and reads messages, httpx carries them, we decide what to trust.

zeep never touches the network here. Envelopes are built from the shared :class:`~ssgateway.soap.Contract`,
signed with a WS-Security UsernameToken when configured, and sent through
:class:`~ssgateway.partnerhttp.PartnerHttp`, which reads answers under a size cap (decompressed by us,
capped again) and classifies transport failures like every other partner's. Answers are parsed with the
hardened settings and turned into our errors:

===========================================  ==============================================
what happened                                raised
===========================================  ==============================================
connect failed, refused, timed out           ``TransientError`` (nothing reached the partner)
reset / timeout / cut body after sending     ``OutcomeUnknown`` (the partner may have acted)
HTTP 503, 429, 408                           ``TransientError`` (with ``retry_after``)
other HTTP 5xx without a SOAP fault          ``OutcomeUnknown``
other HTTP status without a SOAP fault       ``PermanentError``
``soap:Fault`` ``Server.Busy``/``.Timeout``  ``TransientError`` (policy: ``FaultPolicy``)
``soap:Fault`` ``Client.*`` and others       ``PermanentError``
answer too large (after decompression)       ``ResponseTooLarge`` (code ``response.too_large``)
DOCTYPE in the answer                        ``XMLSecurityError``
malformed XML, not a SOAP 1.1 envelope       ``InputError``
===========================================  ==============================================
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any, Self

import httpx
from lxml import etree

from ssgateway.errors import AdapterError, InputError
from ssgateway.masking import mask_text
from ssgateway.partnerhttp import PartnerHttp, RequestProgress, read_body
from ssgateway.reliability.retry import parse_retry_after
from ssgateway.soap.contract import Contract, load_contract
from ssgateway.soap.faults import find_fault
from ssgateway.soap.namespaces import SOAP11_ENV
from ssgateway.soap.settings import SoapSettings
from ssgateway.soap.streaming import RecordStream
from ssgateway.xmlsafe import parse_xml

__all__ = ["SoapClient", "SoapStream"]

_log = logging.getLogger("ssgateway.soap")
_ENVELOPE = f"{{{SOAP11_ENV}}}Envelope"
_BODY = f"{{{SOAP11_ENV}}}Body"


def _payload(envelope: etree._Element, what: str) -> etree._Element:
    body = envelope.find(_BODY)
    if body is None:
        raise InputError(f"{what} has no SOAP Body")
    for child in body:
        if isinstance(child.tag, str):
            return child
    raise InputError(f"{what} has an empty SOAP Body")


class SoapClient:
    """Calls the operations of one SOAP service.

    Args:
        settings: endpoint, contract, limits, credentials.
        partner: the configured partner name, put in errors and logs.
        contract: an already loaded contract (default: loaded from ``settings``, shared through the cache).
        http: an ``httpx.AsyncClient`` to use instead of one of our own (it is not closed by :meth:`aclose`).
        transport: an httpx transport for the client we create (tests pass respx's or a mock).

    Use it as an async context manager, or call :meth:`aclose` when done.
    """

    def __init__(
        self,
        settings: SoapSettings,
        *,
        partner: str | None = None,
        contract: Contract | None = None,
        http: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.partner = partner
        roots = (settings.contract_dir,) if settings.contract_dir is not None else ()
        self.contract = contract or load_contract(
            settings.wsdl_path(), roots=roots, service=settings.service, port=settings.port
        )
        self._token = settings.wsse.token() if settings.wsse is not None else None
        self._http = PartnerHttp(
            partner=partner,
            tls=settings.tls,
            timeout=settings.timeout,
            connect_timeout=settings.connect_timeout,
            max_response_bytes=settings.max_response_bytes,
            headers=settings.headers,
            transport=transport,
            http=http,
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client if this object created it."""
        await self._http.aclose()

    # -- building ---------------------------------------------------------------------------------------

    def build(self, operation: str, /, **params: Any) -> etree._Element:
        """The request envelope zeep builds for ``operation`` from ``params`` (element name → value)."""
        return self.contract.build(operation, **params)

    def _who(self, operation: str) -> str:
        return f"{self.partner}: {operation}" if self.partner else operation

    def _request(
        self, operation: str, envelope: etree._Element, timeout: float
    ) -> tuple[httpx.Request, RequestProgress]:
        if self._token is not None:
            self._token.apply(envelope)
        content = etree.tostring(envelope, xml_declaration=True, encoding="utf-8")
        headers = {
            "Content-Type": "text/xml; charset=utf-8",
            "SOAPAction": f'"{self.contract.soap_action(operation)}"',
            "Accept-Encoding": "gzip, deflate" if self.settings.compression else "identity",
        }
        return self._http.build(
            "POST", self.settings.endpoint, content=content, headers=headers, timeout=timeout
        )

    # -- errors -----------------------------------------------------------------------------------------

    def _fault_error(self, operation: str, fault: etree._Element, headers: httpx.Headers) -> AdapterError:
        policy = self.settings.faults
        return policy.error(
            policy.read(fault),
            partner=self.partner,
            operation=operation,
            retry_after=parse_retry_after(headers.get("retry-after")),
        )

    def _interpret(self, operation: str, status: int, headers: httpx.Headers, data: bytes) -> etree._Element:
        what = f"the {operation} response"
        if status != 200:
            envelope = None
            if data.lstrip()[:1] == b"<":
                with contextlib.suppress(InputError):  # an HTML error page: the status says enough
                    envelope = parse_xml(data, what=what)  # XMLSecurityError still propagates
            fault = find_fault(envelope) if envelope is not None and envelope.tag == _ENVELOPE else None
            if fault is not None:
                raise self._fault_error(operation, fault, headers)
            raise self._http.status_error(operation, status, headers)
        envelope = parse_xml(data, what=what)
        if envelope.tag != _ENVELOPE:
            raise InputError(f"{what} is not a SOAP 1.1 envelope (root {mask_text(str(envelope.tag))})")
        fault = find_fault(envelope)
        if fault is not None:
            raise self._fault_error(operation, fault, headers)
        _payload(envelope, what)
        return envelope

    # -- calling ----------------------------------------------------------------------------------------

    async def send(
        self, operation: str, envelope: etree._Element, *, timeout: float | None = None
    ) -> etree._Element:
        """Send a request envelope and return the answer's envelope, parsed and checked.

        Args:
            operation: the WSDL operation (gives the ``SOAPAction``).
            envelope: the request (from :meth:`build` or made by hand); a UsernameToken is added to it.
            timeout: seconds for the whole call (default: ``settings.timeout``).

        Raises:
            TransientError, OutcomeUnknown, PermanentError, XMLSecurityError, InputError: see the module.
        """
        seconds = timeout or self.settings.timeout
        request, progress = self._request(operation, envelope, seconds)
        loop = asyncio.get_running_loop()
        started = loop.time()
        answer = await self._http.send(request, progress, what=operation, timeout=seconds)
        _log.debug(
            "soap call",
            extra={
                "partner": self.partner,
                "operation": operation,
                "status": answer.status,
                "bytes": len(answer.body),
                "ms": round((loop.time() - started) * 1000, 1),
            },
        )
        return self._interpret(operation, answer.status, answer.headers, answer.body)

    async def call(self, operation: str, /, *, timeout: float | None = None, **params: Any) -> etree._Element:
        """Call an operation; returns the answer's payload element (the first child of ``soap:Body``).

        ``params`` are the request's elements by name, as the WSDL names them (nested ones as dicts).
        """
        envelope = await self.send(operation, self.build(operation, **params), timeout=timeout)
        return _payload(envelope, f"the {operation} response")

    async def call_zeep(self, operation: str, /, *, timeout: float | None = None, **params: Any) -> Any:
        """Call an operation; returns zeep's objects for the answer (built from the hardened parse)."""
        envelope = await self.send(operation, self.build(operation, **params), timeout=timeout)
        return self.contract.deserialize(operation, envelope)

    def stream(
        self, operation: str, record_tag: str, /, *, timeout: float | None = None, **params: Any
    ) -> SoapStream:
        """Call an operation whose answer is a long list, and stream its records.

        Args:
            operation: the WSDL operation.
            record_tag: Clark name of the record element (``{urn:ssgateway:golden-insurance:v1}row``).
            timeout: seconds for the whole exchange (default: ``settings.stream_timeout``).
            params: the request's elements.

        Use as ``async with client.stream(...) as records: async for row in records: ...``.
        """
        envelope = self.build(operation, **params)
        return SoapStream(self, operation, envelope, record_tag, timeout or self.settings.stream_timeout)


class SoapStream:
    """A streamed answer (from :meth:`SoapClient.stream`): an async iterator of record elements.

    Each record element is cleared when the next is requested; extract what you need first.
    After iteration, :attr:`count` is the number of records and :attr:`values` the answer's other simple
    fields (``{ns}count`` and the like), for checking that nothing was lost.
    """

    def __init__(
        self, client: SoapClient, operation: str, envelope: etree._Element, record_tag: str, seconds: float
    ) -> None:
        self._client = client
        self._operation = operation
        self._envelope = envelope
        self._seconds = seconds
        self._parser = RecordStream(
            record_tag,
            on_fault=lambda fault: client._fault_error(operation, fault, self._headers),
        )
        self._response: httpx.Response | None = None
        self._headers = httpx.Headers()
        self._deadline = 0.0

    @property
    def count(self) -> int:
        """Records handed out so far."""
        return self._parser.count

    @property
    def values(self) -> dict[str, str]:
        """The answer's simple fields besides the records, by Clark name (complete after iteration)."""
        return self._parser.values

    async def __aenter__(self) -> Self:
        client, operation = self._client, self._operation
        http = client._http
        request, progress = client._request(operation, self._envelope, self._seconds)
        self._deadline = asyncio.get_running_loop().time() + self._seconds
        try:
            async with asyncio.timeout_at(self._deadline):
                response = await http.open(request, progress, operation)
                self._headers = response.headers
                if response.status_code != 200:
                    body = await http.read(response, operation)
                    client._interpret(operation, response.status_code, response.headers, body)
        except TimeoutError as exc:
            raise http.timeout_error(operation, progress, self._seconds) from exc
        self._response = response
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._response is not None:
            await self._response.aclose()

    async def __aiter__(self) -> AsyncIterator[etree._Element]:
        if self._response is None:
            raise RuntimeError("use `async with client.stream(...) as records` before iterating")
        client, operation = self._client, self._operation
        chunks = read_body(self._response, client.settings.max_stream_bytes)
        while True:
            try:
                async with asyncio.timeout_at(self._deadline):
                    chunk = await anext(chunks, None)
            except TimeoutError as exc:
                raise client._http.timeout_error(
                    operation, RequestProgress(sent=True), self._seconds
                ) from exc
            except httpx.HTTPError as exc:
                raise client._http.transport_error(operation, exc, sent=True) from exc
            if chunk is None:
                break
            for record in self._parser.feed(chunk):
                yield record
        for record in self._parser.close():
            yield record
        _log.debug(
            "soap stream",
            extra={"partner": client.partner, "operation": operation, "records": self._parser.count},
        )
