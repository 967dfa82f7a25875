from __future__ import annotations

import base64
from pathlib import Path

import pytest
from lxml import etree
from tests.canaries import FifoCanary

from ssgateway.errors import InputError, XMLSecurityError
from ssgateway.xmlsafe import PARSER_OPTIONS, PrologGuard, hardened_parser, hardened_pull_parser, parse_xml

CORPUS = Path(__file__).resolve().parent / "fixtures" / "xml-attacks" / "defusedxml"
DOCTYPED = sorted(p.name for p in CORPUS.iterdir() if b"<!DOCTYPE" in p.read_bytes())


def test_the_settings_are_the_hardened_ones() -> None:
    assert PARSER_OPTIONS["resolve_entities"] is False
    assert PARSER_OPTIONS["no_network"] is True
    assert PARSER_OPTIONS["load_dtd"] is False
    assert PARSER_OPTIONS["dtd_validation"] is False
    assert PARSER_OPTIONS["huge_tree"] is False
    # Past the guard, the parser itself still neither expands nor fetches (second line of defence).
    root = etree.fromstring((CORPUS / "xmlbomb2.xml").read_bytes(), hardened_parser())
    assert "1234567890" not in etree.tostring(root).decode()


@pytest.mark.parametrize("name", DOCTYPED)
def test_a_doctype_is_refused_before_parsing(name: str) -> None:
    data = (CORPUS / name).read_bytes()
    with pytest.raises(XMLSecurityError) as caught:
        parse_xml(data)
    assert caught.value.code == "xml.doctype"
    guard = PrologGuard()
    with pytest.raises(XMLSecurityError):
        for i in range(len(data)):  # a byte at a time: the guard never needs more than it has
            guard.feed(data[i : i + 1])


@pytest.mark.parametrize(
    "document",
    [
        b'<?xml version="1.0"?>\n<!-- a comment -->\n<?pi data?>\n<!DOCTYPE x []><x/>',
        b"\xef\xbb\xbf<!DOCTYPE x><x/>",
        '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x><x/>'.encode("utf-16"),
        '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x><x/>'.encode("utf-16-le"),
        b"<!ENTITY a 'b'><x/>",
    ],
)
def test_doctypes_hidden_behind_prologs_and_encodings_are_found(document: bytes) -> None:
    with pytest.raises(XMLSecurityError):
        parse_xml(document)


def test_ordinary_documents_parse_in_any_ascii_compatible_encoding() -> None:
    assert parse_xml('<?xml version="1.0" encoding="GB18030"?><x>张三</x>'.encode("gb18030")).text == "张三"
    assert parse_xml("<!-- <x> --><x>李四</x>".encode()).text == "李四"
    assert parse_xml('<?xml version="1.0" encoding="UTF-16"?><x>王五</x>'.encode("utf-16")).text == "王五"
    with pytest.raises(InputError, match="UTF-32"):
        parse_xml("<x/>".encode("utf-32"))


def test_comments_and_processing_instructions_are_dropped() -> None:
    root = parse_xml(b"<x><!-- c --><?pi d?><y/></x>")
    assert [child.tag for child in root] == ["y"]


def test_a_long_prolog_is_refused() -> None:
    with pytest.raises(XMLSecurityError, match="prolog"):
        parse_xml(b"<!--" + b"a" * 70_000 + b"--><x/>")


@pytest.mark.parametrize("bad", [b"", b"<", b"<x>", b"text", b"<x>&undefined;</x>", b"<a></b>"])
def test_malformed_documents_are_input_errors(bad: bytes) -> None:
    with pytest.raises(InputError) as caught:
        parse_xml(bad, what="the test document")
    assert type(caught.value) is InputError
    assert "the test document" in str(caught.value)


def test_the_pull_parser_uses_the_same_settings() -> None:
    parser = hardened_pull_parser(events=("end",))
    parser.feed(b"<x><y>1</y></x>")
    assert [el.tag for _, el in parser.read_events()] == ["y", "x"]


def _utf7_markup(text: str) -> bytes:
    """``text`` with its markup characters written the UTF-7 way (``<`` is ``+ADw-``)."""
    return "".join(
        "+" + base64.b64encode(c.encode("utf-16-be")).decode().rstrip("=") + "-" if c in '<!>[]%;"' else c
        for c in text
    ).encode()


def _hostile(fifo: FifoCanary) -> str:
    return f'<!DOCTYPE x [<!ENTITY % p SYSTEM "{fifo.path.as_uri()}"> %p;]>'


def test_a_utf8_byte_order_mark_is_part_of_the_prolog(fifo: FifoCanary) -> None:
    document = b"\xef\xbb\xbf" + _hostile(fifo).encode() + b"<x/>"
    for data in (document, b'\xef\xbb\xbf<?xml version="1.0"?>' + document[3:]):
        with pytest.raises(XMLSecurityError) as caught:
            parse_xml(data)
        assert caught.value.code == "xml.doctype"
        guard = PrologGuard()
        with pytest.raises(XMLSecurityError):
            for i in range(len(data)):
                guard.feed(data[i : i + 1])
    assert fifo.opened == 0
    assert parse_xml("\ufeff<x>张三</x>".encode()).text == "张三"
    assert parse_xml(b"\xef\xbb\xbf<x/>").tag == "x"


@pytest.mark.parametrize(
    "encoding",
    ["UTF-7", "utf-7", "cp037", "ISO-2022-JP", "UTF-32", "x-unknown", "UTF-16 in an 8-bit document"],
)
def test_an_encoding_the_guard_cannot_read_markup_in_is_refused(encoding: str, fifo: FifoCanary) -> None:
    declared = encoding.split()[0]
    declaration = f'<?xml version="1.0" encoding="{declared}"?>'.encode()
    data = declaration + _utf7_markup(_hostile(fifo)) + b"<x/>"
    with pytest.raises(XMLSecurityError) as caught:
        parse_xml(data)
    assert caught.value.code == "xml.encoding"
    guard = PrologGuard()
    with pytest.raises(XMLSecurityError):
        for i in range(0, len(data), 3):
            guard.feed(data[i : i + 3])
    assert fifo.opened == 0


def test_a_utf16_document_declaring_an_8_bit_encoding_is_refused() -> None:
    with pytest.raises(XMLSecurityError, match="UTF-8"):
        parse_xml('<?xml version="1.0" encoding="UTF-8"?><x/>'.encode("utf-16"))


def test_ebcdic_markup_is_not_taken_for_text_before_the_root() -> None:
    # EBCDIC is detected by the parser from the first bytes; the guard sees no "<" and refuses.
    data = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "EXPANDED">]><x>&e;</x>'.encode("cp037")
    with pytest.raises(InputError, match="before the root"):
        parse_xml(data)


@pytest.mark.parametrize("name", ["UTF-8", "utf8", "GB18030", "gbk", "GB2312", "UTF-16"])
def test_the_accepted_encodings_parse(name: str) -> None:
    codec = "utf-16" if name == "UTF-16" else name
    data = f'<?xml version="1.0" encoding="{name}"?><x>张三</x>'.encode(codec)
    assert parse_xml(data).text == "张三"


@pytest.mark.parametrize("name", ["US-ASCII", "ISO-8859-1"])
def test_ascii_compatible_single_byte_declarations_parse(name: str) -> None:
    data = f'<?xml version="1.0" encoding="{name}"?><x>ok</x>'.encode("ascii")
    assert parse_xml(data).text == "ok"


def test_every_hardened_parser_refuses_external_entities_itself(fifo: FifoCanary, tmp_path: Path) -> None:
    # Past the guard (a document fed to the parsers directly), nothing external is opened either.
    secret = tmp_path / "secret.dtd"
    secret.write_text('<!ENTITY leak "LEAKED">', encoding="utf-8")
    for target in (fifo.path.as_uri(), str(fifo.path), secret.as_uri()):
        data = f'<!DOCTYPE x [<!ENTITY % p SYSTEM "{target}"> %p;]><x>&leak;</x>'.encode()
        for parse in (
            lambda d: etree.fromstring(d, hardened_parser()),
            lambda d: hardened_pull_parser().feed(d),
        ):
            with pytest.raises(XMLSecurityError) as caught:
                parse(data)
            assert caught.value.code == "xml.external"
        external = f'<!DOCTYPE x SYSTEM "{target}"><x/>'.encode()
        with pytest.raises(XMLSecurityError):
            etree.fromstring(external, hardened_parser())
    assert fifo.opened == 0


def test_the_hardened_parser_still_reads_shipped_schemas_by_path() -> None:
    from ssgateway.testing.dialect import REFERENCE_DIALECT

    schema = etree.XMLSchema(etree.parse(str(REFERENCE_DIALECT.xsd), hardened_parser()))
    assert schema is not None
