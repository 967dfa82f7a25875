"""How the synthetic population is drawn: word lists, employers, names, working lives."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from ssgateway.model import divisions
from ssgateway.model.identifiers import credit_code_check_char
from ssgateway.model.values import Period
from ssgateway.testing._people import FIRST_PERIOD, Spell, SyntheticEmployer, shift

CREDIT_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"

# The most common surnames, roughly in order of frequency (a draw is weighted towards the front).
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
COMPOUND_SURNAMES = ("欧阳", "司马", "诸葛", "上官", "东方")

MALE_GIVEN = "伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宇浩凯健俊帆帅旭宁龙林欢阳建国志文博海东峰晨亮成"
FEMALE_GIVEN = "芳娜敏静丽艳娟霞秀玲桂英红燕梅莉兰凤洁琳素云萍雪慧婷颖倩琴欣怡佳雯璐悦晶丹蓉萱瑶"

TRADE_NAMES = (
    "宏达",
    "恒信",
    "华瑞",
    "金盛",
    "鑫源",
    "永泰",
    "中联",
    "天成",
    "汇丰",
    "瑞丰",
    "博远",
    "新世纪",
    "东方",
    "长城",
    "海纳",
    "正泰",
    "安康",
    "明德",
    "通达",
    "星辰",
)
INDUSTRIES = (
    "机械制造",
    "商贸",
    "建筑工程",
    "物流",
    "电子科技",
    "食品",
    "纺织",
    "软件",
    "医药",
    "餐饮管理",
    "物业服务",
    "汽车零部件",
    "新材料",
    "印务",
    "环保科技",
)
SUFFIXES = ("有限公司", "有限责任公司", "股份有限公司")

# Counties the population lives and works in, two or three per province.
COUNTIES = {
    "11": ("110101", "110105", "110108"),
    "31": ("310101", "310104", "310115"),
    "32": ("320102", "320106", "320506"),
    "33": ("330102", "330106", "330212"),
    "35": ("350102", "350203"),
    "37": ("370102", "370202"),
    "41": ("410102", "410105", "410302"),
    "42": ("420102", "420106", "420111"),
    "43": ("430102",),
    "44": ("440103", "440106", "440305"),
    "51": ("510104", "510107", "510603"),
    "61": ("610103",),
}


def seeded(*parts: object) -> random.Random:
    """A random generator seeded from ``parts`` (string seeds are hashed the same in every process)."""
    return random.Random("/".join(map(str, parts)))  # noqa: S311 - synthetic test data, not secrets


def make_employers(
    rng: random.Random, counties: Sequence[str], per_county: int
) -> tuple[SyntheticEmployer, ...]:
    found: list[SyntheticEmployer] = []
    for county in counties:
        city = divisions.lookup(county[:4] + "00")
        province = divisions.lookup(county[:2] + "0000")
        place = city.name if city and city.name != "市辖区" else (province.name if province else "")
        place = place.removesuffix("市").removesuffix("省")
        for k in range(1, per_county + 1):
            name = rng.choice(TRADE_NAMES) + rng.choice(INDUSTRIES) + rng.choice(SUFFIXES)
            first17 = "91" + county + "".join(rng.choice(CREDIT_CHARS) for _ in range(9))
            found.append(
                SyntheticEmployer(
                    employer_number=f"{county}{k:06d}",
                    name=place + name,
                    credit_code=first17 + credit_code_check_char(first17),
                    region=county,
                )
            )
    return tuple(found)


def make_name(rng: random.Random, gender: str) -> str:
    if rng.random() < 0.01:
        surname = rng.choice(COMPOUND_SURNAMES)
    else:
        surname = SURNAMES[int(len(SURNAMES) * rng.random() ** 2)]
    pool = MALE_GIVEN if gender == "1" else FEMALE_GIVEN
    return surname + "".join(rng.choice(pool) for _ in range(2 if rng.random() < 0.65 else 1))


def make_spells(
    rng: random.Random,
    born: date,
    gender: str,
    provinces: Sequence[str],
    by_county: dict[str, list[SyntheticEmployer]],
    as_of: Period,
) -> tuple[Spell, ...]:
    start = shift(Period(born.year, born.month), 12 * rng.randint(18, 24) + rng.randint(0, 11))
    start = max(start, FIRST_PERIOD, key=lambda p: p.ordinal)
    retire = Period(born.year + (60 if gender == "1" else 50), born.month)
    last = min(as_of, shift(retire, -1), key=lambda p: p.ordinal)
    province = rng.choice(provinces)
    spells: list[Spell] = []
    while start.ordinal <= last.ordinal:
        county = rng.choice(COUNTIES[province])
        employer = rng.choice(by_county[county]) if rng.random() < 0.8 else None
        end = shift(start, rng.randint(12, 120) - 1)
        if end.ordinal >= last.ordinal or len(spells) == 4:
            end = last
        level = Decimal(rng.randint(60, 300)) / 100
        spells.append(Spell(county, employer, start, end, level))
        if end == last:
            break
        if rng.random() < 0.5:
            province = rng.choice([p for p in provinces if p != province] or [province])
        draw = rng.random()
        if draw < 0.6:
            start = shift(end, 1)
        elif draw < 0.85:
            start = shift(end, rng.randint(2, 19))  # a gap of 1 to 18 months
        else:
            start = shift(end, 1 - rng.randint(1, 4))  # an overlap of 1 to 4 months
            start = max(start, shift(spells[-1].start, 1), key=lambda p: p.ordinal)
    return tuple(spells)
