from __future__ import annotations

import pytest
from lxml import etree

from ssgateway.errors import InputError, PermanentError, XMLSecurityError
from ssgateway.soap import RecordStream, iter_records, record_texts
from ssgateway.testing.dialect import LOWERCASE_DIALECT, REFERENCE_DIALECT
from ssgateway.testing.envelopes import EnvelopeWriter
from ssgateway.testing.population import Population

ROW = REFERENCE_DIALECT.tag("row")


@pytest.fixture(scope="module")
def document() -> tuple[bytes, int]:
    population = Population.generate(seed=5, size=10)
    person = population.people[0]
    rows = list(population.bulk_contributions(person.citizen_id, 3000, "41"))
    return EnvelopeWriter(REFERENCE_DIALECT).contributions(person.citizen_id, rows), len(rows)


def chunks(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize("size", [1, 7, 4096, 1 << 20])
def test_every_record_arrives_whatever_the_chunking(document: tuple[bytes, int], size: int) -> None:
    data, count = document
    if size == 1:
        cut = data.index(b"<gi:row>", 20_000)  # a byte at a time: keep it short
        data = data[:cut] + data[data.rindex(b"</gi:row>") + len(b"</gi:row>") :]
        count = data.count(b"<gi:row>")
    stream = RecordStream(ROW)
    seen = []
    for chunk in chunks(data, size):
        seen += [record_texts(r) for r in stream.feed(chunk)]
    seen += [record_texts(r) for r in stream.close()]
    assert len(seen) == count == stream.count
    assert stream.values[REFERENCE_DIALECT.tag("count")] == str(document[1])
    assert set(seen[0]) == {"AAC001", "AAC002", "AAC003", "AAC004", "AAB001", "BAB010", "AAE140", "AAE003",
                            "AAE180", "AAE480", "AAE481", "AAE143", "AAE114", "AAB301", "AAB191"}  # fmt: skip


def test_records_are_freed_as_the_stream_moves_on(document: tuple[bytes, int]) -> None:
    data, _ = document
    previous: etree._Element | None = None
    most = 0
    for record in iter_records(chunks(data, 8192), ROW):
        assert len(record) == 15
        if previous is not None:
            assert len(previous) == 0  # cleared once the next record was asked for
        parent = record.getparent()
        assert parent is not None
        most = max(most, len(parent))
        previous = record
    # The tree holds the current record, the cleared one before it and those parsed ahead in the chunk.
    assert most < 40


def test_a_mapping_can_read_records_with_compiled_xpath(document: tuple[bytes, int]) -> None:
    data, _ = document
    period = etree.XPath("string(gi:AAE003)", namespaces={"gi": REFERENCE_DIALECT.namespace})
    periods = [period(r) for r in iter_records(chunks(data, 65536), ROW)]
    assert periods[0] == "202406" and all(len(p) == 6 for p in periods)


def test_another_dialect_streams_with_its_own_record_name() -> None:
    population = Population.generate(seed=5, size=10)
    person = population.people[0]
    data = EnvelopeWriter(LOWERCASE_DIALECT).contributions(
        person.citizen_id, population.contributions(person.citizen_id)
    )
    records = [record_texts(r) for r in iter_records(chunks(data, 1000), LOWERCASE_DIALECT.tag("row"))]
    assert records and all("aac002" in r for r in records)


def test_a_fault_in_the_stream_goes_to_the_handler() -> None:
    data = EnvelopeWriter(REFERENCE_DIALECT).fault("Server.Busy", "busy", "E9001", "later")
    with pytest.raises(PermanentError, match=r"saw Server\.Busy"):
        list(iter_records([data], ROW, on_fault=lambda f: PermanentError(f"saw {f[0].text.split(':')[1]}")))


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"<!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>", XMLSecurityError),
        (b"<root><gi:row xmlns:gi='urn:ssgateway:golden-insurance:v1'/></root>", InputError),
        (b"<root/>", InputError),
        (b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><x>', InputError),
        (
            b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body/></s:Envelope>',
            InputError,
        ),
    ],
    ids=["doctype", "not-an-envelope-with-rows", "not-an-envelope", "truncated", "empty-body"],
)
def test_bad_documents_raise_typed_errors(data: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        list(iter_records(chunks(data, 10), ROW))


def test_plain_documents_stream_without_an_envelope() -> None:
    data = b"<export><count>2</count><row><a>1</a></row><row><a>2</a></row></export>"
    stream = RecordStream("row", envelope=False)
    texts = [record_texts(r) for c in chunks(data, 5) for r in stream.feed(c)] + [
        record_texts(r) for r in stream.close()
    ]
    assert texts == [{"a": "1"}, {"a": "2"}]
    assert stream.values == {"count": "2"}
