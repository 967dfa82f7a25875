from __future__ import annotations

import gzip
import tracemalloc
import zlib

import pytest

from ssgateway.errors import InputError, ResponseTooLarge
from ssgateway.partnerhttp import CHUNK, BodyDecoder
from ssgateway.testing.faultplan import gzip_bomb

DATA = "<x>张三 11010519491231002X</x>".encode() * 2000


def decode(encoding: str, raw: bytes, limit: int = 1 << 20, step: int = 997) -> bytes:
    decoder = BodyDecoder(encoding, limit)
    out = [p for i in range(0, len(raw), step) for p in decoder.decode(raw[i : i + step])]
    out += list(decoder.flush())
    assert all(len(p) <= CHUNK for p in out)
    return b"".join(out)


@pytest.mark.parametrize(
    ("encoding", "raw"),
    [
        ("", DATA),
        ("identity", DATA),
        ("gzip", gzip.compress(DATA)),
        ("x-gzip", gzip.compress(DATA)),
        ("GZIP", gzip.compress(DATA)),
        ("deflate", zlib.compress(DATA)),
        ("deflate", zlib.compress(DATA)[2:-4]),  # raw deflate, as some servers send it
        ("gzip", gzip.compress(DATA[:5000]) + gzip.compress(DATA[5000:])),  # two gzip members
    ],
)
def test_bodies_decode(encoding: str, raw: bytes) -> None:
    assert decode(encoding, raw) == DATA


def test_the_cap_applies_before_and_after_decompression() -> None:
    with pytest.raises(ResponseTooLarge, match="larger than the limit"):
        decode("", DATA, limit=len(DATA) - 1)
    assert decode("", DATA, limit=len(DATA)) == DATA
    with pytest.raises(ResponseTooLarge, match="once decompressed") as caught:
        decode("gzip", gzip.compress(DATA), limit=len(DATA) - 1)
    assert caught.value.code == "response.too_large"


def test_a_bomb_is_stopped_with_bounded_memory() -> None:
    bomb = gzip_bomb(512 * 1024 * 1024)
    assert len(bomb) < 1024 * 1024
    cap = 2 * 1024 * 1024
    decoder = BodyDecoder("gzip", cap)
    tracemalloc.start()
    try:
        with pytest.raises(ResponseTooLarge):
            for i in range(0, len(bomb), 65536):
                for _ in decoder.decode(bomb[i : i + 65536]):
                    pass
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert decoder.total <= cap + CHUNK
    assert peak < cap // 2, peak  # pieces are handed out one at a time, never the whole inflation


def test_corrupt_and_incomplete_streams_are_input_errors() -> None:
    with pytest.raises(InputError, match="corrupt"):
        decode("gzip", b"\x1f\x8b\x08\x00garbage-garbage-garbage")
    with pytest.raises(InputError, match="ended before"):
        decode("gzip", gzip.compress(DATA)[:-20])
    with pytest.raises(InputError, match="unsupported Content-Encoding"):
        BodyDecoder("br", 100)
