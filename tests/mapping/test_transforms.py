"""Transforms read exactly the forms they document, and a bad value rejects its record, never the batch."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tests.mapping.test_broken_mappings import GOOD, check
from tests.mapping.test_engine import cli
from tests.mapping.test_variant import COLUMNS, dataset, fen, write

from ssgateway.mapping import Accepted, MappingCatalog, Rejection, compile_spec, custom_transform, load_spec
from ssgateway.mapping.compiler import InboundMapping
from ssgateway.mapping.transforms import (
    BuildContext,
    CodeLookup,
    FenToYuan,
    HalfWidth,
    ParseDate,
    ParseMonth,
    Reject,
    ToDecimal,
    ToInteger,
    YuanToFen,
)
from ssgateway.masking import PersonalKind, mask
from ssgateway.model import Period

CATALOG = MappingCatalog()
CTX = BuildContext(codelist=CATALOG.codelist)
DEATH_ROW = {"GMSFHM": "360426199101010071", "XM": "王芳", "SWRQ": "20240501", "ZJLX": "3", "TBJG": "x",
             "XZQH": "410105", "TBRQ": "20240503"}  # fmt: skip


def run(step: Any, value: Any) -> Any:
    return step.build(CTX)(value)


def reason(step: Any, value: Any) -> str:
    with pytest.raises(Reject) as info:
        run(step, value)
    return info.value.reason


def compiled(tmp_path: Path, text: str) -> InboundMapping:
    path = tmp_path / "m.yaml"
    path.write_text(text, encoding="utf-8")
    mapping = compile_spec(load_spec(path), CATALOG)
    assert isinstance(mapping, InboundMapping)
    return mapping


# --- 1. dates: exactly the pattern's fixed-width ASCII digits -------------------------------------


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        ("YYYY-MM-DD", "20240229"),  # date.fromisoformat reads the basic ISO form
        ("YYYY-MM-DD", "2024-W09-4"),  # and ISO week dates
        ("YYYY-MM-DD", "2024-2-9"),
        ("YYYYMMDD", "٢٠٢٤٠١٠١"),
        ("YYYYMMDD", "２０２４０１０１"),
        ("YYYYMMDD", "2024011"),
        ("yyyyMMddHHmmss", "202407050930"),  # seconds missing: strptime read 09:03:00
        ("yyyyMMddHHmmss", "2024070593000"),
        ("yyyyMMddHHmmss", "2024070509300٠"),
        ("yyyy-MM-dd HH:mm:ss", "2024-1-5 1:2:3"),
        ("yyyy-MM-dd HH:mm:ss", "2024-01-05T12:00:00"),
        ("YYYY/MM/DD", "2024/1/5"),
        ("yyyyMMddHHmmssSSS", "2024070509300012"),
    ],
)
def test_a_date_not_in_the_exact_form_of_its_pattern_is_rejected(pattern: str, text: str) -> None:
    assert reason(ParseDate(type="date", pattern=pattern), text) == f"not a valid date in the form {pattern}"


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("YYYYMMDD", "20240229", date(2024, 2, 29)),
        ("YYYY-MM-DD", " 2024-02-29 ", date(2024, 2, 29)),
        ("YYYY/MM/DD", "2024/01/05", date(2024, 1, 5)),
        ("yyyy-MM-dd", "2024-01-05", date(2024, 1, 5)),
        ("yyyyMMddHHmmss", "20240705093000", datetime(2024, 7, 5, 9, 30)),
        ("yyyy-MM-dd HH:mm:ss", "2024-01-05 23:59:58", datetime(2024, 1, 5, 23, 59, 58)),
        ("yyyyMMddHHmmssSSS", "20240705093000123", datetime(2024, 7, 5, 9, 30, 0, 123000)),
    ],
)
def test_a_date_in_the_form_of_its_pattern_is_read(pattern: str, text: str, expected: date) -> None:
    assert run(ParseDate(type="date", pattern=pattern), text) == expected


@pytest.mark.parametrize(
    ("pattern", "text", "why"),
    [
        ("YYYYMMDD", "20230229", "day is out of range for month"),
        ("YYYY-MM-DD", "2024-13-01", "month must be in 1..12"),
        ("YYYYMMDD", "00000101", "year 0 is out of range"),
        ("yyyyMMddHHmmss", "20240705250000", "hour must be in 0..23"),
    ],
)
def test_an_impossible_date_is_rejected_saying_why(pattern: str, text: str, why: str) -> None:
    assert (
        reason(ParseDate(type="date", pattern=pattern), text)
        == f"not a valid date in the form {pattern}: {why}"
    )


def test_a_date_pattern_without_a_date_or_with_a_field_twice_is_a_mapping_error() -> None:
    for pattern, message in (
        ("HH:mm", "has no year or month or day"),
        ("YYYYMMDDDD", "the day appears twice"),
    ):
        with pytest.raises(ValueError, match=message):
            ParseDate(type="date", pattern=pattern).build(BuildContext(codelist=CATALOG.codelist))


def test_an_accept_transfer_time_with_seconds_missing_is_rejected() -> None:
    mapping = CATALOG.inbound("provincial-soap/accept-transfer")
    from lxml import etree

    ns = "urn:ssgateway:golden-insurance:v1"
    element = etree.fromstring(
        f'<gi:AcceptTransferResponse xmlns:gi="{ns}"><gi:letterNo>JS44-1</gi:letterNo>'
        "<gi:certificateNo>ZM41-1</gi:certificateNo><gi:acceptedAt>202407050930</gi:acceptedAt>"
        "</gi:AcceptTransferResponse>"
    )
    outcome = mapping.map_record(element, 1)
    assert isinstance(outcome, Rejection) and outcome.field == "accepted_at"


@pytest.mark.parametrize(("pattern", "text"), [("YYYYMM", "٢٠٢٤٠١"), ("YYYYMM", "2024-1"), ("YYYYMM", "２０２４０１"),
                                              ("YYYY-MM", "202401"), ("YYYY-MM", "2024001")])  # fmt: skip
def test_a_month_not_in_the_exact_form_of_its_pattern_is_rejected(pattern: str, text: str) -> None:
    assert reason(ParseMonth(type="month", pattern=pattern), text) == f"not a month in the form {pattern}"  # type: ignore[arg-type]


def test_months_in_their_form_are_read_and_impossible_ones_rejected() -> None:
    assert run(ParseMonth(type="month"), "202406") == Period(2024, 6)
    assert run(ParseMonth(type="month", pattern="YYYY-MM"), "2024-06") == Period(2024, 6)
    assert reason(ParseMonth(type="month"), "202413") == "month 13 is not between 1 and 12"


# --- 2. one bad value rejects one record ------------------------------------------------------------


def test_an_amount_in_fen_too_long_to_hold_is_rejected() -> None:
    assert run(FenToYuan(type="fen_to_yuan"), "9" * 20) == Decimal("9" * 18 + ".99")
    assert reason(FenToYuan(type="fen_to_yuan"), "9" * 29) == "an amount in fen has at most 20 digits"


def test_only_text_and_numbers_are_looked_up_in_a_code_list() -> None:
    from ssgateway.model import Coded

    plain = CodeLookup(type="codelist", list="aac004-gender")
    coded = CodeLookup(type="codelist", list="aac004-gender").build(
        BuildContext(codelist=CATALOG.codelist, coded=Coded)
    )
    for value, kind in ((["2"], "a list"), ({"v": "2"}, "an object")):
        assert reason(plain, value) == f"a code is text or a number, not {kind}"
        with pytest.raises(Reject, match=f"not {kind}"):
            coded(value)
    assert run(plain, 2) == run(plain, "2")


def test_halfwidth_leaves_values_that_are_not_text_alone() -> None:
    assert run(HalfWidth(type="halfwidth"), 5) == 5


def test_a_batch_with_unreadable_values_rejects_those_records_only(tmp_path: Path) -> None:
    rows = dataset(4)
    variant = [{**{k: v for k, v in r.items() if k != "AAC002"}, "AAE135": r["AAC002"], "AAE140": "1",
                "AAE180": fen(r["AAE180"]), "AAE480": fen(r["AAE480"]), "AAE481": fen(r["AAE481"]), "AAB191": ""}
               for r in rows]  # fmt: skip
    variant[1]["AAE180"] = "9" * 29
    write(tmp_path / "fen.csv", ["AAE135", *[c for c in COLUMNS if c != "AAC002"]], variant)
    result = cli("translate", "fen.csv", "-m", "variants/contribution-drop-fen", "-o", "o.jsonl",
                 "--rejects", "r.jsonl", cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "read 4, accepted 3, rejected 1" in result.stderr and "Traceback" not in result.stderr
    (rejection,) = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert rejection["line"] == 3 and rejection["field"] == "base"

    (tmp_path / "mi.jsonl").write_text(
        '{"baseinfo":{"certno":"44011320141005001X","psn_name":"陈小红","gend":"2","brdy":"2014-10-05"}}\n'
        '{"baseinfo":{"certno":"44011320141005001X","psn_name":"陈小红","gend":["2"],"brdy":"2014-10-05"}}\n',
        encoding="utf-8",
    )
    result = cli("translate", "mi.jsonl", "-m", "medical-insurance/1101-output", "-o", "mo.jsonl",
                 "--rejects", "mr.jsonl", cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "read 2, accepted 1, rejected 1" in result.stderr
    (rejection,) = [json.loads(line) for line in (tmp_path / "mr.jsonl").read_text().splitlines()]
    assert rejection["field"] == "gender" and "not a list" in rejection["reason"]


@pytest.mark.parametrize(
    "steps",
    [
        "[{type: custom, function: 'tests.mapping.custom_steps:breaks'}]",
        "[{type: trim}, {type: custom, function: 'tests.mapping.custom_steps:breaks'}]",
        "[{type: trim}, {type: required}, {type: custom, function: 'tests.mapping.custom_steps:breaks'}]",
    ],
    ids=["one-step", "two-steps", "three-steps"],
)
def test_a_transform_failing_unexpectedly_rejects_its_record_masked(tmp_path: Path, steps: str) -> None:
    mapping = compiled(
        tmp_path, GOOD.replace("  name: {source: XM}", f"  name: {{source: XM, transforms: {steps}}}")
    )
    outcomes = list(mapping.map_records([(2, DEATH_ROW), (3, {**DEATH_ROW, "XM": None})]))
    rejection, accepted = outcomes
    assert isinstance(rejection, Rejection) and isinstance(accepted, Rejection | Accepted)
    assert rejection.field == "name" and rejection.source == "XM"
    assert rejection.reason == "transform custom failed (KeyError)"
    assert rejection.raw == mask("王芳", PersonalKind.NAME) and "王芳" not in repr(rejection)


def test_an_outbound_transform_failing_unexpectedly_refuses_the_record_masked(tmp_path: Path) -> None:
    from tests.model.test_entities import record

    from ssgateway.errors import RecordRejected

    text = (
        "id: test/out\nversion: 1\ndescription: a test mapping\ndirection: outbound\nformat: csv\n"
        "entity: ContributionRecord\nfields:\n  AAC002: {source: citizen_id}\n"
        "  AAC003: {source: name, transforms: [{type: trim}, {type: custom, function: 'tests.mapping.custom_steps:breaks'}]}\n"
    )
    path = tmp_path / "out.yaml"
    path.write_text(text, encoding="utf-8")
    out = compile_spec(load_spec(path), CATALOG)
    entity = record("202401")
    with pytest.raises(RecordRejected) as info:
        out.render(entity)  # type: ignore[union-attr]
    assert "transform custom failed (KeyError)" in str(info.value) and info.value.field == "AAC003"  # type: ignore[attr-defined]
    assert entity.name is not None and str.__str__(entity.name) not in str(info.value)  # type: ignore[attr-defined]


# --- 3. masking inside repeated groups --------------------------------------------------------------

PAYMENT = """\
id: test/pay-in
version: 1
description: a test mapping
direction: inbound
format: json
entity: PaymentBatch
fields:
  batch_id: {source: id}
  debtor_name: {source: dn}
  debtor_account: {source: da}
  debtor_bank_code: {source: db}
  requested_execution_date: {source: d, transforms: [{type: date, pattern: YYYY-MM-DD}]}
  instructions:
    each: items
    fields:
      end_to_end_id: {source: e}
      citizen_id: {source: c, transforms: [{type: citizen_id}]}
      name: {source: n, transforms: [{type: regex, pattern: "[^0-9]+", message: "a name has no digits"}]}
      account: {source: a}
      bank_code: {source: b}
      amount: {source: m}
      payout_period: {source: p, transforms: [{type: month}]}
"""


def test_a_rejected_value_inside_a_repeated_group_is_masked_by_its_field_kind(tmp_path: Path) -> None:
    mapping = compiled(tmp_path, PAYMENT)
    item = {"e": "E1", "c": "360426199101010071", "n": "王芳", "a": "6222021234567890123", "b": "1",
            "m": "10.00", "p": "202407"}  # fmt: skip
    batch = {
        "id": "B1",
        "dn": "F",
        "da": "1",
        "db": "1",
        "d": "2024-07-01",
        "items": [item, {**item, "n": "王芳2"}],
    }
    outcome = mapping.map_record(batch, 1)
    assert isinstance(outcome, Rejection) and outcome.field == "instructions[1].name"
    assert outcome.raw == mask("王芳2", PersonalKind.NAME) and "王芳" not in repr(outcome)


# --- 4. custom calls only functions marked as mapping transforms -----------------------------------


@pytest.mark.parametrize(
    ("function", "why"),
    [
        ("builtins:eval", "it is a built-in function"),
        ("os:system", "it is a built-in function"),
        ("shutil:rmtree", "it is not marked as a mapping transform"),
        ("tests.mapping.custom_steps:unmarked", "it is not marked as a mapping transform"),
        ("tests.mapping.custom_steps:Step", "it is a class"),
        ("subprocess:run", "it is not marked as a mapping transform"),
    ],
)
def test_custom_refuses_a_function_not_marked_as_a_transform(tmp_path: Path, function: str, why: str) -> None:
    error = check(tmp_path, GOOD.replace("  name: {source: XM}", f"  name: {{source: XM, transforms: [{{type: custom, function: '{function}'}}]}}"))  # fmt: skip
    assert error.line == 9 and error.key == "fields.name.transforms.0.function"
    assert why in error.message and "@custom_transform" in error.message


def test_custom_calls_a_marked_function(tmp_path: Path) -> None:
    custom = "[{type: custom, function: 'tests.mapping.custom_steps:strip_titles'}]"
    mapping = compiled(
        tmp_path, GOOD.replace("  name: {source: XM}", f"  name: {{source: XM, transforms: {custom}}}")
    )
    outcome = mapping.map_record({**DEATH_ROW, "XM": "王芳女士"}, 2)
    assert isinstance(outcome, Accepted) and outcome.entity.name == "王芳"  # type: ignore[attr-defined]
    outcome = mapping.map_record({**DEATH_ROW, "XM": "女士"}, 3)
    assert isinstance(outcome, Rejection) and outcome.reason == "a name is more than a title"


def test_custom_transform_marks_only_plain_functions() -> None:
    for thing in (eval, dict, print):
        with pytest.raises(TypeError, match="plain Python function"):
            custom_transform(thing)


def test_a_mapping_cannot_evaluate_a_cell(tmp_path: Path) -> None:
    (tmp_path / "evil.yaml").write_text(
        GOOD.replace("id: test/drop", "id: test/evil").replace(
            "  name: {source: XM}",
            "  name: {source: XM, transforms: [{type: custom, function: 'builtins:eval'}]}",
        ),
        encoding="utf-8",
    )
    result = cli("mappings", "check", "evil.yaml", "--mappings-dir", ".", cwd=tmp_path)
    assert result.returncode == 1 and "evil.yaml:9:" in result.stderr and "built-in" in result.stderr


# --- 5. halfwidth changes only full-width forms -----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("１２３ＡＢＣａｂｃ！～", "123ABCabc!~"), ("李　四", "李 四"), ("ｱｲｳ", "ｱｲｳ"), ("①②", "①②"), ("Ⅻ", "Ⅻ"),
     ("㈱", "㈱"), ("x²", "x²"), ("ﬁ", "ﬁ"), ("王芳", "王芳"), ("abc", "abc")],
)  # fmt: skip
def test_halfwidth_changes_only_full_width_ascii_and_the_full_width_space(text: str, expected: str) -> None:
    assert run(HalfWidth(type="halfwidth"), text) == expected


# --- 6. numbers are ASCII digits ---------------------------------------------------------------------


@pytest.mark.parametrize("text", ["١٢.٣٤", "１２.３４", "٣"])
def test_numbers_in_other_scripts_digits_are_rejected(text: str) -> None:
    assert reason(ToDecimal(type="decimal"), text) == "not a decimal number"
    assert reason(YuanToFen(type="yuan_to_fen"), text) == "not an amount"
    if "." not in text:
        assert reason(ToInteger(type="integer"), text) == "not an integer"
        assert reason(FenToYuan(type="fen_to_yuan"), text) == "an amount in fen is a whole number"


def test_ascii_numbers_still_parse() -> None:
    assert run(ToDecimal(type="decimal"), "-12.50") == Decimal("-12.50")
    assert run(ToInteger(type="integer"), "+42") == 42
    assert run(FenToYuan(type="fen_to_yuan"), "0012") == Decimal("0.12")
    assert run(YuanToFen(type="yuan_to_fen"), Decimal("12.34")) == "1234"
    assert run(YuanToFen(type="yuan_to_fen"), " 1.00 ") == "100"
    for bad in ("1e3", "NaN", "Infinity", Decimal("Infinity")):
        assert reason(YuanToFen(type="yuan_to_fen"), bad) == "not an amount"
