"""Signing the envelope: ``signtype`` names the method, ``cainfo`` carries the signature.

What exactly a platform signs, and with which key, is agreed at onboarding (*unverified* here). The
adapter signs :func:`signing_bytes`: the envelope without ``cainfo``, keys sorted, compact JSON in UTF-8.
A :class:`Signer` is anything with a ``signtype`` and a ``sign(message) -> str`` (or an awaitable of it,
for a hardware security module reached over the network).

Shipped: :class:`Unsigned` (empty ``cainfo``, the default), :class:`SM3Digest` (the SM3 hash of the
message, hex) and :class:`HmacSM3` (HMAC-SM3 with a shared key). SM3 comes from OpenSSL through
:mod:`hashlib`, or from ``cryptography`` when that is installed. An SM2 signature needs the private key:
it must come from the integrator's HSM or a vetted library, plugged in with ``signing.signer``; never
from ``gmssl``, which draws SM2 nonces from Python's non-cryptographic ``random``.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
import inspect
import json
from collections.abc import Awaitable, Mapping
from typing import Any, Protocol, runtime_checkable

from ssgateway.errors import ConfigError

__all__ = [
    "HmacSM3",
    "SM3Digest",
    "Signer",
    "Unsigned",
    "load_signer",
    "sign_envelope",
    "signing_bytes",
    "sm3_hexdigest",
]


@runtime_checkable
class Signer(Protocol):
    """Signs envelopes for the platform.

    Attributes:
        signtype: the envelope's ``signtype`` (``SM2``, ``SM3``, or empty when unsigned).
    """

    signtype: str

    def sign(self, message: bytes) -> str | Awaitable[str]:
        """The ``cainfo`` for ``message`` (:func:`signing_bytes` of the envelope)."""


_HASHLIB_SM3 = "sm3" in hashlib.algorithms_available


def _cryptography() -> tuple[Any, Any]:
    """pyca/cryptography's ``hashes`` and ``hmac``, for a Python whose OpenSSL has no SM3."""
    try:
        return (
            importlib.import_module("cryptography.hazmat.primitives.hashes"),
            importlib.import_module("cryptography.hazmat.primitives.hmac"),
        )
    except ImportError:
        raise ConfigError(
            "SM3 is not available: this Python's OpenSSL lacks it and `cryptography` is not installed",
            key="signing.method",
        ) from None


def sm3_hexdigest(data: bytes) -> str:
    """The SM3 hash (GB/T 32905-2016) of ``data``, 64 lower-case hex digits."""
    if _HASHLIB_SM3:
        return hashlib.new("sm3", data).hexdigest()
    hashes, _ = _cryptography()
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return str(digest.finalize().hex())


def signing_bytes(envelope: Mapping[str, Any]) -> bytes:
    """What is signed: the envelope without ``cainfo``, keys sorted at every level, compact UTF-8 JSON."""
    unsigned = {k: v for k, v in envelope.items() if k != "cainfo"}
    return json.dumps(
        unsigned, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str
    ).encode("utf-8")


class Unsigned:
    """No signature: ``signtype`` and ``cainfo`` stay empty (test platforms, or signing done elsewhere)."""

    signtype = ""

    def sign(self, message: bytes) -> str:
        """Empty."""
        return ""


class SM3Digest:
    """``cainfo`` = the SM3 digest of the message (an integrity check, not a signature: no key)."""

    signtype = "SM3"

    def sign(self, message: bytes) -> str:
        """Hex SM3 of the message."""
        return sm3_hexdigest(message)


class HmacSM3:
    """``cainfo`` = HMAC-SM3 of the message with a key shared with the platform.

    Args:
        key: the shared key.
    """

    signtype = "SM3"

    def __init__(self, key: bytes) -> None:
        if not key:
            raise ConfigError("HMAC-SM3 needs a non-empty key", key="signing.key")
        sm3_hexdigest(b"")  # fail at start-up, not on the first call, when SM3 is missing
        self._key = key

    def sign(self, message: bytes) -> str:
        """Hex HMAC-SM3 of the message."""
        if _HASHLIB_SM3:
            return hmac.new(self._key, message, "sm3").hexdigest()
        hashes, crypto_hmac = _cryptography()
        mac = crypto_hmac.HMAC(self._key, hashes.SM3())
        mac.update(message)
        return str(mac.finalize().hex())


def load_signer(reference: str, options: Mapping[str, Any]) -> Signer:
    """Build an integrator's signer from ``"package.module:factory"``, called with ``options``.

    Raises:
        ConfigError: the reference cannot be imported, or the factory does not return a :class:`Signer`.
    """
    module_name, _, attr = reference.partition(":")
    if not module_name or not attr:
        raise ConfigError(
            f"a signer is named 'package.module:factory', got {reference!r}", key="signing.signer"
        )
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"cannot load signer {reference!r}: {exc}", key="signing.signer") from exc
    signer = factory(dict(options))
    if not isinstance(signer, Signer):
        raise ConfigError(
            f"{reference!r} returned {type(signer).__name__}, which has no signtype and sign(message)",
            key="signing.signer",
        )
    return signer


async def sign_envelope(envelope: dict[str, Any], signer: Signer) -> None:
    """Set the envelope's ``signtype`` and then its ``cainfo`` (which covers ``signtype``)."""
    envelope["signtype"] = signer.signtype
    envelope["cainfo"] = ""
    signature = signer.sign(signing_bytes(envelope))
    envelope["cainfo"] = await signature if inspect.isawaitable(signature) else signature
