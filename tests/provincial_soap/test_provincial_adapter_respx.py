"""The provincial-soap adapter's HTTP exchanges against mocked answers (respx): what it sends, how it reads."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
import respx

from ssgateway.errors import NotFound, PermanentError, RequestInvalid, TransientError
from ssgateway.mapping import MappingCatalog
from ssgateway.model import (
    ContributionHistory,
    HistoryQuery,
    PersonQuery,
    PersonRecord,
    TransferAcceptance,
    TransferSubmission,
)
from ssgateway.registry import default_registry
from ssgateway.sdk import AdapterContext
from ssgateway.soap import check_username_token
from ssgateway.testing.dialect import REFERENCE_DIALECT as GI
from ssgateway.testing.envelopes import EnvelopeWriter
from ssgateway.testing.population import Population, SyntheticPerson
from ssgateway.xmlsafe import parse_xml
from ssgateway_adapters.provincial_soap import ProvincialSoapAdapter

URL = "https://henan.province.test/ws/provincial"
WRITER = EnvelopeWriter(GI)


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        yield router


@pytest.fixture(scope="module")
def someone(population: Population) -> SyntheticPerson:
    return population.people_in("41")[0]


async def started(catalog: MappingCatalog | None = None, **config: object) -> ProvincialSoapAdapter:
    cls = default_registry().get("provincial-soap")  # the installed entry point
    settings = cls.config_model.model_validate({"endpoint": URL, "timeout": 2, **config})
    services = {"mappings": catalog} if catalog is not None else {}
    adapter = cls(settings, AdapterContext(partner="henan", regions=("41",), services=services))
    await adapter.start()
    assert isinstance(adapter, ProvincialSoapAdapter)
    return adapter


@pytest.fixture
async def adapter() -> AsyncIterator[ProvincialSoapAdapter]:
    henan = await started(wsse={"username": "gateway", "password": "s3cret"})
    yield henan
    await henan.close()


def person_answer(population: Population, person: SyntheticPerson) -> bytes:
    fields = {
        "AAC001": person.person_number("41"),
        "AAC002": person.citizen_id,
        "AAC003": person.name,
        "AAC004": person.gender,
        "AAC006": f"{person.birth_date:%Y%m%d}",
        "AAB301": person.spells_in("41")[-1].region,
    }
    return WRITER.person(fields, population.enrolments(person.citizen_id, "41"))


async def test_the_request_is_built_by_the_mapping_and_signed(
    mock: respx.MockRouter, adapter: ProvincialSoapAdapter, population: Population, someone: SyntheticPerson
) -> None:
    route = mock.post(URL).mock(return_value=httpx.Response(200, content=person_answer(population, someone)))
    found = await adapter.call("person.lookup", PersonQuery(citizen_id=someone.citizen_id, region="410105"))
    assert isinstance(found, PersonRecord) and found.person.name.reveal() == someone.name
    request = route.calls.last.request
    assert request.headers["soapaction"] == '"urn:ssgateway:golden-insurance:v1#QueryPerson"'
    envelope = parse_xml(request.content)
    assert envelope.findtext(f".//{GI.tag('QueryPersonRequest')}/{GI.tag('AAC002')}") == someone.citizen_id
    assert check_username_token(envelope, {"gateway": "s3cret"}) == "gateway"
    assert b"s3cret" not in request.content  # a digest, never the password


async def test_an_open_history_range_sends_no_months(
    mock: respx.MockRouter, adapter: ProvincialSoapAdapter, someone: SyntheticPerson
) -> None:
    route = mock.post(URL).mock(
        return_value=httpx.Response(200, content=WRITER.contributions(someone.citizen_id, []))
    )
    await adapter.call("contributions.history", HistoryQuery(citizen_id=someone.citizen_id))
    await adapter.call(
        "contributions.history", HistoryQuery(citizen_id=someone.citizen_id, from_period="2019-01")
    )
    first, second = (parse_xml(call.request.content) for call in route.calls)
    assert first.find(f".//{GI.tag('AAE041')}") is None and first.find(f".//{GI.tag('AAE042')}") is None
    assert second.findtext(f".//{GI.tag('AAE041')}") == "201901"


async def test_rows_that_do_not_validate_become_rejections(
    mock: respx.MockRouter, adapter: ProvincialSoapAdapter, population: Population, someone: SyntheticPerson
) -> None:
    other = next(p for p in population.people if p.citizen_id != someone.citizen_id)
    rows = list(population.contributions(someone.citizen_id, "41")[:5])
    rows[1] = replace(rows[1], insurance_type="999")
    rows[2] = replace(rows[2], citizen_id=other.citizen_id)
    rows[3] = replace(rows[3], paid_status="9")
    rows[4] = replace(
        rows[4], citizen_id=someone.citizen_id[:17] + ("0" if someone.citizen_id[17] != "0" else "1")
    )
    mock.post(URL).mock(
        return_value=httpx.Response(200, content=WRITER.contributions(someone.citizen_id, rows))
    )
    history = await adapter.call("contributions.history", HistoryQuery(citizen_id=someone.citizen_id))
    assert isinstance(history, ContributionHistory)
    assert len(history.records) == 1 and not history.complete
    found = [(r.source, r.position, r.field, r.reason) for r in history.rejections]
    assert found == [
        ("henan", 2, "insurance_type", "code '999' is not in code list aae140-current"),
        ("henan", 3, "citizen_id", "a record of another person"),
        ("henan", 4, "paid_status", "code '9' is not in code list aae114-paid-status"),
        ("henan", 5, "citizen_id", "the check character does not match (GB 11643)"),
    ]
    assert history.rejections[1].raw == f"{other.citizen_id[:6]}********{other.citizen_id[14:]}"
    assert history.rejections[2].raw == "9"
    text = history.model_dump_json()
    assert other.citizen_id not in text and rows[4].citizen_id not in text


async def test_a_history_that_lost_rows_is_refused(
    mock: respx.MockRouter, adapter: ProvincialSoapAdapter, population: Population, someone: SyntheticPerson
) -> None:
    rows = population.contributions(someone.citizen_id, "41")[:3]
    answer = WRITER.contributions(someone.citizen_id, rows).replace(b"<gi:count>3<", b"<gi:count>4<")
    mock.post(URL).mock(return_value=httpx.Response(200, content=answer))
    with pytest.raises(PermanentError, match="announced 4 rows but held 3") as caught:
        await adapter.call("contributions.history", HistoryQuery(citizen_id=someone.citizen_id))
    assert caught.value.code == "partner.invalid_answer"


async def test_province_faults(
    mock: respx.MockRouter, adapter: ProvincialSoapAdapter, someone: SyntheticPerson
) -> None:
    query = PersonQuery(citizen_id=someone.citizen_id, region="410105")
    fault = WRITER.fault("Client.NotFound", "not found", "E2001", f"person {someone.citizen_id} not found")
    mock.post(URL).mock(return_value=httpx.Response(500, content=fault))
    with pytest.raises(NotFound) as missing:
        await adapter.call("person.lookup", query)
    assert missing.value.code == "person.not_found" and missing.value.details["partner_code"] == "E2001"
    assert someone.citizen_id not in str(missing.value)
    assert isinstance(missing.value.__cause__, PermanentError)
    # the same fault on a history: the province holds nothing for the person
    empty = await adapter.call("contributions.history", HistoryQuery(citizen_id=someone.citizen_id))
    assert isinstance(empty, ContributionHistory) and not empty.records and empty.complete

    busy = WRITER.fault("Server.Busy", "busy", "E9001", "later")
    mock.post(URL).mock(return_value=httpx.Response(500, content=busy, headers={"retry-after": "3"}))
    with pytest.raises(TransientError) as transient:
        await adapter.call("person.lookup", query)
    assert (transient.value.partner_code, transient.value.retry_after) == ("E9001", 3.0)

    mock.post(URL).mock(
        return_value=httpx.Response(500, content=WRITER.fault("Client.Invalid", "x", "E1001", "bad"))
    )
    with pytest.raises(PermanentError) as invalid:
        await adapter.call("person.lookup", query)
    assert type(invalid.value) is PermanentError and invalid.value.partner_code == "E1001"


async def test_not_found_codes_are_configurable(mock: respx.MockRouter, someone: SyntheticPerson) -> None:
    adapter = await started(not_found_faults=["Client.NoSuchPerson"])
    try:
        query = PersonQuery(citizen_id=someone.citizen_id, region="410105")
        mock.post(URL).mock(
            return_value=httpx.Response(500, content=WRITER.fault("Client.NotFound", "x", "E2001", "-"))
        )
        with pytest.raises(PermanentError):
            await adapter.call("person.lookup", query)
        mock.post(URL).mock(
            return_value=httpx.Response(500, content=WRITER.fault("Client.NoSuchPerson", "x", "E7", "-"))
        )
        with pytest.raises(NotFound):
            await adapter.call("person.lookup", query)
    finally:
        await adapter.close()


async def test_answers_about_someone_else_are_refused(
    mock: respx.MockRouter, adapter: ProvincialSoapAdapter, population: Population, someone: SyntheticPerson
) -> None:
    other = next(p for p in population.people_in("41") if p.citizen_id != someone.citizen_id)
    mock.post(URL).mock(return_value=httpx.Response(200, content=person_answer(population, other)))
    with pytest.raises(PermanentError, match="another person") as caught:
        await adapter.call("person.lookup", PersonQuery(citizen_id=someone.citizen_id, region="410105"))
    assert caught.value.code == "partner.invalid_answer" and other.citizen_id not in str(caught.value)


async def test_an_answer_that_does_not_map_is_refused(
    mock: respx.MockRouter, adapter: ProvincialSoapAdapter, someone: SyntheticPerson
) -> None:
    no_person = WRITER.person(
        dict.fromkeys(("AAC001", "AAC002", "AAC003", "AAC004", "AAC006", "AAB301"), ""), []
    )
    mock.post(URL).mock(return_value=httpx.Response(200, content=no_person))
    with pytest.raises(PermanentError, match=r"QueryPerson answer is unusable: person\.citizen_id"):
        await adapter.call("person.lookup", PersonQuery(citizen_id=someone.citizen_id, region="410105"))
    wrong = WRITER.acceptance("LX1", "ZY41-1", "20240628120000")  # an answer to another operation
    mock.post(URL).mock(return_value=httpx.Response(200, content=wrong))
    with pytest.raises(PermanentError, match="holds no QueryPersonResponse element"):
        await adapter.call("person.lookup", PersonQuery(citizen_id=someone.citizen_id, region="410105"))


async def test_an_acceptance_takes_its_regions_from_the_request(
    mock: respx.MockRouter, adapter: ProvincialSoapAdapter, someone: SyntheticPerson
) -> None:
    submission = TransferSubmission(
        certificate_number="ZY41-1",
        citizen_id=someone.citizen_id,
        from_region="410105",
        to_region="440106",
        receiving_account="44-POOL",
    )  # type: ignore[arg-type]
    route = mock.post(URL).mock(
        return_value=httpx.Response(200, content=WRITER.acceptance("LX1", "ZY41-1", "20240628120000"))
    )
    accepted = await adapter.call("transfer.submit", submission)
    assert isinstance(accepted, TransferAcceptance)
    assert (accepted.letter_number, str(accepted.from_region), str(accepted.to_region)) == (
        "LX1",
        "410105",
        "440106",
    )
    sent = parse_xml(route.calls.last.request.content)
    assert sent.findtext(f".//{GI.tag('certificateNo')}") == "ZY41-1"
    assert sent.findtext(f".//{GI.tag('receivingDivision')}") == "440106"
    mock.post(URL).mock(
        return_value=httpx.Response(200, content=WRITER.acceptance("LX2", "ZY41-2", "20240628120000"))
    )
    with pytest.raises(PermanentError, match="another certificate"):
        await adapter.call("transfer.submit", submission)


async def test_regions_it_does_not_serve_are_not_asked(
    mock: respx.MockRouter, adapter: ProvincialSoapAdapter, someone: SyntheticPerson
) -> None:
    route = mock.post(URL)
    with pytest.raises(NotFound, match="serves regions 41, not 440106") as caught:
        await adapter.call("person.lookup", PersonQuery(citizen_id=someone.citizen_id, region="440106"))
    assert caught.value.code == "route.none" and not route.called


async def test_a_request_the_mapping_cannot_write_is_invalid(
    mock: respx.MockRouter, tmp_path: Path, someone: SyntheticPerson
) -> None:
    (tmp_path / "strict").mkdir()
    (tmp_path / "strict" / "query-contributions-request.yaml").write_text(
        "id: strict/query-contributions-request\nversion: 1\ndescription: months required\ndirection: outbound\nformat: xml\n"
        "entity: HistoryQuery\nxml: {namespaces: {gi: 'urn:ssgateway:golden-insurance:v1'}, "
        "record: gi:QueryContributionsRequest}\nfields:\n  gi:AAC002: {source: citizen_id}\n"
        "  gi:AAE041: {source: from_period, transforms: [{type: required}, {type: format_month, pattern: YYYYMM}]}\n",
        encoding="utf-8",
    )
    adapter = await started(
        MappingCatalog([tmp_path]),
        operations={"contributions.history": {"request": "strict/query-contributions-request"}},
    )
    route = mock.post(URL)
    try:
        with pytest.raises(RequestInvalid, match="gi:AAE041: required field is empty"):
            await adapter.call("contributions.history", HistoryQuery(citizen_id=someone.citizen_id))
    finally:
        await adapter.close()
    assert not route.called
