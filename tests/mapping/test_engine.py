from __future__ import annotations

import io
import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
from tests.mapping.test_variant import COLUMNS, dataset, write
from tests.vectors import BAD_CHECK_ID

from ssgateway.errors import InputError, RecordRejected, XMLSecurityError
from ssgateway.mapping import Accepted, MappingCatalog, Rejection, read_csv, read_xml
from ssgateway.model import ContributionRecord

CATALOG = MappingCatalog()
DROP = CATALOG.inbound("golden-insurance/contribution-drop")
NS = "urn:ssgateway:golden-insurance:v1"


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from ssgateway.cli import main; main()", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
    )


def test_every_record_is_accepted_or_rejected_with_its_line() -> None:
    rng = random.Random(3)
    rows = dataset(500)
    broken: dict[int, str] = {}
    for i in rng.sample(range(500), 60):
        field, value = rng.choice([("AAC002", BAD_CHECK_ID), ("AAE140", "999"), ("AAE003", "202413"),
                                   ("AAE180", "12.345"), ("AAB301", "999999"), ("AAC002", "")])  # fmt: skip
        rows[i] = {**rows[i], field: value}
        broken[i + 2] = field  # line numbers: the header is line 1
    text = io.StringIO()
    write_rows(text, rows)
    text.seek(0)
    outcomes = list(
        DROP.map_records(read_csv(text, source="t.csv", required=DROP.columns), source_name="t.csv")
    )
    assert len(outcomes) == 500
    rejected = {o.position: o for o in outcomes if isinstance(o, Rejection)}
    assert set(rejected) == set(broken)
    sources = {
        "AAC002": "citizen_id",
        "AAE140": "insurance_type",
        "AAE003": "period",
        "AAE180": "base",
        "AAB301": "region",
    }
    for line, field in broken.items():
        assert rejected[line].field == sources[field]
        assert rejected[line].source == field
    accepted = [o for o in outcomes if isinstance(o, Accepted)]
    assert accepted[0].entity.provenance.source_ref.startswith("t.csv:")  # type: ignore[attr-defined]


def write_rows(stream: io.StringIO, rows: list[dict[str, str]]) -> None:
    import csv

    writer = csv.DictWriter(stream, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(rows)


def test_rejection_masks_personal_raw_values() -> None:
    row = dict.fromkeys(COLUMNS, "") | {"AAC002": BAD_CHECK_ID}
    outcome = DROP.map_record(row, 7)
    assert isinstance(outcome, Rejection)
    assert outcome.raw == "360426********009X" and BAD_CHECK_ID not in str(outcome)


def test_a_rejection_reason_never_repeats_a_personal_value_unmasked() -> None:
    rows = dataset(2)
    citizen = rows[0]["AAC002"]
    for column in ("AAE143", "AAE140"):  # an id typed into a coded column: "code ... is not in code list"
        outcome = DROP.map_record({**rows[0], column: citizen}, 2)
        assert isinstance(outcome, Rejection) and "is not in code list" in outcome.reason
        assert citizen not in str(outcome) and f"{citizen[:6]}********{citizen[-4:]}" in outcome.reason


def test_unknown_columns_are_carried_in_provenance() -> None:
    rows = dataset(2)
    stream = io.StringIO()
    import csv

    writer = csv.DictWriter(stream, fieldnames=[*COLUMNS, "BZ"])
    writer.writeheader()
    writer.writerows([{**rows[0], "BZ": "备注"}, {**rows[1], "BZ": ""}])
    stream.seek(0)
    outcomes = list(DROP.map_records(read_csv(stream, source="x", required=DROP.columns)))
    extras = [o.entity.provenance.extra for o in outcomes if isinstance(o, Accepted)]  # type: ignore[attr-defined]
    assert extras == [{"BZ": "备注"}, {}]


def test_csv_reader_refuses_bad_headers_and_rejects_bad_rows() -> None:
    with pytest.raises(InputError, match="duplicate header columns: A"):
        list(read_csv(io.StringIO("A,A,B\n1,2,3\n"), source="d.csv"))
    with pytest.raises(InputError, match="missing columns: C"):
        list(read_csv(io.StringIO("A,B\n1,2\n"), source="d.csv", required=["A", "C"]))
    items = list(read_csv(io.StringIO('A,B\n1,2\n1,2,3\n"x\ny",4\n5,\x006\n'), source="d.csv"))
    assert items[0] == (2, {"A": "1", "B": "2"})
    assert isinstance(items[1], Rejection) and items[1].position == 3 and "ragged" in items[1].reason
    assert items[2] == (
        4,
        {"A": "x\ny", "B": "4"},
    )  # a quoted newline stays in its field; positions follow lines
    assert isinstance(items[3], Rejection) and items[3].position == 6 and "NUL" in items[3].reason
    with pytest.raises(InputError, match="malformed CSV"):
        list(read_csv(io.StringIO('A,B\n1,"unterminated\n'), source="d.csv"))


def xml_rows(n: int) -> bytes:
    out = CATALOG.outbound("provincial-soap/contribution-row-out")
    from lxml import etree
    from tests.model.test_entities import record

    rows = b"".join(etree.tostring(out.render(record(f"2019{m % 12 + 1:02d}"))) for m in range(n))
    return (
        f'<gi:QueryContributionsResponse xmlns:gi="{NS}"><gi:rows>'.encode()
        + rows
        + b"</gi:rows></gi:QueryContributionsResponse>"
    )


def test_xml_records_stream_and_map() -> None:
    mapping = CATALOG.inbound("provincial-soap/query-contributions")
    outcomes = [
        mapping.map_record(el, i)
        for i, el in read_xml(io.BytesIO(xml_rows(30)), record_tag=mapping.record_tag or "", source="r.xml")
    ]
    assert len(outcomes) == 30 and all(isinstance(o, Accepted) for o in outcomes)
    assert isinstance(outcomes[0].entity, ContributionRecord)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "document",
    [
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e SYSTEM "file:///etc/passwd">]><r><row>&e;</row></r>',
        b'<!DOCTYPE r [<!ENTITY a "aaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]><r><row>&b;</row></r>',
        b"<!-- " + b"x" * 5000 + b' --><!DOCTYPE r SYSTEM "http://127.0.0.1:1/x.dtd"><r><row>1</row></r>',
    ],
)
def test_xml_with_doctype_is_refused(document: bytes) -> None:
    with pytest.raises(XMLSecurityError, match="DOCTYPE"):
        list(read_xml(io.BytesIO(document), record_tag="row", source="evil.xml"))


def test_malformed_and_truncated_xml_are_input_errors() -> None:
    with pytest.raises(InputError, match="malformed XML"):
        list(read_xml(io.BytesIO(b"<r><row>1</row><row>2</r>"), record_tag="row", source="bad.xml"))
    with pytest.raises(InputError, match="malformed XML"):
        list(read_xml(io.BytesIO(xml_rows(5)[:-40]), record_tag=f"{{{NS}}}row", source="cut.xml"))
    with pytest.raises(InputError, match=r"^junk\.xml: there is text before the root"):
        list(read_xml(io.BytesIO(b"junk<r><row>1</row></r>"), record_tag="row", source="junk.xml"))


def test_outbound_refusal_names_the_field_and_masks() -> None:
    from tests.model.test_entities import record

    out = CATALOG.outbound("golden-insurance/contribution-drop-out")
    odd = record("202401", record_type={"value": None, "raw": "99", "scheme": "other"})
    with pytest.raises(RecordRejected, match="AAE143") as info:
        out.render(odd)
    assert "99" in str(info.value)


def test_translate_csv_end_to_end(tmp_path: Path) -> None:
    rows = dataset(50)
    rows[3] = {**rows[3], "AAC002": BAD_CHECK_ID}
    write(tmp_path / "drop.csv", COLUMNS, rows)
    result = cli("translate", "drop.csv", "-m", "golden-insurance/contribution-drop", "-o", "out.jsonl",
                 "--rejects", "rej.jsonl", "--source", "henan", cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "read 50, accepted 49, rejected 1" in result.stderr
    out = (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(out) == 49 and json.loads(out[0])["provenance"]["source_system"] == "henan"
    (rejection,) = [
        json.loads(line) for line in (tmp_path / "rej.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert (
        rejection["line"] == 5
        and rejection["field"] == "citizen_id"
        and rejection["raw"] == "360426********009X"
    )
    assert BAD_CHECK_ID not in result.stderr + result.stdout


def test_translate_xml_and_json(tmp_path: Path) -> None:
    (tmp_path / "rows.xml").write_bytes(xml_rows(12))
    result = cli(
        "translate", "rows.xml", "-m", "provincial-soap/query-contributions", "-o", "x.jsonl", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert len((tmp_path / "x.jsonl").read_text().splitlines()) == 12
    answer = {"baseinfo": {"certno": "44011320141005001X", "psn_name": "陈小红", "gend": "2"},
              "insuinfo": [{"insutype": "390", "balc": 10.5}]}  # fmt: skip
    (tmp_path / "answer.json").write_text(json.dumps(answer, ensure_ascii=False), encoding="utf-8")
    result = cli("translate", "answer.json", "-m", "medical-insurance/1101-output", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["insurances"][0]["balance"] == "10.50"


def test_translate_unusable_input_leaves_no_output(tmp_path: Path) -> None:
    rows = dataset(20)
    write(tmp_path / "drop.csv", COLUMNS, rows)
    with (tmp_path / "drop.csv").open("ab") as fh:
        fh.write(b"\xff\xfe\xfd not gb18030\n")
    result = cli("translate", "drop.csv", "-m", "golden-insurance/contribution-drop", "-o", "out.jsonl",
                 "--rejects", "rej.jsonl", "--encoding", "utf-8", cwd=tmp_path)  # fmt: skip
    assert result.returncode == 1
    assert "cannot decode" in result.stderr
    assert not (tmp_path / "out.jsonl").exists() and not (tmp_path / "rej.jsonl").exists()
    (tmp_path / "evil.xml").write_bytes(b'<!DOCTYPE r [<!ENTITY e SYSTEM "file:///etc/passwd">]><r/>')
    result = cli("translate", "evil.xml", "-m", "provincial-soap/query-contributions", cwd=tmp_path)
    assert result.returncode == 1 and "xml.doctype" in result.stderr and "root:" not in result.stdout


def test_shipped_mappings_pass_their_examples() -> None:
    result = cli("mappings", "test")
    assert result.returncode == 0, result.stderr
    assert " 0 failed" in result.stdout


def test_mapping_schema_is_a_json_schema() -> None:
    import jsonschema

    schema = json.loads(cli("mappings", "schema").stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert "transforms" in json.dumps(schema)
