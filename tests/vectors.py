"""Identifier vectors from the domain reference (domain.md §5) and helpers that build valid identifiers."""

from __future__ import annotations

import random
from datetime import date, timedelta

from ssgateway.model.identifiers import citizen_id_check_char, credit_code_check_char

VALID_IDS = ["11010519491231002X", "360426199101010071", "44011320141005001X"]
BAD_CHECK_ID = "36042619910102009X"
BAD_MONTH_ID = "360426199113010079"

VALID_CREDIT_CODES = ["91110000600037341L", "91350100M000100Y43"]
BAD_CREDIT_CODE = "91110000600037341N"
LEGACY_CREDIT_CODE = "91350211M0000XUF46"

DIVISIONS = ["110105", "360426", "440113", "410105", "320102", "510104", "650102"]


def make_citizen_id(
    rng: random.Random, division: str | None = None, born: date | None = None, seq: int | None = None
) -> str:
    """A valid 18-character citizen id."""
    division = division or rng.choice(DIVISIONS)
    born = born or date(1940, 1, 1) + timedelta(days=rng.randrange(0, 365 * 80))
    seq = rng.randrange(0, 1000) if seq is None else seq
    first17 = f"{division}{born:%Y%m%d}{seq:03d}"
    return first17 + citizen_id_check_char(first17)


CREDIT_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def make_credit_code(rng: random.Random) -> str:
    """A valid unified social credit code."""
    first17 = "91" + rng.choice(DIVISIONS) + "".join(rng.choice(CREDIT_CHARS) for _ in range(9))
    return first17 + credit_code_check_char(first17)
