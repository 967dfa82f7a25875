"""Hardened parsing of XML from outside: explicit lxml settings, and no DOCTYPE ever reaches the parser.

Every document from outside (partner responses, WSDLs, XSDs, files to translate) goes through
:func:`parse_xml` or, when it is streamed, through a :class:`PrologGuard` before an lxml parser built by
:func:`hardened_parser` or :func:`hardened_pull_parser` sees it. The guard reads the prolog (what
precedes the root element) and refuses any ``<!DOCTYPE`` with :class:`~ssgateway.errors.XMLSecurityError`,
so entity bombs, external entities and DTD fetches are refused before parsing starts; the parser settings
are the second line.
"""

from __future__ import annotations

import codecs
from typing import Any, Final, Literal

from lxml import etree

from ssgateway.errors import InputError, XMLSecurityError
from ssgateway.masking import mask_text

__all__ = [
    "PARSER_OPTIONS",
    "PrologGuard",
    "hardened_parser",
    "hardened_pull_parser",
    "parse_xml",
]

PARSER_OPTIONS: Final[dict[str, Any]] = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "dtd_validation": False,
    "huge_tree": False,
    "remove_comments": True,
    "remove_pis": True,
    "collect_ids": False,
}
"""The lxml parser settings every partner document is parsed with (lxml's defaults are not relied on)."""

PROLOG_LIMIT: Final = 64 * 1024
"""Bytes allowed before the root element; a longer prolog is refused."""

_WHITESPACE = " \t\r\n\ufeff"


def hardened_parser() -> etree.XMLParser:
    """A new lxml parser with :data:`PARSER_OPTIONS` (parsers are not thread-safe: one per use)."""
    parser: etree.XMLParser = etree.XMLParser(**PARSER_OPTIONS)
    return parser


def hardened_pull_parser(
    *, events: tuple[Literal["start", "end"], ...] = ("end",), tag: Any = None
) -> etree.XMLPullParser:
    """A new lxml pull parser with :data:`PARSER_OPTIONS`, for documents fed in chunks.

    Feed it only what a :class:`PrologGuard` has passed.
    """
    return etree.XMLPullParser(events=events, tag=tag, **PARSER_OPTIONS)


def _decoder_for(head: bytes) -> codecs.IncrementalDecoder:
    if head.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff", b"\x00\x00\x00<")):
        raise InputError("UTF-32 XML is not accepted")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return codecs.getincrementaldecoder("utf-16")(errors="replace")
    if head.startswith(b"<\x00"):
        return codecs.getincrementaldecoder("utf-16-le")(errors="replace")
    if head.startswith(b"\x00<"):
        return codecs.getincrementaldecoder("utf-16-be")(errors="replace")
    # ASCII-compatible encodings (UTF-8, GB18030, GBK): markup characters never occur inside a multi-byte
    # character, so a byte-per-character view finds the same markup.
    return codecs.getincrementaldecoder("latin-1")()


class PrologGuard:
    """Reads a document's prolog as it arrives and refuses a DOCTYPE before the parser sees it.

    Feed every chunk to :meth:`feed` before handing it to the parser; once :attr:`done` is true (the root
    element has started) the guard has nothing more to check and feeding it is free.

    Raises:
        XMLSecurityError: the prolog holds a ``<!DOCTYPE`` (or any other ``<!`` declaration), or is longer
            than ``limit`` bytes.
        InputError: the document is UTF-32.
    """

    __slots__ = ("_consumed", "_decoder", "_head", "_limit", "_seen", "_text", "done")

    def __init__(self, limit: int = PROLOG_LIMIT) -> None:
        self._limit = limit
        self._seen = 0
        self._head = b""
        self._decoder: codecs.IncrementalDecoder | None = None
        self._text = ""
        self._consumed = 0
        self.done = False

    def feed(self, data: bytes) -> None:
        """Check the next chunk of the document."""
        if self.done or not data:
            return
        if self._decoder is None:
            self._head += data
            if len(self._head) < 4:
                return
            self._decoder = _decoder_for(self._head)
            data, self._head = self._head, b""
        self._seen += len(data)
        self._text += self._decoder.decode(data)
        self._scan()
        if not self.done and self._seen > self._limit:
            raise XMLSecurityError(f"the XML prolog is longer than {self._limit} bytes")

    def close(self) -> None:
        """The document ended; check what is left of a very short document."""
        if not self.done and self._decoder is None and self._head:
            self._decoder = _decoder_for(self._head.ljust(4, b" "))
            self._text = self._decoder.decode(self._head)
            self._scan()

    def _scan(self) -> None:
        text = self._text
        i = 0
        n = len(text)
        while i < n:
            ch = text[i]
            if ch in _WHITESPACE:
                i += 1
                continue
            if ch != "<":
                self.done = True  # text before the root: the parser reports it as malformed
                break
            rest = text[i : i + 4]
            if rest.startswith("<?"):
                end = text.find("?>", i + 2)
                if end < 0:
                    break
                i = end + 2
            elif rest == "<!--":
                end = text.find("-->", i + 4)
                if end < 0:
                    break
                i = end + 3
            elif rest.startswith("<!"):
                if "<!--".startswith(rest):
                    break  # not enough yet to tell a comment from a declaration
                raise XMLSecurityError("XML with a DOCTYPE declaration is not accepted", code="xml.doctype")
            elif len(rest) == 1:
                break
            else:
                self.done = True  # the root element starts here
                break
        self._consumed += i
        self._text = text[i:]
        if self.done:
            self._text = ""
            if self._consumed > self._limit:
                raise XMLSecurityError(f"the XML prolog is longer than {self._limit} bytes")


def parse_xml(data: bytes, *, what: str = "document") -> etree._Element:
    """Parse a whole partner document with the hardened settings and return its root element.

    Args:
        data: the document's bytes (never ``str``: the XML declaration decides the encoding).
        what: how to name the document in error messages (``"response of QueryPerson"``).

    Raises:
        XMLSecurityError: a DOCTYPE, or a prolog over the limit.
        InputError: not well-formed XML, or empty.
    """
    guard = PrologGuard()
    guard.feed(data)
    guard.close()
    try:
        root = etree.fromstring(data, hardened_parser())
    except etree.XMLSyntaxError as exc:
        raise InputError(f"{what} is not well-formed XML: {mask_text(str(exc.msg))}") from exc
    if root is None:
        raise InputError(f"{what} is empty")
    if root.getroottree().docinfo.doctype:  # unreachable past the guard; kept as a second line
        raise XMLSecurityError("XML with a DOCTYPE declaration is not accepted", code="xml.doctype")
    return root
