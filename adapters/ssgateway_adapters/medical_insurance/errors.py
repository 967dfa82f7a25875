"""What a failure answer (``infcode`` other than ``0``) means, and which of our errors it becomes.

=====================  =======================================================================
kind                   becomes
=====================  =======================================================================
``expired``            nothing yet: the adapter signs in again and resends (see ``session``)
``transient``          ``TransientError`` (code ``partner.busy``)
``not_found``          ``NotFound`` (code ``person.not_found``)
``permanent``          ``PermanentError`` (code ``partner.refused``)
=====================  =======================================================================

Codes are matched exactly, then messages by regular expression (ignoring case), in the order of the table. The
platform's ``infcode`` and ``err_msg`` stay on the error as ``partner_code`` and ``partner_message``,
masked.
"""

from __future__ import annotations

import re
from typing import Literal

from ssgateway.errors import NotFound, PermanentError, SSGatewayError, TransientError
from ssgateway.masking import mask_text
from ssgateway_adapters.medical_insurance.config import ErrorSettings
from ssgateway_adapters.medical_insurance.envelope import Answer

__all__ = ["ErrorPolicy", "FailureKind", "compile_patterns"]

FailureKind = Literal["expired", "transient", "not_found", "permanent"]
_MESSAGE_LIMIT = 300


def compile_patterns(patterns: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    """Message patterns as the settings give them, compiled to search ignoring case."""
    return tuple(re.compile(p, re.IGNORECASE) for p in patterns)


class ErrorPolicy:
    """Classifies failure answers by the settings' codes and message patterns."""

    def __init__(self, settings: ErrorSettings) -> None:
        self._rules: list[tuple[FailureKind, frozenset[str], tuple[re.Pattern[str], ...]]] = [
            ("expired", frozenset(settings.expired_codes), compile_patterns(settings.expired_messages)),
            ("transient", frozenset(settings.transient_codes), compile_patterns(settings.transient_messages)),
            ("not_found", frozenset(settings.not_found_codes), compile_patterns(settings.not_found_messages)),
        ]

    def kind(self, answer: Answer) -> FailureKind:
        """What a failure answer means."""
        for kind, codes, _ in self._rules:
            if answer.infcode in codes:
                return kind
        for kind, _, patterns in self._rules:
            if any(p.search(answer.err_msg) for p in patterns):
                return kind
        return "permanent"

    def error(self, answer: Answer, *, who: str, partner: str | None, not_found_code: str) -> SSGatewayError:
        """The error a failure answer becomes (``expired`` ones too: when renewing did not help)."""
        message = mask_text(answer.err_msg)[:_MESSAGE_LIMIT]
        text = f"{who}: the platform answered infcode {answer.infcode}: {message or '(no message)'}"
        code, kind = answer.infcode, self.kind(answer)
        if kind == "not_found":
            return NotFound(
                text, code=not_found_code, partner=partner, partner_code=code, partner_message=message
            )
        if kind in ("transient", "expired"):
            return TransientError(
                text,
                code="partner.busy" if kind == "transient" else "partner.session_expired",
                partner=partner,
                partner_code=code,
                partner_message=message,
            )
        return PermanentError(text, partner=partner, partner_code=code, partner_message=message)
