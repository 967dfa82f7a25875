"""Acceptance: hostile XML is refused with a typed error, fetches nothing, reads nothing, leaks nothing.

Every file of the defusedxml corpus (and variants whose references point at a canary listener on
127.0.0.1 and at a local secret file) is served by the simulator as a SOAP response — read whole, read
through zeep, streamed — and offered as a WSDL, from a configured directory and over HTTP.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import tracemalloc
import uuid
from pathlib import Path

import pytest
from tests.canaries import FifoCanary

from ssgateway.errors import ConfigError, InputError, ResponseTooLarge, SSGatewayError, XMLSecurityError
from ssgateway.soap import SoapClient, SoapSettings, iter_records, load_contract
from ssgateway.testing.canary import Canary
from ssgateway.testing.dialect import REFERENCE_DIALECT
from ssgateway.testing.faultplan import FaultKind, gzip_bomb
from ssgateway.testing.population import SyntheticPerson
from ssgateway.testing.provincial import ProvincialSimulator

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "xml-attacks" / "defusedxml"
FILES = sorted(p.name for p in CORPUS.iterdir())
SECRET = f"LOCAL-SECRET-{uuid.uuid4().hex}"


@pytest.fixture(scope="module")
def secret_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("outside") / "secret.xml"
    path.write_text(f"<secret>{SECRET}</secret>", encoding="utf-8")
    return path


def _aimed(name: str, canary: Canary, secret: Path) -> bytes:
    """The corpus file with its external references aimed at the canary and at the secret file."""
    text = (CORPUS / name).read_bytes().decode("utf-8", "replace")
    for remote in (
        "http://www.w3schools.com/xml/note.xml",
        "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd",
        "http://www.w3.org/2001/xml.xsd",
        "https://example.invalid/invalid.xsd",
    ):
        text = text.replace(remote, f"{canary.url}/{name}")
    text = text.replace("file:///PATH/TO/xmltestdata/simple.xml", secret.as_uri())
    return text.encode()


def _documents(canary: Canary, secret: Path) -> list[tuple[str, bytes]]:
    docs = [(name, (CORPUS / name).read_bytes()) for name in FILES]
    aimed = [(f"{name} (aimed)", _aimed(name, canary, secret)) for name in FILES]
    return docs + [(label, data) for label, data in aimed if data not in {d for _, d in docs}]


def _expected(data: bytes) -> type[SSGatewayError]:
    return XMLSecurityError if b"<!DOCTYPE" in data else InputError


def _all_text(exc: BaseException) -> str:
    parts = []
    seen: BaseException | None = exc
    while seen is not None:
        parts += [str(seen), repr(seen), str(getattr(seen, "details", ""))]
        seen = seen.__cause__ or seen.__context__
    return "\n".join(parts)


def test_the_corpus_is_complete() -> None:
    assert {"LICENSE-PSF", "SOURCE.txt", "xmlbomb.xml", "external_file.xml", "quadratic.xml"} <= set(FILES)
    assert len(FILES) == 15


async def test_every_attack_served_as_a_response_is_refused(
    simulator: ProvincialSimulator,
    client: SoapClient,
    henan_person: SyntheticPerson,
    canary: Canary,
    secret_file: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    row = REFERENCE_DIALECT.tag("row")
    texts = []
    for label, data in _documents(canary, secret_file):
        expected = _expected(data)
        simulator.faults.clear()
        simulator.faults.add(FaultKind.BODY, body=data)
        for way in ("whole", "zeep", "stream"):
            with pytest.raises(SSGatewayError) as caught:
                if way == "whole":
                    await client.call("QueryPerson", AAC002=henan_person.citizen_id)
                elif way == "zeep":
                    await client.call_zeep("QueryPerson", AAC002=henan_person.citizen_id)
                else:
                    async with client.stream("QueryContributions", row, AAC002=henan_person.citizen_id) as s:
                        async for _ in s:
                            pass
            assert type(caught.value) is expected, (label, way, caught.value)
            texts.append(_all_text(caught.value))
    assert canary.hits == 0
    out, err = capfd.readouterr()
    everything = "\n".join([*texts, caplog.text, out, err])
    assert SECRET not in everything
    assert "BBBBBBBBBB" not in everything  # no entity of quadratic.xml was expanded into a message


@pytest.mark.parametrize("name", FILES)
def test_every_attack_offered_as_a_wsdl_is_refused(
    name: str, tmp_path: Path, canary: Canary, secret_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for data in {(CORPUS / name).read_bytes(), _aimed(name, canary, secret_file)}:
        wsdl = tmp_path / "service.wsdl"
        wsdl.write_bytes(data)
        expected = XMLSecurityError if b"<!DOCTYPE" in data else ConfigError
        with pytest.raises(expected) as caught:
            load_contract(wsdl, roots=[tmp_path])
        assert SECRET not in _all_text(caught.value)
    assert canary.hits == 0
    assert SECRET not in caplog.text


def test_schema_include_as_an_imported_xsd_is_refused(
    tmp_path: Path, canary: Canary, secret_file: Path
) -> None:
    # The corpus XSD imports two remote schemas; as a WSDL's XSD, its imports must be refused, not fetched.
    source = REFERENCE_DIALECT.wsdl.read_text(encoding="utf-8")
    (tmp_path / "provincial.wsdl").write_text(source.replace("provincial.xsd", "evil.xsd"), encoding="utf-8")
    (tmp_path / "evil.xsd").write_bytes(_aimed("schema-include.xsd", canary, secret_file))
    with pytest.raises(XMLSecurityError, match="refused"):
        load_contract(tmp_path / "provincial.wsdl", roots=[tmp_path])
    assert canary.hits == 0


@pytest.mark.parametrize(
    "location",
    ["canary", "file-uri", "absolute-outside", "relative-escape", "symlink-escape", "wsdl-import"],
)
def test_contract_imports_never_leave_the_allowed_directory(
    location: str, tmp_path: Path, canary: Canary, secret_file: Path
) -> None:
    root = tmp_path / "contracts"
    root.mkdir()
    outside_xsd = secret_file.parent / "outside.xsd"
    outside_xsd.write_bytes(REFERENCE_DIALECT.xsd.read_bytes().replace(b"<!--", f"<!-- {SECRET}".encode(), 1))
    (root / "link.xsd").symlink_to(outside_xsd)
    target = {
        "canary": f"{canary.url}/provincial.xsd",
        "file-uri": outside_xsd.as_uri(),
        "absolute-outside": str(outside_xsd),
        "relative-escape": f"../{outside_xsd.parent.name}/outside.xsd",
        "symlink-escape": "link.xsd",
        "wsdl-import": "provincial.xsd",
    }[location]
    wsdl = REFERENCE_DIALECT.wsdl.read_text(encoding="utf-8").replace(
        'schemaLocation="provincial.xsd"', f'schemaLocation="{target}"'
    )
    if location == "wsdl-import":
        wsdl = wsdl.replace(
            "<wsdl:types>", f'<wsdl:import namespace="urn:x" location="{canary.url}/x.wsdl"/><wsdl:types>'
        )
    if location == "relative-escape":
        (tmp_path / outside_xsd.parent.name).mkdir(exist_ok=True)
        (tmp_path / outside_xsd.parent.name / "outside.xsd").write_bytes(outside_xsd.read_bytes())
    (root / "provincial.xsd").write_bytes(REFERENCE_DIALECT.xsd.read_bytes())
    (root / "service.wsdl").write_text(wsdl, encoding="utf-8")
    with pytest.raises(XMLSecurityError, match="refused") as caught:
        load_contract(root / "service.wsdl", roots=[root])
    assert SECRET not in _all_text(caught.value)
    assert canary.hits == 0


async def test_a_wsdl_offered_over_http_is_never_fetched(simulator: ProvincialSimulator) -> None:
    simulator.wsdl_override = (CORPUS / "xmlbomb.xml").read_bytes()
    with pytest.raises(XMLSecurityError, match="local file"):
        load_contract(simulator.wsdl_url)
    with pytest.raises(ValueError, match="never a URL"):
        SoapSettings(endpoint=simulator.endpoint, wsdl=simulator.wsdl_url)  # type: ignore[arg-type]
    assert simulator.contract_requests == 0


async def test_a_gzip_bomb_stops_at_the_cap_with_bounded_memory(
    simulator: ProvincialSimulator, henan_person: SyntheticPerson
) -> None:
    cap = 4 * 1024 * 1024
    simulator.faults.add(FaultKind.GZIP_BOMB, size=1024 * 1024 * 1024)  # 1 GiB inflated, ~1 MB sent
    gzip_bomb(1024 * 1024 * 1024)  # built (and cached) before memory is traced
    settings = SoapSettings(endpoint=simulator.endpoint, max_response_bytes=cap, timeout=30)
    async with SoapClient(settings) as client:
        tracemalloc.start()
        try:
            with pytest.raises(ResponseTooLarge, match="larger than the limit") as caught:
                await client.call("QueryPerson", AAC002=henan_person.citizen_id)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert caught.value.code == "response.too_large"
    assert peak < 3 * cap, f"peak {peak} bytes while reading a bomb capped at {cap}"


async def test_a_streamed_gzip_bomb_stops_at_the_cap_with_flat_memory(
    simulator: ProvincialSimulator, henan_person: SyntheticPerson
) -> None:
    cap = 8 * 1024 * 1024
    opening = (
        b'<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
        b'<gi:QueryContributionsResponse xmlns:gi="urn:ssgateway:golden-insurance:v1"><gi:rows>'
    )
    row = b"<gi:row><gi:AAC002>x</gi:AAC002></gi:row>"  # inflates into endless, valid rows
    row += b" " * (64 - len(row))
    simulator.faults.add(FaultKind.GZIP_BOMB, size=1024 * 1024 * 1024, body=opening, fill=row)
    gzip_bomb(1024 * 1024 * 1024, opening, row)  # built (and cached) before memory is traced
    settings = SoapSettings(endpoint=simulator.endpoint, max_stream_bytes=cap, stream_timeout=30)
    seen = 0
    async with SoapClient(settings) as client:
        tracemalloc.start()
        try:
            with pytest.raises(ResponseTooLarge, match="larger than the limit"):
                async with client.stream(
                    "QueryContributions", REFERENCE_DIALECT.tag("row"), AAC002=henan_person.citizen_id
                ) as rows:
                    async for _ in rows:
                        seen += 1
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert seen > 120_000  # rows were handed out (and freed) until the cap
    # Flat: far below the cap, though the simulator's own buffers (same process) count too.
    assert peak < cap // 2, f"peak {peak} bytes while streaming a bomb capped at {cap}"


def _disguised(fifo: FifoCanary) -> list[tuple[str, bytes]]:
    """A DOCTYPE whose parameter entity opens the FIFO, behind a byte-order mark or in UTF-7."""
    doctype = f'<!DOCTYPE x [<!ENTITY % p SYSTEM "{fifo.path.as_uri()}"> %p;]>'
    envelope = (
        b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body/></soap:Envelope>'
    )
    utf7 = "".join(
        "+" + base64.b64encode(c.encode("utf-16-be")).decode().rstrip("=") + "-" if c in '<!>[]%;"' else c
        for c in doctype
    )
    return [
        ("bom", b"\xef\xbb\xbf" + doctype.encode() + envelope),
        ("bom+declaration", b'\xef\xbb\xbf<?xml version="1.0"?>' + doctype.encode() + envelope),
        ("utf-7", b'<?xml version="1.0" encoding="UTF-7"?>' + utf7.encode() + envelope),
    ]


async def test_a_doctype_behind_a_byte_order_mark_or_in_utf7_is_refused(
    simulator: ProvincialSimulator, client: SoapClient, henan_person: SyntheticPerson, fifo: FifoCanary
) -> None:
    row = REFERENCE_DIALECT.tag("row")
    for label, data in _disguised(fifo):
        simulator.faults.clear()
        simulator.faults.add(FaultKind.BODY, body=data)
        for way in ("whole", "zeep", "stream"):

            async def call(way: str = way) -> None:
                if way == "whole":
                    await client.call("QueryPerson", AAC002=henan_person.citizen_id)
                elif way == "zeep":
                    await client.call_zeep("QueryPerson", AAC002=henan_person.citizen_id)
                else:
                    async with client.stream("QueryContributions", row, AAC002=henan_person.citizen_id) as s:
                        async for _ in s:
                            pass

            with pytest.raises(XMLSecurityError) as caught:
                await asyncio.wait_for(call(), 10)
            assert caught.value.code in {"xml.doctype", "xml.encoding"}, (label, way)
    assert fifo.opened == 0


def test_a_streamed_doctype_behind_a_byte_order_mark_is_refused() -> None:
    # The entity would have cut the row's text at "&e;"; the stream refuses the document instead.
    ns = "urn:x"
    data = (
        b'\xef\xbb\xbf<?xml version="1.0" encoding="utf-8"?><!DOCTYPE x [<!ENTITY e "EXPANDED">]>'
        b'<x xmlns="urn:x"><row><a>a&e;b</a></row></x>'
    )
    with pytest.raises(XMLSecurityError) as caught:
        list(iter_records([data], f"{{{ns}}}row", envelope=False))
    assert caught.value.code == "xml.doctype"


def test_a_wsdl_with_a_doctype_behind_a_byte_order_mark_or_in_utf7_is_refused(
    tmp_path: Path, fifo: FifoCanary
) -> None:
    for _label, data in _disguised(fifo):
        wsdl = tmp_path / "service.wsdl"
        wsdl.write_bytes(data)
        with pytest.raises(XMLSecurityError):
            load_contract(wsdl, roots=[tmp_path])
    assert fifo.opened == 0
