from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

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
