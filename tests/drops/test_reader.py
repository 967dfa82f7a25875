"""The CSV reader: encodings, whole-file refusals with byte offsets, row rejections, framing exactness."""

from __future__ import annotations

import csv
import io
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssgateway.drops import CsvTranslator
from ssgateway.errors import ConfigError, InputError
from ssgateway.mapping import Rejection, read_csv
from ssgateway.mapping.csvfile import CsvFile, CsvLimits, csv_encoding, parse_frame
from ssgateway.testing.drops import write_drop


def rows_of(data: bytes, *, block: int = 1 << 18, **options: object) -> list[object]:
    file = CsvFile(io.BytesIO(data), source="t.csv", **options)  # type: ignore[arg-type]
    out: list[object] = []
    for frame in file.frames(block=block):
        out += parse_frame(frame, file.layout, source="t.csv", limits=file.limits)
    return out


TEXT = "AAC002,AAC003\n11010519491231002X,张伟\n44011320141005001X,欧阳娜娜\n"


@pytest.mark.parametrize("encoding", ["gb18030", "gbk", "utf-8", "utf-8-sig"])
def test_each_declared_encoding_reads_its_own_bytes(encoding: str) -> None:
    rows = rows_of(TEXT.encode(encoding), encoding=encoding)
    assert rows == [(2, {"AAC002": "11010519491231002X", "AAC003": "张伟"}),
                    (3, {"AAC002": "44011320141005001X", "AAC003": "欧阳娜娜"})]  # fmt: skip


def test_byte_order_marks_never_reach_the_first_column() -> None:
    for data, encoding in [
        (("\ufeff" + TEXT).encode("utf-8"), "utf-8-sig"),
        (("\ufeff" + TEXT).encode("utf-8"), "utf-8"),
        (("\ufeff" + TEXT).encode("gb18030"), "gb18030"),
    ]:
        file = CsvFile(io.BytesIO(data), source="t.csv", encoding=encoding, required=["AAC002"])
        assert file.layout.columns == ("AAC002", "AAC003")


@pytest.mark.parametrize("encoding", ["gb18030", "gbk", "auto"])
def test_a_utf8_byte_order_mark_on_gb_text_never_reaches_the_first_column(encoding: str) -> None:
    data = b"\xef\xbb\xbf" + TEXT.encode("gb18030")  # a Windows tool's mark on GB18030 text
    file = CsvFile(io.BytesIO(data), source="t.csv", encoding=encoding, required=["AAC002"])
    assert file.layout.columns == ("AAC002", "AAC003")
    assert file.layout.data_offset == 3 + len(b"AAC002,AAC003\n")  # offsets stay those of the file
    for block in (1 << 18, 7):
        rows = rows_of(data, block=block, encoding=encoding)
        assert rows == [(2, {"AAC002": "11010519491231002X", "AAC003": "张伟"}),
                        (3, {"AAC002": "44011320141005001X", "AAC003": "欧阳娜娜"})]  # fmt: skip
    quoted = b"\xef\xbb\xbf" + '"AAC002",AAC003\n1,张伟\n'.encode("gb18030")
    assert CsvFile(io.BytesIO(quoted), source="q", encoding=encoding).layout.columns == ("AAC002", "AAC003")


def test_auto_tries_strict_utf8_then_gb18030() -> None:
    assert CsvFile(io.BytesIO(TEXT.encode("utf-8")), source="u", encoding="auto").declared == "utf-8-sig"
    assert CsvFile(io.BytesIO(TEXT.encode("gb18030")), source="g", encoding="auto").declared == "gb18030"
    rows = rows_of(TEXT.encode("gb18030"), encoding="auto")
    assert rows[1] == (3, {"AAC002": "44011320141005001X", "AAC003": "欧阳娜娜"})


def test_unknown_encodings_are_refused_by_name() -> None:
    assert csv_encoding("GB18030") == "gb18030" and csv_encoding("UTF8") == "utf-8"
    assert csv_encoding("cp936") == "gbk" and csv_encoding(" Auto ") == "auto"
    with pytest.raises(ConfigError, match="unsupported CSV encoding 'latin-1'"):
        csv_encoding("latin-1")


def test_a_decode_failure_refuses_the_file_naming_byte_offset_and_line() -> None:
    good = TEXT.encode("gb18030")
    data = good + b"11010519491231002X,\xff\xfe\n"
    offset = len(good) + len(b"11010519491231002X,")
    for block in (5, 64, 1 << 18):
        with pytest.raises(InputError, match=rf"cannot decode as gb18030 at byte {offset} \(line 4\)"):
            rows_of(data, encoding="gb18030", block=block)
    # UTF-8 declared GBK: 张伟 happens to decode (into garbage), 欧阳娜娜 does not
    with pytest.raises(InputError, match=r"as gbk at byte 69 \(line 3\).*whole file is refused"):
        rows_of(TEXT.encode("utf-8"), encoding="gbk")
    with pytest.raises(InputError, match=r"line 1"):
        rows_of("名,B\n1,2\n".encode("gb18030"), encoding="utf-8")


def test_an_unterminated_quote_refuses_the_file_with_its_line() -> None:
    data = b'A,B\n1,2\n3,"never closed\n4,5\n6,7\n'
    for block in (3, 1 << 18):
        with pytest.raises(InputError, match="starting at line 3 opens a quoted field that is never closed"):
            rows_of(data, block=block)
    with pytest.raises(InputError, match="starting at line 2 is longer than 65536 bytes"):
        rows_of(b'A,B\n1,"' + b"x\n" * 300_000, block=4096, limits=CsvLimits(max_record=65536))


def test_headers_must_be_unique_and_complete() -> None:
    with pytest.raises(InputError, match="duplicate header columns: A"):
        rows_of(b"A,B,A\n1,2,3\n")
    with pytest.raises(InputError, match="missing columns: C, D"):
        rows_of(b"A,B\n1,2\n", required=["A", "C", "D"])
    with pytest.raises(InputError, match="empty"):
        rows_of(b"\r\n")


def test_bad_rows_are_rejected_and_the_rest_go_on() -> None:
    data = (
        b'A,B\r\n1,2\r\n1,2,3\r\n"x\r\ny",4\r\n5,\x006\r\n' + b"7," + b"z" * 40 + b'\r\n8,"a"b\r\n9,1\r\r\n'
        b"10,1\r11,2\r\n12,13"
    )
    rows = rows_of(data, limits=CsvLimits(max_field=30))
    assert [(r.position, r.code) if isinstance(r, Rejection) else r for r in rows] == [
        (2, {"A": "1", "B": "2"}),
        (3, "record.malformed"),  # ragged
        (4, {"A": "x\r\ny", "B": "4"}),  # a quoted line end stays in its field; positions follow lines
        (6, "record.malformed"),  # NUL
        (7, "record.malformed"),  # over-long field
        (8, "record.malformed"),  # text after a closing quote
        (9, {"A": "9", "B": "1"}),
        (10, "record.malformed"),  # a bare CR inside a row
        (11, {"A": "12", "B": "13"}),  # the last line has no line end
    ]
    reasons = [r.reason for r in rows if isinstance(r, Rejection)]
    assert "ragged row: 3 fields where the header has 2" in reasons
    assert "NUL byte in the row" in reasons
    assert "field too long: 40 characters where at most 30 are allowed" in reasons
    assert [r.source for r in rows if isinstance(r, Rejection) and "too long" in r.reason] == ["B"]


FIELD = st.text(alphabet=st.sampled_from('ab,"\r\n 张\x00'), max_size=6)


def outcome(data: bytes, block: int) -> object:
    try:
        return rows_of(data, encoding="utf-8", block=block)
    except InputError as exc:
        return exc.code


@settings(max_examples=200, deadline=None)
@given(rows=st.lists(st.lists(FIELD, min_size=2, max_size=2), max_size=12), block=st.integers(1, 40),
       noise=st.lists(st.tuples(st.integers(0, 300), st.sampled_from(['"', "\n", "\r", ","])), max_size=3))  # fmt: skip
def test_framing_never_changes_what_is_read(
    rows: list[list[str]], block: int, noise: list[tuple[int, str]]
) -> None:
    text = io.StringIO()
    csv.writer(text, lineterminator="\r\n").writerows([["A", "B"], *rows])
    clean = text.getvalue()
    got = outcome(clean.encode(), block)
    assert isinstance(got, list)  # what the csv module writes is always readable
    kept = [row for _line, row in (r for r in got if not isinstance(r, Rejection))]  # type: ignore[misc]
    assert kept == [{"A": a, "B": b} for a, b in rows if "\x00" not in a + b]
    noisy = clean
    for at, char in noise:  # stray quotes and line ends: malformed rows, quotes never closed
        noisy = noisy[:at] + char + noisy[at:]
    assert outcome(noisy.encode(), block) == outcome(noisy.encode(), 1 << 18)


def test_text_streams_and_binary_streams_share_the_reader() -> None:
    from_text = list(read_csv(io.StringIO(TEXT), source="t"))
    from_bytes = list(read_csv(io.BytesIO(TEXT.encode("gb18030")), source="t", encoding="gb18030"))
    assert from_text == from_bytes and len(from_text) == 2


def test_memory_stays_flat_whatever_the_file_size(tmp_path: Path) -> None:
    small = write_drop(tmp_path, "small", rows=3_000, seed=1).csv
    big = write_drop(tmp_path, "big", rows=15_000, seed=1).csv

    def peak(path: Path) -> int:
        tracemalloc.start()
        with CsvTranslator(path, "golden-insurance/contribution-drop", workers=0) as translator:
            for _batch in translator.batches():
                pass
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return peak

    peak(small)  # caches (code lists, compiled mapping) are built once, outside the comparison
    assert peak(big) < 2 * peak(small) + (4 << 20), "memory grew with the file"
