"""HTTP to partners, the same for every adapter: TLS, capped bodies, and failures that say what happened.

Every partner adapter that speaks HTTP (SOAP services, banks, the medical platform) goes through
:class:`PartnerHttp`, so a failure means the same thing whoever the partner is:

==============================================  ==================================================
what happened                                   raised
==============================================  ==================================================
connect failed, refused, timed out              ``TransientError`` (nothing reached the partner)
reset / timeout / cut body after sending        ``OutcomeUnknown`` (the partner may have acted)
HTTP 503, 429, 408                              ``TransientError`` (with ``retry_after``)
other HTTP 5xx                                  ``OutcomeUnknown``
other HTTP status                               ``PermanentError``
answer larger than the cap (after decompression) :class:`~ssgateway.errors.ResponseTooLarge`
==============================================  ==================================================

Requests go over :class:`~ssgateway.httptransport.PooledTransport` (keep-alive HTTP/1.1 on asyncio
streams) unless a transport is given. Whether the request had been sent when a failure struck comes from
the ``trace`` extension (:class:`RequestProgress`); transports without tracing (test mocks) are judged by
the kind of failure.
Bodies are decompressed here, not by httpx, under a cap that also bounds memory: a gzip bomb stops at
the cap. Redirects are not followed and proxies from the environment are not used.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
import zlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr

from ssgateway._version import __version__
from ssgateway.errors import (
    AdapterError,
    ConfigError,
    InputError,
    OutcomeUnknown,
    PermanentError,
    ResponseTooLarge,
    TransientError,
)
from ssgateway.httptransport import PooledTransport
from ssgateway.masking import mask_text
from ssgateway.reliability.retry import parse_retry_after

__all__ = [
    "CHUNK",
    "Answer",
    "BodyDecoder",
    "PartnerHttp",
    "RequestProgress",
    "TlsSettings",
    "default_ssl_context",
    "read_body",
]

CHUNK: Final = 64 * 1024
"""Largest piece a body decoder hands out at once."""

_GZIP = zlib.MAX_WBITS | 16
_ZLIB = zlib.MAX_WBITS
_RAW_DEFLATE = -zlib.MAX_WBITS
_SENT_AFTER = (httpx.ReadError, httpx.ReadTimeout, httpx.RemoteProtocolError)
_KNOWN_URLS = 256
"""Distinct request URLs whose joined form is remembered; the memory starts afresh past it."""


class TlsSettings(BaseModel):
    """TLS for `https://` endpoints: which servers to trust, and the client certificate to present."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    ca_file: Path | None = None
    """PEM bundle of the CAs that sign the partner's certificate; default: the system's."""
    client_cert: Path | None = None
    """PEM client certificate (chain) for mutual TLS."""
    client_key: Path | None = None
    """PEM private key of the client certificate (default: in `client_cert`)."""
    client_key_password: SecretStr | None = None
    """Password of an encrypted private key."""
    minimum_version: Literal["1.2", "1.3"] = "1.2"
    """Oldest TLS version accepted."""

    def ssl_context(self) -> ssl.SSLContext:
        """An SSL context with these settings (httpx 0.28 takes client certificates only this way)."""
        try:
            context = ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)
            context.minimum_version = (
                ssl.TLSVersion.TLSv1_3 if self.minimum_version == "1.3" else ssl.TLSVersion.TLSv1_2
            )
            if self.client_cert is not None:
                password = self.client_key_password.get_secret_value() if self.client_key_password else None
                context.load_cert_chain(
                    str(self.client_cert),
                    str(self.client_key) if self.client_key else None,
                    password=password,
                )
        except (OSError, ssl.SSLError) as exc:
            reason = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or type(exc).__name__
            raise ConfigError(f"the TLS settings cannot be loaded: {reason}", key="tls") from exc
        return context


@functools.cache
def default_ssl_context() -> ssl.SSLContext:
    """One shared context with the system's trust store (loading it costs ~20 ms each time)."""
    return TlsSettings().ssl_context()


class BodyDecoder:
    """Decode one ``Content-Encoding`` incrementally, refusing more than ``limit`` decoded bytes.

    httpx decompresses in whatever chunk sizes zlib produces (a 51 KB answer inflated to 52 MB in one
    chunk); here zlib is asked for at most :data:`CHUNK` bytes at a time and the total checked after each.

    Args:
        encoding: the ``Content-Encoding`` (``""``/``identity``, ``gzip``, ``x-gzip``, ``deflate`` with or
            without its zlib wrapper).
        limit: most bytes allowed, raw and decoded alike.

    Raises:
        ResponseTooLarge: the body passes the limit.
        InputError: an unsupported encoding, or a corrupt or incomplete compressed stream.
    """

    def __init__(self, encoding: str, limit: int) -> None:
        enc = encoding.strip().lower()
        if enc in ("", "identity"):
            self._wbits: int | None = None
        elif enc in ("gzip", "x-gzip"):
            self._wbits = _GZIP
        elif enc == "deflate":
            self._wbits = _ZLIB
        else:
            raise InputError(f"unsupported Content-Encoding {encoding!r} (gzip and deflate are accepted)")
        self._encoding = enc or "identity"
        self._limit = limit
        self._raw = 0
        self.total = 0
        """Decoded bytes so far."""
        self._z = zlib.decompressobj(self._wbits) if self._wbits is not None else None
        self._started = False

    def _count(self, n: int) -> None:
        self.total += n
        if self.total > self._limit:
            raise ResponseTooLarge(
                f"the response body is larger than the limit of {self._limit} bytes"
                + ("" if self._z is None else f" once decompressed ({self._encoding})")
            )

    def decode(self, data: bytes) -> Iterator[bytes]:
        """Decode the next raw chunk; yields pieces of at most :data:`CHUNK` bytes."""
        self._raw += len(data)
        if self._raw > self._limit:
            raise ResponseTooLarge(f"the response body is larger than the limit of {self._limit} bytes")
        if self._z is None:
            self._count(len(data))
            if data:
                yield data
            return
        yield from self._inflate(data)

    def _inflate(self, data: bytes) -> Iterator[bytes]:
        assert self._z is not None  # noqa: S101 - only called for compressed encodings
        while data:
            try:
                out = self._z.decompress(data, CHUNK)
            except zlib.error as exc:
                if self._wbits == _ZLIB and not self._started:
                    # Some servers send raw deflate without the zlib wrapper RFC 9110 asks for.
                    self._wbits = _RAW_DEFLATE
                    self._z = zlib.decompressobj(_RAW_DEFLATE)
                    continue
                raise InputError(f"the {self._encoding} response body is corrupt: {exc}") from exc
            self._started = True
            self._count(len(out))
            if out:
                yield out
            data = self._z.unconsumed_tail
            if self._z.eof:
                rest = self._z.unused_data
                if rest.strip(b"\x00") and self._wbits == _GZIP:
                    # Concatenated gzip members form one body (RFC 1952); the cap spans them all.
                    self._z = zlib.decompressobj(_GZIP)
                    data = rest + data
                    continue
                return

    def flush(self) -> Iterator[bytes]:
        """The raw body ended: hand out what is left and check the compressed stream was complete."""
        if self._z is None:
            return
        out = self._z.flush(CHUNK)
        self._count(len(out))
        if out:
            yield out
        if self._started and not self._z.eof:
            raise InputError(f"the {self._encoding} response body ended before its compressed stream did")


async def read_body(response: httpx.Response, limit: int) -> AsyncIterator[bytes]:
    """Decoded pieces of a streamed httpx response body, at most ``limit`` bytes in all.

    Transport errors of httpx propagate unchanged (callers know whether the request had been sent).
    """
    decoder = BodyDecoder(response.headers.get("content-encoding", ""), limit)
    async for raw in response.aiter_raw():
        for piece in decoder.decode(raw):
            yield piece
    for piece in decoder.flush():
        yield piece


class RequestProgress:
    """httpcore's ``trace`` extension, telling exactly when the request body has been sent."""

    __slots__ = ("sent", "traced")

    def __init__(self, *, sent: bool = False) -> None:
        self.sent = sent
        self.traced = sent

    async def __call__(self, name: str, info: dict[str, Any]) -> None:
        """Called by httpcore at each step of an exchange."""
        self.traced = True
        if name.endswith("send_request_body.complete"):
            self.sent = True

    def was_sent(self, exc: BaseException | None) -> bool:
        """Whether the request had gone out when ``exc`` struck."""
        # Transports without tracing (mocks, other backends): judge by the kind of failure.
        return self.sent if self.traced else isinstance(exc, _SENT_AFTER)


@dataclass(frozen=True, slots=True)
class Answer:
    """A complete answer: status, headers, the decoded body."""

    status: int
    headers: httpx.Headers
    body: bytes


class PartnerHttp:
    """One partner's HTTP client (one connection pool, kept for the adapter's life).

    Args:
        partner: the configured partner name, put in errors.
        who: how errors name the partner's kind (``the bank``, ``the platform``).
        tls: TLS settings (default: the system's trust store, shared).
        timeout: seconds a whole exchange may take, unless a call says otherwise.
        connect_timeout: seconds to connect.
        max_response_bytes: largest answer read whole, after decompression.
        headers: sent with every request.
        base_url: prefix of relative URLs.
        transport: an httpx transport instead of the network (respx, mocks).
        http: an existing client to use (not closed by :meth:`aclose`).
    """

    def __init__(
        self,
        *,
        partner: str | None,
        who: str = "the partner",
        tls: TlsSettings | None = None,
        timeout: float = 10.0,
        connect_timeout: float = 5.0,
        max_response_bytes: int = 16 * 1024 * 1024,
        headers: dict[str, str] | None = None,
        base_url: str = "",
        transport: httpx.AsyncBaseTransport | None = None,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.partner = partner
        self.who = who
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.max_response_bytes = max_response_bytes
        self._owns_http = http is None
        context = tls.ssl_context() if tls is not None else default_ssl_context()
        self._transport = None if http is not None else transport or PooledTransport(ssl_context=context)
        self.client = http or httpx.AsyncClient(
            base_url=base_url,
            verify=context,
            transport=self._transport,
            follow_redirects=False,
            trust_env=False,
            headers={"User-Agent": f"ssgateway/{__version__}", **(headers or {})},
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        )
        # A client of our own has no auth, redirects, hooks or cookies to apply: requests go straight to its
        # transport (httpx's client machinery cost more per call than the transport itself).
        self._defaults = {k.lower(): v for k, v in self.client.headers.items()}
        self._urls: dict[str, httpx.URL] = {}

    async def aclose(self) -> None:
        """Close the connection pool if this object created it."""
        if self._owns_http:
            await self.client.aclose()

    def _label(self, what: str) -> str:
        return f"{self.partner}: {what}" if self.partner else what

    def build(
        self,
        method: str,
        url: str,
        *,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> tuple[httpx.Request, RequestProgress]:
        """A request carrying a fresh :class:`RequestProgress` tracer, and the tracer."""
        seconds = timeout or self.timeout
        progress = RequestProgress()
        limits = httpx.Timeout(seconds, connect=min(seconds, self.connect_timeout))
        if self._transport is None or params:
            request = self.client.build_request(
                method,
                url,
                content=content,
                headers=headers,
                params=params,
                timeout=limits,
                extensions={"trace": progress},
            )
            return request, progress
        merged = self._defaults
        if headers:
            merged = {**merged, **{k.lower(): v for k, v in headers.items()}}
        request = httpx.Request(
            method,
            self._url(url),
            content=content,
            headers=merged,
            extensions={"timeout": limits.as_dict(), "trace": progress},
        )
        return request, progress

    def _url(self, url: str) -> httpx.URL:
        """``url`` joined to the base URL as the client joins it, remembered (partners use a few URLs)."""
        known = self._urls.get(url)
        if known is None:
            if len(self._urls) >= _KNOWN_URLS:
                self._urls.clear()
            known = self._urls[url] = self.client.build_request("GET", url).url
        return known

    async def open(self, request: httpx.Request, progress: RequestProgress, what: str) -> httpx.Response:
        """Send ``request`` and return the response with its body still to read (stream it, then close it).

        Raises:
            TransientError, OutcomeUnknown: the exchange failed (see the module).
        """
        try:
            if self._transport is None:
                return await self.client.send(request, stream=True)
            response = await self._transport.handle_async_request(request)
        except httpx.HTTPError as exc:
            raise self.transport_error(what, exc, progress.was_sent(exc)) from exc
        response.request = request
        return response

    async def read(self, response: httpx.Response, what: str, limit: int | None = None) -> bytes:
        """The whole decoded body of an opened response (closed afterwards)."""
        try:
            return b"".join([p async for p in read_body(response, limit or self.max_response_bytes)])
        except httpx.HTTPError as exc:
            raise self.transport_error(what, exc, sent=True) from exc
        finally:
            await response.aclose()

    async def request(
        self,
        method: str,
        url: str,
        *,
        what: str,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> Answer:
        """One exchange, its answer read whole under the cap; the answer is returned whatever its status.

        Raises:
            TransientError, OutcomeUnknown: transport failures and timeouts (see the module).
            ResponseTooLarge: the body passed ``max_response_bytes``.
        """
        seconds = timeout or self.timeout
        request, progress = self.build(
            method, url, content=content, headers=headers, params=params, timeout=seconds
        )
        return await self.send(request, progress, what=what, timeout=seconds)

    async def send(
        self, request: httpx.Request, progress: RequestProgress, *, what: str, timeout: float
    ) -> Answer:
        """Send a request made by :meth:`build` and read its answer whole (see :meth:`request`)."""
        try:
            async with asyncio.timeout(timeout):
                response = await self.open(request, progress, what)
                body = await self.read(response, what)
        except TimeoutError as exc:
            raise self.timeout_error(what, progress, timeout) from exc
        return Answer(response.status_code, response.headers, body)

    def transport_error(self, what: str, exc: BaseException, sent: bool) -> AdapterError:
        """The error for a failed exchange: ambiguous once the request had been sent."""
        kind = type(exc).__name__
        if sent:
            return OutcomeUnknown(
                f"{self._label(what)}: the request was sent but no complete answer arrived ({kind}); "
                f"{self.who} may have acted",
                partner=self.partner,
            )
        return TransientError(
            f"{self._label(what)}: the request could not be sent ({kind}: {mask_text(str(exc))[:200]})",
            partner=self.partner,
        )

    def timeout_error(self, what: str, progress: RequestProgress, seconds: float) -> AdapterError:
        """The error for an exchange that ran out of time."""
        if progress.sent or not progress.traced:
            return OutcomeUnknown(
                f"{self._label(what)}: no complete answer within {seconds:g}s; {self.who} may have acted",
                partner=self.partner,
                code="partner.timeout",
            )
        return TransientError(
            f"{self._label(what)}: not sent within {seconds:g}s", partner=self.partner, code="partner.timeout"
        )

    def status_error(
        self,
        what: str,
        status: int,
        headers: httpx.Headers,
        *,
        code: str | None = None,
        detail: str | None = None,
    ) -> AdapterError:
        """The error for an answer whose HTTP status is not a success.

        Args:
            what: the exchange, for the message.
            status: the HTTP status.
            headers: the answer's headers (``Retry-After``).
            code: the partner's own reason code, when its body said one.
            detail: the partner's reason text (masked here).
        """
        said = f": {code or ''} {mask_text(detail or '')}".rstrip() if code or detail else ""
        message = f"{self._label(what)}: HTTP {status}{said}"
        if status in (408, 429, 503):
            retry_after = parse_retry_after(headers.get("retry-after"))
            return TransientError(message, partner=self.partner, retry_after=retry_after, partner_code=code)
        if status >= 500:
            return OutcomeUnknown(
                f"{message}; {self.who} may have acted", partner=self.partner, partner_code=code
            )
        return PermanentError(
            message,
            partner=self.partner,
            partner_code=code,
            partner_message=mask_text(detail) if detail else None,
        )
