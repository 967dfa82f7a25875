"""SoapClient driving zeep against the simulated province over real sockets on 127.0.0.1."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from ssgateway.errors import (
    InputError,
    OutcomeUnknown,
    PermanentError,
    ResponseTooLarge,
    TransientError,
)
from ssgateway.model import ContributionRecord, TransferCertificate
from ssgateway.soap import SoapClient, SoapSettings, WsseSettings, record_texts
from ssgateway.testing.dialect import LOWERCASE_DIALECT, REFERENCE_DIALECT
from ssgateway.testing.faultplan import FaultKind
from ssgateway.testing.population import Population, SyntheticPerson
from ssgateway.testing.provincial import ProvincialSimulator

GI = REFERENCE_DIALECT
TARGET = "110105"


async def test_query_person(client: SoapClient, henan_person: SyntheticPerson) -> None:
    payload = await client.call("QueryPerson", AAC002=henan_person.citizen_id)
    assert payload.tag == GI.tag("QueryPersonResponse")
    assert payload.findtext(f"{GI.tag('person')}/{GI.tag('AAC003')}") == henan_person.name
    answer = await client.call_zeep("QueryPerson", AAC002=henan_person.citizen_id)
    assert henan_person.citizen_id == answer.person.AAC002
    assert {e.AAE140 for e in answer.enrolments.enrolment} >= {"110"}


async def test_query_contributions_three_ways(
    client: SoapClient, henan_person: SyntheticPerson, population: Population
) -> None:
    expected = population.contributions(henan_person.citizen_id, "41")
    answer = await client.call_zeep(
        "QueryContributions", AAC002=henan_person.citizen_id, AAE041="199001", AAE042="202406"
    )
    assert answer.count == len(answer.rows.row) == len(expected)
    payload = await client.call("QueryContributions", AAC002=henan_person.citizen_id)
    assert len(payload.find(GI.tag("rows"))) == len(expected)  # type: ignore[arg-type]
    async with client.stream("QueryContributions", GI.tag("row"), AAC002=henan_person.citizen_id) as rows:
        streamed = [record_texts(row) async for row in rows]
    assert streamed == [r.as_row() for r in expected]
    assert rows.values[GI.tag("count")] == str(rows.count)
    # The rows carry what the canonical model needs.
    first = streamed[0]
    record = ContributionRecord.model_validate(
        {
            "citizen_id": first["AAC002"],
            "period": first["AAE003"],
            "region": first["AAB301"],
            "insurance_type": {
                "value": "enterprise_employee_pension",
                "raw": first["AAE140"],
                "scheme": "aae140",
            },
            "base": first["AAE180"],
            "employer_amount": first["AAE480"],
            "individual_amount": first["AAE481"],
            "record_type": {"value": "normal", "raw": first["AAE143"]},
            "paid_status": {"value": "paid", "raw": first["AAE114"]},
        }
    )
    assert record.base == Decimal(first["AAE180"])


async def test_a_period_filter_narrows_the_rows(
    client: SoapClient, henan_person: SyntheticPerson, population: Population
) -> None:
    rows = population.contributions(henan_person.citizen_id, "41")
    month = rows[len(rows) // 2].period
    text = f"{month.year:04d}{month.month:02d}"
    answer = await client.call_zeep(
        "QueryContributions", AAC002=henan_person.citizen_id, AAE041=text, AAE042=text
    )
    assert answer.count and all(text == r.AAE003 for r in answer.rows.row)


async def test_issue_and_accept_a_transfer(
    client: SoapClient, simulator: ProvincialSimulator, henan_person: SyntheticPerson
) -> None:
    certificate = await client.call_zeep(
        "IssueTransferCertificate", AAC002=henan_person.citizen_id, targetDivision=TARGET
    )
    assert certificate.toDivision == TARGET and certificate.fromDivision.startswith("41")
    canonical = TransferCertificate(
        certificate_number=certificate.certificateNo,
        citizen_id=certificate.AAC002,
        from_region=certificate.fromDivision,
        to_region=certificate.toDivision,
        issued_on=f"{certificate.issueDate[:4]}-{certificate.issueDate[4:6]}-{certificate.issueDate[6:]}",
        years=[
            {"year": y.AAE001, "months": y.months, "base_total": y.baseTotal} for y in certificate.years.year
        ],
        temporary_account=certificate.temporaryAccount == "1",
        employer_rate=certificate.employerRate,
    )
    assert canonical.pooled_amount == Decimal(certificate.pooledAmount)  # the province's figure agrees
    accepted = await client.call_zeep(
        "AcceptTransfer",
        certificateNo=certificate.certificateNo,
        receivingDivision=TARGET,
        receivingAccount="ACC-1",
    )
    assert accepted.letterNo.startswith("LX41") and len(accepted.acceptedAt) == 14
    again = await client.call_zeep(
        "AcceptTransfer",
        certificateNo=certificate.certificateNo,
        receivingDivision=TARGET,
        receivingAccount="ACC-1",
    )
    assert again.letterNo == accepted.letterNo
    assert len(simulator.ledger) == 1 and simulator.ledger.attempts == 2
    with pytest.raises(PermanentError) as caught:
        await client.call(
            "AcceptTransfer",
            certificateNo=certificate.certificateNo,
            receivingDivision=TARGET,
            receivingAccount="OTHER",
        )
    assert caught.value.partner_code == "E3003"


async def test_a_reset_after_the_ledger_committed_is_outcome_unknown_and_a_resend_accepts_once(
    client: SoapClient, simulator: ProvincialSimulator, henan_person: SyntheticPerson
) -> None:
    certificate = await client.call_zeep(
        "IssueTransferCertificate", AAC002=henan_person.citizen_id, targetDivision=TARGET
    )
    reset = simulator.faults.add(FaultKind.RESET, operations="AcceptTransfer", times=1)
    request = {
        "certificateNo": certificate.certificateNo,
        "receivingDivision": TARGET,
        "receivingAccount": "ACC-1",
    }
    with pytest.raises(OutcomeUnknown):
        await client.call("AcceptTransfer", **request)
    assert reset.fired == 1
    assert len(simulator.ledger) == 1  # the province did act
    accepted = await client.call_zeep("AcceptTransfer", **request)
    assert len(simulator.ledger) == 1 and simulator.ledger.attempts == 2
    assert accepted.letterNo == simulator.ledger.entries[0].letter_number


@pytest.mark.parametrize(
    ("kind", "params", "error"),
    [
        (FaultKind.FAULT, {}, TransientError),
        (FaultKind.FAULT, {"code": "Server.Timeout"}, TransientError),
        (FaultKind.FAULT, {"code": "Client.Invalid", "detail_code": "E1001"}, PermanentError),
        (FaultKind.HTTP_ERROR, {"status": 503, "retry_after": 4}, TransientError),
        (FaultKind.HTTP_ERROR, {"status": 500}, OutcomeUnknown),
        (FaultKind.TRUNCATE, {}, OutcomeUnknown),
        (FaultKind.RESET, {}, OutcomeUnknown),
        (FaultKind.BLACKHOLE, {}, OutcomeUnknown),
        (FaultKind.MALFORMED, {}, InputError),
        (FaultKind.OVERSIZED, {"size": 17 * 1024 * 1024}, ResponseTooLarge),
    ],
    ids=[
        "busy",
        "timeout",
        "invalid",
        "503",
        "500",
        "truncate",
        "reset",
        "blackhole",
        "malformed",
        "oversized",
    ],
)
async def test_faults_surface_as_typed_errors(
    simulator: ProvincialSimulator,
    client: SoapClient,
    henan_person: SyntheticPerson,
    kind: FaultKind,
    params: dict[str, object],
    error: type[Exception],
) -> None:
    simulator.faults.add(kind, operations="QueryPerson", **params)
    with pytest.raises(error) as caught:
        await client.call("QueryPerson", AAC002=henan_person.citizen_id, timeout=0.5)
    assert type(caught.value) is error
    if "retry_after" in params:
        assert caught.value.retry_after == 4  # type: ignore[attr-defined]
    # Other operations are untouched by a per-operation knob.
    assert (await client.call_zeep("QueryContributions", AAC002=henan_person.citizen_id)).count > 0


async def test_latency_is_waited_within_the_timeout(
    simulator: ProvincialSimulator, client: SoapClient, henan_person: SyntheticPerson
) -> None:
    simulator.faults.add(FaultKind.LATENCY, delay=0.2)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await client.call("QueryPerson", AAC002=henan_person.citizen_id, timeout=2)
    assert loop.time() - started >= 0.19
    with pytest.raises(OutcomeUnknown, match=r"within 0\.1s"):
        await client.call("QueryPerson", AAC002=henan_person.citizen_id, timeout=0.1)


async def test_nothing_listening_is_transient(henan_person: SyntheticPerson) -> None:
    async with ProvincialSimulator(Population.generate(seed=1, size=5)) as gone:
        endpoint = gone.endpoint
    async with SoapClient(SoapSettings(endpoint=endpoint, timeout=2)) as client:
        with pytest.raises(TransientError) as caught:
            await client.call("QueryPerson", AAC002=henan_person.citizen_id)
    assert type(caught.value) is TransientError


async def test_unknown_people_and_invalid_requests_are_permanent(client: SoapClient) -> None:
    with pytest.raises(PermanentError) as caught:
        await client.call("QueryPerson", AAC002="11010519491231002X")
    assert caught.value.partner_code == "E2001"
    with pytest.raises(PermanentError) as caught:
        await client.call("QueryPerson", AAC002="not-an-id")  # the province validates against its XSD
    assert caught.value.partner_code == "E1001"


async def test_username_token_and_compression_against_the_simulator(
    population: Population, henan_person: SyntheticPerson
) -> None:
    async with ProvincialSimulator(population, passwords={"gw": "s3cret"}, compress=True) as simulator:
        for digest in (True, False):
            settings = SoapSettings(
                endpoint=simulator.endpoint,
                wsse=WsseSettings(username="gw", password="s3cret", digest=digest),
            )
            async with SoapClient(settings) as client:
                answer = await client.call_zeep("QueryContributions", AAC002=henan_person.citizen_id)
                assert answer.count > 0
        wrong = SoapSettings(endpoint=simulator.endpoint, wsse=WsseSettings(username="gw", password="wrong"))
        async with SoapClient(wrong) as client:
            with pytest.raises(PermanentError) as caught:
                await client.call("QueryPerson", AAC002=henan_person.citizen_id)
        assert caught.value.partner_code == "E1003"
        async with SoapClient(SoapSettings(endpoint=simulator.endpoint)) as client:
            with pytest.raises(PermanentError):
                await client.call("QueryPerson", AAC002=henan_person.citizen_id)


async def test_a_province_with_other_element_names(
    population: Population, henan_person: SyntheticPerson
) -> None:
    dialect = LOWERCASE_DIALECT
    async with ProvincialSimulator(population, dialect=dialect) as simulator:
        settings = SoapSettings(
            endpoint=simulator.endpoint, wsdl="provincial.wsdl", contract_dir=dialect.contract_dir
        )
        async with SoapClient(settings) as client:
            person = await client.call_zeep("QueryPerson", aac002=henan_person.citizen_id)
            assert person.person.aac003 == henan_person.name
            async with client.stream(
                "QueryContributions", dialect.tag("row"), aac002=henan_person.citizen_id
            ) as rows:
                count = sum([1 async for _ in rows])
            assert count == int(rows.values[dialect.tag("count")]) > 0
            certificate = await client.call_zeep(
                "IssueTransferCertificate", aac002=henan_person.citizen_id, targetDivision=TARGET
            )
            accepted = await client.call_zeep(
                "AcceptTransfer", zmbh=certificate.zmbh, receivingDivision=TARGET, receivingAccount="ACC-1"
            )
            assert accepted.lxh.startswith("LX41")
            with pytest.raises(PermanentError):  # the reference names are not this province's
                await client.send(
                    "QueryPerson",
                    SoapClient(SoapSettings(endpoint=simulator.endpoint)).build(
                        "QueryPerson", AAC002=henan_person.citizen_id
                    ),
                )


async def test_a_bulk_answer_streams(
    simulator: ProvincialSimulator, client: SoapClient, henan_person: SyntheticPerson
) -> None:
    simulator.add_bulk_history(henan_person.citizen_id, 20_000)
    async with client.stream("QueryContributions", GI.tag("row"), AAC002=henan_person.citizen_id) as rows:
        periods = {record_texts(row)["AAE003"] async for row in rows}
    assert rows.count == 20_000 == int(rows.values[GI.tag("count")])
    assert len(periods) > 12
