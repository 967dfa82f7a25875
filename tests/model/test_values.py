from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from pydantic import BaseModel, ValidationError

from ssgateway.model import Money, Period
from ssgateway.model.values import to_money


class Amount(BaseModel):
    amount: Money


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("12.50", "12.50"),
        ("12.5", "12.50"),
        ("12", "12.00"),
        (12, "12.00"),
        (Decimal("0.01"), "0.01"),
        ("-3.20", "-3.20"),
        ("1.500", "1.50"),
        (" 7.00 ", "7.00"),
    ],
)
def test_money_accepts_exact_amounts(value: object, expected: str) -> None:
    assert Amount(amount=value).amount == Decimal(expected)  # type: ignore[arg-type]
    assert str(to_money(value)) == expected


@pytest.mark.parametrize("value", [12.5, 0.1, 1.0, True])
def test_money_refuses_floats_and_booleans(value: object) -> None:
    with pytest.raises(ValidationError, match=r"float|boolean"):
        Amount(amount=value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "value",
    [
        "1.005",
        "0.001",
        Decimal("3.14159"),
        "1e3",
        "12,50",
        "",
        "NaN",
        Decimal("Infinity"),
        "١٢.٣٤",
        "１２.３４",
    ],
)
def test_money_refuses_more_than_two_places_and_junk(value: object) -> None:
    with pytest.raises(ValidationError):
        Amount(amount=value)  # type: ignore[arg-type]


def test_money_serialises_as_exact_string() -> None:
    assert Amount(amount="5").model_dump_json() == '{"amount":"5.00"}'
    assert Amount.model_validate_json('{"amount":"5.10"}').amount == Decimal("5.10")
    with pytest.raises(ValidationError):
        Amount.model_validate_json('{"amount": 5.1}')


@pytest.mark.parametrize("value", ["202406", "2024-06", date(2024, 6, 30), Period(2024, 6)])
def test_period_forms(value: object) -> None:
    assert Period.parse(value) == Period(2024, 6)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["202413", "202400", "2024-6", "24-06", "abcdef", "20240601", "٢٠٢٤٠١"])
def test_period_refuses_impossible_months(value: str) -> None:
    with pytest.raises(ValueError):
        Period.parse(value)


def test_period_arithmetic() -> None:
    assert Period(2024, 12).next() == Period(2025, 1)
    assert Period(2025, 1).previous() == Period(2024, 12)
    assert Period(2024, 1).months_until(Period(2025, 3)) == 14
    assert [str(p) for p in Period(2024, 11).through(Period(2025, 2))] == [
        "2024-11",
        "2024-12",
        "2025-01",
        "2025-02",
    ]
    assert Period(2024, 6).yyyymm() == "202406"
    assert sorted([Period(2025, 1), Period(2024, 3)]) == [Period(2024, 3), Period(2025, 1)]
