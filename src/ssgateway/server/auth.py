"""Caller authentication: API keys, stored as SHA-256 hashes, scoped to operations.

Keys are long random secrets (``ssgateway keys new`` makes one), so a plain SHA-256 is a sound hash: there
is nothing to brute-force. Callers send ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ssgateway.config import ApiKeyConfig

__all__ = ["ApiKeys", "Caller", "hash_key", "new_key"]


def hash_key(key: str) -> str:
    """The stored form of an API key: ``sha256:<hex>``."""
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    """A new random API key (256 bits, URL-safe)."""
    return "ssg_" + secrets.token_urlsafe(32)


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated caller."""

    id: str
    operations: frozenset[str]

    def may(self, operation: str) -> bool:
        """Whether this caller may call ``operation``."""
        return "*" in self.operations or operation in self.operations


class ApiKeys:
    """The configured keys, looked up by hash."""

    def __init__(self, keys: Iterable[ApiKeyConfig]) -> None:
        self._by_hash = {k.hash.get_secret_value(): Caller(k.id, frozenset(k.operations)) for k in keys}

    def __bool__(self) -> bool:
        return bool(self._by_hash)

    def authenticate(self, headers: Mapping[str, str]) -> Caller | None:
        """The caller whose key the request carries, or None."""
        key = headers.get("x-api-key") or None  # an empty header does not hide a Bearer key
        if key is None:
            scheme, _, value = headers.get("authorization", "").partition(" ")
            key = value.strip() if scheme.lower() == "bearer" else None
        if not key:
            return None
        return self._by_hash.get(hash_key(key))
