"""The sidecar over real sockets in front of a simulated province: one key, 200 callers, one acceptance."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
from tests.provincial_soap.conftest import GUANGDONG, HENAN, henan_partner

from ssgateway.model import TransferCertificate
from ssgateway.runtime import Gateway
from ssgateway.server import hash_key
from ssgateway.testing.faultplan import FaultKind
from ssgateway.testing.population import SyntheticPerson
from ssgateway.testing.provincial import ProvincialSimulator
from ssgateway.testing.sidecar import running_sidecar

KEY = "ssg_test_transfer_office"
CALLERS = 200


async def test_200_concurrent_submissions_with_one_key_make_one_acceptance(
    gateway: Callable[..., Gateway], henan: ProvincialSimulator, mover: SyntheticPerson
) -> None:
    henan.faults.add(FaultKind.LATENCY, operations="AcceptTransfer", delay=0.3)  # keep it in flight a while
    keys = [{"id": "transfer-office", "hash": hash_key(KEY)}]
    async with running_sidecar(gateway({"henan": henan_partner(henan)}, api_keys=keys)) as url:
        limits = httpx.Limits(max_connections=CALLERS)
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as http:
            headers = {"Authorization": f"Bearer {KEY}"}
            asked = {"citizen_id": mover.citizen_id, "from_region": HENAN, "to_region": GUANGDONG}
            issued = await http.post("/v1/ops/transfer.certificate", json=asked, headers=headers)
            assert issued.status_code == 200, issued.text
            certificate = TransferCertificate.model_validate(issued.json())
            submission = {**asked, "certificate_number": certificate.certificate_number,
                          "receiving_account": "44-POOL-0001"}  # fmt: skip
            submit = {**headers, "Idempotency-Key": f"move-{certificate.certificate_number}"}
            told_to_wait = 0

            async def caller() -> httpx.Response:
                nonlocal told_to_wait
                while True:
                    answer = await http.post("/v1/ops/transfer.submit", json=submission, headers=submit)
                    if answer.status_code != 409:
                        return answer
                    assert answer.json()["code"] == "idempotency.in_progress"
                    assert int(answer.headers["retry-after"]) >= 1
                    told_to_wait += 1
                    await asyncio.sleep(0.05)  # sooner than Retry-After asks: the test need not wait long

            answers = await asyncio.gather(*(caller() for _ in range(CALLERS)))
    assert {a.status_code for a in answers} == {200}
    assert len({a.content for a in answers}) == 1  # every caller got the same acceptance
    fresh = [a for a in answers if "idempotent-replayed" not in a.headers]
    assert len(fresh) == 1 and told_to_wait > 0  # callers met it in flight (409), others after (replayed)
    (entry,) = henan.ledger.entries  # one acceptance reached the province
    assert henan.ledger.attempts == 1
    assert answers[0].json()["letter_number"] == entry.letter_number
