"""Realistic contribution drops with known defects, for tests, sandboxes and benchmarks.

:func:`write_drop` writes a Golden-Insurance contribution drop (``<stem>.csv``, ``<stem>.manifest.json``,
``<stem>.done``) of any size, streaming: people with Chinese names (rare characters included in GB18030
drops), valid citizen ids and credit codes, monthly contributions consistent with :data:`RATES`, and
defects placed on known rows. The result says which line holds which defect and how it must come out,
so a test can assert exact accepted and rejected counts and reasons::

    drop = write_drop(tmp_path, "henan-202406", rows=1_000, defects=STANDARD_DEFECTS)
    expected = drop.rejections()  # line → Expected(field, reason fragment, code)
    assert drop.accepted() + len(expected) == drop.records
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from ssgateway.model.identifiers import citizen_id_check_char, credit_code_check_char

__all__ = [
    "COLUMNS",
    "DEFECTS",
    "RATES",
    "STANDARD_DEFECTS",
    "Defect",
    "Expected",
    "GeneratedDrop",
    "write_drop",
]

COLUMNS = ("AAC001", "AAC002", "AAC003", "AAC004", "AAB001", "BAB010", "AAE140", "AAE003", "AAE180",
           "AAE480", "AAE481", "AAE143", "AAE114", "AAB301", "AAB191", "AAE013")  # fmt: skip
"""The drop's columns: the fifteen of the format and a remarks column (``AAE013``) no mapping reads."""

RATES = {"110": (16, 8), "210": (5, 5), "310": (8, 2), "410": (4, 0), "510": (8, 0)}
"""Employer and individual rates in thousandths of the base (pension 16 % and 8 %, …) by AAE140 code.
Flexible workers (no employer) pay the pension alone at 20 %."""

FLEXIBLE_RATE = 200

_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董"
    "袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟"
    "熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
_COMPOUND = ("欧阳", "司马", "诸葛", "上官", "东方")
_GIVEN = ("伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟",
          "涛", "明", "超", "秀兰", "霞", "平", "刚", "桂英", "建华", "玉兰", "志强", "文", "斌",
          "宇轩", "子涵", "欣怡", "浩然", "梓萱", "俊杰", "晓燕", "海燕", "红梅", "建国", "国强")  # fmt: skip
_RARE = ("䶮", "𠮷", "堃", "喆", "赟", "昇")  # 𠮷 is outside the BMP: four bytes in GB18030
_DIVISIONS = ("410102", "410103", "410104", "410105", "410106", "410108", "410122", "410181", "410182",
              "410184", "410202", "410203", "410204", "410302", "410303", "410305")  # fmt: skip
_REMARK = '补缴,含滞纳金\n单位名称变更为"郑州市某某科技有限公司"'  # a comma, a line end and quotes


class Defect(NamedTuple):
    """A kind of defect and how a row carrying it must come out."""

    field: str | None
    """The canonical field the rejection names (None for rows the reader rejects)."""
    reason: str
    """A fragment of the rejection's reason."""
    code: str = "record.rejected"
    rejected: str = "always"
    """``always``; ``never`` (the row is accepted, e.g. a legacy 15-digit id); ``drop`` (only by drop
    ingestion: a period after the manifest's); ``rates`` (only when :data:`RATES` are configured)."""


DEFECTS = {
    "bad_check_digit": Defect("citizen_id", "check character does not match"),
    "legacy_id": Defect(None, "", rejected="never"),
    "legacy_id_bad_date": Defect("citizen_id", "birth date part is not a real date"),
    "empty_required": Defect("insurance_type", "required field is empty"),
    "unknown_code": Defect("insurance_type", "not in code list aae140-current"),
    "impossible_month": Defect("period", "month 13 is not between 1 and 12"),
    "bad_amount": Defect("base", "at most 2 decimal places"),
    "nul_byte": Defect(None, "NUL byte", "record.malformed"),
    "ragged": Defect(None, "ragged row: 17 fields where the header has 16", "record.malformed"),
    "quoted": Defect(None, "", rejected="never"),
    "future_period": Defect("period", "after the drop's period", rejected="drop"),
    "inconsistent_amount": Defect("employer_amount", "rate", rejected="rates"),
}
"""Every defect :func:`write_drop` can place."""

STANDARD_DEFECTS = {"bad_check_digit": 3, "legacy_id": 2, "legacy_id_bad_date": 1, "empty_required": 2,
                    "unknown_code": 2, "impossible_month": 2, "bad_amount": 1, "nul_byte": 1, "ragged": 1,
                    "quoted": 3, "future_period": 2}  # fmt: skip
"""One or a few of every defect but ``inconsistent_amount``."""


@dataclass(frozen=True, slots=True)
class Expected:
    """A row with a defect: its line and what must become of it."""

    line: int
    defect: str

    @property
    def kind(self) -> Defect:
        """The defect's description."""
        return DEFECTS[self.defect]


@dataclass(frozen=True)
class GeneratedDrop:
    """A drop :func:`write_drop` wrote, and what ingesting it must give."""

    stem: str
    csv: Path
    manifest: Path | None
    done: Path | None
    records: int
    sha256: str
    encoding: str
    period: str
    defects: tuple[Expected, ...]

    def rejections(self, *, drop_checks: bool = True, rates: bool = False) -> dict[int, Expected]:
        """The rows that must be rejected, by line.

        Args:
            drop_checks: checks against the manifest apply (drop ingestion, not plain translation).
            rates: amounts are checked against :data:`RATES`.
        """
        wanted = {"always"} | ({"drop"} if drop_checks else set()) | ({"rates"} if rates else set())
        return {e.line: e for e in self.defects if e.kind.rejected in wanted}

    def accepted(self, *, drop_checks: bool = True, rates: bool = False) -> int:
        """How many records must be accepted."""
        return self.records - len(self.rejections(drop_checks=drop_checks, rates=rates))


def _ym(period: str, months: int) -> str:
    ordinal = int(period[:4]) * 12 + int(period[4:]) - 1 + months
    return f"{ordinal // 12}{ordinal % 12 + 1:02d}"


class _Population:
    def __init__(self, rng: random.Random, size: int, rare: bool) -> None:
        self.rng, self.rare = rng, rare
        employers = []
        for n in range(max(1, size // 20)):
            first17 = f"91{rng.choice(_DIVISIONS)}MA{n:07d}"[:17]
            employers.append((f"E{n:06d}", first17 + credit_code_check_char(first17)))
        self.employers = employers
        self.people = [self._person(i) for i in range(size)]

    def _person(self, i: int) -> tuple[str, str, str, str, str, str]:
        rng = self.rng
        division = rng.choice(_DIVISIONS)
        born = f"{rng.randint(1960, 2004)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
        seq = rng.randint(0, 999)
        first17 = f"{division}{born}{seq:03d}"
        surname = rng.choice(_COMPOUND) if rng.random() < 0.02 else rng.choice(_SURNAMES)
        given = rng.choice(_RARE) if self.rare and rng.random() < 0.01 else rng.choice(_GIVEN)
        employer, credit = ("", "") if rng.random() < 0.1 else rng.choice(self.employers)
        gender = "1" if seq % 2 else "2"
        return (
            f"41{i:010d}",
            first17 + citizen_id_check_char(first17),
            surname + given,
            gender,
            employer,
            credit,
        )


def _amounts(code: str, base_cents: int, flexible: bool) -> tuple[str, str]:
    employer, individual = (0, FLEXIBLE_RATE) if flexible else RATES[code]
    return (f"{(base_cents * employer + 500) // 1000 / 100:.2f}",
            f"{(base_cents * individual + 500) // 1000 / 100:.2f}")  # fmt: skip


def _rows(rng: random.Random, rows: int, period: str, people: _Population) -> Iterator[list[str]]:
    arrived = f"{_ym(period, 1)}{rng.randint(1, 9):02d}"
    for i in range(rows):
        number, cid, name, gender, employer, credit = people.people[i // 4 % len(people.people)]
        flexible = not employer
        code = "110" if flexible or i % 4 == 0 else rng.choice(("110", "210", "310", "410", "510"))
        back = rng.random() < 0.05
        base = rng.randrange(300_000, 2_500_000, 100)
        employer_amount, individual_amount = _amounts(code, base, flexible)
        paid = rng.random() < 0.95
        month = _ym(period, -rng.randint(1, 24)) if back else period
        yield [number, cid, name, gender, employer, credit, code, month, f"{base / 100:.2f}", employer_amount,
               individual_amount, "2" if back else "1", "1" if paid else "2", rng.choice(_DIVISIONS),
               arrived if paid else "", ""]  # fmt: skip


def _apply(defect: str, row: list[str], rng: random.Random, period: str) -> list[str]:
    row = list(row)
    cid = row[1]
    if defect == "bad_check_digit":
        wrong = "0123456789X".replace(cid[-1], "")
        row[1] = cid[:-1] + rng.choice(wrong)
    elif defect in ("legacy_id", "legacy_id_bad_date"):
        row[1] = cid[:6] + cid[8:14] + cid[14:17]
        if defect == "legacy_id_bad_date":
            row[1] = row[1][:8] + "13" + row[1][10:]
    elif defect == "empty_required":
        row[6] = ""
    elif defect == "unknown_code":
        row[6] = "999"
    elif defect == "impossible_month":
        row[7] = period[:4] + "13"
    elif defect == "bad_amount":
        row[8] = row[8] + "5"
    elif defect == "nul_byte":
        row[2] = row[2][:1] + "\x00" + row[2][1:]
    elif defect == "ragged":
        row.append("多余")
    elif defect == "quoted":
        row[15] = _REMARK
    elif defect == "future_period":
        row[7] = _ym(period, rng.randint(1, 3))
    elif defect == "inconsistent_amount":
        row[9] = f"{float(row[9]) + 1:.2f}"
    else:
        raise ValueError(f"unknown defect {defect!r}; known: {', '.join(DEFECTS)}")
    return row


def write_drop(
    directory: Path,
    stem: str,
    *,
    rows: int,
    defects: Mapping[str, int] | None = None,
    seed: int = 0,
    period: str = "202406",
    region: str = "410000",
    source: str = "henan-provincial",
    encoding: str = "gb18030",
    bom: bool = False,
    line_end: str = "\r\n",
    columns: Sequence[str] = COLUMNS,
    manifest: bool = True,
    done: bool = True,
    created_at: datetime | None = None,
) -> GeneratedDrop:
    """Write a drop of ``rows`` records with ``defects`` (kind → count) on random, known rows.

    Args:
        directory: where the files go.
        stem: the drop's name.
        rows: data records.
        defects: how many rows carry each defect of :data:`DEFECTS` (one defect per row at most).
        seed: the same seed gives the same bytes.
        period: the manifest's period (``YYYYMM``); records are for it, back-payments for earlier months.
        region: the manifest's region.
        source: the manifest's source.
        encoding: ``gb18030`` (rare characters included), ``gbk``, ``utf-8`` or ``utf-8-sig``.
        bom: start with a byte-order mark (``utf-8-sig`` always has one).
        line_end: CRLF (the default) or LF.
        columns: the header, in this order (a permutation of :data:`COLUMNS`).
        manifest: write the manifest.
        done: write the done marker (last).
        created_at: the manifest's time (default: now).
    """
    rng = random.Random(seed)  # noqa: S311 - test data, reproducible from its seed
    declared = "utf-8-sig" if bom and encoding == "utf-8" else encoding
    wanted = dict(defects or {})
    placed = rng.sample(range(rows), sum(wanted.values()))
    kinds = [kind for kind, count in sorted(wanted.items()) for _ in range(count)]
    at = dict(zip(placed, kinds, strict=True))
    order = [COLUMNS.index(c) for c in columns]
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{stem}.csv"
    digest = hashlib.sha256()
    expected: list[Expected] = []
    people = _Population(rng, max(1, rows // 4), rare=encoding == "gb18030")
    with path.open("wb") as fh:
        text = io.StringIO()
        writer = csv.writer(text, lineterminator=line_end)
        if bom and encoding != "utf-8-sig":
            text.write("\ufeff")
        writer.writerow(columns)
        line = 2
        for i, generated in enumerate(_rows(rng, rows, period, people)):
            row = generated
            if i in at:
                row = _apply(at[i], generated, rng, period)
                expected.append(Expected(line, at[i]))
            line += 1 + sum(cell.count("\n") for cell in row)
            writer.writerow([row[k] for k in order] + row[len(COLUMNS) :])
            if text.tell() > 1 << 20 or i == rows - 1:
                data = text.getvalue().encode(encoding)
                fh.write(data)
                digest.update(data)
                text.seek(0)
                text.truncate()
                encoding = "utf-8" if encoding == "utf-8-sig" else encoding  # one BOM, at the start
        if rows == 0:
            data = text.getvalue().encode(encoding)
            fh.write(data)
            digest.update(data)
    manifest_path = done_path = None
    if manifest:
        manifest_path = directory / f"{stem}.manifest.json"
        created = (created_at or datetime.now(UTC)).isoformat(timespec="seconds")
        document = {"format": "golden-insurance/contribution-drop@1", "source": source, "region": region,
                    "period": period, "records": rows, "sha256": digest.hexdigest(), "encoding": declared,
                    "created_at": created}  # fmt: skip
        manifest_path.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    if done:
        done_path = directory / f"{stem}.done"
        done_path.touch()
    return GeneratedDrop(stem, path, manifest_path, done_path, rows, digest.hexdigest(), declared, period,
                         tuple(expected))  # fmt: skip
