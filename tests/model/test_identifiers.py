from __future__ import annotations

import random
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError
from tests.vectors import (
    BAD_CHECK_ID,
    BAD_CREDIT_CODE,
    BAD_MONTH_ID,
    CREDIT_CHARS,
    DIVISIONS,
    LEGACY_CREDIT_CODE,
    VALID_CREDIT_CODES,
    VALID_IDS,
    make_citizen_id,
    make_credit_code,
)

from ssgateway.model import CitizenId, CreditCode, Gender, RegionCode
from ssgateway.model.divisions import DivisionLevel, lookup, register_extra
from ssgateway.model.identifiers import area_prefix, citizen_id_check_char


@pytest.mark.parametrize("value", VALID_IDS)
def test_domain_valid_ids_pass(value: str) -> None:
    assert CitizenId.parse(value).reveal() == value


@pytest.mark.parametrize(
    ("value", "reason"), [(BAD_CHECK_ID, "check character"), (BAD_MONTH_ID, "not a real date")]
)
def test_domain_bad_ids_fail_with_reason(value: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason) as info:
        CitizenId.parse(value)
    assert value not in str(info.value)


def test_citizen_id_exposes_birth_date_gender_division() -> None:
    cid = CitizenId.parse("360426199101010071")
    assert cid.birth_date == date(1991, 1, 1)
    assert cid.gender is Gender.MALE  # sequence 007 is odd
    assert cid.division == "360426"
    assert CitizenId.parse("11010519491231002X").gender is Gender.FEMALE


def test_legacy_15_digit_id_upgrades_to_18() -> None:
    assert CitizenId.parse("110105491231002").reveal() == "11010519491231002X"


def test_full_width_and_lower_case_x_are_normalised() -> None:
    assert CitizenId.parse("１１０１０５１９４９１２３１００２ｘ").reveal() == "11010519491231002X"
    assert CitizenId.parse("11010519491231002x").reveal() == "11010519491231002X"


@pytest.mark.parametrize(
    "value", ["", "123", "00010519491231002X", "1101051949123100AX", "110105300001010015"]
)
def test_malformed_ids_rejected(value: str) -> None:
    with pytest.raises(ValueError):
        CitizenId.parse(value)


def test_citizen_id_masks_itself() -> None:
    cid = CitizenId.parse(VALID_IDS[0])
    for text in (repr(cid), str(cid), f"{cid}", f"{cid:>20}", "%s" % (cid,)):  # noqa: UP031 - %-formatting must mask too
        assert VALID_IDS[0] not in text
    assert "110105********002X" in repr(cid)


def test_validation_errors_do_not_echo_the_input() -> None:
    class M(BaseModel):
        cid: CitizenId

    for model in (M,):
        with pytest.raises(ValidationError) as info:
            model.model_validate({"cid": BAD_CHECK_ID})
        assert "check character" in str(info.value)
    from ssgateway.model import Person

    with pytest.raises(ValidationError) as info:
        Person.model_validate({"citizen_id": BAD_CHECK_ID, "name": "张三"})
    assert BAD_CHECK_ID not in str(info.value)


# property-based: every valid id validates; every single-character corruption is rejected
id_strategy = st.builds(
    lambda division, born, seq: make_citizen_id(random.Random(0), division, born, seq),
    st.sampled_from(DIVISIONS),
    st.dates(min_value=date(1900, 1, 1), max_value=date(2020, 12, 31)),
    st.integers(0, 999),
)


@given(id_strategy)
def test_generated_ids_validate(value: str) -> None:
    assert CitizenId.parse(value).reveal() == value


@given(id_strategy, st.integers(0, 17), st.sampled_from("0123456789X"))
def test_single_character_corruption_is_rejected(value: str, position: int, replacement: str) -> None:
    if value[position] == replacement:
        return
    corrupted = value[:position] + replacement + value[position + 1 :]
    with pytest.raises(ValueError):
        CitizenId.parse(corrupted)


@given(
    st.sampled_from(DIVISIONS),
    st.dates(min_value=date(1900, 1, 1), max_value=date(1999, 12, 31)),
    st.integers(0, 999),
)
def test_15_digit_ids_upgrade_to_valid_18(division: str, born: date, seq: int) -> None:
    legacy = f"{division}{born:%y%m%d}{seq:03d}"
    upgraded = CitizenId.parse(legacy).reveal()
    assert len(upgraded) == 18
    assert upgraded[:6] == division and upgraded[6:14] == f"{born:%Y%m%d}"
    assert upgraded[17] == citizen_id_check_char(upgraded[:17])
    assert CitizenId.parse(upgraded).reveal() == upgraded


@pytest.mark.parametrize("value", VALID_CREDIT_CODES)
def test_domain_valid_credit_codes(value: str) -> None:
    code = CreditCode.parse(value)
    assert code == value and code.verified


def test_bad_credit_code_rejected() -> None:
    with pytest.raises(ValueError, match="check character"):
        CreditCode.parse(BAD_CREDIT_CODE)


def test_legacy_credit_code_needs_legacy_mode() -> None:
    with pytest.raises(ValueError):
        CreditCode.parse(LEGACY_CREDIT_CODE)
    code = CreditCode.parse_legacy(LEGACY_CREDIT_CODE)
    assert code == LEGACY_CREDIT_CODE and not code.verified

    class M(BaseModel):
        code: CreditCode

    with pytest.raises(ValidationError):
        M.model_validate({"code": LEGACY_CREDIT_CODE})
    assert (
        M.model_validate({"code": LEGACY_CREDIT_CODE}, context={"credit_code_mode": "legacy"}).code
        == LEGACY_CREDIT_CODE
    )


def test_legacy_mode_still_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError):
        CreditCode.parse_legacy("91110000I00037341L")  # I is not in the alphabet


credit_strategy = st.builds(lambda seed: make_credit_code(random.Random(seed)), st.integers(0, 2**32))


@given(credit_strategy)
def test_generated_credit_codes_validate(value: str) -> None:
    assert CreditCode.parse(value).verified


@settings(max_examples=200)
@given(credit_strategy, st.integers(0, 17), st.sampled_from(CREDIT_CHARS))
def test_single_character_credit_code_corruption_rejected(
    value: str, position: int, replacement: str
) -> None:
    if value[position] == replacement:
        return
    with pytest.raises(ValueError):
        CreditCode.parse(value[:position] + replacement + value[position + 1 :])


def test_region_codes_know_their_level_and_parents() -> None:
    county = RegionCode.parse("410105")
    assert county.level is DivisionLevel.COUNTY
    assert (county.province, county.city) == ("410000", "410100")
    assert county.name == "金水区"
    assert RegionCode.parse("410000").level is DivisionLevel.PROVINCE
    assert RegionCode.parse("410100").level is DivisionLevel.CITY
    assert RegionCode.parse("410000").city is None


@pytest.mark.parametrize("value", ["999999", "41010", "4101051", "abcdef", "410199"])
def test_unknown_region_codes_rejected(value: str) -> None:
    with pytest.raises(ValueError):
        RegionCode.parse(value)


def test_extra_divisions_can_be_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    from ssgateway.model import divisions

    monkeypatch.setattr(divisions, "_extra", {})  # the registration must not outlive this test
    assert lookup("419999") is None
    register_extra("419999", "测试县")
    assert RegionCode.parse("419999").name == "测试县"


def test_region_prefixes() -> None:
    r = RegionCode.parse("410105")
    assert r.within("41") and r.within("410000") and r.within("410100") and r.within("410105")
    assert not r.within("4102") and not r.within("410106")
    assert (
        area_prefix("410000") == "41"
        and area_prefix("410100") == "4101"
        and area_prefix("410105") == "410105"
    )
