"""Hardened parsing of XML from outside: explicit lxml settings, and no DOCTYPE ever reaches the parser.

Every document from outside (partner responses, WSDLs, XSDs, files to translate) goes through
:func:`parse_xml` or, when it is streamed, through a :class:`PrologGuard` before an lxml parser built by
:func:`hardened_parser` or :func:`hardened_pull_parser` sees it. The guard reads the prolog (what
precedes the root element) and refuses any ``<!DOCTYPE`` with :class:`~ssgateway.errors.XMLSecurityError`,
so entity bombs, external entities and DTD fetches are refused before parsing starts. It reads the prolog
the way the parser will: a byte-order mark is part of the prolog, an encoding the guard cannot read markup
in (UTF-7, EBCDIC, ...) is refused, and so is text before the root element. The parser settings are the
second line, and every hardened parser carries a resolver that refuses to open any external entity or
DTD (``file:`` included), the third.
"""

from __future__ import annotations

import codecs
import os
import re
from pathlib import Path
from typing import Any, Final, Literal

from lxml import etree

from ssgateway.errors import InputError, XMLSecurityError
from ssgateway.masking import mask_text
from ssgateway.resources import shipped_contracts_dir

__all__ = [
    "PARSER_OPTIONS",
    "XML_ENCODINGS",
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
_UTF8_BOM = b"\xef\xbb\xbf"

_BYTE_ENCODINGS: Final = frozenset(
    {"utf-8", "utf8", "gb18030", "gbk", "gb2312", "us-ascii", "ascii", "iso-8859-1", "latin1"}
)
_UTF16_ENCODINGS: Final = frozenset({"utf-16", "utf16", "utf-16le", "utf-16be"})
XML_ENCODINGS: Final = tuple(sorted(_BYTE_ENCODINGS | _UTF16_ENCODINGS))
"""The encodings an XML declaration may name (case-insensitive); a document naming any other is refused.

UTF-8, GB18030, GBK and GB2312 (which many legacy systems declare), ASCII and ISO-8859-1 keep markup in
single ASCII bytes; UTF-16 is read as UTF-16. In anything else (UTF-7, EBCDIC, ...) the guard could not
see a DOCTYPE that the parser would."""

_XML_DECLARATION = re.compile(r"<\?xml(?![\w.:-])", re.IGNORECASE)
_ENCODING_PSEUDO_ATTRIBUTE = re.compile(r"(?<![\w.:-])encoding\s*=\s*([\"'])(.*?)\1", re.DOTALL)


class _RefuseExternal(etree.Resolver):
    """Refuses every external entity, DTD or schema the parser would open: ``file:``, plain paths, any URL.

    With ``shipped`` set, the package's own shipped contract files (regular files under
    :func:`~ssgateway.resources.shipped_contracts_dir`) stay readable: lxml asks the resolver for the
    document itself when a file is parsed by name (``etree.parse(path, hardened_parser())``).
    """

    def __init__(self, *, shipped: bool = False) -> None:
        super().__init__()
        self._root = Path(os.path.realpath(shipped_contracts_dir())) if shipped else None

    def resolve(self, system_url: str | None, public_id: str | None, context: object, /) -> Any:
        if self._root is not None and system_url and ":" not in system_url.partition("/")[0]:
            path = Path(os.path.realpath(system_url))
            if path.is_relative_to(self._root) and path.is_file():
                return None  # lxml's own loader reads the shipped file
        raise XMLSecurityError(
            "XML that refers to an external entity, DTD or schema is not accepted", code="xml.external"
        )


def hardened_parser() -> etree.XMLParser:
    """A new lxml parser with :data:`PARSER_OPTIONS` (parsers are not thread-safe: one per use).

    It opens no external entity, DTD or schema; only the package's shipped contract files may be parsed
    from a path with it.
    """
    parser: etree.XMLParser = etree.XMLParser(**PARSER_OPTIONS)
    parser.resolvers.add(_RefuseExternal(shipped=True))
    return parser


def hardened_pull_parser(
    *, events: tuple[Literal["start", "end"], ...] = ("end",), tag: Any = None
) -> etree.XMLPullParser:
    """A new lxml pull parser with :data:`PARSER_OPTIONS`, for documents fed in chunks.

    Feed it only what a :class:`PrologGuard` has passed. It opens no external entity, DTD or schema.
    """
    parser = etree.XMLPullParser(events=events, tag=tag, **PARSER_OPTIONS)
    parser.resolvers.add(_RefuseExternal())
    return parser


def _decoder_for(head: bytes) -> tuple[codecs.IncrementalDecoder, frozenset[str]]:
    """The decoder the prolog is read with, and the encodings a declaration may name with it."""
    if head.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff", b"\x00\x00\x00<")):
        raise InputError("UTF-32 XML is not accepted")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return codecs.getincrementaldecoder("utf-16")(errors="replace"), _UTF16_ENCODINGS
    if head.startswith(b"<\x00"):
        return codecs.getincrementaldecoder("utf-16-le")(errors="replace"), _UTF16_ENCODINGS
    if head.startswith(b"\x00<"):
        return codecs.getincrementaldecoder("utf-16-be")(errors="replace"), _UTF16_ENCODINGS
    # ASCII-compatible encodings (UTF-8, GB18030, GBK): markup characters never occur inside a multi-byte
    # character, so a byte-per-character view finds the same markup. A UTF-8 byte-order mark is dropped
    # by the caller: it belongs to the prolog, not to text before the root.
    return codecs.getincrementaldecoder("latin-1")(), _BYTE_ENCODINGS


def _check_declaration(declaration: str, accepted: frozenset[str]) -> None:
    """Refuses an XML declaration naming an encoding the guard does not read the prolog in."""
    for _quote, name in _ENCODING_PSEUDO_ATTRIBUTE.findall(declaration):
        if name.strip().lower() not in accepted:
            raise XMLSecurityError(
                f"XML declared in the encoding {mask_text(name[:40])!r} is not accepted (UTF-8, GB18030, "
                "GBK, GB2312, ASCII, ISO-8859-1, or UTF-16 in a document that is UTF-16)",
                code="xml.encoding",
            )


class PrologGuard:
    """Reads a document's prolog as it arrives and refuses a DOCTYPE before the parser sees it.

    Feed every chunk to :meth:`feed` before handing it to the parser; once :attr:`done` is true (the root
    element has started) the guard has nothing more to check and feeding it is free.

    Raises:
        XMLSecurityError: the prolog holds a ``<!DOCTYPE`` (or any other ``<!`` declaration), is longer
            than ``limit`` bytes, or the XML declaration names an encoding not in :data:`XML_ENCODINGS`
            (or a UTF-16 one in a document that is not UTF-16, and the other way round).
        InputError: the document is UTF-32, or has text before the root element.
    """

    __slots__ = ("_accepted", "_consumed", "_decoder", "_head", "_limit", "_seen", "_text", "done")

    def __init__(self, limit: int = PROLOG_LIMIT) -> None:
        self._limit = limit
        self._seen = 0
        self._head = b""
        self._decoder: codecs.IncrementalDecoder | None = None
        self._accepted: frozenset[str] = frozenset()
        self._text = ""
        self._consumed = 0
        self.done = False

    def feed(self, data: bytes) -> None:
        """Check the next chunk of the document."""
        if self.done or not data:
            return
        decoder = self._decoder
        if decoder is None:
            self._head += data
            if len(self._head) < 4:
                return
            decoder, data = self._start(self._head)
        self._seen += len(data)
        self._text += decoder.decode(data)
        self._scan()
        if not self.done and self._seen > self._limit:
            raise XMLSecurityError(f"the XML prolog is longer than {self._limit} bytes")

    def close(self) -> None:
        """The document ended; check what is left of a very short document."""
        if not self.done and self._decoder is None and self._head:
            head = self._head
            decoder, data = self._start(head.ljust(4, b" "))
            self._text = decoder.decode(data[: len(data) - (4 - len(head))])  # without the padding
            self._scan()

    def _start(self, head: bytes) -> tuple[codecs.IncrementalDecoder, bytes]:
        """Chooses the decoder from the first bytes; returns it and those bytes without a UTF-8 BOM."""
        decoder, self._accepted = _decoder_for(head)
        self._decoder = decoder
        self._head = b""
        if head.startswith(_UTF8_BOM):
            self._seen += len(_UTF8_BOM)
            head = head[len(_UTF8_BOM) :]
        return decoder, head

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
                # Text before the root is malformed XML; here it more likely means the guard reads the
                # bytes differently from the parser, so it is refused rather than left to the parser.
                raise InputError("there is text before the root element (or an encoding not accepted)")
            rest = text[i : i + 4]
            if rest.startswith("<?"):
                end = text.find("?>", i + 2)
                if end < 0:
                    break
                if _XML_DECLARATION.match(text, i):
                    _check_declaration(text[i:end], self._accepted)
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


def _bytes_parser() -> etree.XMLParser:
    parser: etree.XMLParser = etree.XMLParser(**PARSER_OPTIONS)
    parser.resolvers.add(_RefuseExternal())
    return parser


def parse_xml(data: bytes, *, what: str = "document") -> etree._Element:
    """Parse a whole partner document with the hardened settings and return its root element.

    Args:
        data: the document's bytes (never ``str``: the XML declaration decides the encoding).
        what: how to name the document in error messages (``"response of QueryPerson"``).

    Raises:
        XMLSecurityError: a DOCTYPE, a prolog over the limit, an encoding not in :data:`XML_ENCODINGS`, an
            external entity or DTD.
        InputError: not well-formed XML, or empty.
    """
    guard = PrologGuard()
    try:
        guard.feed(data)
        guard.close()
    except XMLSecurityError:
        raise
    except InputError as exc:
        raise InputError(f"{what} is not accepted: {exc.message}", code=exc.code) from exc
    try:
        root = etree.fromstring(data, _bytes_parser())
    except etree.XMLSyntaxError as exc:
        raise InputError(f"{what} is not well-formed XML: {mask_text(str(exc.msg))}") from exc
    if root is None:
        raise InputError(f"{what} is empty")
    if root.getroottree().docinfo.doctype:  # unreachable past the guard; kept as a second line
        raise XMLSecurityError("XML with a DOCTYPE declaration is not accepted", code="xml.doctype")
    return root
