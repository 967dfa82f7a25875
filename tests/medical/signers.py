"""Signers an integrator might plug in with ``signing.signer`` (for the signing tests)."""

from __future__ import annotations

import asyncio
from typing import Any

from ssgateway_adapters.medical_insurance import sm3_hexdigest


class PretendHsm:
    """Stands in for an SM2 signer behind an HSM: asynchronous, keyed by a label from the options."""

    signtype = "SM2"

    def __init__(self, label: str) -> None:
        self.label = label
        self.signed = 0

    async def sign(self, message: bytes) -> str:
        await asyncio.sleep(0)  # a round trip to the device
        self.signed += 1
        return f"{self.label}:{sm3_hexdigest(message)}"


def make(options: dict[str, Any]) -> PretendHsm:
    return PretendHsm(str(options["key_label"]))


def broken(options: dict[str, Any]) -> object:
    return object()
