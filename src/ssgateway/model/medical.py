"""A person's status on the medical-insurance platform (transaction 1101)."""

from __future__ import annotations

from datetime import date

from pydantic import Field

from ssgateway.model.base import CanonicalModel, Entity
from ssgateway.model.codes import Gender, InsuranceType
from ssgateway.model.identifiers import CitizenId, PersonName, RegionCode
from ssgateway.model.values import Coded, Money

__all__ = ["MedicalIdentity", "MedicalInsurance", "MedicalInsuranceStatus"]


class MedicalInsurance(CanonicalModel):
    """One insurance a person holds on the medical platform (``insuinfo``)."""

    insurance_type: Coded[InsuranceType]
    """``insutype``."""
    status: Coded[str] | None = None
    """``psn_insu_stas``; labels unverified, kept raw beside a code-list translation."""
    person_type: Coded[str] | None = None
    """``psn_type``."""
    started_on: date | None = None
    """``psn_insu_date``."""
    paused_on: date | None = None
    """``paus_insu_date``."""
    region: RegionCode | None = None
    """``insuplc_admdvs``."""
    employer_name: str | None = Field(default=None, max_length=200)
    balance: Money | None = None
    """``balc``: the personal account balance."""
    civil_servant: bool | None = None
    """``cvlserv_flag``."""


class MedicalIdentity(CanonicalModel):
    """A special identity the platform records (``idetinfo``)."""

    identity_type: Coded[str]
    level: str | None = None
    begins_on: date | None = None
    ends_on: date | None = None


class MedicalInsuranceStatus(Entity):
    """What the medical-insurance platform knows of a person."""

    citizen_id: CitizenId
    name: PersonName | None = None
    gender: Coded[Gender] | None = None
    birth_date: date | None = None
    person_number: str | None = Field(default=None, max_length=40)
    """``psn_no``: the platform's person number."""
    insurances: tuple[MedicalInsurance, ...] = ()
    identities: tuple[MedicalIdentity, ...] = ()
    survival_status: Coded[str] | None = None
    """``surv_stas``."""
