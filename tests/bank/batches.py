"""Payment batches for the bank tests, made from the seeded population the simulated bank holds accounts for."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from ssgateway.model import PaymentBatch
from ssgateway.testing import BankSimulator

DEBTOR = {
    "debtor_name": "郑州市社会保险基金",
    "debtor_account": "410100000123456789",
    "debtor_bank_code": "102491000010",
    "requested_execution_date": date(2024, 6, 28),
}


def instructions(
    bank: BankSimulator, count: int, *, prefix: str = "PAY202406", start: int = 0
) -> list[dict[str, Any]]:
    """``count`` instructions to the bank's population, cycling through it, with unique end-to-end ids."""
    people = bank.population.people
    found = []
    for n in range(start, start + count):
        person = people[n % len(people)]
        found.append(
            {
                "end_to_end_id": f"{prefix}-{n:06d}",
                "citizen_id": person.citizen_id,
                "name": person.name,
                "account": bank.account_of(person.citizen_id),
                "bank_code": "102100099996",
                "amount": str(Decimal(2000) + Decimal(n % 997) + Decimal("0.45")),
                "payout_period": "2024-06",
                "benefit": "011",
            }
        )
    return found


def batch(
    bank: BankSimulator, count: int = 5, *, batch_id: str = "ZZ202406-001", **more: Any
) -> PaymentBatch:
    """A batch of ``count`` payments from the Zhengzhou fund."""
    items = more.pop("items", None) or instructions(bank, count, prefix=batch_id)
    return PaymentBatch.model_validate({"batch_id": batch_id, **DEBTOR, "instructions": items, **more})
