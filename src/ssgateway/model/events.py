"""Life events reported by other agencies: deaths and survival certifications."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import Field, model_validator

from ssgateway.model.base import Entity
from ssgateway.model.codes import EvidenceType, SurvivalResult
from ssgateway.model.identifiers import CitizenId, PersonName, RegionCode

__all__ = ["DeathNotice", "SurvivalCertification"]


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
        """Same person, same death: the same notice, whoever reports it and however often."""
        return f"death:{self.citizen_id.reveal()}:{self.date_of_death.isoformat()}"


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
