"""Reading CSV files: explicit encodings, whole records found in bytes, rows checked one by one.

A file is opened with :class:`CsvFile`, which reads and checks its header at once (duplicate or missing
columns refuse the file). Its records then come in frames: whole records, undecoded, with the byte offset
and line they start at, so they can be mapped in other processes and a reader can resume at any frame
end. :func:`parse_frame` decodes a frame strictly and yields its rows; a ragged row, a NUL byte, an
over-long field or a malformed row is rejected with its line while the others go on. Bytes that do not
decode, or a quote that is never closed, refuse the whole file, naming the byte offset and the line.
:func:`read_csv` does all of this for one stream, in order.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Protocol, cast

from ssgateway.errors import ConfigError, InputError
from ssgateway.mapping.outcomes import Rejection

__all__ = [
    "CSV_ENCODINGS",
    "ByteSource",
    "CsvFile",
    "CsvLayout",
    "CsvLimits",
    "EncodingProbe",
    "Frame",
    "csv_encoding",
    "decode",
    "detect_encoding",
    "parse_frame",
    "read_csv",
]

Row = tuple[int, dict[str, str]] | Rejection
"""A row with the line its record starts on, or the rejection of a row that cannot be a record."""

CSV_ENCODINGS = ("gb18030", "gbk", "utf-8", "utf-8-sig")
"""Encodings a CSV source may be declared in; ``auto`` tries strict ``utf-8-sig``, then ``gb18030``."""

_BLOCK = 256 * 1024
_UTF8_BOM = codecs.BOM_UTF8
_LINES = re.compile(r"[^\n]*\n|[^\n]+\Z")
# Whole records as Python's csv module (strict) reads them, on bytes: a quoted field holds anything
# (doubled quotes, delimiters, line ends); an unquoted one starts with no quote and holds no delimiter or
# line end. GB18030, GBK and UTF-8 never use these ASCII bytes inside a multi-byte character, so records
# are found before decoding. What the pattern does not match (a malformed record, the last one of a
# block) is measured by the csv module itself, so framing and parsing always agree.
_FIELD = rb'(?:"(?:[^"]|"")*+"|[^"D\r\n][^D\r\n]*+)?+'
_RECORD = _FIELD + rb"(?:D" + _FIELD + rb")*+\r*+\n"


@dataclass(frozen=True, slots=True)
class CsvLimits:
    """Size limits of a CSV source."""

    max_field: int = 10_000
    """Characters in one field; a record with a longer one is rejected (``record.malformed``)."""
    max_record: int = 4 * 1024 * 1024
    """Bytes in one record; a longer one refuses the file (it is usually a quote never closed)."""


@dataclass(frozen=True, slots=True)
class CsvLayout:
    """What a CSV file's header says, and where its records start."""

    columns: tuple[str, ...]
    encoding: str
    """The codec records are decoded with (``utf-8`` after a ``utf-8-sig`` byte-order mark)."""
    delimiter: str
    data_offset: int
    """Byte offset of the first record after the header."""
    data_line: int
    """Line number of that record."""


@dataclass(frozen=True, slots=True)
class Frame:
    """Whole records of a CSV file, undecoded: ``data`` starts at byte ``offset`` of the file, on ``line``."""

    data: bytes
    offset: int
    line: int

    @property
    def end(self) -> tuple[int, int]:
        """Byte offset and line number just after the frame."""
        return self.offset + len(self.data), self.line + self.data.count(b"\n")


class ByteSource(Protocol):
    """What a CSV file is read from: a binary file (seekable, to resume or detect an encoding)."""

    def read(self, size: int = -1, /) -> bytes: ...  # noqa: D102 - the io method
    def seek(self, offset: int, whence: int = 0, /) -> int: ...  # noqa: D102 - the io method


def csv_encoding(name: str) -> str:
    """The canonical name of a declared CSV encoding (``auto`` included).

    Raises:
        ConfigError: a name that is not one of :data:`CSV_ENCODINGS` (or an alias of one) nor ``auto``.
    """
    if name.strip().lower() == "auto":
        return "auto"
    try:
        canonical = codecs.lookup(name).name
    except LookupError:
        canonical = ""
    if canonical not in CSV_ENCODINGS:
        choices = ", ".join(CSV_ENCODINGS)
        raise ConfigError(f"unsupported CSV encoding {name!r}: use {choices} or auto", key="encoding")
    return canonical


class EncodingProbe:
    """Decides ``auto``: fed every block of a file, it answers ``utf-8-sig`` if all of it is strict UTF-8.

    UTF-8 is tried first because UTF-8 text also decodes as GB18030, into garbage; the ``gb18030`` answer
    is checked strictly when the records are decoded.
    """

    def __init__(self) -> None:
        self._decoder: codecs.IncrementalDecoder | None = codecs.getincrementaldecoder("utf-8-sig")()

    def feed(self, block: bytes, final: bool = False) -> None:
        """Look at the next block (``final``: the end of the file)."""
        if self._decoder is not None:
            try:
                self._decoder.decode(block, final)
            except UnicodeDecodeError:
                self._decoder = None

    @property
    def encoding(self) -> str:
        """``utf-8-sig`` or ``gb18030``."""
        return "gb18030" if self._decoder is None else "utf-8-sig"


def detect_encoding(raw: ByteSource) -> str:
    """The encoding ``auto`` means for this stream (read whole, then rewound)."""
    probe = EncodingProbe()
    raw.seek(0)
    while block := raw.read(_BLOCK):
        probe.feed(block)
    probe.feed(b"", final=True)
    raw.seek(0)
    return probe.encoding


def decode(data: bytes, encoding: str, *, source: str, offset: int, line: int) -> str:
    """Strictly decode bytes of a file that start at byte ``offset``, on ``line``.

    Raises:
        InputError: naming the byte offset and the line of the first byte that does not decode.
    """
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line += data.count(b"\n", 0, exc.start)
        bad = data[exc.start : exc.end].hex(" ")
        raise InputError(
            f"{source}: cannot decode as {encoding} at byte {offset + exc.start} (line {line}): {exc.reason}"
            f" (bytes {bad}); the whole file is refused",
            code="input.encoding",
        ) from None


def _raise_field_size_limit(size: int) -> None:
    # the csv module refuses fields over its own (process-wide) limit; ours is checked per field instead
    if csv.field_size_limit() < size:
        csv.field_size_limit(size)


class _LineFeed:
    """Decoded lines of ``buf[pos:stop]``, one at a time, counting the bytes handed out."""

    def __init__(self, buf: bytes, pos: int, stop: int, encoding: str, source: str, offset: int, line: int):
        self.buf, self.start, self.pos, self.stop = buf, pos, pos, stop
        self.encoding, self.source, self.offset, self.line = encoding, source, offset, line
        self.exhausted = False

    def __iter__(self) -> _LineFeed:
        return self

    def __next__(self) -> str:
        if self.pos >= self.stop:
            self.exhausted = True
            raise StopIteration
        newline = self.buf.find(b"\n", self.pos, self.stop)
        end = self.stop if newline < 0 else newline + 1
        data, start, self.pos = self.buf[self.pos : end], self.pos, end
        try:
            return data.decode(self.encoding)
        except UnicodeDecodeError:  # the line number is counted only when it is needed
            line = self.line + self.buf.count(b"\n", 0, start)
            return decode(data, self.encoding, source=self.source, offset=self.offset + start, line=line)


class _Framer:
    """Finds where whole records end in a buffer of a CSV file's bytes."""

    def __init__(self, delimiter: str, encoding: str, source: str, limits: CsvLimits) -> None:
        if len(delimiter) != 1 or not delimiter.isascii() or delimiter in '"\r\n':
            raise ConfigError(f"unusable CSV delimiter {delimiter!r}", key="delimiter")
        code = ord(delimiter)
        # a delimiter that can be the second byte of a GBK/GB18030 character cannot be found in bytes:
        # such files are framed record by record by the csv module (slower, still exact)
        self.exact = encoding in ("gb18030", "gbk") and (0x30 <= code <= 0x39 or 0x40 <= code <= 0x7E)
        self.records = re.compile(b"(?:" + _RECORD.replace(b"D", re.escape(delimiter.encode())) + b")*+")
        self.delimiter, self.encoding, self.source, self.limits = delimiter, encoding, source, limits
        _raise_field_size_limit(limits.max_record)

    def end(self, buf: bytes, eof: bool, offset: int, line: int, *, one: bool = False) -> int:
        """Where the whole records at the start of ``buf`` end (0: none is complete yet).

        ``buf`` starts at byte ``offset`` on ``line`` and at a record; ``eof``: nothing follows it.
        ``one``: stop after the first record.
        """
        if not self.exact and b'"' not in buf:  # nothing quoted: every line end ends a record
            if one:
                return buf.find(b"\n") + 1 or (len(buf) if eof else 0)
            return len(buf) if eof else buf.rfind(b"\n") + 1
        pos = 0
        while pos < len(buf):
            if not self.exact and not one:
                pos = self.records.match(buf, pos).end()  # type: ignore[union-attr]  # *+ always matches
                if pos == len(buf) or (not eof and buf.find(b"\n", pos) < 0):
                    break
            size = self._measure(buf, pos, eof, offset, line)
            if size == 0:
                break
            pos += size
            if one:
                break
        return pos

    def _measure(self, buf: bytes, pos: int, eof: bool, offset: int, line: int) -> int:
        """Bytes of the record at ``pos`` as the csv module reads it (0: it goes on past the buffer)."""
        stop = len(buf) if eof else buf.rfind(b"\n") + 1
        if stop <= pos:
            return 0
        lines = _LineFeed(buf, pos, stop, self.encoding, self.source, offset, line)
        try:
            next(csv.reader(lines, delimiter=self.delimiter, strict=True))
        except csv.Error:
            if lines.exhausted:  # inside a quoted field when the bytes ran out
                if eof:
                    where = line + buf.count(b"\n", 0, pos)
                    raise InputError(
                        f"{self.source}: malformed CSV: the record starting at line {where} opens a quoted"
                        " field that is never closed; the whole file is refused",
                        code="input.malformed",
                    ) from None
                return 0
        return lines.pos - pos


def _frames(
    raw: ByteSource, buf: bytes, offset: int, line: int, framer: _Framer, block: int
) -> Iterator[Frame]:
    eof, short = False, len(buf) < block
    while True:
        if short and not eof:
            more = raw.read(block)
            eof = not more
            buf = buf + more if buf else more
        if not buf:
            return
        end = framer.end(buf, eof, offset, line)
        if end == 0:
            if len(buf) > framer.limits.max_record:
                raise InputError(
                    f"{framer.source}: malformed CSV: the record starting at line {line} is longer than"
                    f" {framer.limits.max_record} bytes (a quote never closed?); the whole file is refused",
                    code="input.malformed",
                )
            short = True
            continue
        data, buf = buf[:end], buf[end:]
        yield Frame(data, offset, line)
        offset += end
        line += data.count(b"\n")
        short = len(buf) < block


class CsvFile:
    """A CSV file opened for reading: the header is read and checked at once, records follow by frames.

    Args:
        raw: the file, binary.
        source: its name, for errors and provenance.
        encoding: one of :data:`CSV_ENCODINGS`, or ``auto`` (the stream must then be seekable).
        delimiter: the field separator.
        required: columns the header must have.
        limits: field and record sizes.

    Raises:
        InputError: an empty file, an undecodable or malformed header, duplicate or missing columns.
        ConfigError: an unsupported encoding or delimiter.
    """

    def __init__(
        self,
        raw: ByteSource,
        *,
        source: str,
        encoding: str = "utf-8-sig",
        delimiter: str = ",",
        required: Iterable[str] = (),
        limits: CsvLimits | None = None,
    ) -> None:
        declared = csv_encoding(encoding)
        if declared == "auto":
            declared = detect_encoding(raw)
        self.raw, self.source, self.declared = raw, source, declared
        self.limits = limits or CsvLimits()
        codec = "utf-8" if declared == "utf-8-sig" else declared
        self._framer = _Framer(delimiter, codec, source, self.limits)
        buf, eof, end, bom = b"", False, 0, 0
        while not end and not eof:
            more = raw.read(_BLOCK)
            eof = not more
            buf += more
            if not bom and buf.startswith(_UTF8_BOM) and codec in ("gb18030", "gbk"):
                # a UTF-8 byte-order mark (a Windows tool's) on GB text would decode into the first column
                buf, bom = buf[len(_UTF8_BOM) :], len(_UTF8_BOM)
            end = self._framer.end(buf, eof, bom, 1, one=True)
            if not end and len(buf) > self.limits.max_record:
                raise InputError(f"{source}: malformed CSV: no end to the header row", code="input.malformed")
        if not buf.strip(b"\r\n"):
            raise InputError(f"{source}: the file is empty (no header row)", code="input.empty")
        text = decode(buf[:end], declared, source=source, offset=bom, line=1).lstrip("\ufeff")
        try:
            header = [
                h.strip() for h in next(csv.reader(_LINES.findall(text), delimiter=delimiter, strict=True))
            ]
        except (csv.Error, StopIteration) as exc:
            raise InputError(f"{source}:1: malformed CSV header: {exc}", code="input.malformed") from None
        duplicates = sorted({h for h in header if header.count(h) > 1})
        if duplicates:
            raise InputError(
                f"{source}: duplicate header columns: {', '.join(duplicates)}", code="input.header"
            )
        missing = [c for c in dict.fromkeys(required) if c not in header]
        if missing:
            raise InputError(f"{source}: missing columns: {', '.join(missing)}", code="input.header")
        self.layout = CsvLayout(tuple(header), codec, delimiter, bom + end, 1 + buf.count(b"\n", 0, end))
        self._pending = buf[end:]

    def frames(self, start: tuple[int, int] | None = None, *, block: int = _BLOCK) -> Iterator[Frame]:
        """The records, a frame of about ``block`` bytes at a time, from the first or from ``start``.

        Args:
            start: byte offset and line number of a record to resume at (an earlier frame's ``end``).
            block: bytes read at a time.
        """
        layout = self.layout
        if start is None or start == (layout.data_offset, layout.data_line):
            pending, self._pending = self._pending, b""
            return _frames(self.raw, pending, layout.data_offset, layout.data_line, self._framer, block)
        self.raw.seek(start[0])
        return _frames(self.raw, b"", start[0], start[1], self._framer, block)


def parse_frame(frame: Frame, layout: CsvLayout, *, source: str, limits: CsvLimits) -> Iterator[Row]:
    """The rows of a frame as ``(line, {column: text})``, and rejections for rows that cannot be records.

    A ragged row, a NUL byte, an over-long field or a malformed row is rejected (``record.malformed``),
    with the line the record starts on; the rows after it go on.

    Raises:
        InputError: bytes that do not decode.
    """
    text = decode(frame.data, layout.encoding, source=source, offset=frame.offset, line=frame.line)
    lines = _LINES.findall(text)
    reader = csv.reader(lines, delimiter=layout.delimiter, strict=True)
    header, width, limit = layout.columns, len(layout.columns), limits.max_field
    has_nul = "\x00" in text
    long_lines = len(text) > limit and max(map(len, lines)) > limit
    base, done = frame.line, 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            start, done = base + done, reader.line_num
            yield Rejection(start, f"malformed CSV: {exc}", code="record.malformed")
            continue
        first, done = done, reader.line_num
        start = base + first
        if not row:
            continue
        if len(row) != width:
            yield Rejection(
                start, f"ragged row: {len(row)} fields where the header has {width}", code="record.malformed"
            )
        elif has_nul and any("\x00" in cell for cell in row):
            yield Rejection(start, "NUL byte in the row", code="record.malformed")
        elif (long_lines or done - first > 1) and max(map(len, row)) > limit:
            column, size = max(zip(header, map(len, row), strict=True), key=lambda c: c[1])
            yield Rejection(
                start,
                f"field too long: {size} characters where at most {limit} are allowed",
                source=column,
                code="record.malformed",
            )
        else:
            yield start, dict(zip(header, row, strict=True))


class _TextAsUtf8:
    """A text stream read as UTF-8 bytes, so text and binary sources share one reader."""

    def __init__(self, text: IO[str]) -> None:
        self._text = text

    def read(self, size: int = -1, /) -> bytes:
        return self._text.read(size).encode("utf-8", "surrogatepass")

    def seek(self, offset: int, whence: int = 0, /) -> int:
        raise OSError("a text stream is read once, from where it is")


def read_csv(
    stream: IO[str] | IO[bytes],
    *,
    source: str,
    delimiter: str = ",",
    required: Iterable[str] = (),
    encoding: str = "utf-8-sig",
    limits: CsvLimits | None = None,
) -> Iterator[Row]:
    """Rows of a CSV file with a header row, as ``(line, {column: text})``, streaming.

    Args:
        stream: a binary stream, decoded with ``encoding``; or a text stream (opened with ``newline=""``).
        source: the file's name, for errors and positions.
        delimiter: the field separator.
        required: columns that must be in the header.
        encoding: for a binary stream: one of :data:`CSV_ENCODINGS` or ``auto``.
        limits: field and record sizes.

    Raises:
        InputError: undecodable bytes (with byte offset and line), duplicate or missing header columns, an
            unterminated quote.
    """
    if isinstance(stream.read(0), str):
        raw: ByteSource = _TextAsUtf8(cast("IO[str]", stream))
        encoding = "utf-8"
    else:
        raw = cast("IO[bytes]", stream)
    file = CsvFile(
        raw, source=source, encoding=encoding, delimiter=delimiter, required=required, limits=limits
    )
    for frame in file.frames():
        yield from parse_frame(frame, file.layout, source=source, limits=file.limits)
