"""Reading a partner's response body with a cap on its size, after decompression too.

httpx decompresses ``gzip`` in whatever chunk sizes zlib produces: a 51 KB response inflated to 52 MB in one
chunk. Here the raw bytes (``Response.aiter_raw()``) are decompressed by a zlib decompressor asked for at
most :data:`CHUNK` bytes at a time, and the running total is checked after every piece, so a compression
bomb stops at the cap with memory bounded by the cap (or by one chunk, when streaming).
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Iterator
from typing import Final

import httpx

from ssgateway.errors import InputError, XMLSecurityError

__all__ = ["CHUNK", "BodyDecoder", "read_body"]

CHUNK: Final = 64 * 1024
"""Largest piece a decoder hands out at once."""

_GZIP = zlib.MAX_WBITS | 16
_ZLIB = zlib.MAX_WBITS
_RAW_DEFLATE = -zlib.MAX_WBITS


class BodyDecoder:
    """Decode one ``Content-Encoding`` incrementally, refusing more than ``limit`` decoded bytes.

    Args:
        encoding: the response's ``Content-Encoding`` (``""``/``identity``, ``gzip``, ``x-gzip`` or
            ``deflate``, the latter with or without its zlib wrapper).
        limit: most bytes allowed, raw and decoded alike.

    Raises:
        XMLSecurityError: (code ``xml.too_large``) the body passes the limit.
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
            raise XMLSecurityError(
                f"the response body is larger than the limit of {self._limit} bytes"
                + ("" if self._z is None else f" once decompressed ({self._encoding})"),
                code="xml.too_large",
            )

    def decode(self, data: bytes) -> Iterator[bytes]:
        """Decode the next raw chunk; yields pieces of at most :data:`CHUNK` bytes."""
        self._raw += len(data)
        if self._raw > self._limit:
            raise XMLSecurityError(
                f"the response body is larger than the limit of {self._limit} bytes", code="xml.too_large"
            )
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
