"""WS-Security UsernameToken (OASIS UsernameToken Profile 1.1): adding one to a request, checking one.

Every token carries a fresh 16-byte nonce and its creation time, with the password either as a digest
(``PasswordDigest``: Base64(SHA-1(nonce + created + password)), the default) or as text
(``PasswordText``, only over TLS). A ``wsu:Timestamp`` with an expiry is added unless disabled. The
password is a :class:`pydantic.SecretStr` and is revealed only while the header is written.
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import hmac
import secrets
from collections.abc import Mapping, MutableSet
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from lxml import etree
from pydantic import SecretStr

from ssgateway.soap.namespaces import SOAP11_ENV

__all__ = [
    "PASSWORD_DIGEST",
    "PASSWORD_TEXT",
    "WSSE_NS",
    "WSU_NS",
    "SeenNonces",
    "UsernameToken",
    "check_username_token",
    "password_digest",
]

WSSE_NS: Final = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU_NS: Final = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
_PROFILE: Final = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"
PASSWORD_TEXT: Final = f"{_PROFILE}#PasswordText"
PASSWORD_DIGEST: Final = f"{_PROFILE}#PasswordDigest"
_BASE64: Final = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _parse_stamp(text: str) -> datetime:
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def password_digest(nonce: bytes, created: str, password: str) -> str:
    """The UsernameToken ``PasswordDigest``: Base64(SHA-1(nonce + created + password))."""
    digest = hashlib.sha1(nonce + created.encode() + password.encode()).digest()  # noqa: S324 - the profile mandates SHA-1
    return base64.b64encode(digest).decode("ascii")


@dataclass(frozen=True, slots=True)
class UsernameToken:
    """Adds a ``wsse:Security`` header with a UsernameToken to outgoing envelopes.

    Attributes:
        username: the account name the partner issued.
        password: the password; never printed (``SecretStr``).
        digest: send ``PasswordDigest`` (default) rather than ``PasswordText``.
        timestamp_ttl: seconds until the ``wsu:Timestamp`` expires; ``None`` sends no timestamp.
    """

    username: str
    password: SecretStr
    digest: bool = True
    timestamp_ttl: float | None = 300.0

    def apply(
        self, envelope: etree._Element, *, now: datetime | None = None, nonce: bytes | None = None
    ) -> None:
        """Add the header to a SOAP 1.1 envelope (in place), replacing an earlier ``wsse:Security``.

        Args:
            envelope: the ``soap:Envelope`` element.
            now: the creation time (default: the current time); for tests.
            nonce: the nonce (default: 16 random bytes); for tests.
        """
        moment = now or datetime.now(UTC)
        created = _stamp(moment)
        nonce = secrets.token_bytes(16) if nonce is None else nonce
        header = envelope.find(f"{{{SOAP11_ENV}}}Header")
        if header is None:
            header = etree.Element(f"{{{SOAP11_ENV}}}Header")
            envelope.insert(0, header)
        for old in header.findall(f"{{{WSSE_NS}}}Security"):
            header.remove(old)
        security = etree.SubElement(header, f"{{{WSSE_NS}}}Security", nsmap={"wsse": WSSE_NS, "wsu": WSU_NS})
        security.set(f"{{{SOAP11_ENV}}}mustUnderstand", "1")
        if self.timestamp_ttl is not None:
            stamp = etree.SubElement(security, f"{{{WSU_NS}}}Timestamp")
            etree.SubElement(stamp, f"{{{WSU_NS}}}Created").text = created
            expires = moment + timedelta(seconds=self.timestamp_ttl)
            etree.SubElement(stamp, f"{{{WSU_NS}}}Expires").text = _stamp(expires)
        token = etree.SubElement(security, f"{{{WSSE_NS}}}UsernameToken")
        etree.SubElement(token, f"{{{WSSE_NS}}}Username").text = self.username
        secret = self.password.get_secret_value()
        password = etree.SubElement(token, f"{{{WSSE_NS}}}Password")
        if self.digest:
            password.set("Type", PASSWORD_DIGEST)
            password.text = password_digest(nonce, created, secret)
        else:
            password.set("Type", PASSWORD_TEXT)
            password.text = secret
        etree.SubElement(token, f"{{{WSSE_NS}}}Nonce", EncodingType=_BASE64).text = base64.b64encode(
            nonce
        ).decode("ascii")
        etree.SubElement(token, f"{{{WSU_NS}}}Created").text = created


class SeenNonces:
    """The nonces of accepted tokens, each remembered only while its token could still pass the age check.

    A token created at ``t`` passes :func:`check_username_token` until ``t + max_age``; its nonce is
    forgotten after that, so the memory holds at most the nonces of the last ``2 * max_age`` seconds.
    Nonces are kept as the decoded bytes: the same bytes spelled another way in Base64 are the same nonce.
    """

    __slots__ = ("_expiry", "_until")

    def __init__(self) -> None:
        self._until: dict[bytes, datetime] = {}
        self._expiry: list[tuple[datetime, bytes]] = []

    def __len__(self) -> int:
        return len(self._until)

    def __contains__(self, nonce: object) -> bool:
        return nonce in self._until

    def add(self, nonce: bytes, *, until: datetime, now: datetime) -> None:
        """Remember ``nonce`` until ``until``, after forgetting those whose time ran out before ``now``.

        Raises:
            ValueError: the nonce is remembered already (a replay).
        """
        while self._expiry and self._expiry[0][0] < now:
            moment, old = heapq.heappop(self._expiry)
            if self._until.get(old) == moment:
                del self._until[old]
        if nonce in self._until:
            raise ValueError("the nonce was used before (replay)")
        self._until[nonce] = until
        heapq.heappush(self._expiry, (until, nonce))


def check_username_token(
    envelope: etree._Element,
    passwords: Mapping[str, str],
    *,
    max_age: float = 300.0,
    now: datetime | None = None,
    seen_nonces: SeenNonces | MutableSet[bytes] | None = None,
) -> str:
    """Check the UsernameToken of a received envelope (the partner's side of :class:`UsernameToken`).

    Args:
        envelope: the received ``soap:Envelope``.
        passwords: password per username.
        max_age: seconds a token's ``Created`` may lie in the past (or in the future, for clock skew).
        now: the current time (default: now); for tests.
        seen_nonces: nonces already used (decoded bytes); a repeated one is a replay. The nonce is added
            when the token passes. A :class:`SeenNonces` forgets each nonce once its token is stale; a
            plain set keeps every nonce.

    Returns:
        The authenticated username.

    Raises:
        ValueError: why the token is refused (missing, unknown user, wrong password, stale, replayed).
    """
    token = envelope.find(f"{{{SOAP11_ENV}}}Header/{{{WSSE_NS}}}Security/{{{WSSE_NS}}}UsernameToken")
    if token is None:
        raise ValueError("no UsernameToken in the wsse:Security header")
    username = (token.findtext(f"{{{WSSE_NS}}}Username") or "").strip()
    password = token.find(f"{{{WSSE_NS}}}Password")
    nonce_text = (token.findtext(f"{{{WSSE_NS}}}Nonce") or "").strip()
    created = (token.findtext(f"{{{WSU_NS}}}Created") or "").strip()
    if password is None or not nonce_text or not created:
        raise ValueError("the UsernameToken lacks its password, nonce or created time")
    expected = passwords.get(username)
    if expected is None:
        raise ValueError("unknown user")
    try:
        moment = _parse_stamp(created)
        nonce = base64.b64decode(nonce_text, validate=True)
    except ValueError as exc:
        raise ValueError("the UsernameToken's created time or nonce is malformed") from exc
    current = now or datetime.now(UTC)
    if abs((current - moment).total_seconds()) > max_age:
        raise ValueError("the UsernameToken is stale")
    given = (password.text or "").strip()
    kind = password.get("Type", PASSWORD_TEXT)
    if kind == PASSWORD_DIGEST:
        ok = hmac.compare_digest(given, password_digest(nonce, created, expected))
    elif kind == PASSWORD_TEXT:
        ok = hmac.compare_digest(given.encode(), expected.encode())
    else:
        raise ValueError("unknown password type")
    if not ok:
        raise ValueError("wrong password")
    if isinstance(seen_nonces, SeenNonces):
        seen_nonces.add(nonce, until=moment + timedelta(seconds=max_age), now=current)
    elif seen_nonces is not None:
        if nonce in seen_nonces:  # the decoded bytes: Base64 has several spellings of the same nonce
            raise ValueError("the nonce was used before (replay)")
        seen_nonces.add(nonce)
    return username
