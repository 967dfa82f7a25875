"""Fault knobs for partner simulators: what goes wrong, for which operations, how often.

A :class:`FaultPlan` holds rules; a simulator asks :meth:`FaultPlan.draw` on every request which rules fire.
Each rule names its kind, the operations it applies to (all by default), a rate drawn from the plan's
seeded generator (so a run is repeatable) and how many times at most it fires. Latency adds to whatever
else fires; of the other kinds the first rule that fires decides the answer.

>>> plan = FaultPlan(seed=1)
>>> rule = plan.add(FaultKind.RESET, operations="AcceptTransfer", times=1)
>>> [r.kind for r in plan.draw("AcceptTransfer")], plan.draw("AcceptTransfer")
([<FaultKind.RESET: 'reset'>], [])
"""

from __future__ import annotations

import random
import struct
import threading
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import cache

from ssgateway.testing.httpserver import Fault, Response

__all__ = ["FaultKind", "FaultPlan", "FaultRule", "early_answer", "gzip_bomb", "spoil"]

_MIB = 1024 * 1024


class FaultKind(StrEnum):
    """What a rule does to an answer."""

    LATENCY = "latency"
    """Wait ``delay`` seconds, then go on (adds to other faults)."""
    HTTP_ERROR = "http_error"
    """Answer HTTP ``status`` with a plain-text body (and ``Retry-After`` when ``retry_after`` is set)."""
    FAULT = "fault"
    """The partner's own error answer (for SOAP a ``soap:Fault`` with ``code``, default ``Server.Busy``)."""
    RESET = "reset"
    """Do the work (commit it), then reset the connection without answering."""
    TRUNCATE = "truncate"
    """Do the work, send the headers and half the body, then reset."""
    BLACKHOLE = "blackhole"
    """Do the work, then never answer."""
    MALFORMED = "malformed"
    """Do the work, answer with the document cut in the middle (a complete HTTP message)."""
    OVERSIZED = "oversized"
    """Do the work, answer with the document padded to ``size`` bytes."""
    GZIP_BOMB = "gzip_bomb"
    """Answer a gzip-encoded body that inflates to ``size`` bytes: ``body``, then ``fill`` repeated."""
    BODY = "body"
    """Answer ``body`` verbatim with HTTP 200 (hostile documents, odd answers)."""


_BEFORE_WORK = frozenset({FaultKind.HTTP_ERROR, FaultKind.FAULT, FaultKind.GZIP_BOMB, FaultKind.BODY})


@dataclass
class FaultRule:
    """One fault knob. Only the fields its kind uses matter."""

    kind: FaultKind
    operations: frozenset[str] | None = None
    """Operations it applies to; ``None``: all."""
    rate: float = 1.0
    """Chance of firing on each matching request."""
    times: int | None = None
    """Fire at most this many times (``None``: no limit)."""
    delay: float = 0.0
    """``LATENCY``: seconds to wait."""
    jitter: float = 0.0
    """``LATENCY``: up to this many seconds more, drawn uniformly (partners' latency varies)."""
    status: int = 503
    retry_after: float | None = None
    code: str = "Server.Busy"
    detail_code: str = "E9001"
    message: str = "the service is busy, try again later"
    size: int = 64 * _MIB
    body: bytes = b""
    fill: bytes = b"\0"
    fired: int = 0
    """How many times it fired so far."""

    @property
    def before_work(self) -> bool:
        """Whether the simulator answers with this fault instead of doing the work (nothing committed)."""
        return self.kind in _BEFORE_WORK


class FaultPlan:
    """The fault rules of one simulator, drawn with a seeded generator (thread-safe)."""

    def __init__(self, seed: int = 0) -> None:
        self._random = random.Random(seed)  # noqa: S311 - repeatable fault injection, not secrets
        self._lock = threading.Lock()
        self.rules: list[FaultRule] = []

    def add(
        self,
        kind: FaultKind | str,
        *,
        operations: Iterable[str] | str | None = None,
        rate: float = 1.0,
        times: int | None = None,
        **params: object,
    ) -> FaultRule:
        """Add a rule; ``params`` set its fields (``delay``, ``status``, ``code``, ``size``, ``body``...).

        Returns the rule, whose ``fired`` count tests can read.
        """
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate is between 0 and 1")
        ops = frozenset([operations] if isinstance(operations, str) else operations) if operations else None
        rule = FaultRule(FaultKind(kind), ops, rate, times, **params)  # type: ignore[arg-type]
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        """Remove every rule."""
        with self._lock:
            self.rules.clear()

    def latency(self, rules: Iterable[FaultRule]) -> float:
        """Seconds the latency rules among ``rules`` (as :meth:`draw` returned them) add to the answer."""
        total = 0.0
        with self._lock:
            for rule in rules:
                if rule.kind is FaultKind.LATENCY:
                    total += rule.delay + (self._random.uniform(0, rule.jitter) if rule.jitter else 0.0)
        return total

    def draw(self, operation: str) -> list[FaultRule]:
        """The rules that fire for one request to ``operation``.

        Every latency rule that fires, and at most one other: the first that fires, which decides the
        answer. Only those count as fired, so rules listed one after another strike one after another.
        """
        fired: list[FaultRule] = []
        decided = False
        with self._lock:
            for rule in self.rules:
                latency = rule.kind is FaultKind.LATENCY
                if decided and not latency:
                    continue
                if rule.operations is not None and operation not in rule.operations:
                    continue
                if rule.times is not None and rule.fired >= rule.times:
                    continue
                if rule.rate < 1.0 and self._random.random() >= rule.rate:
                    continue
                rule.fired += 1
                fired.append(rule)
                decided = decided or not latency
        return fired


@cache
def gzip_bomb(size: int, prefix: bytes = b"", fill: bytes = b"\0") -> bytes:
    """A valid gzip stream that inflates to ``size`` bytes: ``prefix``, then ``fill`` repeated.

    About a thousandth of ``size`` once compressed. Built from one compressed megabyte repeated (full
    flushes make the blocks identical), so even a gigabyte takes a fraction of a second. ``fill`` is one
    byte, or a unit whose length divides a megabyte.
    """
    if _MIB % len(fill):
        raise ValueError("the length of fill must divide 1 MiB")
    block = fill * (_MIB // len(fill))
    whole, rest = divmod(max(0, size - len(prefix)), _MIB)
    z = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    head = z.compress(prefix) + z.flush(zlib.Z_FULL_FLUSH)
    first = z.compress(block) + z.flush(zlib.Z_FULL_FLUSH) if whole else b""
    repeated = z.compress(block) + z.flush(zlib.Z_FULL_FLUSH) if whole > 1 else b""
    tail_bytes = (fill * (rest // len(fill) + 1))[:rest]
    tail = z.compress(tail_bytes) + z.flush()
    crc = zlib.crc32(prefix)
    for _ in range(whole):
        crc = zlib.crc32(block, crc)
    crc = zlib.crc32(tail_bytes, crc)
    total = len(prefix) + whole * _MIB + rest
    # The trailer z wrote is for the bytes it saw; replace it with the one for the whole stream.
    trailer = struct.pack("<II", crc, total & 0xFFFFFFFF)
    return head + first + repeated * (whole - 1) + tail[:-8] + trailer


def early_answer(
    rule: FaultRule, content_type: str, partner_error: Callable[[FaultRule], Response] | None = None
) -> Response:
    """The answer of a rule that strikes before any work is done (nothing is committed).

    ``HTTP_ERROR`` answers its status in plain text; ``FAULT`` the partner's own error document, made by
    ``partner_error`` (default: a plain HTTP 500); both carry ``Retry-After`` when the rule sets one.
    ``GZIP_BOMB`` answers a gzip body inflating to ``rule.size`` bytes; ``BODY`` answers ``rule.body``.
    """
    if rule.kind is FaultKind.GZIP_BOMB:
        bomb = gzip_bomb(rule.size, rule.body, rule.fill)
        return Response(200, bomb, {"content-type": content_type, "content-encoding": "gzip"})
    if rule.kind is FaultKind.BODY:
        return Response(200, rule.body, {"content-type": content_type})
    if rule.kind is FaultKind.FAULT and partner_error is not None:
        response = partner_error(rule)
    else:
        status = rule.status if rule.kind is FaultKind.HTTP_ERROR else 500
        response = Response(status, b"service unavailable", {"content-type": "text/plain"})
    if rule.retry_after is not None:
        response.headers["retry-after"] = f"{rule.retry_after:g}"
    return response


def spoil(response: Response, rule: FaultRule) -> Response:
    """Spoil the answer to work already done as an after-work rule says; other kinds leave it alone.

    ``RESET``, ``TRUNCATE`` and ``BLACKHOLE`` spoil the connection, ``MALFORMED`` cuts the body in the middle,
    ``OVERSIZED`` pads it to ``rule.size`` bytes.
    """
    if rule.kind is FaultKind.RESET:
        response.fault = Fault.RESET
    elif rule.kind is FaultKind.TRUNCATE:
        response.fault = Fault.TRUNCATE
    elif rule.kind is FaultKind.BLACKHOLE:
        response.fault = Fault.BLACKHOLE
    elif rule.kind is FaultKind.MALFORMED:
        response.body = response.body[: len(response.body) // 2]
    elif rule.kind is FaultKind.OVERSIZED:
        response.body += b" " * max(0, rule.size - len(response.body))
    return response
