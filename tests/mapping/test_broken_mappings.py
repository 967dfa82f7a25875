"""A broken mapping fails `mappings check` with the file, the line and a clear reason."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ssgateway.errors import MappingError
from ssgateway.mapping import MappingCatalog, compile_spec, load_spec

GOOD = """\
id: test/drop
version: 1
description: a test mapping
direction: inbound
format: csv
entity: DeathNotice
fields:
  citizen_id: {source: GMSFHM, transforms: [{type: citizen_id}]}
  name: {source: XM}
  date_of_death: {source: SWRQ, transforms: [{type: date, pattern: YYYYMMDD}]}
  evidence:
    source: ZJLX
    transforms: [{type: codelist, list: civil-affairs-evidence}]
  source_agency: {source: TBJG}
  region: {source: XZQH}
  reported_on: {source: TBRQ, transforms: [{type: date}]}
"""

XML_GOOD = """\
id: test/xml
version: 1
description: a test mapping
direction: inbound
format: xml
entity: ContributionRecord
xml:
  namespaces: {gi: "urn:x"}
  record: gi:row
fields:
  citizen_id: {source: "gi:AAC002"}
  insurance_type: {source: "gi:AAE140", transforms: [{type: codelist, list: aae140-current}]}
  period: {source: "gi:AAE003", transforms: [{type: month}]}
  base: {source: "gi:AAE180"}
  employer_amount: {source: "gi:AAE480"}
  individual_amount: {source: "gi:AAE481"}
  record_type: {source: "gi:AAE143", transforms: [{type: codelist, list: aae143-record-type}]}
  paid_status: {source: "gi:AAE114", transforms: [{type: codelist, list: aae114-paid-status}]}
  region: {source: "gi:AAB301"}
"""


def check(tmp_path: Path, text: str) -> MappingError:
    path = tmp_path / "m.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(MappingError) as info:
        compile_spec(load_spec(path), MappingCatalog())
    assert info.value.file == str(path)
    return info.value


def test_good_mappings_compile(tmp_path: Path) -> None:
    for text in (GOOD, XML_GOOD):
        path = tmp_path / "ok.yaml"
        path.write_text(text, encoding="utf-8")
        compile_spec(load_spec(path), MappingCatalog())


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        (
            GOOD.replace("  name: {source: XM}", "  name: {source: XM, colour: red}"),
            9,
            "Extra inputs are not permitted",
        ),
        (GOOD.replace("version: 1", "version: 1\nauthor: me"), 3, "Extra inputs are not permitted"),
        (
            GOOD.replace("{type: date, pattern: YYYYMMDD}", "{type: datum}"),
            10,
            "does not match any of the expected tags",
        ),
        (
            GOOD.replace("list: civil-affairs-evidence", "list: no-such-list"),
            13,
            "unknown code list 'no-such-list'",
        ),
        (GOOD.replace("pattern: YYYYMMDD", "pattern: YYYYQQ"), 10, "unknown token"),
        (
            GOOD.replace("  name: {source: XM}", "  nickname: {source: XM}"),
            9,
            "DeathNotice has no field 'nickname'",
        ),
        (GOOD.replace("  region: {source: XZQH}\n", ""), 7, "fields required but not mapped: region"),
        (GOOD.replace("entity: DeathNotice", "entity: Corpse"), 6, "unknown entity 'Corpse'"),
        (
            GOOD.replace(
                "  name: {source: XM}", "  name: {source: XM, transforms: [{type: regex, pattern: '(['}]}"
            ),
            9,
            "invalid regular expression",
        ),
        (
            GOOD.replace(
                "  name: {source: XM}",
                "  name: {source: XM, transforms: [{type: custom, function: 'no.such:fn'}]}",
            ),
            9,
            "cannot import",
        ),
        (XML_GOOD.replace('source: "gi:AAE180"', 'source: "gi:AAE180[["'), 14, "bad XPath"),
        (XML_GOOD.replace('source: "gi:AAB301"', 'source: "zz:AAB301"'), 19, "unknown namespace prefix 'zz'"),
        (GOOD.replace("fields:", "xml: {record: row}\nfields:"), 1, "cannot have a xml section"),
    ],
    ids=[
        "unknown-key",
        "unknown-top-key",
        "unknown-transform",
        "missing-codelist",
        "bad-date-pattern",
        "unknown-field",
        "missing-required-field",
        "unknown-entity",
        "bad-regex",
        "bad-custom",
        "bad-xpath",
        "unknown-prefix",
        "wrong-section",
    ],
)
def test_broken_mapping_names_file_line_reason(tmp_path: Path, text: str, line: int, reason: str) -> None:
    error = check(tmp_path, text)
    assert reason in error.message
    assert error.line == line, error.message


def test_yaml_syntax_error(tmp_path: Path) -> None:
    error = check(tmp_path, GOOD.replace("  name: {source: XM}", "  name: {source: XM"))
    assert "invalid YAML" in error.message and error.line is not None


def test_cli_check_fails_with_location(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD.replace("list: civil-affairs-evidence", "list: nope"), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-c", "from ssgateway.cli import main; main()", "mappings", "check", str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert f"{bad}:13: fields.evidence.transforms.0.list: unknown code list 'nope'" in result.stderr.replace(
        "\n", ""
    )


def test_cli_test_shows_the_difference(tmp_path: Path) -> None:
    text = (
        GOOD
        + """\
examples:
  - name: wrong expectation
    input: {GMSFHM: "360426199101010071", XM: 李四, SWRQ: "20240501", ZJLX: "3", TBJG: x, XZQH: "410105", TBRQ: "20240503"}
    output: {evidence: medical_certificate}
"""
    )
    path = tmp_path / "m.yaml"
    path.write_text(text, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-c", "from ssgateway.cli import main; main()", "mappings", "test", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "evidence: expected 'medical_certificate', got 'cremation_record'" in result.stderr
