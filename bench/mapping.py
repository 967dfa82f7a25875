"""Compiled mapping vs a hand-written function doing the same work, on already-parsed rows.

Maps N contribution-drop rows (dicts, as a CSV reader yields them) to validated ``ContributionRecord``
entities with provenance, twice in the same run: through the compiled shipped mapping
``golden-insurance/contribution-drop``, and through a hand-written function that does the same
translation (code lists as dicts, the same checks, the same provenance). Prints rows/s of each and
their ratio (target: compiled >= 0.8 x hand-written).

    python bench/mapping.py [--rows 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import gc
import random
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from typing import Any

from ssgateway.mapping import Accepted, MappingCatalog, Rejection
from ssgateway.model import (
    CitizenId,
    ContributionRecord,
    Gender,
    InsuranceType,
    PaidStatus,
    Provenance,
    RecordType,
)
from ssgateway.model.identifiers import citizen_id_check_char

NAMES = ["张伟", "王芳", "李娜", "刘洋", "陈静", "杨磊", "赵敏", "黄强", "周杰", "吴霞"]
REGIONS = ["410105", "410102", "440113", "320102", "510104"]


def make_rows(n: int, seed: int = 1) -> list[dict[str, str]]:
    rng = random.Random(seed)
    people = []
    for _ in range(max(1, n // 12)):
        first17 = f"{rng.choice(REGIONS)}{rng.randint(1950, 2000)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(0, 999):03d}"
        people.append((first17 + citizen_id_check_char(first17), rng.choice(NAMES)))
    rows = []
    for i in range(n):
        cid, name = people[i // 12 % len(people)]
        base = rng.choice([3000, 4500, 5000, 6200, 8000])
        rows.append({
            "AAC001": f"P{i // 12:08d}", "AAC002": cid, "AAC003": name, "AAC004": rng.choice("12"),
            "AAB001": f"E{rng.randint(1, 500):05d}", "BAB010": "91110000600037341L", "AAE140": "110",
            "AAE003": f"{2010 + i % 12}{i % 12 + 1:02d}", "AAE180": f"{base}.00", "AAE480": f"{base * 16 // 100}.00",
            "AAE481": f"{base * 8 // 100}.00", "AAE143": "1", "AAE114": "1", "AAB301": rng.choice(REGIONS),
            "AAB191": "20240710",
        })  # fmt: skip
    return rows


def hand_written() -> Callable[[dict[str, str], int, Provenance], Any]:
    """What a developer would write for this one format, with the same checks and output."""
    gender = {"1": Gender.MALE, "2": Gender.FEMALE, "9": Gender.UNSPECIFIED, "0": Gender.UNSPECIFIED}
    insurance = {"110": InsuranceType.ENTERPRISE_EMPLOYEE_PENSION, "120": InsuranceType.PUBLIC_INSTITUTION_PENSION,
                 "170": InsuranceType.RESIDENT_PENSION, "210": InsuranceType.UNEMPLOYMENT,
                 "310": InsuranceType.EMPLOYEE_MEDICAL, "390": InsuranceType.RESIDENT_MEDICAL,
                 "410": InsuranceType.WORK_INJURY, "510": InsuranceType.MATERNITY}  # fmt: skip
    record_type = {"1": RecordType.NORMAL, "2": RecordType.BACK_PAYMENT, "18": RecordType.REFUND}
    paid = {
        "1": PaidStatus.PAID,
        "2": PaidStatus.ARREARS,
        "7": PaidStatus.REFUNDED,
        "8": PaidStatus.WRITTEN_OFF,
    }

    def coded(table: dict[str, Any], raw: str, scheme: str) -> dict[str, Any]:
        if raw not in table:
            raise ValueError(f"code {raw!r} not in {scheme}")
        return {"value": table[raw], "raw": raw, "scheme": scheme}

    def convert(row: dict[str, str], line: int, provenance: Provenance) -> Any:
        try:
            if not row["AAC002"] or not row["AAE140"] or not row["AAE003"]:
                raise ValueError("required field is empty")
            arrived = row["AAB191"]
            data = {
                "citizen_id": CitizenId.parse(row["AAC002"]),
                "name": row["AAC003"].strip() or None,
                "gender": {
                    "value": gender.get(row["AAC004"]),
                    "raw": row["AAC004"],
                    "scheme": "aac004-gender",
                },
                "person_number": row["AAC001"].strip() or None,
                "employer_number": row["AAB001"].strip() or None,
                "employer_credit_code": row["BAB010"].strip().upper() or None,
                "insurance_type": coded(insurance, row["AAE140"], "aae140-current"),
                "period": row["AAE003"],
                "base": row["AAE180"],
                "employer_amount": row["AAE480"],
                "individual_amount": row["AAE481"],
                "record_type": coded(record_type, row["AAE143"], "aae143-record-type"),
                "paid_status": coded(paid, row["AAE114"], "aae114-paid-status"),
                "region": row["AAB301"],
                "paid_on": date(int(arrived[:4]), int(arrived[4:6]), int(arrived[6:])) if arrived else None,
                "provenance": provenance,
            }
            return ContributionRecord.model_validate(data, context={"credit_code_mode": "strict"})
        except ValueError as exc:
            return exc

    return convert


def run_hand(rows: list[dict[str, str]]) -> int:
    convert = hand_written()
    when = datetime.now(UTC)
    construct = Provenance.model_construct
    known = set(rows[0])
    ok = 0
    for line, row in enumerate(rows, start=2):
        extra = {k: v for k, v in row.items() if k not in known and v}
        prov = construct(source_system="bench", source_ref=f"bench.csv:{line}", received_at=when,
                         mapping="golden-insurance/contribution-drop@1", extra=extra)  # fmt: skip
        if isinstance(convert(row, line, prov), ContributionRecord):
            ok += 1
    return ok


def run_compiled(rows: list[dict[str, str]]) -> int:
    mapping = MappingCatalog().inbound("golden-insurance/contribution-drop")
    records: Iterator[tuple[int, dict[str, str]]] = enumerate(rows, start=2)
    ok = 0
    for outcome in mapping.map_records(records, source_system="bench", source_name="bench.csv"):
        if isinstance(outcome, Accepted):
            ok += 1
        elif isinstance(outcome, Rejection):
            raise SystemExit(f"unexpected rejection: {outcome}")
    return ok


def timed(fn: Callable[[list[dict[str, str]]], int], rows: list[dict[str, str]]) -> tuple[float, int]:
    gc.collect()
    start = time.perf_counter()
    ok = fn(rows)
    return time.perf_counter() - start, ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the best is reported")
    args = parser.parse_args()
    rows = make_rows(args.rows)
    print(f"rows: {len(rows):,}")
    best = {"hand-written": float("inf"), "compiled": float("inf")}
    for _ in range(args.repeat):  # interleaved, so machine noise hits both alike
        for name, fn in (("hand-written", run_hand), ("compiled", run_compiled)):
            elapsed, ok = timed(fn, rows)
            assert ok == len(rows), (name, ok)
            best[name] = min(best[name], elapsed)
    for name, elapsed in best.items():
        print(f"{name:>13}: {len(rows) / elapsed:>10,.0f} rows/s  ({elapsed:.2f} s)")
    print(f"ratio compiled / hand-written: {best['hand-written'] / best['compiled']:.2f} (target >= 0.80)")


if __name__ == "__main__":
    main()
