"""Administrative division codes (GB/T 2260 style), read from the data shipped in the package.

A division is a 6-digit code: ``PP0000`` a province, ``PPCC00`` a city (prefecture), ``PPCCXX`` a county.
The data is one snapshot (2023); codes that are missing from it (abolished or newer divisions) can be
registered with :func:`register_extra` at start-up.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources

__all__ = ["Division", "DivisionLevel", "lookup", "province_codes", "register_extra"]


class DivisionLevel(StrEnum):
    """The level of a division code."""

    PROVINCE = "province"
    CITY = "city"
    COUNTY = "county"


@dataclass(frozen=True, slots=True)
class Division:
    """One division: its 6-digit code, name and level."""

    code: str
    name: str
    level: DivisionLevel


_extra: dict[str, Division] = {}


def _rows(name: str) -> list[dict[str, str]]:
    text = resources.files("ssgateway").joinpath("data", "divisions", name).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


@cache
def _table() -> dict[str, Division]:
    table: dict[str, Division] = {}
    for row in _rows("provinces.csv"):
        code = row["code"].ljust(6, "0")
        table[code] = Division(code, row["name"], DivisionLevel.PROVINCE)
    for row in _rows("cities.csv"):
        code = row["code"].ljust(6, "0")
        table[code] = Division(code, row["name"], DivisionLevel.CITY)
    for row in _rows("areas.csv"):
        table[row["code"]] = Division(row["code"], row["name"], DivisionLevel.COUNTY)
    return table


def lookup(code: str) -> Division | None:
    """The division with this 6-digit code, or None when the data does not know it."""
    return _table().get(code) or _extra.get(code)


@cache
def province_codes() -> frozenset[str]:
    """Two-digit codes of every province in the data."""
    return frozenset(code[:2] for code, d in _table().items() if d.level is DivisionLevel.PROVINCE)


def register_extra(code: str, name: str) -> Division:
    """Accept a division missing from the shipped data (for example an abolished county still in records).

    The level is inferred from the code's shape.
    """
    if len(code) != 6 or not code.isdigit():
        raise ValueError("a division code has 6 digits")
    level = (
        DivisionLevel.PROVINCE
        if code.endswith("0000")
        else DivisionLevel.CITY
        if code.endswith("00")
        else DivisionLevel.COUNTY
    )
    division = Division(code, name, level)
    _extra[code] = division
    return division
