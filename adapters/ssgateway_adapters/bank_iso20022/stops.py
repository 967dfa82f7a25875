"""The paying bank's stop list: deaths stop a person's future payments, failed survival checks suspend them.

Each event is recorded with ``PUT <stop_list_path>/<event id>`` and a small JSON body. The event id is a
digest of the event's own key — ``DeathNotice.dedupe_key`` (same person, same death) or the person, time
and result of a certification — so a repeated delivery lands on the same id and the bank records it once
(its answer says ``duplicate``). The bank matches later payments by the creditor's national identity
number (``Cdtr/Id/PrvtId/Othr`` with scheme ``NIDN`` in the pain.001) and rejects them with the reason
code sent here. A certification older than the last one the bank has for that person changes nothing, so
events delivered out of order do not undo newer ones; a death is never lifted by a certification.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from ssgateway.errors import OutcomeUnknown
from ssgateway.masking import personal_digest
from ssgateway.model import DeathNotice, NoticeReceipt, SurvivalCertification, SurvivalResult

from .settings import BankSettings
from .transport import BankTransport

__all__ = ["StopList", "survival_key"]


def survival_key(certification: SurvivalCertification) -> str:
    """The dedupe key of a certification: the person, when it was done, and its result.

    The model's own key (``SurvivalCertification.dedupe_key``), so the bank's event ids agree with the
    gateway's event keys: without a ``digest_key`` both are ``survival:<the same digest>``.
    """
    return certification.dedupe_key


class StopList:
    """Records deaths and survival results at the bank (see the module)."""

    def __init__(self, settings: BankSettings, transport: BankTransport) -> None:
        self.settings = settings
        self.transport = transport
        secret = settings.digest_key.get_secret_value().encode() if settings.digest_key else None
        self._secret = secret

    def digest(self, key: str) -> str:
        """The digest naming an event: keyed when ``digest_key`` is set."""
        if self._secret is not None:
            return personal_digest(key, self._secret)
        return hashlib.sha256(key.encode()).hexdigest()[:24]

    async def death(self, notice: DeathNotice) -> NoticeReceipt:
        """Stop the person's future payments."""
        digest = self.digest(notice.dedupe_key)
        body = {
            "kind": "death",
            "citizen_id": notice.citizen_id.reveal(),
            "name": notice.name.reveal(),
            "reason_code": self.settings.death_reason_code,
            "date_of_death": notice.date_of_death.isoformat(),
            "reported_on": notice.reported_on.isoformat(),
        }
        return await self._record(f"death-{digest}", body, f"death:{digest}")

    async def survival(self, certification: SurvivalCertification) -> NoticeReceipt:
        """Suspend the person's payments, or lift the suspension."""
        digest = self.digest(survival_key(certification))
        suspend = certification.result is SurvivalResult.NOT_CERTIFIED
        body = {
            "kind": "suspend" if suspend else "resume",
            "citizen_id": certification.citizen_id.reveal(),
            "name": certification.name.reveal(),
            "reason_code": self.settings.suspension_reason_code,
            "certified_at": certification.certified_at.isoformat(),
        }
        return await self._record(f"survival-{digest}", body, f"survival:{digest}")

    async def _record(self, event_id: str, body: dict[str, Any], key: str) -> NoticeReceipt:
        what = f"stop list {event_id}"
        answer = await self.transport.request(
            "PUT",
            f"{self.settings.stop_list_path}/{event_id}",
            what=what,
            content=json.dumps(body, ensure_ascii=False).encode(),
            content_type="application/json",
        )
        if answer.status not in (200, 201):
            raise self.transport.failure(what, answer)
        try:
            duplicate = bool(json.loads(answer.body)["duplicate"])
        except (ValueError, KeyError, TypeError) as exc:
            raise OutcomeUnknown(
                f"{self.transport.partner}: {what}: the answer is unreadable; the bank may have recorded it",
                partner=self.transport.partner,
                code="partner.unreadable_answer",
            ) from exc
        return NoticeReceipt(key=key, duplicate=duplicate, received_at=datetime.now(UTC))
