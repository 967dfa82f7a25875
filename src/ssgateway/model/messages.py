"""Requests and responses of the canonical operations that are not entities themselves."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field, model_validator

from ssgateway.model.base import CanonicalModel
from ssgateway.model.codes import InsuranceType
from ssgateway.model.contributions import SourceOutcome
from ssgateway.model.identifiers import CitizenId, PersonName, RegionCode
from ssgateway.model.payments import PaymentStatus
from ssgateway.model.people import Enrollment, Person
from ssgateway.model.values import Period

__all__ = [
    "DeliveryReceipt",
    "DuplicateEnrollment",
    "DuplicateEnrollmentQuery",
    "DuplicateEnrollmentReport",
    "HistoryQuery",
    "MedicalStatusQuery",
    "NoticeReceipt",
    "PaymentStatusQuery",
    "PaymentStatusReport",
    "PaymentSubmission",
    "PersonQuery",
    "PersonRecord",
    "TransferCertificateRequest",
    "TransferSubmission",
]


class PersonQuery(CanonicalModel):
    """``person.lookup``: find a person in the region that holds them."""

    citizen_id: CitizenId
    region: RegionCode
    """Where to look (routes the request)."""


class PersonRecord(CanonicalModel):
    """``person.lookup`` answer: the person and their enrolments in that region."""

    person: Person
    enrollments: tuple[Enrollment, ...] = ()


class HistoryQuery(CanonicalModel):
    """``contributions.history``: a person's contributions across regions."""

    citizen_id: CitizenId
    regions: tuple[RegionCode, ...] = ()
    """Regions to ask; empty means every region the gateway has a route for."""
    from_period: Period | None = None
    to_period: Period | None = None
    insurance_type: InsuranceType | None = None

    @model_validator(mode="after")
    def _order(self) -> HistoryQuery:
        if self.from_period and self.to_period and self.from_period > self.to_period:
            raise ValueError("from_period is after to_period")
        return self


class DuplicateEnrollmentQuery(CanonicalModel):
    """``enrollment.duplicates``: find a person's concurrent enrolments across regions or schemes."""

    citizen_id: CitizenId
    regions: tuple[RegionCode, ...] = ()


class DuplicateEnrollment(CanonicalModel):
    """Enrolments that should not coexist (the same kind of pension in two places, or both schemes)."""

    kind: str
    """``same_insurance_in_several_regions`` or ``employee_and_resident_pension``."""
    enrollments: tuple[Enrollment, ...]


class DuplicateEnrollmentReport(CanonicalModel):
    """``enrollment.duplicates`` answer."""

    citizen_id: CitizenId
    duplicates: tuple[DuplicateEnrollment, ...] = ()
    sources: tuple[SourceOutcome, ...] = ()


class TransferCertificateRequest(CanonicalModel):
    """``transfer.certificate``: ask the old place for a contribution certificate."""

    citizen_id: CitizenId
    from_region: RegionCode
    """The issuing (old) place; routes the request."""
    to_region: RegionCode


class TransferSubmission(CanonicalModel):
    """``transfer.submit``: accept a transfer against a certificate.

    Sent to the issuing place, which dedupes on the certificate number: resending the same submission
    returns the same acceptance letter.
    """

    certificate_number: str = Field(min_length=1, max_length=40)
    citizen_id: CitizenId
    from_region: RegionCode
    """The issuing place; routes the request."""
    to_region: RegionCode
    """The receiving division."""
    receiving_account: str = Field(min_length=1, max_length=40)
    """The receiving fund's account for the transferred funds (institutional)."""


class PaymentSubmission(CanonicalModel):
    """``payments.submit`` answer: the bank's acknowledgement of a batch."""

    batch_id: str
    accepted: int
    rejected: int
    statuses: tuple[PaymentStatus, ...] = ()


class PaymentStatusQuery(CanonicalModel):
    """``payments.status``: where the payments of a batch stand."""

    batch_id: str = Field(min_length=1, max_length=35)
    bank_code: str | None = None
    """Routes to the bank's adapter when several banks are configured."""
    end_to_end_ids: tuple[str, ...] = ()
    """Only these payments; empty means the whole batch."""


class PaymentStatusReport(CanonicalModel):
    """``payments.status`` answer."""

    batch_id: str
    statuses: tuple[PaymentStatus, ...]


class MedicalStatusQuery(CanonicalModel):
    """``medical.insurance_status``: a person's status on the medical-insurance platform."""

    citizen_id: CitizenId
    name: PersonName | None = None
    region: RegionCode
    """The insured place (``insuplc_admdvs``); routes the request."""


class DeliveryReceipt(CanonicalModel):
    """One subscriber's delivery of a fanned-out event."""

    subscriber: str
    delivery_id: str
    state: str


class NoticeReceipt(CanonicalModel):
    """Answer to ``deaths.notify`` and ``survival.report``: what was recorded and who will be told."""

    key: str
    """The dedupe key of the event (personal parts replaced by a digest)."""
    duplicate: bool
    """True when the same event was received before; nothing new was sent."""
    received_at: datetime
    deliveries: tuple[DeliveryReceipt, ...] = ()
