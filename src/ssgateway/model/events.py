"""Life events reported by other agencies: deaths and survival certifications.

Each event has a *dedupe key* — what makes two reports the same event — and an *event key*, the dedupe
key with its personal part replaced by a digest, which is what travels in logs, outbox keys, broker
message ids and partners' dedupe fields.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta, timezone

from pydantic import Field, model_validator

from ssgateway.model.base import Entity
from ssgateway.model.codes import EvidenceType, SurvivalResult
from ssgateway.model.identifiers import CitizenId, PersonName, RegionCode

__all__ = ["DeathNotice", "SurvivalCertification", "event_digest"]

_BEIJING = timezone(timedelta(hours=8))


def event_digest(dedupe_key: str) -> str:
    """The unkeyed digest of a dedupe key (24 hex digits) that event keys carry instead of personal data.

    Unkeyed, so every partner derives the same key from the same event; a deployment that must not let
    log readers test guesses sets ``events.digest_key`` and the gateway uses a keyed digest instead.
    """
    return hashlib.sha256(dedupe_key.encode("utf-8")).hexdigest()[:24]


class DeathNotice(Entity):
    """A death reported by civil affairs, health, public security or a court."""

    notice_id: str | None = Field(default=None, max_length=64)
    """The reporting agency's reference, when it has one."""
    citizen_id: CitizenId
    name: PersonName
    date_of_death: date
    evidence: EvidenceType
    source_agency: str = Field(min_length=1, max_length=100)
    region: RegionCode
    """Division that reported the death."""
    reported_on: date

    @model_validator(mode="after")
    def _dates(self) -> DeathNotice:
        if self.reported_on < self.date_of_death:
            raise ValueError("a death is reported on or after the date of death")
        return self

    @property
    def dedupe_key(self) -> str:
        """A person dies once: every notice of the person is the same event.

        Whoever reports it, however often, and whatever date of death it gives (agencies' certificates
        and cremation records may differ by a day): the first report recorded is what everyone receives.
        """
        return f"death:{self.citizen_id.reveal()}"

    @property
    def event_key(self) -> str:
        """``death:<digest of the dedupe key>``: names the event without personal data."""
        return f"death:{event_digest(self.dedupe_key)}"


class SurvivalCertification(Entity):
    """The result of a survival (eligibility) certification of a benefit recipient."""

    citizen_id: CitizenId
    name: PersonName
    result: SurvivalResult
    certified_at: datetime
    region: RegionCode
    method: str | None = Field(default=None, max_length=50)
    """How it was checked: face recognition, data comparison, in person."""
    valid_until: date | None = None

    @property
    def dedupe_key(self) -> str:
        """Same person, same certification time, same result: the same event however often it is reported.

        ``certified_at`` is taken in UTC, so one instant written with two offsets is one event; a time
        without an offset is Beijing time (UTC+8), as the partners' systems write it.
        """
        moment = self.certified_at
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=_BEIJING)
        moment = moment.astimezone(UTC)
        return f"survival:{self.citizen_id.reveal()}:{moment.isoformat()}:{self.result.value}"

    @property
    def event_key(self) -> str:
        """``survival:<digest of the dedupe key>``: names the event without personal data."""
        return f"survival:{event_digest(self.dedupe_key)}"
