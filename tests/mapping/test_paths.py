"""Getters compiled from source expressions behave as the XPath they stand for."""

from __future__ import annotations

import pytest
from lxml import etree

from ssgateway.mapping.paths import xml_getter, xml_list_getter

NS = {"gi": "urn:ssgateway:golden-insurance:v1"}
RECORD = etree.fromstring(
    b'<gi:row xmlns:gi="urn:ssgateway:golden-insurance:v1" xmlns:o="urn:other">'
    b"<gi:AAC002>110105194912310029</gi:AAC002><gi:AAC003/><gi:AAE140>110</gi:AAE140><gi:AAE140>120</gi:AAE140>"
    b"<o:AAC002>other namespace</o:AAC002><gi:unit><gi:AAB001>41000001</gi:AAB001></gi:unit>"
    b"<plain>no namespace</plain></gi:row>"
)


@pytest.mark.parametrize(
    "expr",
    ["gi:AAC002", "gi:AAC003", "gi:AAE140", "gi:missing", "gi:unit/gi:AAB001", "gi:unit/gi:none", "plain"],
)
def test_a_path_getter_answers_as_findtext(expr: str) -> None:
    clark = "/".join(
        f"{{{NS[step.split(':')[0]]}}}{step.split(':')[1]}" if ":" in step else step
        for step in expr.split("/")
    )
    assert xml_getter(expr, NS)(RECORD) == RECORD.findtext(clark)


def test_child_text_keeps_findtext_semantics() -> None:
    assert xml_getter("gi:AAC002", NS)(RECORD) == "110105194912310029"
    assert xml_getter("gi:AAC003", NS)(RECORD) == ""  # present, empty
    assert xml_getter("gi:missing", NS)(RECORD) is None
    assert xml_getter("gi:AAE140", NS)(RECORD) == "110"  # the first of several
    assert xml_getter("plain", NS)(RECORD) == "no namespace"


def test_real_xpath_and_lists() -> None:
    assert xml_getter("count(gi:AAE140)", NS)(RECORD) == "2"
    assert [e.text for e in xml_list_getter("gi:AAE140", NS)(RECORD)] == ["110", "120"]
