"""Hypothesis strategies for valid canonical records."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from hypothesis import strategies as st
from tests.vectors import CREDIT_CHARS, DIVISIONS

from ssgateway.model import ContributionRecord
from ssgateway.model.identifiers import citizen_id_check_char, credit_code_check_char

NAME_CHARS = "张王李赵刘陈杨黄周吴徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英"


@st.composite
def citizen_ids(draw: st.DrawFn) -> str:
    division = draw(st.sampled_from(DIVISIONS))
    born = draw(st.dates(min_value=date(1930, 1, 1), max_value=date(2005, 12, 31)))
    first17 = f"{division}{born:%Y%m%d}{draw(st.integers(0, 999)):03d}"
    return first17 + citizen_id_check_char(first17)


@st.composite
def credit_codes(draw: st.DrawFn) -> str:
    body = draw(st.text(alphabet=CREDIT_CHARS, min_size=9, max_size=9))
    first17 = "91" + draw(st.sampled_from(DIVISIONS)) + body
    return first17 + credit_code_check_char(first17)


amounts = st.decimals(min_value=Decimal("0.00"), max_value=Decimal("99999.99"), places=2)
codes = st.builds(
    lambda v, raw, scheme: {"value": v, "raw": raw, "scheme": scheme}, st.just(None), st.none(), st.none()
)


def coded(pairs: list[tuple[str, str]], scheme: str) -> st.SearchStrategy[dict[str, str]]:
    return st.sampled_from(pairs).map(lambda p: {"value": p[1], "raw": p[0], "scheme": scheme})


@st.composite
def contribution_records(draw: st.DrawFn) -> ContributionRecord:
    flexible = draw(st.booleans())
    return ContributionRecord.model_validate({
        "citizen_id": draw(citizen_ids()),
        "name": draw(st.text(alphabet=NAME_CHARS, min_size=2, max_size=4)),
        "gender": draw(st.none() | coded([("1", "male"), ("2", "female")], "aac004-gender")),
        "person_number": draw(st.none() | st.from_regex(r"[0-9]{10}", fullmatch=True)),
        "employer_number": None if flexible else draw(st.from_regex(r"E[0-9]{5}", fullmatch=True)),
        "employer_credit_code": None if flexible else draw(credit_codes()),
        "insurance_type": draw(coded([("110", "enterprise_employee_pension"), ("120", "public_institution_pension"),
                                      ("210", "unemployment"), ("310", "employee_medical"), ("410", "work_injury")],
                                     "aae140-current")),
        "period": f"{draw(st.integers(1995, 2025))}{draw(st.integers(1, 12)):02d}",
        "base": draw(amounts),
        "employer_amount": Decimal("0.00") if flexible else draw(amounts),
        "individual_amount": draw(amounts),
        "record_type": draw(coded([("1", "normal"), ("2", "back_payment"), ("18", "refund")], "aae143-record-type")),
        "paid_status": draw(coded([("1", "paid"), ("2", "arrears"), ("7", "refunded"), ("8", "written_off")],
                                  "aae114-paid-status")),
        "region": draw(st.sampled_from(DIVISIONS)),
        "paid_on": draw(st.none() | st.dates(min_value=date(1995, 1, 1), max_value=date(2025, 12, 31))),
    })  # fmt: skip
