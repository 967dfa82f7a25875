"""A generic HTTP partner for tests and benchmarks: a ledger that dedupes on a key, and injected faults.

The partner accepts ``POST`` requests on any path and records each in its :class:`Ledger` ("commits").
A request that carries the key header (``Idempotency-Key`` by default) is committed at most once per key:
a repeat with the same body is answered again without a second entry; with another body it gets 422.
Requests without the key are committed every time, so a double send shows up as two entries.

Faults are drawn per request at ``Faults.rate`` from a seeded generator. Some strike before the commit
(reset, 503, 429 with ``Retry-After``), some after it: the partner has acted but the caller cannot know
(reset, truncated body, no answer). ``GET /_ledger`` returns the ledger as JSON (``?key=K`` one entry),
so a process that did not start the partner can reconcile against it.

Example:
    >>> import httpx
    >>> with PartnerSimulator().in_thread() as partner:
    ...     first = httpx.post(partner.url + "/pay", json={"n": 1}, headers={"Idempotency-Key": "k1"})
    ...     again = httpx.post(partner.url + "/pay", json={"n": 1}, headers={"Idempotency-Key": "k1"})
    >>> first.status_code, again.headers["idempotent-replayed"], len(partner.ledger)
    (201, 'true', 1)
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate
from enum import StrEnum
from typing import Any

import httpx

from ssgateway.errors import OutcomeUnknown, PermanentError, TransientError
from ssgateway.reliability.outbox import Delivery
from ssgateway.reliability.relay import SendFunction
from ssgateway.reliability.retry import parse_retry_after
from ssgateway.testing.httpserver import Fault, Request, Response, Served, SimServer

__all__ = ["FaultKind", "Faults", "Ledger", "LedgerEntry", "PartnerSimulator", "partner_sender"]


class FaultKind(StrEnum):
    """A fault the partner can inject."""

    RESET = "reset"
    """Reset the connection before acting: nothing committed, but the caller cannot tell."""
    UNAVAILABLE = "unavailable"
    """Answer 503 without acting."""
    THROTTLED = "throttled"
    """Answer 429 with ``Retry-After`` without acting."""
    COMMIT_THEN_RESET = "commit_then_reset"
    """Commit, then reset the connection instead of answering."""
    COMMIT_THEN_TRUNCATE = "commit_then_truncate"
    """Commit, then send half the response and reset."""
    COMMIT_THEN_BLACKHOLE = "commit_then_blackhole"
    """Commit, then never answer (the caller times out)."""


COMMITTING = frozenset(
    {FaultKind.COMMIT_THEN_RESET, FaultKind.COMMIT_THEN_TRUNCATE, FaultKind.COMMIT_THEN_BLACKHOLE}
)


@dataclass(frozen=True, slots=True)
class Faults:
    """Which faults the partner injects, and how often.

    Attributes:
        rate: probability that a request meets a fault (0 to 1).
        kinds: the faults drawn from, uniformly.
        retry_after: seconds a 429 asks the caller to wait.
        retry_after_date: send ``Retry-After`` as an HTTP-date instead of seconds.
        seed: seeds the generator (None: random).
    """

    rate: float = 0.0
    kinds: tuple[FaultKind, ...] = (
        FaultKind.RESET,
        FaultKind.UNAVAILABLE,
        FaultKind.THROTTLED,
        FaultKind.COMMIT_THEN_RESET,
        FaultKind.COMMIT_THEN_TRUNCATE,
    )
    retry_after: float = 1.0
    retry_after_date: bool = False
    seed: int | None = None


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One committed request.

    Attributes:
        seq: 1 for the first commit, then one more each.
        key: the request's idempotency key, if it carried one.
        path: the request path.
        body: the request body.
        committed_at: wall-clock seconds.
    """

    seq: int
    key: str | None
    path: str
    body: bytes
    committed_at: float

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)

    def as_dict(self) -> dict[str, Any]:
        """The entry as a JSON object (the body as text)."""
        return {
            "seq": self.seq,
            "key": self.key,
            "path": self.path,
            "body": self.body.decode("utf-8", "replace"),
            "committed_at": self.committed_at,
        }


class Ledger:
    """What the partner has committed, in order. Safe to read from another thread."""

    def __init__(self) -> None:
        self._entries: list[LedgerEntry] = []
        self._by_key: dict[str, LedgerEntry] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def entries(self) -> list[LedgerEntry]:
        """A copy of every entry."""
        with self._lock:
            return list(self._entries)

    def get(self, key: str) -> LedgerEntry | None:
        """The entry committed under ``key``."""
        with self._lock:
            return self._by_key.get(key)

    def commit(self, key: str | None, path: str, body: bytes) -> tuple[LedgerEntry, bool]:
        """Commit a request; returns the entry and whether it is new (False: a keyed repeat)."""
        with self._lock:
            if key is not None and key in self._by_key:
                return self._by_key[key], False
            entry = LedgerEntry(len(self._entries) + 1, key, path, body, time.time())
            self._entries.append(entry)
            if key is not None:
                self._by_key[key] = entry
            return entry, True

    def count_by(self, ref: Callable[[LedgerEntry], str]) -> Counter[str]:
        """How many entries share each ``ref(entry)`` (find double commits of unkeyed requests)."""
        return Counter(ref(e) for e in self.entries)


class PartnerSimulator(Served):
    """An HTTP partner on 127.0.0.1 with a deduplicating ledger and fault injection.

    Args:
        faults: what to inject (none by default); may be replaced at any time via ``.faults``.
        key_header: the header carrying the idempotency key.
        respond: builds the success response for a committed entry (default: 201 with the entry's
            ``seq`` and ``key`` as JSON); later simulators plug their own answers in here.
        port: 0 picks a free port.

    Attributes:
        ledger: what was committed.
        injected: how many times each fault struck.
        requests: requests handled (ledger reads excluded).
    """

    def __init__(
        self,
        *,
        faults: Faults | None = None,
        key_header: str = "Idempotency-Key",
        respond: Callable[[LedgerEntry], Response] | None = None,
        port: int = 0,
    ) -> None:
        self.ledger = Ledger()
        self.key_header = key_header.lower()
        self.injected: Counter[FaultKind] = Counter()
        self.requests = 0
        self._respond = respond or _created
        self.server = SimServer(self._handle, port=port)
        self._faults = faults or Faults()
        self._random = random.Random(self._faults.seed)  # noqa: S311 - fault draws, not secrets

    @property
    def faults(self) -> Faults:
        """The faults injected from now on."""
        return self._faults

    @faults.setter
    def faults(self, value: Faults) -> None:
        self._faults = value
        self._random = random.Random(value.seed)  # noqa: S311 - fault draws, not secrets

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return self.server.url

    def _draw(self) -> FaultKind | None:
        faults = self._faults
        if faults.rate <= 0 or not faults.kinds or self._random.random() >= faults.rate:
            return None
        return self._random.choice(faults.kinds)

    async def _handle(self, request: Request) -> Response:
        if request.path == "/_ledger":
            return self._ledger_response(request)
        if request.method != "POST":
            return Response(405, b"POST only", {"allow": "POST"})
        self.requests += 1
        fault = self._draw()
        if fault is not None:
            self.injected[fault] += 1
        if fault is FaultKind.RESET:
            return Response(fault=Fault.RESET)
        if fault is FaultKind.UNAVAILABLE:
            return Response(503, b'{"error":"unavailable"}', {"content-type": "application/json"})
        if fault is FaultKind.THROTTLED:
            return Response(429, b'{"error":"throttled"}', {"retry-after": self._retry_after()})
        key = request.headers.get(self.key_header)
        entry, new = self.ledger.commit(key, request.path, request.body)
        if not new and entry.body != request.body:
            return Response(422, b'{"error":"idempotency key reused with another body"}')
        response = self._respond(entry)
        if not new:
            response.headers["idempotent-replayed"] = "true"
        if fault is FaultKind.COMMIT_THEN_RESET:
            response.fault = Fault.RESET
        elif fault is FaultKind.COMMIT_THEN_TRUNCATE:
            response.fault = Fault.TRUNCATE
        elif fault is FaultKind.COMMIT_THEN_BLACKHOLE:
            response.fault = Fault.BLACKHOLE
        return response

    def _retry_after(self) -> str:
        wait = self._faults.retry_after
        if self._faults.retry_after_date:
            return formatdate(time.time() + wait, usegmt=True)
        return str(max(0, round(wait)))

    def _ledger_response(self, request: Request) -> Response:
        keys = request.query.get("key")
        if keys:
            entry = self.ledger.get(keys[0])
            if entry is None:
                return Response(404, b'{"error":"no such key"}', {"content-type": "application/json"})
            return _json(200, entry.as_dict())
        return _json(200, [e.as_dict() for e in self.ledger.entries])


def _json(status: int, data: Any) -> Response:
    return Response(status, json.dumps(data).encode(), {"content-type": "application/json"})


def _created(entry: LedgerEntry) -> Response:
    return _json(201, {"seq": entry.seq, "key": entry.key})


@dataclass
class _Sender:
    client: httpx.AsyncClient
    path: str
    key_header: str

    async def __call__(self, delivery: Delivery) -> Any:
        headers = {"content-type": "application/json"}
        if delivery.deduplicated:
            headers[self.key_header] = delivery.idempotency_key
        body = json.dumps(delivery.payload, ensure_ascii=False).encode()
        partner = delivery.partner
        try:
            response = await self.client.post(self.path, content=body, headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise TransientError(f"partner {partner!r} unreachable: {exc!r}", partner=partner) from exc
        except httpx.TransportError as exc:
            raise OutcomeUnknown(f"no answer from partner {partner!r}: {exc!r}", partner=partner) from exc
        status = response.status_code
        if status < 300:
            return response.json() if response.content else None
        message = f"partner {partner!r} answered {status}"
        if status in (429, 503):
            wait = parse_retry_after(response.headers.get("retry-after"))
            raise TransientError(message, partner=partner, partner_code=str(status), retry_after=wait)
        if status >= 500:
            raise OutcomeUnknown(message, partner=partner, partner_code=str(status))
        raise PermanentError(message, partner=partner, partner_code=str(status))


def partner_sender(
    client: httpx.AsyncClient, *, path: str = "/deliveries", key_header: str = "Idempotency-Key"
) -> SendFunction:
    """A relay send function that POSTs each delivery's payload to an HTTP partner.

    The key header is sent only for deliveries the partner dedupes. Failures are classified the way a
    real HTTP transport would: no connection → TransientError; reset, truncated or missing answer →
    OutcomeUnknown; 429/503 → TransientError with the ``Retry-After`` wait; other 5xx → OutcomeUnknown;
    other 4xx → PermanentError.

    Args:
        client: an ``httpx.AsyncClient`` whose ``base_url`` is the partner's.
        path: where deliveries are posted.
        key_header: the idempotency key header.
    """
    return _Sender(client, path, key_header)
