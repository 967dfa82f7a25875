from __future__ import annotations

import pytest

from ssgateway.masking import PersonalKind, mask, mask_text, personal_digest

ID = "11010519491231002X"


@pytest.mark.parametrize(
    ("value", "kind", "expected"),
    [
        (ID, PersonalKind.CITIZEN_ID, "110105********002X"),
        ("110105491231002", PersonalKind.CITIZEN_ID, "110105*****1002"),
        ("张三", PersonalKind.NAME, "张*"),
        ("欧阳娜娜", PersonalKind.NAME, "欧***"),
        ("6222021234567890123", PersonalKind.BANK_ACCOUNT, "***************0123"),
        ("13812345678", PersonalKind.PHONE, "138****5678"),
        ("abc", PersonalKind.OTHER, "a*c"),
    ],
)
def test_mask_by_kind(value: str, kind: PersonalKind, expected: str) -> None:
    assert mask(value, kind) == expected


@pytest.mark.parametrize(
    "text",
    [
        f"person {ID} not found",
        "id=36042619910102009X (bad check digit is still personal)",
        "legacy 110105491231002 id",
        "card 6222 0212 3456 7890 123 declined",
        "account 6222021234567890123",
        "call +86 138-1234-5678",
        "full width １１０１０５１９４９１２３１００２Ｘ too",
        f"身份证{ID}号",
    ],
)
def test_mask_text_hides_every_personal_token(text: str) -> None:
    out = mask_text(text)
    digits = "".join(c for c in out if c.isdigit())
    assert "*" in out
    assert (
        "1949123" not in digits
        and "91010200" not in digits
        and "34567890" not in digits
        and "1234567" not in digits
    )


@pytest.mark.parametrize(
    "text",
    ["sha256 3f2a9c0e1b4d5e6f7a8b9c0d1e2f3a4b", "request 4f3c2b1a-0000", "period 202406", "amount 1234.50"],
)
def test_mask_text_leaves_other_tokens(text: str) -> None:
    assert mask_text(text) == text


def test_personal_digest_is_keyed_and_stable() -> None:
    a = personal_digest(ID, b"k1")
    assert a == personal_digest(ID.lower(), b"k1")
    assert a != personal_digest(ID, b"k2")
    assert ID not in a
