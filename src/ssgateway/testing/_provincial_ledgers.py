"""What a simulated province keeps: accepted transfers, and benefit changes after deaths and certifications.

Both ledgers keep one entry per key the province dedupes on (the certificate number; the event key), so
a resent request finds what the first one recorded.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date, datetime

__all__ = ["Acceptance", "BenefitChange", "BenefitLedger", "TransferLedger"]


@dataclass(frozen=True, slots=True)
class Acceptance:
    """One accepted transfer: the letter issued for a certificate."""

    letter_number: str
    certificate_number: str
    receiving_division: str
    receiving_account: str
    accepted_at: datetime


class TransferLedger:
    """Accepted transfers, at most one per certificate number (thread-safe).

    Attributes:
        attempts: how many acceptances were asked for, repeats included.
    """

    def __init__(self, region: str) -> None:
        self._region = region
        self._entries: dict[str, Acceptance] = {}
        self._lock = threading.Lock()
        self.attempts = 0

    def accept(self, certificate_number: str, division: str, account: str, at: datetime) -> Acceptance:
        """Record an acceptance, or return the one already recorded for this certificate.

        Raises:
            ValueError: the certificate was accepted before with another division or account.
        """
        with self._lock:
            self.attempts += 1
            existing = self._entries.get(certificate_number)
            if existing is not None:
                if (existing.receiving_division, existing.receiving_account) != (division, account):
                    raise ValueError("the certificate was accepted before with other receiving details")
                return existing
            letter = f"LX{self._region[:2]}{len(self._entries) + 1:08d}"
            acceptance = Acceptance(letter, certificate_number, division, account, at)
            self._entries[certificate_number] = acceptance
            return acceptance

    def get(self, certificate_number: str) -> Acceptance | None:
        """The acceptance of a certificate, if any."""
        with self._lock:
            return self._entries.get(certificate_number)

    @property
    def entries(self) -> tuple[Acceptance, ...]:
        """Every acceptance, in order."""
        with self._lock:
            return tuple(self._entries.values())

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


@dataclass(frozen=True, slots=True)
class BenefitChange:
    """One change recorded against a person's benefit: stopped after a death, suspended or resumed."""

    record_number: str
    event_key: str
    citizen_id: str
    reason: str
    """AAE160 recorded: 451 retiree's death, 211 death in service, 421 suspended, 431 resumed."""
    event_date: date
    recorded_at: datetime


class BenefitLedger:
    """Benefit changes, at most one per event key (thread-safe).

    Attributes:
        attempts: how many changes were asked for, repeats included.
    """

    def __init__(self, region: str) -> None:
        self._region = region
        self._entries: dict[str, BenefitChange] = {}
        self._lock = threading.Lock()
        self.attempts = 0

    def record(
        self, event_key: str, citizen_id: str, reason: str, event_date: date, at: datetime
    ) -> tuple[BenefitChange, bool]:
        """Record a change, or find the one recorded for this event key; returns it and whether it is new.

        Raises:
            ValueError: the event key was recorded before for another person.
        """
        with self._lock:
            self.attempts += 1
            existing = self._entries.get(event_key)
            if existing is not None:
                if existing.citizen_id != citizen_id:
                    raise ValueError("the event key was recorded before for another person")
                return existing, False
            number = f"BG{self._region[:2]}{len(self._entries) + 1:08d}"
            change = BenefitChange(number, event_key, citizen_id, reason, event_date, at)
            self._entries[event_key] = change
            return change, True

    def of(self, citizen_id: str) -> tuple[BenefitChange, ...]:
        """A person's changes, in the order they were recorded."""
        with self._lock:
            return tuple(c for c in self._entries.values() if c.citizen_id == citizen_id)

    @property
    def entries(self) -> tuple[BenefitChange, ...]:
        """Every change, in order."""
        with self._lock:
            return tuple(self._entries.values())

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
