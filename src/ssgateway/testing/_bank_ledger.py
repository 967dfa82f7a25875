"""The simulated bank's books: payments by end-to-end id, messages by id, the stop list.

See :mod:`ssgateway.testing.bank`, which exports :class:`BankLedger` and :class:`Payment`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from ssgateway.testing._bank_messages import Incoming, ReportLine, Transaction

__all__ = ["BankLedger", "EventConflict", "Payment", "StopEntry"]

Decision = tuple[str | None, str | None]
"""A rejection reason code and text, or ``(None, None)`` to accept."""

_BEIJING = timezone(timedelta(hours=8))
_STATES = {"ACCP": "accepted", "ACSC": "settled", "RJCT": "rejected"}


class EventConflict(ValueError):
    """A stop-list event id was recorded before with other content."""


@dataclass
class Payment:
    """One payment the bank has on its books (accepted or rejected), at most one per end-to-end id."""

    end_to_end_id: str
    batch_id: str
    msg_id: str
    citizen_id: str
    name: str
    account: str
    bank_code: str
    amount: Decimal
    status: str
    """``ACCP`` accepted, ``ACSC`` settled, ``RJCT`` rejected."""
    reason_code: str | None
    reason: str | None
    booked_at: datetime
    returned_code: str | None = None
    """Set when the payment came back (a camt.054 return)."""
    returned_at: datetime | None = None

    @property
    def paid(self) -> bool:
        """Whether money went out for it (returned payments included: they were paid, then came back)."""
        return self.status != "RJCT"

    @property
    def state(self) -> str:
        """``accepted``, ``settled``, ``rejected`` or ``returned`` (the canonical names)."""
        return "returned" if self.returned_code else _STATES[self.status]

    @property
    def content(self) -> tuple[str, ...]:
        """What a repeat of this payment must agree on."""
        return (f"{self.amount:.2f}", self.citizen_id, self.account, self.bank_code)

    def line(self, *, reason_code: str | None = None, reason: str | None = None) -> ReportLine:
        """This payment's line in a report (optionally with another reason)."""
        return ReportLine(
            end_to_end_id=self.end_to_end_id,
            batch_id=self.batch_id,
            status=self.status,
            reason_code=reason_code or self.reason_code,
            reason=reason or self.reason,
            amount=self.amount,
            msg_id=self.msg_id,
            name=self.name,
            account=self.account,
            at=self.booked_at,
        )


@dataclass(frozen=True, slots=True)
class StopEntry:
    """One stop-list event as recorded."""

    event_id: str
    kind: str
    """``death``, ``suspend`` or ``resume``."""
    citizen_id: str
    reason_code: str | None
    body: str
    """The request body as received (JSON), for comparing repeats."""


class BankLedger:
    """The bank's books (thread-safe).

    Attributes:
        attempts: transactions received, repeats included (``len(ledger)`` counts payments).
        repeats: transactions not booked because their end-to-end id was already on the books.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._payments: dict[str, Payment] = {}
        self._batches: dict[str, list[str]] = {}
        self._messages: dict[str, tuple[tuple[tuple[str, ...], ...], bytes, str]] = {}
        self._events: dict[str, StopEntry] = {}
        self._deaths: dict[str, str] = {}
        self._suspended: dict[str, str] = {}
        self._certified: dict[str, datetime] = {}
        self.attempts = 0
        self.repeats = 0

    # --- payments ------------------------------------------------------------------------------------

    def book(
        self, incoming: Incoming, decide: Callable[[Transaction], Decision], now: datetime
    ) -> list[ReportLine]:
        """Book a message's transactions, each end-to-end id at most once; one report line per transaction.

        A transaction whose end-to-end id is on the books already is not booked again: it is reported with
        the booked payment's status and reason ``AM05`` (duplication), or rejected ``AM05`` when it differs
        from the booked one (amount, account, creditor).
        """
        lines: list[ReportLine] = []
        with self._lock:
            for tx in incoming.transactions:
                self.attempts += 1
                existing = self._payments.get(tx.end_to_end_id)
                if existing is not None:
                    self.repeats += 1
                    lines.append(self._repeat(existing, tx))
                    continue
                code, reason = decide(tx)
                payment = Payment(
                    tx.end_to_end_id, tx.batch_id, incoming.msg_id, tx.citizen_id, tx.name, tx.account,
                    tx.bank_code, tx.amount, "RJCT" if code else "ACCP", code, reason, now,
                )  # fmt: skip
                self._payments[tx.end_to_end_id] = payment
                self._batches.setdefault(tx.batch_id, []).append(tx.end_to_end_id)
                lines.append(payment.line())
        return lines

    @staticmethod
    def _repeat(existing: Payment, tx: Transaction) -> ReportLine:
        if existing.content != tx.content:
            return ReportLine(
                tx.end_to_end_id, tx.batch_id, "RJCT", "AM05",
                "the end-to-end id was used before for another payment", tx.amount,
            )  # fmt: skip
        # reported under the payment information it came in, with the booked payment's status
        if existing.status == "RJCT":
            return replace(existing.line(), batch_id=tx.batch_id)
        line = existing.line(reason_code="AM05", reason=f"already booked from message {existing.msg_id}")
        return replace(line, batch_id=tx.batch_id)

    def get(self, end_to_end_id: str) -> Payment | None:
        """The payment with this end-to-end id, if booked."""
        with self._lock:
            return self._payments.get(end_to_end_id)

    def batch(self, batch_id: str) -> list[Payment] | None:
        """The payments of a batch (payment-information id) in booking order; ``None`` if unknown."""
        with self._lock:
            ids = self._batches.get(batch_id)
            return None if ids is None else [self._payments[i] for i in ids]

    @property
    def payments(self) -> tuple[Payment, ...]:
        """Every payment on the books, in booking order."""
        with self._lock:
            return tuple(self._payments.values())

    @property
    def paid(self) -> tuple[Payment, ...]:
        """Payments money went out for (accepted, settled, returned)."""
        return tuple(p for p in self.payments if p.paid)

    def __len__(self) -> int:
        with self._lock:
            return len(self._payments)

    def __iter__(self) -> Iterator[Payment]:
        return iter(self.payments)

    def settle(self, now: datetime, returned: Callable[[Payment], str | None]) -> int:
        """Settle every accepted payment; ``returned`` says which come back, with what reason code."""
        settled = 0
        with self._lock:
            for payment in self._payments.values():
                if payment.status == "ACCP":
                    payment.status = "ACSC"
                    settled += 1
                    code = returned(payment)
                    if code:
                        payment.returned_code, payment.returned_at = code, now
        return settled

    def return_payment(self, end_to_end_id: str, code: str, now: datetime) -> None:
        """Mark a paid payment as returned (settling it first).

        Raises:
            KeyError: no such payment, or it was rejected.
        """
        with self._lock:
            payment = self._payments.get(end_to_end_id)
            if payment is None or not payment.paid:
                raise KeyError(end_to_end_id)
            payment.status = "ACSC"
            payment.returned_code, payment.returned_at = code, now

    # --- messages ------------------------------------------------------------------------------------

    def message(self, msg_id: str) -> tuple[tuple[tuple[str, ...], ...], bytes, str] | None:
        """``(content digest, answer, batch id)`` of a message id seen before."""
        with self._lock:
            return self._messages.get(msg_id)

    def remember(
        self, msg_id: str, digest: tuple[tuple[str, ...], ...], answer: bytes, batch_id: str
    ) -> None:
        """Keep a message's content and answer, to recognise and answer a resend."""
        with self._lock:
            self._messages[msg_id] = (digest, answer, batch_id)

    @property
    def lock(self) -> threading.RLock:
        """Held while a message is checked, booked and remembered, so a resend racing it waits."""
        return self._lock

    # --- the stop list --------------------------------------------------------------------------------

    def record(self, event_id: str, body: dict[str, Any]) -> bool:
        """Record a stop-list event once; returns whether it was a repeat.

        Raises:
            EventConflict: the event id was recorded before with another body.
            ValueError: the body is incomplete.
        """
        kind, citizen = body.get("kind"), str(body.get("citizen_id", "")).upper()
        if kind not in ("death", "suspend", "resume") or not citizen:
            raise ValueError("an event has a kind (death, suspend, resume) and a citizen_id")
        at = _aware(datetime.fromisoformat(str(body.get("certified_at")))) if kind != "death" else None
        code = body.get("reason_code")
        text = json.dumps(body, sort_keys=True, ensure_ascii=False)
        with self._lock:
            seen = self._events.get(event_id)
            if seen is not None:
                if seen.body != text:
                    raise EventConflict("the event id was recorded before with other content")
                return True
            self._events[event_id] = StopEntry(event_id, kind, citizen, code, text)
            if at is None:
                self._deaths[citizen] = code or "MD07"
                return False
            last = self._certified.get(citizen)
            if last is not None and at <= last:
                return False  # an older certification than the last one known changes nothing
            self._certified[citizen] = at
            if kind == "suspend":
                self._suspended[citizen] = code or "SL01"
            else:
                self._suspended.pop(citizen, None)
            return False

    def stopped(self, citizen_id: str) -> str | None:
        """The reason code payments to this person are rejected with, if they are stopped or suspended."""
        with self._lock:
            return self._deaths.get(citizen_id) or self._suspended.get(citizen_id)

    @property
    def events(self) -> tuple[StopEntry, ...]:
        """Every stop-list event recorded, in order."""
        with self._lock:
            return tuple(self._events.values())


def _aware(moment: datetime) -> datetime:
    # certifications may come with or without a zone; naive ones are read as Beijing time
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=_BEIJING)
