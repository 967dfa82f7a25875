"""A simulated paying bank: ISO 20022 uploads on 127.0.0.1 (HTTP, or HTTPS with client certificates).

Endpoints (paths are settings):

=====================================  =============================================================
``POST /pain.001``                     a pain.001.001.09, validated against the XSD; answered with a
                                       pain.002.001.10 (``400`` + ``FF01`` when it does not validate)
``GET /pain.002?pmtinfid=B|msgid=M``   the current status report of a batch or of one message
``GET /camt.054?pmtinfid=B``           a camt.054.001.08 notification of the batch's returned payments
``PUT /stop-list/<event id>``          record a death (``kind: death``), a suspension or a resumption
``POST /payroll-files``                the invented Xinghe Bank flat file (GB18030 CSV) → result file
``GET /payroll-files?batch=B``         the current result file of a batch
=====================================  =============================================================

The ledger books each end-to-end id at most once: a transaction whose end-to-end id is on the books is
answered with that payment's status and reason ``AM05``. A message id seen before with the same content is
answered again with its original report (``duplicate_messages="replay"``) or rejected ``DU01``
(``"reject"``, as banks that refuse duplicate files do); with other content it is always rejected
``DU01``. Payments to people on the stop list are rejected with the code the stop was recorded with
(``MD07`` for deaths); configured accounts are rejected (``reject_account``); a debtor balance rejects what
it cannot cover (``AM04``). Accepted payments settle when status is asked for (``auto_settle``) or on
:meth:`BankSimulator.settle`; a seeded share of them is then returned (camt.054, ``return_rate``).

>>> from ssgateway.testing.population import Population
>>> bank = BankSimulator(Population.generate(seed=1, size=5), seed=1)
>>> with bank.in_thread():
...     bank.url.startswith("http://127.0.0.1:")
True
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import ssl
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Literal

from ssgateway.errors import InputError
from ssgateway.masking import mask_text
from ssgateway.testing._bank_files import read_payroll, write_results
from ssgateway.testing._bank_ledger import BankLedger, EventConflict, Payment, StopEntry
from ssgateway.testing._bank_messages import (
    PAIN001,
    Incoming,
    MessageError,
    ReportLine,
    Transaction,
    bank_schema,
    read_pain001,
    write_camt054,
    write_pain002,
)
from ssgateway.testing.faultplan import FaultKind, FaultPlan, early_answer, spoil
from ssgateway.testing.httpserver import Request, Response, Served, SimServer
from ssgateway.testing.population import Population
from ssgateway.xmlsafe import parse_xml

__all__ = ["REASON_TEXTS", "BankLedger", "BankSimulator", "Payment", "StopEntry"]

_BEIJING = timezone(timedelta(hours=8))
_XML = "application/xml; charset=utf-8"
_CSV = "text/csv; charset=gb18030"
REASON_TEXTS = {
    "AC01": "account number does not exist",
    "AC04": "account closed",
    "AM04": "insufficient funds",
    "AM10": "control sum differs from the transactions",
    "AM18": "number of transactions differs from the header",
    "BE01": "creditor differs from the account holder",
    "DU01": "message id received before",
    "FF01": "invalid file format",
    "MD07": "end customer deceased",
    "SL01": "payments to this person are suspended by the debtor",
}
"""The texts the bank writes beside its reason codes."""


class BankSimulator(Served):
    """A paying bank on 127.0.0.1 (see the module).

    Args:
        population: whose accounts the bank holds (:meth:`account_of`); default ``Population.generate()``.
        seed: seeds the fault plan and which payments are returned.
        tls: a server-side SSL context: serve HTTPS (require client certificates with ``CERT_REQUIRED``).
        duplicate_messages: ``replay`` a resent message's report, or ``reject`` it with ``DU01``.
        duplicate_status: the HTTP status a ``DU01`` rejection comes with (200; some banks answer 4xx).
        return_rate: share of settled payments that come back (0 to 1), with a reason from ``return_reasons``.
        return_reasons: return reason codes drawn from (seeded per end-to-end id).
        strict_accounts: reject accounts not held for the population (``AC01``) or held for someone else
            than the creditor (``BE01``).
        debtor_balance: money the debtor has; payments it cannot cover are rejected ``AM04``.
        auto_settle: settle accepted payments whenever status or notifications are asked for.
        clock: the bank's time (default: now, UTC+8).

    Attributes:
        faults: the fault knobs (operations ``pain.001``, ``pain.002``, ``camt.054``, ``stop-list``,
            ``payroll-file``).
        ledger: the books (payments, messages, stop list).
        calls: requests per operation.
        replays: resent messages answered with their original report.
        refused: uploads rejected whole because they were not a valid pain.001.001.09 (``FF01``).
        problems: answers the simulator produced that failed its own schema check (should stay empty).
    """

    def __init__(
        self,
        population: Population | None = None,
        *,
        seed: int = 0,
        tls: ssl.SSLContext | None = None,
        duplicate_messages: Literal["replay", "reject"] = "replay",
        duplicate_status: int = 200,
        return_rate: float = 0.0,
        return_reasons: Sequence[str] = ("AC04",),
        strict_accounts: bool = False,
        debtor_balance: Decimal | None = None,
        auto_settle: bool = True,
        clock: Callable[[], datetime] | None = None,
        submit_path: str = "/pain.001",
        status_path: str = "/pain.002",
        notifications_path: str = "/camt.054",
        stop_list_path: str = "/stop-list",
        payroll_path: str = "/payroll-files",
    ) -> None:
        if not 0.0 <= return_rate <= 1.0:
            raise ValueError("return_rate is between 0 and 1")
        self.population = population or Population.generate()
        self.seed = seed
        self.duplicate_messages = duplicate_messages
        self.duplicate_status = duplicate_status
        self.return_rate = return_rate
        self.return_reasons = tuple(return_reasons)
        self.strict_accounts = strict_accounts
        self.debtor_balance = debtor_balance
        self.auto_settle = auto_settle
        self._now = clock or (lambda: datetime.now(_BEIJING))
        self.paths = {
            ("POST", submit_path): "pain.001",
            ("GET", status_path): "pain.002",
            ("GET", notifications_path): "camt.054",
            ("POST", payroll_path): "payroll-file",
            ("GET", payroll_path): "payroll-file",
        }
        self.stop_list_path = stop_list_path.rstrip("/") + "/"
        self.faults = FaultPlan(seed)
        self.ledger = BankLedger()
        self.calls: Counter[str] = Counter()
        self.replays = 0
        self.refused = 0
        self.problems: list[str] = []
        self.rejections: dict[str, str] = {}
        self.accounts = {p.citizen_id: self.account_of(p.citizen_id) for p in self.population.people}
        self._owners = {account: cid for cid, account in self.accounts.items()}
        self._debtors: dict[str, str] = {}
        self._serial = itertools.count(1)
        self.server = SimServer(self._handle, ssl=tls)

    # -- running ------------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http(s)://127.0.0.1:PORT`` (after start): the adapter's ``endpoint``."""
        return self.server.url

    # -- the bank's own knobs ---------------------------------------------------------------------------

    def account_of(self, citizen_id: str) -> str:
        """The 19-digit card account the bank holds for a person (the same for the same seed and id)."""
        digits = str(int(hashlib.sha256(f"{self.seed}|{citizen_id}".encode()).hexdigest(), 16))[:12]
        body = "622202" + digits
        total = 0
        for i, ch in enumerate(reversed(body)):  # Luhn check digit, as on every bank card
            d = int(ch) * (2 if i % 2 == 0 else 1)
            total += d - 9 if d > 9 else d
        return body + str((10 - total % 10) % 10)

    def reject_account(self, account: str, code: str = "AC04") -> None:
        """Reject every new payment to ``account`` with ``code`` (``AC04`` closed, ``AC06`` blocked …)."""
        self.rejections[account] = code

    def settle(self) -> int:
        """Settle every accepted payment (some come back, per ``return_rate``); how many settled."""
        return self.ledger.settle(self._now(), self._returned)

    def return_payment(self, end_to_end_id: str, code: str = "AC04") -> None:
        """Return a paid payment with ``code`` (it shows in the camt.054 notifications)."""
        self.ledger.return_payment(end_to_end_id, code, self._now())

    def _returned(self, payment: Payment) -> str | None:
        if not self.return_rate or not self.return_reasons:
            return None
        draw = int(hashlib.sha256(f"{self.seed}|{payment.end_to_end_id}".encode()).hexdigest()[:12], 16)
        if (draw % 1_000_000) / 1_000_000 >= self.return_rate:
            return None
        return self.return_reasons[draw % len(self.return_reasons)]

    def _decide(self, tx: Transaction) -> tuple[str | None, str | None]:
        for code in (self.ledger.stopped(tx.citizen_id), self.rejections.get(tx.account)):
            if code:
                return code, REASON_TEXTS.get(code)
        if self.strict_accounts:
            owner = self._owners.get(tx.account)
            if owner is None:
                return "AC01", REASON_TEXTS["AC01"]
            if owner != tx.citizen_id:
                return "BE01", REASON_TEXTS["BE01"]
        if self.debtor_balance is not None:
            if tx.amount > self.debtor_balance:
                return "AM04", REASON_TEXTS["AM04"]
            self.debtor_balance -= tx.amount
        return None, None

    # -- HTTP ---------------------------------------------------------------------------------------------

    async def _handle(self, request: Request) -> Response:
        operation = self.paths.get((request.method, request.path))
        if operation is None and request.method == "PUT" and request.path.startswith(self.stop_list_path):
            operation = "stop-list"
        if operation is None:
            return Response(404, b"not found", {"content-type": "text/plain"})
        self.calls[operation] += 1
        rules = self.faults.draw(operation)
        delay = self.faults.latency(rules)
        primary = next((r for r in rules if r.kind is not FaultKind.LATENCY), None)
        if primary is not None and primary.before_work:
            response = early_answer(primary, _XML)
        else:
            response = await asyncio.to_thread(self._answer, operation, request)
            if primary is not None:
                response = spoil(response, primary)
        response.delay += delay
        return response

    def _answer(self, operation: str, request: Request) -> Response:
        if operation == "pain.001":
            return self._upload(request.body)
        if operation == "stop-list":
            return self._stop(request.path[len(self.stop_list_path) :], request.body)
        if operation == "payroll-file":
            return self._payroll(request)
        if self.auto_settle:
            self.settle()
        if operation == "pain.002":
            return self._status(request)
        return self._notifications(request)

    def _id(self, prefix: str) -> str:
        return f"{prefix}{self._now():%Y%m%d}{next(self._serial):08d}"

    def _xml(self, status: int, body: bytes, message: str) -> Response:
        schema = bank_schema(message)
        if not schema.validate(parse_xml(body, what="the simulator's answer")):
            self.problems.append(f"{message}: {schema.error_log.last_error}")
        return Response(status, body, {"content-type": _XML})

    def _reject_group(self, status: int, code: str, text: str, msg_id: str = "UNKNOWN") -> Response:
        body = write_pain002(self._id("RPT"), self._now(), msg_id, (), group=("RJCT", code, text[:105]))
        return self._xml(status, body, "pain.002.001.10")

    def _upload(self, body: bytes) -> Response:
        try:
            root = parse_xml(body, what="the upload")
            schema = bank_schema(PAIN001)
            if not schema.validate(root):
                error = schema.error_log.last_error
                raise MessageError("FF01", mask_text(str(error.message)) if error else "invalid")
            incoming = read_pain001(root)
        except InputError as exc:
            self.refused += 1
            return self._reject_group(400, "FF01", exc.message)
        except MessageError as exc:
            self.refused += 1
            return self._reject_group(400, exc.code, exc.text)
        if incoming.count != len(incoming.transactions):
            return self._reject_group(200, "AM18", REASON_TEXTS["AM18"], incoming.msg_id)
        total = sum((t.amount for t in incoming.transactions), Decimal(0))
        if incoming.control_sum is not None and incoming.control_sum != total:
            return self._reject_group(200, "AM10", REASON_TEXTS["AM10"], incoming.msg_id)
        return self._book(
            incoming,
            lambda lines, now: write_pain002(
                self._id("RPT"), now, incoming.msg_id, lines, original_count=len(lines)
            ),
        )

    def _book(self, incoming: Incoming, render: Callable[[list[ReportLine], datetime], bytes]) -> Response:
        flat = incoming.msg_id.startswith("file:")
        kind = (_CSV, None) if flat else (_XML, "pain.002.001.10")
        with self.ledger.lock:
            seen = self.ledger.message(incoming.msg_id)
            if seen is not None:
                digest, answer, _batch = seen
                if digest == incoming.digest and self.duplicate_messages == "replay":
                    self.replays += 1
                    return Response(200, answer, {"content-type": kind[0]})
                if flat:
                    return Response(409, b"DU01 file received before", {"content-type": "text/plain"})
                return self._reject_group(
                    self.duplicate_status, "DU01", REASON_TEXTS["DU01"], incoming.msg_id
                )
            now = self._now()
            lines = self.ledger.book(incoming, self._decide, now)
            answer = render(lines, now)
            batch = incoming.transactions[0].batch_id if incoming.transactions else incoming.msg_id
            self.ledger.remember(incoming.msg_id, incoming.digest, answer, batch)
            for tx in incoming.transactions:
                self._debtors.setdefault(tx.batch_id, incoming.debtor_account)
        if kind[1] is None:
            return Response(200, answer, {"content-type": kind[0]})
        return self._xml(200, answer, kind[1])

    def _status(self, request: Request) -> Response:
        query = request.query
        if "msgid" in query:
            msg_id = query["msgid"][0]
            seen = self.ledger.message(msg_id)
            if seen is None:
                return Response(404, b"unknown message", {"content-type": "text/plain"})
            payments = [p for e2e, *_ in seen[0] if (p := self.ledger.get(e2e)) is not None]
        else:
            batch = (query.get("pmtinfid") or [""])[0]
            found = self.ledger.batch(batch)
            if found is None:
                return Response(404, b"unknown batch", {"content-type": "text/plain"})
            payments, msg_id = found, (found[0].msg_id if found else batch)
        lines = [p.line() for p in payments]
        body = write_pain002(self._id("RPT"), self._now(), msg_id, lines, original_count=len(lines))
        return self._xml(200, body, "pain.002.001.10")

    def _notifications(self, request: Request) -> Response:
        batch = (request.query.get("pmtinfid") or [""])[0]
        payments = self.ledger.batch(batch)
        if payments is None:
            return Response(404, b"unknown batch", {"content-type": "text/plain"})
        returned = [
            replace(
                p.line(reason_code=p.returned_code, reason=REASON_TEXTS.get(p.returned_code or "")),
                at=p.returned_at,
            )
            for p in payments
            if p.returned_code
        ]
        body = write_camt054(self._id("NTF"), self._now(), self._debtors.get(batch, ""), returned)
        return self._xml(200, body, "camt.054.001.08")

    def _stop(self, event_id: str, body: bytes) -> Response:
        try:
            data = json.loads(body)
            if not isinstance(data, dict) or not event_id:
                raise ValueError("a JSON object is expected")
            duplicate = self.ledger.record(event_id, data)
        except EventConflict as exc:
            return Response(409, str(exc).encode(), {"content-type": "text/plain"})
        except ValueError as exc:
            return Response(400, str(exc).encode(), {"content-type": "text/plain"})
        answer = {"event_id": event_id, "duplicate": duplicate, "recorded_at": self._now().isoformat()}
        return Response(
            200 if duplicate else 201, json.dumps(answer).encode(), {"content-type": "application/json"}
        )

    def _payroll(self, request: Request) -> Response:
        if request.method == "GET":
            if self.auto_settle:
                self.settle()
            payments = self.ledger.batch((request.query.get("batch") or [""])[0])
            if payments is None:
                return Response(404, b"unknown batch", {"content-type": "text/plain"})
            back = {p.end_to_end_id: p.returned_code for p in payments if p.returned_code}
            body = write_results([p.line() for p in payments], self._now(), back)
            return Response(200, body, {"content-type": _CSV})
        try:
            incoming = read_payroll(request.body, request.headers)
        except MessageError as exc:
            return Response(422, f"{exc.code} {exc.text}".encode(), {"content-type": "text/plain"})
        return self._book(incoming, lambda lines, now: write_results(lines, now, {}))
