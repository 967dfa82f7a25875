"""Pension payments: instructions, batches and their status with the bank."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import Field, computed_field, field_validator, model_validator

from ssgateway.model.base import Entity
from ssgateway.model.codes import PaymentState
from ssgateway.model.identifiers import BankAccount, CitizenId, PersonName
from ssgateway.model.values import Money, Period

__all__ = ["PaymentBatch", "PaymentInstruction", "PaymentStatus"]

# ISO 20022 Max35Text identifiers, restricted to characters every bank accepts.
_REF_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9./:_-]{0,34}$"


class PaymentInstruction(Entity):
    """One payment of a benefit into a person's bank account."""

    end_to_end_id: str = Field(pattern=_REF_PATTERN)
    """Unique per payment, for ever: the key the bank dedupes on."""
    citizen_id: CitizenId
    name: PersonName
    """Creditor (account holder) name."""
    account: BankAccount
    bank_code: str = Field(min_length=1, max_length=20)
    """Creditor agent: the bank's CNAPS participant code."""
    amount: Money
    currency: Literal["CNY"] = "CNY"
    payout_period: Period
    """AAE002: the month the benefit is for."""
    benefit: str | None = Field(default=None, max_length=10)
    """Benefit component (AAD122), e.g. ``011`` basic pension."""
    remittance: str | None = Field(default=None, max_length=140)
    """Unstructured remittance information shown to the payee."""

    @field_validator("amount")
    @classmethod
    def _positive(cls, value: Decimal) -> Decimal:
        if value <= 0:
            raise ValueError("a payment amount is positive")
        return value


class PaymentBatch(Entity):
    """A batch of payments handed to one bank in one message."""

    batch_id: str = Field(pattern=_REF_PATTERN)
    """Message id; unique per batch."""
    debtor_name: str = Field(min_length=1, max_length=140)
    """The paying fund."""
    debtor_account: str = Field(min_length=1, max_length=34)
    """The fund's account (an institutional account, not personal data)."""
    debtor_bank_code: str = Field(min_length=1, max_length=20)
    requested_execution_date: date
    instructions: tuple[PaymentInstruction, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> PaymentBatch:
        ids = [i.end_to_end_id for i in self.instructions]
        if len(ids) != len(set(ids)):
            raise ValueError("end-to-end ids repeat within the batch")
        return self

    @computed_field  # type: ignore[prop-decorator]
    @property
    def count(self) -> int:
        """Number of instructions."""
        return len(self.instructions)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def control_sum(self) -> Money:
        """Sum of the instructed amounts."""
        return sum((i.amount for i in self.instructions), Decimal("0.00"))


class PaymentStatus(Entity):
    """Where one payment stands: from a pain.002 status report or a camt.054 notification."""

    end_to_end_id: str = Field(pattern=_REF_PATTERN)
    batch_id: str | None = None
    state: PaymentState
    reason_code: str | None = Field(default=None, max_length=10)
    """ISO 20022 external status reason code, e.g. ``AC01`` invalid account, ``AC04`` closed, ``AM04``."""
    reason: str | None = Field(default=None, max_length=500)
    amount: Money | None = None
    status_at: datetime | None = None
