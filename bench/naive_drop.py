"""The simplest hand-written translation of a contribution drop: csv.DictReader + model_validate per row.

The baseline bench/drops.py measures ``ssgateway translate`` against. It writes the same JSON Lines as
``ssgateway translate -m golden-insurance/contribution-drop`` (same model, same provenance, same
serialisation) and a rejects file, the way one would write it by hand for this one format.

    python bench/naive_drop.py DROP.csv OUT.jsonl REJECTS.jsonl
"""

from __future__ import annotations

import csv
import json
import sys
from datetime import UTC, date, datetime
from pathlib import Path

from pydantic import ValidationError

from ssgateway.model import ContributionRecord, Gender, InsuranceType, PaidStatus, RecordType

GENDER = {"1": Gender.MALE, "2": Gender.FEMALE, "9": Gender.UNSPECIFIED, "0": Gender.UNSPECIFIED}
INSURANCE = {"110": InsuranceType.ENTERPRISE_EMPLOYEE_PENSION, "120": InsuranceType.PUBLIC_INSTITUTION_PENSION,
             "170": InsuranceType.RESIDENT_PENSION, "210": InsuranceType.UNEMPLOYMENT,
             "310": InsuranceType.EMPLOYEE_MEDICAL, "390": InsuranceType.RESIDENT_MEDICAL,
             "410": InsuranceType.WORK_INJURY, "510": InsuranceType.MATERNITY}  # fmt: skip
RECORD_TYPE = {"1": RecordType.NORMAL, "2": RecordType.BACK_PAYMENT, "18": RecordType.REFUND}
PAID = {"1": PaidStatus.PAID, "2": PaidStatus.ARREARS, "7": PaidStatus.REFUNDED, "8": PaidStatus.WRITTEN_OFF}
KNOWN = {"AAC001", "AAC002", "AAC003", "AAC004", "AAB001", "BAB010", "AAE140", "AAE003", "AAE180", "AAE480",
         "AAE481", "AAE143", "AAE114", "AAB301", "AAB191"}  # fmt: skip


def coded(table: dict[str, object], raw: str, scheme: str) -> dict[str, object]:
    if raw not in table:
        raise ValueError(f"code {raw!r} is not in code list {scheme}")
    return {"value": table[raw], "raw": raw, "scheme": scheme}


def main() -> None:
    source, output, rejects = map(Path, sys.argv[1:4])
    received_at = datetime.now(UTC)
    with (
        source.open(encoding="gb18030", newline="") as fh,
        output.open("w", encoding="utf-8") as out,
        rejects.open("w", encoding="utf-8") as rej,
    ):
        reader = csv.DictReader(fh)
        assert reader.fieldnames is not None  # reads the header
        line = reader.line_num
        for row in reader:
            start, line = line + 1, reader.line_num
            try:
                if not row["AAC002"] or not row["AAE140"] or not row["AAE003"]:
                    raise ValueError("required field is empty")
                arrived = row["AAB191"]
                record = ContributionRecord.model_validate(
                    {
                        "citizen_id": row["AAC002"],
                        "name": row["AAC003"].strip() or None,
                        "gender": {
                            "value": GENDER.get(row["AAC004"]),
                            "raw": row["AAC004"],
                            "scheme": "aac004-gender",
                        }
                        if row["AAC004"]
                        else None,
                        "person_number": row["AAC001"].strip() or None,
                        "employer_number": row["AAB001"].strip() or None,
                        "employer_credit_code": row["BAB010"].strip().upper() or None,
                        "insurance_type": coded(INSURANCE, row["AAE140"], "aae140-current"),
                        "period": row["AAE003"],
                        "base": row["AAE180"],
                        "employer_amount": row["AAE480"],
                        "individual_amount": row["AAE481"],
                        "record_type": coded(RECORD_TYPE, row["AAE143"], "aae143-record-type"),
                        "paid_status": coded(PAID, row["AAE114"], "aae114-paid-status"),
                        "region": row["AAB301"],
                        # pydantic would read '20240710' as a Unix timestamp: parse it here
                        "paid_on": date(int(arrived[:4]), int(arrived[4:6]), int(arrived[6:]))
                        if arrived
                        else None,
                        "provenance": {
                            "source_system": "golden-insurance/contribution-drop",
                            "source_ref": f"{source.name}:{start}",
                            "received_at": received_at,
                            "mapping": "golden-insurance/contribution-drop@1",
                            "extra": {k: v for k, v in row.items() if k not in KNOWN and v},
                        },
                    },
                    context={"credit_code_mode": "strict"},
                )
            except (ValidationError, ValueError) as exc:
                rej.write(json.dumps({"line": start, "reason": str(exc)}, ensure_ascii=False) + "\n")
                continue
            out.write(record.model_dump_json() + "\n")


if __name__ == "__main__":
    main()
