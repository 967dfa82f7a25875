"""Realistic contribution drops with known defects, for tests, sandboxes and benchmarks.

:func:`write_drop` writes a Golden-Insurance contribution drop (``<stem>.csv``, ``<stem>.manifest.json``,
``<stem>.done``) of any size, streaming. Its people come from the synthetic population
(:mod:`ssgateway.testing.population`: Chinese names, valid citizen ids and credit codes; GB18030 drops
add rare characters), their monthly contributions follow :data:`RATES`, and defects sit on known rows.
The result says which line holds which defect and how it must come out, so a test can assert exact
accepted and rejected counts and reasons::

    drop = write_drop(tmp_path, "henan-202406", rows=1_000, defects=STANDARD_DEFECTS)
    expected = drop.rejections()  # line → Expected(line, defect)
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

from ssgateway.testing._people import EMPLOYEE_RATES, FLEXIBLE_RATES
from ssgateway.testing.population import Population

__all__ = [
    "COLUMNS",
    "DEFECTS",
    "FLEXIBLE_RATES",
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

RATES = EMPLOYEE_RATES
"""Employer and individual rates by AAE140 code (the synthetic population's): amounts follow them.
Flexible workers (no employer) pay alone, at :data:`FLEXIBLE_RATES`."""

_THOUSANDTHS = {code: (int(e * 1000), int(i * 1000)) for code, (e, i) in EMPLOYEE_RATES.items()}
_FLEXIBLE = {code: (int(e * 1000), int(i * 1000)) for code, (e, i) in FLEXIBLE_RATES.items()}
_RARE = ("䶮", "𠮷", "堃", "喆", "赟", "昇")  # rare in names; 𠮷 is outside the BMP (four bytes in GB18030)
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


class _Person(NamedTuple):
    number: str
    citizen_id: str
    name: str
    gender: str
    employer: str
    credit_code: str
    region: str


def _people(seed: int, size: int, period: str, rare: bool) -> list[_Person]:
    population = Population.generate(seed, size=size, provinces=("41",), as_of=period)
    rng = random.Random(seed)  # noqa: S311 - test data, reproducible from its seed
    people = []
    for person in population.people:
        spell = person.spells[-1]
        name = person.name
        if rare and rng.random() < 0.01:
            name = name[:-1] + rng.choice(_RARE)
        employer = spell.employer
        people.append(_Person(person.person_number("41"), person.citizen_id, name, person.gender,
                              employer.employer_number if employer else "",
                              employer.credit_code if employer else "", spell.region))  # fmt: skip
    return people


def _amounts(code: str, base_cents: int, flexible: bool) -> tuple[str, str]:
    employer, individual = (_FLEXIBLE if flexible else _THOUSANDTHS)[code]
    return (f"{(base_cents * employer + 500) // 1000 / 100:.2f}",
            f"{(base_cents * individual + 500) // 1000 / 100:.2f}")  # fmt: skip


def _rows(rng: random.Random, rows: int, period: str, people: list[_Person]) -> Iterator[list[str]]:
    arrived = f"{_ym(period, 1)}{rng.randint(1, 9):02d}"
    employee_codes, flexible_codes = tuple(_THOUSANDTHS), tuple(_FLEXIBLE)
    for i in range(rows):
        person = people[i // 4 % len(people)]
        flexible = not person.employer
        code = rng.choice(flexible_codes if flexible else employee_codes) if i % 4 else "110"
        back = rng.random() < 0.05
        base = rng.randrange(300_000, 2_500_000, 100)
        employer_amount, individual_amount = _amounts(code, base, flexible)
        paid = rng.random() < 0.95
        month = _ym(period, -rng.randint(1, 24)) if back else period
        yield [person.number, person.citizen_id, person.name, person.gender, person.employer,
               person.credit_code, code, month, f"{base / 100:.2f}", employer_amount, individual_amount,
               "2" if back else "1", "1" if paid else "2", person.region, arrived if paid else "",
               ""]  # fmt: skip


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
    people = _people(seed, min(max(1, rows // 5), 20_000), period, rare=encoding == "gb18030")
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
