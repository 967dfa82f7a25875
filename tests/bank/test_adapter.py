"""The adapter against the simulated bank, and its error mapping."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import httpx
import pytest
import respx
from pydantic import ValidationError
from tests.bank.batches import batch, instructions
from tests.bank.conftest import Adapter
from tests.soap.test_soap_tls import pki  # noqa: F401 - the fixture: a CA, a server and a client certificate

from ssgateway.errors import (
    OutcomeUnknown,
    PermanentError,
    ResponseTooLarge,
    TransientError,
    XMLSecurityError,
)
from ssgateway.model import PaymentState, PaymentStatusQuery, PaymentSubmission
from ssgateway.partnerhttp import TlsSettings
from ssgateway.sdk import AdapterContext
from ssgateway.testing import BankSimulator, Population
from ssgateway.testing.faultplan import FaultKind
from ssgateway_adapters.bank_iso20022 import BankIso20022Adapter, BankSettings

SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "iso20022"


def states(statuses: object) -> list[tuple[str, str, str | None]]:
    return [(s.end_to_end_id, s.state.value, s.reason_code) for s in statuses]  # type: ignore[attr-defined]


async def test_submit_then_status_with_returns(bank: BankSimulator, adapter: Adapter) -> None:
    b = batch(bank, 12)
    bank.reject_account(b.instructions[3].account.reveal(), "AC04")
    client = await adapter(max_transactions_per_message=5)
    submitted = await client.call("payments.submit", b)
    assert isinstance(submitted, PaymentSubmission)
    assert (submitted.batch_id, submitted.accepted, submitted.rejected) == (b.batch_id, 11, 1)
    assert [s.end_to_end_id for s in submitted.statuses] == [i.end_to_end_id for i in b.instructions]
    assert states(submitted.statuses)[3] == (b.instructions[3].end_to_end_id, "rejected", "AC04")
    assert bank.calls["pain.001"] == 3
    bank.settle()
    bank.return_payment(b.instructions[5].end_to_end_id, "MD07")
    report = await client.call("payments.status", PaymentStatusQuery(batch_id=b.batch_id))
    by_id = {s.end_to_end_id: s for s in report.statuses}  # type: ignore[attr-defined]
    assert len(by_id) == 12
    assert by_id[b.instructions[0].end_to_end_id].state is PaymentState.SETTLED
    assert by_id[b.instructions[3].end_to_end_id].state is PaymentState.REJECTED
    returned = by_id[b.instructions[5].end_to_end_id]
    assert (returned.state, returned.reason_code, returned.reason) == (
        PaymentState.RETURNED, "MD07", "end customer deceased",
    )  # fmt: skip
    some = await client.call(
        "payments.status",
        PaymentStatusQuery(batch_id=b.batch_id, end_to_end_ids=(b.instructions[5].end_to_end_id,)),
    )
    assert states(some.statuses) == [(b.instructions[5].end_to_end_id, "returned", "MD07")]  # type: ignore[attr-defined]
    with pytest.raises(PermanentError, match="HTTP 404"):
        await client.call("payments.status", PaymentStatusQuery(batch_id="UNKNOWN"))


async def test_a_resent_batch_is_paid_once_and_answered_the_same(
    bank: BankSimulator, adapter: Adapter
) -> None:
    b = batch(bank, 7)
    client = await adapter(max_transactions_per_message=3)
    first = await client.call("payments.submit", b)
    again = await client.call("payments.submit", b)  # a caller that lost its idempotency key
    other = await (await adapter(max_transactions_per_message=2)).call("payments.submit", b)  # another split
    assert states(again.statuses) == states(first.statuses)  # type: ignore[attr-defined]
    assert states(other.statuses) == [(i.end_to_end_id, "accepted", "AM05") for i in b.instructions]  # type: ignore[attr-defined]
    assert len(bank.ledger) == 7 and bank.replays == 3


async def test_answers_lost_after_booking_are_recovered_by_resending(
    bank: BankSimulator, adapter: Adapter
) -> None:
    b = batch(bank, 9)
    client = await adapter(max_transactions_per_message=3, parallel_messages=3)
    rule = bank.faults.add(FaultKind.RESET, operations="pain.001", times=1)
    with pytest.raises(OutcomeUnknown, match="the bank may have acted"):
        await client.call("payments.submit", b)
    assert rule.fired == 1 and len(bank.ledger) == 9  # every message was booked, one answer lost
    calls = bank.calls["pain.001"]
    result = await client.call("payments.submit", b)
    assert result.accepted == 9 and len(bank.ledger) == 9
    assert bank.calls["pain.001"] == calls + 1  # only the message whose answer was lost went again


async def test_a_lost_answer_outranks_a_refusal_in_the_same_batch(
    bank: BankSimulator, adapter: Adapter
) -> None:
    b = batch(bank, 4)
    client = await adapter(max_transactions_per_message=2, parallel_messages=1)
    bank.faults.add(FaultKind.RESET, operations="pain.001", times=1)  # message 1 booked, its answer lost
    bank.faults.add(FaultKind.HTTP_ERROR, operations="pain.001", times=1, status=400)  # message 2 refused
    # a refusal would end the call with message 1 unknown: the ambiguity is what the caller must hear
    with pytest.raises(OutcomeUnknown, match="2 messages, 0 answered, 1 refused, 1 without a usable answer"):
        await client.call("payments.submit", b)
    assert len(bank.ledger) == 2
    result = await client.call("payments.submit", b)  # the resend the runtime makes: each paid once
    assert result.accepted == 4 and len(bank.ledger) == 4


async def test_a_return_listed_before_its_debit_stays_returned(bank: BankSimulator, adapter: Adapter) -> None:
    b = batch(bank, 2)
    client = await adapter()
    await client.call("payments.submit", b)
    e2e = b.instructions[0].end_to_end_id
    ns = "urn:iso:std:iso:20022:tech:xsd:camt.054.001.08"

    def entry(direction: str, day: str, returned: bool) -> str:
        why = "<RtrInf><Rsn><Cd>AC04</Cd></Rsn></RtrInf>" if returned else ""
        return (
            f"<Ntry><Amt Ccy='CNY'>2000.45</Amt><CdtDbtInd>{direction}</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>"
            f"<BookgDt><Dt>{day}</Dt></BookgDt><NtryDtls><TxDtls><Refs><PmtInfId>{b.batch_id}</PmtInfId>"
            f"<EndToEndId>{e2e}</EndToEndId></Refs>{why}</TxDtls></NtryDtls></Ntry>"
        )

    notification = (
        f"<Document xmlns='{ns}'><BkToCstmrDbtCdtNtfctn><GrpHdr><MsgId>N1</MsgId>"
        "<CreDtTm>2024-07-02T10:00:00</CreDtTm></GrpHdr><Ntfctn>"
        f"{entry('CRDT', '2024-07-02', True)}{entry('DBIT', '2024-07-01', False)}"  # credits listed first
        "</Ntfctn></BkToCstmrDbtCdtNtfctn></Document>"
    )
    bank.faults.add(FaultKind.BODY, operations="camt.054", body=notification.encode())
    report = await client.call("payments.status", PaymentStatusQuery(batch_id=b.batch_id))
    assert states(report.statuses)[0] == (e2e, "returned", "AC04")


@respx.mock
async def test_a_refusal_gives_the_reason_not_the_payee() -> None:
    ns = "urn:iso:std:iso:20022:tech:xsd:pain.002.001.10"
    words = "<StsRsnInf><Rsn><Cd>BE01</Cd></Rsn><AddtlInf>收款人户名王秀英与账号620000123456不符</AddtlInf></StsRsnInf>"
    refusal = (
        f"<Document xmlns='{ns}'><CstmrPmtStsRpt><GrpHdr><MsgId>R</MsgId><CreDtTm>2024-06-28T09:00:00</CreDtTm>"
        "</GrpHdr><OrgnlGrpInfAndSts><OrgnlMsgId>M</OrgnlMsgId><OrgnlMsgNmId>pain.001.001.09</OrgnlMsgNmId>"
        f"<GrpSts>RJCT</GrpSts>{words}</OrgnlGrpInfAndSts></CstmrPmtStsRpt></Document>"
    )
    respx.post("https://bank.example/pain.001").mock(return_value=httpx.Response(422, content=refusal))
    client = BankIso20022Adapter(BankSettings(endpoint="https://bank.example"), AdapterContext(partner="b"))
    await client.start()
    try:
        with pytest.raises(PermanentError) as caught:
            await client.call("payments.submit", batch(BankSimulator(Population.generate(seed=5, size=3)), 1))
    finally:
        await client.close()
    assert caught.value.details["partner_code"] == "BE01"
    shown = f"{caught.value} {caught.value.details}"
    assert "inconsistent with end customer" in shown
    assert "王秀英" not in shown and "620000123456" not in shown


@pytest.mark.parametrize("status", [200, 400])  # DU01 in a 200 answer, or with an HTTP error status
async def test_a_bank_that_refuses_duplicate_message_ids(population: Population, status: int) -> None:
    async with BankSimulator(population, duplicate_messages="reject", duplicate_status=status) as bank:
        b = batch(bank, 4)
        settings = BankSettings(endpoint=bank.url, timeout=5)
        before, after = (BankIso20022Adapter(settings, AdapterContext(partner="strict")) for _ in "ab")
        await before.start()
        await after.start()  # as after a restart: the message is rebuilt, with the same id
        try:
            bank.faults.add(FaultKind.TRUNCATE, operations="pain.001", times=1)
            with pytest.raises(OutcomeUnknown):
                await before.call("payments.submit", b)
            result = await after.call("payments.submit", b)
            assert result.accepted == 4 and len(bank.ledger) == 4  # type: ignore[attr-defined]
            assert bank.calls["pain.002"] == 1  # DU01 → the status of that message was asked for instead
            reused = batch(
                bank, 4, items=instructions(bank, 4, prefix="OTHER")
            )  # same batch id, other payments
            with pytest.raises(PermanentError, match="used before for another batch"):
                await after.call("payments.submit", reused)
        finally:
            await before.close()
            await after.close()
            await asyncio.sleep(0)


@pytest.mark.parametrize(
    ("kind", "params", "error", "code"),
    [
        (FaultKind.HTTP_ERROR, {"status": 503, "retry_after": 3}, TransientError, "partner.unavailable"),
        (FaultKind.HTTP_ERROR, {"status": 500}, OutcomeUnknown, "partner.outcome_unknown"),
        (FaultKind.HTTP_ERROR, {"status": 403}, PermanentError, "partner.refused"),
        (FaultKind.RESET, {}, OutcomeUnknown, "partner.outcome_unknown"),
        (FaultKind.TRUNCATE, {}, OutcomeUnknown, "partner.outcome_unknown"),
        (FaultKind.MALFORMED, {}, OutcomeUnknown, "partner.unreadable_answer"),
        (FaultKind.OVERSIZED, {"size": 2_000_000}, ResponseTooLarge, "response.too_large"),
        (FaultKind.GZIP_BOMB, {"size": 50_000_000}, ResponseTooLarge, "response.too_large"),
        (
            FaultKind.BODY,
            {"body": b'<!DOCTYPE d [<!ENTITY e "x">]><d>&e;</d>'},
            XMLSecurityError,
            "xml.doctype",
        ),
        (FaultKind.BLACKHOLE, {}, OutcomeUnknown, "partner.timeout"),
    ],
)
async def test_faults_become_our_errors(
    bank: BankSimulator, adapter: Adapter, kind: FaultKind, params: dict[str, object], error: type, code: str
) -> None:
    client = await adapter(max_response_bytes=1_000_000, timeout=1)
    bank.faults.add(kind, operations="pain.001", times=1, **params)
    with pytest.raises(error) as caught:
        await client.call("payments.submit", batch(bank, 2))
    assert caught.value.code == code
    if params.get("retry_after"):
        assert caught.value.retry_after == 3  # type: ignore[attr-defined]


async def test_a_bank_that_cannot_be_reached(adapter: Adapter) -> None:
    population = Population.generate(seed=5, size=3)
    bank = BankSimulator(population)
    await bank.start()
    url = bank.url
    await bank.stop()
    config = BankSettings(endpoint=url, timeout=2)
    client = BankIso20022Adapter(config, AdapterContext(partner="gone"))
    await client.start()
    try:
        with pytest.raises(TransientError) as caught:
            await client.call("payments.submit", batch(bank, 1))
        assert not isinstance(caught.value, OutcomeUnknown)
    finally:
        await client.close()


@respx.mock
async def test_a_refusal_carries_the_banks_reason_code() -> None:
    refusal = (SAMPLES / "pain002-group-rejected.xml").read_bytes().replace(b"AM18", b"FF01")
    respx.post("https://bank.example/pain.001").mock(return_value=httpx.Response(400, content=refusal))
    respx.post("https://bank.example/throttled/pain.001").mock(
        return_value=httpx.Response(429, headers={"Retry-After": "7"})
    )
    population = Population.generate(seed=5, size=3)
    bank = BankSimulator(population)
    for base, error in (
        ("https://bank.example", PermanentError),
        ("https://bank.example/throttled", TransientError),
    ):
        client = BankIso20022Adapter(BankSettings(endpoint=base), AdapterContext(partner="respx-bank"))
        await client.start()
        try:
            with pytest.raises(error) as caught:
                await client.call("payments.submit", batch(bank, 1))
        finally:
            await client.close()
    assert caught.value.retry_after == 7  # type: ignore[attr-defined]


async def test_settings_are_checked() -> None:
    for endpoint in ("http://bank.example", "ftp://127.0.0.1", "bank.example"):
        with pytest.raises(ValidationError, match="https://"):
            BankSettings(endpoint=endpoint)
    assert BankSettings(endpoint="http://localhost:8080/").endpoint == "http://localhost:8080"
    with pytest.raises(ValidationError):
        BankSettings(endpoint="https://bank.example", submit_path="pain.001")
    with pytest.raises(ValidationError):
        BankSettings(endpoint="https://bank.example", death_reason_code="md07")
    with pytest.raises(ValidationError):
        BankSettings(endpoint="https://bank.example", surprise=1)  # type: ignore[call-arg]


def _tls_bank(population: Population, pki: Path) -> BankSimulator:  # noqa: F811 - pki is the fixture's value
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(pki / "ca.pem"))
    context.load_cert_chain(str(pki / "server.pem"), str(pki / "server.key"))
    context.verify_mode = ssl.CERT_REQUIRED
    return BankSimulator(population, tls=context)


async def test_client_certificates_over_https(population: Population, pki: Path) -> None:  # noqa: F811
    async with _tls_bank(population, pki) as bank:
        assert bank.url.startswith("https://127.0.0.1:")
        tls = {"ca_file": pki / "ca.pem", "client_cert": pki / "client.pem", "client_key": pki / "client.key"}
        for settings, outcome in (
            ({"tls": tls}, None),
            ({"tls": {"ca_file": pki / "ca.pem"}}, TransientError),  # no client certificate
            ({"tls": {k: v for k, v in tls.items() if k != "ca_file"}}, TransientError),  # untrusted server
        ):
            config = BankSettings.model_validate({"endpoint": bank.url, "timeout": 5, **settings})
            client = BankIso20022Adapter(config, AdapterContext(partner="tls-bank"))
            await client.start()
            try:
                if outcome is None:
                    result = await client.call("payments.submit", batch(bank, 2))
                    assert result.accepted == 2  # type: ignore[attr-defined]
                else:
                    with pytest.raises(outcome):
                        await client.call("payments.submit", batch(bank, 2, batch_id="ZZ-TLS-2"))
            finally:
                await client.close()
        assert len(bank.ledger) == 2
        await asyncio.sleep(0)
    assert isinstance(TlsSettings(), TlsSettings)


async def test_every_upload_in_these_tests_was_a_valid_pain001(bank: BankSimulator, adapter: Adapter) -> None:
    client = await adapter()
    for n in range(3):
        await client.call(
            "payments.submit",
            batch(bank, 3, batch_id=f"ZZ-V{n}", items=instructions(bank, 3, prefix=f"V{n}")),
        )
    assert bank.refused == 0 and bank.problems == []


async def test_an_answer_about_another_message_is_not_trusted(bank: BankSimulator, adapter: Adapter) -> None:
    client = await adapter()
    stray = (SAMPLES / "pain002-accepted.xml").read_bytes()  # about message ZZ202406-001
    bank.faults.add(FaultKind.BODY, operations="pain.001", times=1, body=stray)
    with pytest.raises(OutcomeUnknown, match="the answer is about message ZZ202406-001"):
        await client.call("payments.submit", batch(bank, 2, batch_id="ZZ202406-777"))
    result = await client.call("payments.submit", batch(bank, 2, batch_id="ZZ202406-777"))
    assert result.accepted == 2  # type: ignore[attr-defined]
