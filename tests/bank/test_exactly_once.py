"""Acceptance: 10,000 payments sent through faults reach the bank's ledger exactly once per end-to-end id."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest
from tests.bank.batches import batch, instructions

from ssgateway.model import PaymentState, PaymentSubmission
from ssgateway.runtime import Gateway
from ssgateway.testing import BankSimulator
from ssgateway.testing.faultplan import FaultKind

PAYMENTS = 10_000


@pytest.mark.parametrize("duplicate_messages", ["replay", "reject"])
async def test_ten_thousand_payments_through_faults_are_booked_exactly_once(
    bank: BankSimulator, gateway: Callable[..., Gateway], duplicate_messages: str
) -> None:
    bank.duplicate_messages = duplicate_messages  # type: ignore[assignment]
    rules = [
        bank.faults.add(FaultKind.RESET, operations="pain.001", rate=0.2),  # booked, then the answer dropped
        bank.faults.add(FaultKind.HTTP_ERROR, operations="pain.001", rate=0.15, status=503),  # nothing booked
        bank.faults.add(
            FaultKind.TRUNCATE, operations="pain.001", rate=0.25
        ),  # booked, half an answer (drawn after the two above)
    ]
    b = batch(bank, batch_id="ZZ202406-ALL", items=instructions(bank, PAYMENTS, prefix="ZZ202406"))
    retry = {"attempts": 40, "deadline": 120, "initial_backoff": 0.01, "max_backoff": 0.05}
    async with gateway(
        config={"max_transactions_per_message": 1000, "parallel_messages": 2},
        defaults={"retry": retry, "breaker": {"failure_threshold": 1000}},
    ) as gw:
        result = await gw.call("payments.submit", b, idempotency_key="zz-202406", caller="pension-app")
        submission = result.response
        assert isinstance(submission, PaymentSubmission)
        assert (submission.accepted, submission.rejected, len(submission.statuses)) == (PAYMENTS, 0, PAYMENTS)

        booked = Counter(p.end_to_end_id for p in bank.ledger)
        assert len(booked) == PAYMENTS and set(booked.values()) == {1}
        assert set(booked) == {i.end_to_end_id for i in b.instructions}
        assert sum(p.amount for p in bank.ledger.paid) == b.control_sum
        assert all(rule.fired > 0 for rule in rules), [r.fired for r in rules]
        # messages booked before their answer was lost went again: answered, not booked twice
        assert bank.ledger.attempts == PAYMENTS
        if duplicate_messages == "replay":
            assert bank.replays > 0
        else:
            assert bank.calls["pain.002"] > 0  # DU01, then the message's status was asked for

        # the caller repeats the call: answered from the idempotency store, nothing is sent
        uploads = bank.calls["pain.001"]
        again = await gw.call("payments.submit", b, idempotency_key="zz-202406", caller="pension-app")
        assert again.replayed and bank.calls["pain.001"] == uploads

        if duplicate_messages == "replay":
            # the batch rebuilt under another batch id and key: the end-to-end ids keep every payment single
            bank.faults.clear()
            rebuilt = b.model_copy(update={"batch_id": "ZZ202406-ALL-B"})
            redo = await gw.call(
                "payments.submit", rebuilt, idempotency_key="zz-202406-b", caller="pension-app"
            )
            assert isinstance(redo.response, PaymentSubmission)
            assert {s.reason_code for s in redo.response.statuses} == {"AM05"}
            assert {s.state for s in redo.response.statuses} <= {PaymentState.ACCEPTED, PaymentState.SETTLED}
            assert len(bank.ledger) == PAYMENTS and bank.ledger.repeats == PAYMENTS
        metrics = gw.metrics.render().decode()
    assert 'ssgateway_retries_total{operation="payments.submit",partner="icbc"}' in metrics
    assert bank.refused == 0 and bank.problems == []
