"""Streaming bulk responses: records handed out one at a time, the tree never built.

A ``QueryContributions`` answer for a long history holds 100,000+ rows (~50 MB). zeep would build the
whole tree and then an object per row (hundreds of MiB); :class:`RecordStream` is fed the body in chunks,
hands out each record element (``{ns}row``) as soon as it is complete, and clears it once the consumer
moves on, so memory stays flat whatever the response size.

The records are plain lxml elements: a compiled mapping extracts fields with precompiled XPath, or
:func:`record_texts` gives a flat dict of child texts. A record element is valid only until the next one
is requested; copy what you need.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from lxml import etree

from ssgateway.errors import InputError
from ssgateway.masking import mask_text
from ssgateway.soap.namespaces import SOAP11_ENV
from ssgateway.xmlsafe import PrologGuard, hardened_pull_parser

__all__ = ["RecordStream", "iter_records", "record_texts"]

_ENVELOPE = f"{{{SOAP11_ENV}}}Envelope"
_FAULT = f"{{{SOAP11_ENV}}}Fault"
_BODY = f"{{{SOAP11_ENV}}}Body"
FaultHandler = Callable[[etree._Element], BaseException]
_MAX_VALUES = 256


def _default_fault(fault: etree._Element) -> BaseException:
    return InputError("the response is a SOAP fault")


class RecordStream:
    """Incremental parser that yields each record element of a document fed in chunks.

    Args:
        record_tag: the record element's Clark name, e.g. ``{urn:ssgateway:golden-insurance:v1}row``.
        envelope: require a SOAP 1.1 envelope and watch for a ``soap:Fault`` (default); ``False`` for plain
            XML documents.
        on_fault: turns a complete ``soap:Fault`` element into the exception to raise.

    After the document ends, :attr:`values` holds the text of the simple (childless) elements beside the
    records and in the payload (``{ns}count`` → ``"100000"``, ``{ns}AAC002`` → …, at most 256), and
    :attr:`count` the number of records handed out.

    Raises (from :meth:`feed` and :meth:`close`):
        XMLSecurityError: a DOCTYPE or an overlong prolog.
        InputError: malformed or incomplete XML, no SOAP envelope.
        the exception ``on_fault`` returns, when the body is a fault.
    """

    def __init__(
        self, record_tag: str, *, envelope: bool = True, on_fault: FaultHandler = _default_fault
    ) -> None:
        self.record_tag = record_tag
        self.count = 0
        self.values: dict[str, str] = {}
        self._envelope = envelope
        self._on_fault = on_fault
        self._guard = PrologGuard()
        tags = (record_tag, _FAULT) if envelope else (record_tag,)
        self._parser = hardened_pull_parser(events=("end",), tag=tags)
        self._root_checked = not envelope
        self._root: etree._Element | None = None

    def feed(self, data: bytes) -> Iterator[etree._Element]:
        """Parse the next chunk; yields every record it completes (cleared when the next is asked for)."""
        if not self._guard.done:
            self._guard.feed(data)
        try:
            self._parser.feed(data)
        except etree.XMLSyntaxError as exc:
            raise InputError(f"the response is not well-formed XML: {mask_text(str(exc.msg))}") from exc
        yield from self._drain()

    def close(self) -> Iterator[etree._Element]:
        """The document ended: yields the last records and checks the document was complete."""
        self._guard.close()
        try:
            root = self._parser.close()
        except etree.XMLSyntaxError as exc:
            raise InputError(f"the response is incomplete or malformed: {mask_text(str(exc.msg))}") from exc
        yield from self._drain()
        self._check_root(root)
        self._collect_values(root)

    def _check_root(self, element: etree._Element) -> None:
        if self._root_checked:
            return
        root = element.getroottree().getroot()
        if root.tag != _ENVELOPE:
            raise InputError(f"the response is not a SOAP 1.1 envelope (root {mask_text(str(root.tag))})")
        self._root_checked = True

    def _drain(self) -> Iterator[etree._Element]:
        record_tag = self.record_tag
        for _event, element in self._parser.read_events():
            if not self._root_checked:
                self._check_root(element)
            if element.tag != record_tag:
                raise self._on_fault(element)
            self.count += 1
            yield element
            # Free the record and everything before it; the ancestors stay, empty.
            element.clear(keep_tail=False)
            parent = element.getparent()
            if parent is not None:
                while (previous := element.getprevious()) is not None:
                    if previous.tag != record_tag:
                        self._keep_value(previous)
                    del parent[0]

    def _keep_value(self, element: etree._Element) -> None:
        if isinstance(element.tag, str) and len(element) == 0 and len(self.values) < _MAX_VALUES:
            self.values.setdefault(element.tag, (element.text or "").strip())

    def _collect_values(self, root: etree._Element) -> None:
        body = root.find(_BODY) if self._envelope else None
        payload = (body[0] if body is not None and len(body) else None) if self._envelope else root
        if payload is None:
            if self._envelope:
                raise InputError("the SOAP body is empty")
            return
        for child in payload:
            if child.tag != self.record_tag:
                self._keep_value(child)


def iter_records(
    chunks: Iterable[bytes],
    record_tag: str,
    *,
    envelope: bool = True,
    on_fault: FaultHandler = _default_fault,
) -> Iterator[etree._Element]:
    """Every record element of a document given as chunks of bytes (see :class:`RecordStream`)."""
    stream = RecordStream(record_tag, envelope=envelope, on_fault=on_fault)
    for chunk in chunks:
        yield from stream.feed(chunk)
    yield from stream.close()


_LOCAL_NAMES: dict[str, str] = {}


def record_texts(record: etree._Element) -> dict[str, str]:
    """A record's child elements as ``{local name: text}`` (text as sent; empty elements give ``""``)."""
    names = _LOCAL_NAMES
    out: dict[str, str] = {}
    for child in record:
        tag = child.tag
        if not isinstance(tag, str):
            continue
        local = names.get(tag)
        if local is None:
            local = tag.rpartition("}")[2]
            if len(names) < 4096:  # partner data decides the tags: keep the cache bounded
                names[tag] = local
        out[local] = child.text or ""
    return out
