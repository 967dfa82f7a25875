"""Readers that turn a source file into records for a mapping, streaming.

- CSV (:mod:`ssgateway.mapping.csvfile`): rows as ``dict`` column → text, matched by header name, from a
  declared encoding; ragged rows, NUL bytes and over-long fields are rejected row by row; a file that
  cannot be decoded, lacks columns, has duplicate headers or an unterminated quote is refused whole.
- XML: every record element, by streaming with hardened settings (no DTD, no entities, no network, no
  huge trees); a document with a DOCTYPE is refused. Elements are cleared as the stream moves on.
- JSON: one record per line of a JSON Lines file, or the records of one JSON document. Numbers with a
  fraction are read as ``Decimal``, never float, so amounts stay exact.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import IO, Any

from lxml import etree

from ssgateway.errors import InputError, XMLSecurityError
from ssgateway.mapping.csvfile import read_csv
from ssgateway.mapping.outcomes import Rejection
from ssgateway.masking import mask_text
from ssgateway.xmlsafe import PrologGuard, hardened_pull_parser

__all__ = ["Record", "read_csv", "read_json", "read_xml"]

Record = tuple[int, Any] | Rejection
"""A record with its position, or a rejection the reader made itself (a ragged row, bad JSON)."""

XML_CHUNK = 64 * 1024


def _refuse_doctype(element: Any, source: str) -> None:
    if element.getroottree().docinfo.doctype:
        raise XMLSecurityError(f"{source}: XML with a DOCTYPE is refused")


def read_xml(stream: IO[bytes], *, record_tag: str, source: str) -> Iterator[tuple[int, Any]]:
    """Every ``record_tag`` element (Clark notation) of an XML stream, as ``(index, element)``, from 1.

    The element is valid until the next one is read; it is then cleared, so memory stays flat.

    Raises:
        XMLSecurityError: the document has a DOCTYPE (entities, external references).
        InputError: malformed or truncated XML.
    """
    guard = PrologGuard()
    parser = hardened_pull_parser(events=("end",), tag=record_tag)
    index = 0
    try:
        while chunk := stream.read(XML_CHUNK):
            guard.feed(chunk)  # refuses a DOCTYPE before the parser sees one
            parser.feed(chunk)
            for _event, element in parser.read_events():
                index += 1
                yield index, element
                element.clear()
                parent = element.getparent()
                while parent is not None and element.getprevious() is not None:
                    del parent[0]
        guard.close()
        root = parser.close()
    except XMLSecurityError as exc:
        raise XMLSecurityError(f"{source}: {exc.message}", code=exc.code) from exc
    except InputError as exc:  # from the guard: text before the root element
        if exc.message.startswith(f"{source}:"):
            raise
        raise InputError(f"{source}: {exc.message}", code=exc.code) from exc
    except etree.XMLSyntaxError as exc:
        raise InputError(f"{source}: malformed XML at line {exc.lineno}: {mask_text(str(exc.msg))}") from exc
    _refuse_doctype(root, source)


def read_json(stream: IO[bytes], *, source: str, records: str | None, lines: bool) -> Iterator[Record]:
    """Records of JSON Lines (``lines=True``: one object per line, bad lines rejected) or of one document.

    For a document, ``records`` is the dotted path to its array of records; without it the document is
    one record, or, if it is an array, each item is.
    """
    if lines:
        for number, raw in enumerate(stream, start=1):
            if not raw.strip():
                continue
            try:
                yield number, json.loads(raw, parse_float=Decimal)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                yield Rejection(number, f"not valid JSON: {exc}", code="record.malformed")
        return
    try:
        document = json.load(stream, parse_float=Decimal)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{source}: not valid JSON: {exc}") from exc
    items: Any = document
    for part in records.split(".") if records else []:
        items = items.get(part) if isinstance(items, dict) else None
    if records and not isinstance(items, list):
        raise InputError(f"{source}: no array of records at {records!r}")
    if isinstance(items, list):
        yield from enumerate(items, start=1)
    else:
        yield 1, items
