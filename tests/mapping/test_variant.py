"""The variant drop (ids in AAE135, old AAE140 codes, fen, ISO dates) gives the reference drop's records."""

from __future__ import annotations

import csv
import random
from decimal import Decimal
from pathlib import Path

from tests.vectors import make_citizen_id

from ssgateway.mapping import Accepted, MappingCatalog, read_csv

REFERENCE_TO_VARIANT_AAE140 = {"110": "1", "210": "2", "310": "3", "410": "4", "510": "5"}
COLUMNS = ["AAC001", "AAC002", "AAC003", "AAC004", "AAB001", "BAB010", "AAE140", "AAE003", "AAE180", "AAE480",
           "AAE481", "AAE143", "AAE114", "AAB301", "AAB191"]  # fmt: skip


def dataset(n: int) -> list[dict[str, str]]:
    rng = random.Random(42)
    rows = []
    for i in range(n):
        base = Decimal(rng.randrange(300000, 2000000)) / 100
        arrived = f"2024{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}" if i % 5 else ""
        rows.append({
            "AAC001": f"{i:010d}", "AAC002": make_citizen_id(rng), "AAC003": rng.choice(["张伟", "王芳", "欧阳娜娜"]),
            "AAC004": rng.choice("129"), "AAB001": f"E{i % 40:05d}", "BAB010": "91350100M000100Y43" if i % 3 else "",
            "AAE140": rng.choice(list(REFERENCE_TO_VARIANT_AAE140)), "AAE003": f"20{rng.randint(10, 24)}{rng.randint(1, 12):02d}",
            "AAE180": f"{base:.2f}", "AAE480": f"{base * Decimal('0.16'):.2f}", "AAE481": f"{base * Decimal('0.08'):.2f}",
            "AAE143": rng.choice(["1", "2", "18"]), "AAE114": rng.choice("1278"), "AAB301": rng.choice(["410105", "440113"]),
            "AAB191": arrived,
        })  # fmt: skip
    return rows


def fen(yuan: str) -> str:
    return str(int(Decimal(yuan) * 100))


def write(path: Path, header: list[str], rows: list[dict[str, str]]) -> None:
    with path.open("w", encoding="gb18030", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=header, lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(rows)


def canonical(mapping_id: str, path: Path) -> list[dict[str, object]]:
    mapping = MappingCatalog().inbound(mapping_id)
    out = []
    with path.open(encoding="gb18030", newline="") as fh:
        for outcome in mapping.map_records(read_csv(fh, source=path.name, required=mapping.columns)):
            assert isinstance(outcome, Accepted), outcome
            doc = outcome.entity.model_dump(mode="json", exclude={"provenance"})
            for key, value in doc.items():  # codes: compare canonical values, not each source's raw codes
                if isinstance(value, dict) and "value" in value:
                    doc[key] = value["value"]
            out.append(doc)
    return out


def test_variant_drop_maps_to_the_same_canonical_records(tmp_path: Path) -> None:
    rows = dataset(300)
    write(tmp_path / "reference.csv", COLUMNS, rows)
    variant_rows = [
        {**{k: v for k, v in r.items() if k != "AAC002"}, "AAE135": r["AAC002"],
         "AAE140": REFERENCE_TO_VARIANT_AAE140[r["AAE140"]], "AAE180": fen(r["AAE180"]), "AAE480": fen(r["AAE480"]),
         "AAE481": fen(r["AAE481"]), "AAB191": f"{r['AAB191'][:4]}-{r['AAB191'][4:6]}-{r['AAB191'][6:]}" if r["AAB191"] else ""}
        for r in rows
    ]  # fmt: skip
    variant_columns = ["AAE135", *reversed([c for c in COLUMNS if c != "AAC002"])]  # another column order too
    write(tmp_path / "variant.csv", variant_columns, variant_rows)

    reference = canonical("golden-insurance/contribution-drop", tmp_path / "reference.csv")
    variant = canonical("variants/contribution-drop-fen", tmp_path / "variant.csv")
    assert len(reference) == len(variant) == 300
    assert reference == variant
