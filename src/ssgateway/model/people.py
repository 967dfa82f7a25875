"""People, employers, enrolments and bank-account bindings."""

from __future__ import annotations

from datetime import date

from pydantic import Field

from ssgateway.model.base import Entity
from ssgateway.model.codes import (
    ContributionStatus,
    EmployerType,
    EnrollmentStatus,
    Gender,
    HouseholdType,
    InsuranceType,
    PersonStatus,
)
from ssgateway.model.identifiers import (
    BankAccount,
    CitizenId,
    CreditCode,
    PersonName,
    PhoneNumber,
    RegionCode,
)
from ssgateway.model.values import Coded

__all__ = ["BankAccountBinding", "Employer", "Enrollment", "Person"]


class Person(Entity):
    """An insured person as a provincial system knows them (``ac01``)."""

    citizen_id: CitizenId
    """AAC002."""
    name: PersonName
    """AAC003."""
    gender: Coded[Gender] | None = None
    """AAC004."""
    birth_date: date | None = None
    """AAC006."""
    person_number: str | None = Field(default=None, max_length=30)
    """AAC001: the person's number in the source system."""
    region: RegionCode | None = None
    """AAB301: division of the person's registration."""
    household_type: Coded[HouseholdType] | None = None
    """AAC009."""
    ethnicity: Coded[str] | None = None
    """AAC005 (GB 3304)."""
    phone: PhoneNumber | None = None
    """Contact phone."""


class Employer(Entity):
    """An employer (``ab01``)."""

    employer_number: str = Field(min_length=1, max_length=30)
    """AAB001: the employer's number in the source system."""
    name: str = Field(min_length=1, max_length=200)
    """AAB004."""
    credit_code: CreditCode | None = None
    """Unified social credit code (GB 32100); empty for some legacy employers."""
    employer_type: Coded[EmployerType] | None = None
    """AAB019."""
    region: RegionCode | None = None
    """AAB301."""


class Enrollment(Entity):
    """One enrolment of a person in one insurance (``ac02``)."""

    citizen_id: CitizenId
    """AAC002."""
    insurance_type: Coded[InsuranceType]
    """AAE140."""
    enrollment_status: Coded[EnrollmentStatus] | None = None
    """AAC008 where the source uses its enrolment-status meaning."""
    person_status: Coded[PersonStatus] | None = None
    """AAC008 where the source uses its person-status meaning."""
    contribution_status: Coded[ContributionStatus] | None = None
    """AAC031."""
    enrolled_on: date | None = None
    """AAC030: start of this enrolment spell."""
    employer_number: str | None = Field(default=None, max_length=30)
    """AAB001."""
    employer_name: str | None = Field(default=None, max_length=200)
    """AAB004."""
    region: RegionCode | None = None
    """Division where the enrolment is held."""


class BankAccountBinding(Entity):
    """The bank account a person's benefits are paid into."""

    citizen_id: CitizenId
    name: PersonName
    account: BankAccount
    """AAE010."""
    bank_code: str = Field(min_length=1, max_length=20)
    """AAE008: the bank (CNAPS participant) code."""
    bank_name: str | None = Field(default=None, max_length=200)
    card_number: str | None = Field(default=None, max_length=30)
    """AAZ500: social security card number, when the account is the card's."""
    bound_on: date | None = None
    active: bool = True
