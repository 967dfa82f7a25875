from __future__ import annotations

import base64
import copy
import hashlib
from collections.abc import MutableSet
from datetime import UTC, datetime, timedelta

import pytest
from lxml import etree
from pydantic import SecretStr

from ssgateway.soap import (
    SeenNonces,
    SoapSettings,
    UsernameToken,
    WsseSettings,
    check_username_token,
    load_contract,
)
from ssgateway.soap.wsse import PASSWORD_DIGEST, PASSWORD_TEXT, WSSE_NS, WSU_NS, password_digest

NOW = datetime(2024, 6, 28, 8, 0, tzinfo=UTC)


def envelope() -> etree._Element:
    return load_contract("provincial/v1/provincial.wsdl").build("QueryPerson", AAC002="11010519491231002X")


def test_the_digest_is_the_profile_formula() -> None:
    nonce, created = b"0123456789abcdef", "2024-06-28T08:00:00.000Z"
    expected = base64.b64encode(hashlib.sha1(nonce + created.encode() + b"pw").digest()).decode()  # noqa: S324
    assert password_digest(nonce, created, "pw") == expected


def test_a_digest_token_carries_nonce_and_created_and_verifies() -> None:
    env = envelope()
    UsernameToken("gateway", SecretStr("s3cret")).apply(env, now=NOW)
    token = env.find(f".//{{{WSSE_NS}}}UsernameToken")
    assert token is not None
    assert token.find(f"{{{WSSE_NS}}}Password").get("Type") == PASSWORD_DIGEST  # type: ignore[union-attr]
    assert len(base64.b64decode(token.findtext(f"{{{WSSE_NS}}}Nonce") or "")) == 16
    assert token.findtext(f"{{{WSU_NS}}}Created") == "2024-06-28T08:00:00.000Z"
    assert env.findtext(f".//{{{WSU_NS}}}Timestamp/{{{WSU_NS}}}Expires") == "2024-06-28T08:05:00.000Z"
    assert b"s3cret" not in etree.tostring(env)
    assert check_username_token(env, {"gateway": "s3cret"}, now=NOW) == "gateway"


def test_a_text_token_verifies() -> None:
    env = envelope()
    UsernameToken("gateway", SecretStr("s3cret"), digest=False, timestamp_ttl=None).apply(env, now=NOW)
    assert env.find(f".//{{{WSSE_NS}}}Password").get("Type") == PASSWORD_TEXT  # type: ignore[union-attr]
    assert env.find(f".//{{{WSU_NS}}}Timestamp") is None
    assert check_username_token(env, {"gateway": "s3cret"}, now=NOW) == "gateway"


def test_each_token_is_fresh_and_replaces_the_last() -> None:
    env = envelope()
    token = UsernameToken("gateway", SecretStr("s3cret"))
    token.apply(env)
    first = env.findtext(f".//{{{WSSE_NS}}}Nonce")
    token.apply(env)
    assert len(env.findall(f".//{{{WSSE_NS}}}Security")) == 1
    assert env.findtext(f".//{{{WSSE_NS}}}Nonce") != first


@pytest.mark.parametrize(
    ("passwords", "now", "reason"),
    [
        ({"gateway": "other"}, NOW, "wrong password"),
        ({"someone": "s3cret"}, NOW, "unknown user"),
        ({"gateway": "s3cret"}, NOW + timedelta(minutes=6), "stale"),
    ],
)
def test_bad_tokens_are_refused(passwords: dict[str, str], now: datetime, reason: str) -> None:
    env = envelope()
    UsernameToken("gateway", SecretStr("s3cret")).apply(env, now=NOW)
    with pytest.raises(ValueError, match=reason):
        check_username_token(env, passwords, now=now)


def test_a_replayed_nonce_is_refused() -> None:
    env = envelope()
    UsernameToken("gateway", SecretStr("s3cret")).apply(env, now=NOW)
    seen: set[bytes] = set()
    check_username_token(env, {"gateway": "s3cret"}, now=NOW, seen_nonces=seen)
    with pytest.raises(ValueError, match="replay"):
        check_username_token(env, {"gateway": "s3cret"}, now=NOW, seen_nonces=seen)
    with pytest.raises(ValueError, match="no UsernameToken"):
        check_username_token(envelope(), {"gateway": "s3cret"})


_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


@pytest.mark.parametrize("seen", [set(), SeenNonces()], ids=["set", "SeenNonces"])
def test_a_nonce_respelled_in_base64_is_still_a_replay(seen: SeenNonces | MutableSet[bytes]) -> None:
    env = envelope()
    UsernameToken("gateway", SecretStr("s3cret")).apply(env, now=NOW, nonce=bytes(range(16)))
    check_username_token(env, {"gateway": "s3cret"}, now=NOW, seen_nonces=seen)
    replay = copy.deepcopy(env)
    nonce = replay.find(f".//{{{WSSE_NS}}}Nonce")
    assert nonce is not None and nonce.text is not None
    # 16 bytes leave 4 unused low bits in the last Base64 digit: 16 spellings of the same bytes
    last = nonce.text[21]
    nonce.text = nonce.text[:21] + _ALPHABET[_ALPHABET.index(last) | 0b1111] + nonce.text[22:]
    assert base64.b64decode(nonce.text) == bytes(range(16))
    with pytest.raises(ValueError, match="replay"):
        check_username_token(replay, {"gateway": "s3cret"}, now=NOW, seen_nonces=seen)


def test_seen_nonces_are_forgotten_once_their_token_is_stale() -> None:
    seen = SeenNonces()
    for i in range(50):
        env = envelope()
        UsernameToken("gateway", SecretStr("s3cret")).apply(env, now=NOW)
        check_username_token(env, {"gateway": "s3cret"}, now=NOW + timedelta(seconds=i), seen_nonces=seen)
    assert len(seen) == 50
    late = NOW + timedelta(minutes=10)
    env = envelope()
    UsernameToken("gateway", SecretStr("s3cret")).apply(env, now=late, nonce=b"a fresh nonce!!!")
    check_username_token(env, {"gateway": "s3cret"}, now=late, seen_nonces=seen)
    assert len(seen) == 1 and b"a fresh nonce!!!" in seen  # the 50 stale ones are gone
    with pytest.raises(ValueError, match="replay"):  # still a replay while its token is fresh
        check_username_token(env, {"gateway": "s3cret"}, now=late + timedelta(seconds=299), seen_nonces=seen)


def test_the_password_never_shows_in_settings() -> None:
    settings = SoapSettings(
        endpoint="https://p.example/ws", wsse=WsseSettings(username="gw", password="s3cret")
    )
    assert "s3cret" not in repr(settings) and "s3cret" not in str(settings.model_dump())
    assert "s3cret" not in repr(settings.wsse.token())  # type: ignore[union-attr]
