"""The canonical model: validated value types and entities every adapter translates to and from.

Personal values (citizen ids, names, bank accounts, phones) are ``str`` subclasses that mask themselves in
``repr``/``str``; serialising a model to JSON emits the real values.
"""

from __future__ import annotations

from ssgateway.model.base import SCHEMA_VERSION, CanonicalModel, Entity, Provenance
from ssgateway.model.codes import (
    ChangeReason,
    ContributionStatus,
    EmployerType,
    EnrollmentStatus,
    EvidenceType,
    Gender,
    HouseholdType,
    InsuranceType,
    PaidStatus,
    PaymentState,
    PersonStatus,
    RecordType,
    SurvivalResult,
)
from ssgateway.model.contributions import (
    ContributionHistory,
    ContributionRecord,
    Overlap,
    PeriodRange,
    RecordRejection,
    SourceOutcome,
)
from ssgateway.model.events import DeathNotice, SurvivalCertification
from ssgateway.model.identifiers import (
    BankAccount,
    CitizenId,
    CreditCode,
    PersonName,
    PhoneNumber,
    RegionCode,
)
from ssgateway.model.medical import MedicalIdentity, MedicalInsurance, MedicalInsuranceStatus
from ssgateway.model.messages import (
    DeliveryReceipt,
    DuplicateEnrollment,
    DuplicateEnrollmentQuery,
    DuplicateEnrollmentReport,
    HistoryQuery,
    MedicalStatusQuery,
    NoticeReceipt,
    PaymentStatusQuery,
    PaymentStatusReport,
    PaymentSubmission,
    PersonQuery,
    PersonRecord,
    TransferCertificateRequest,
    TransferSubmission,
)
from ssgateway.model.payments import PaymentBatch, PaymentInstruction, PaymentStatus
from ssgateway.model.people import BankAccountBinding, Employer, Enrollment, Person
from ssgateway.model.transfer import (
    AccountBalance,
    TransferAcceptance,
    TransferCertificate,
    YearlyContribution,
)
from ssgateway.model.values import Coded, Money, Period

ENTITIES: dict[str, type[Entity]] = {
    cls.__name__: cls
    for cls in (
        Person,
        Employer,
        Enrollment,
        BankAccountBinding,
        ContributionRecord,
        ContributionHistory,
        TransferCertificate,
        PaymentInstruction,
        PaymentBatch,
        PaymentStatus,
        DeathNotice,
        SurvivalCertification,
        MedicalInsuranceStatus,
    )
}
"""Every canonical entity by name (mappings name their target entity with these keys)."""

__all__ = [
    "ENTITIES",
    "SCHEMA_VERSION",
    "AccountBalance",
    "BankAccount",
    "BankAccountBinding",
    "CanonicalModel",
    "ChangeReason",
    "CitizenId",
    "Coded",
    "ContributionHistory",
    "ContributionRecord",
    "ContributionStatus",
    "CreditCode",
    "DeathNotice",
    "DeliveryReceipt",
    "DuplicateEnrollment",
    "DuplicateEnrollmentQuery",
    "DuplicateEnrollmentReport",
    "Employer",
    "EmployerType",
    "Enrollment",
    "EnrollmentStatus",
    "Entity",
    "EvidenceType",
    "Gender",
    "HistoryQuery",
    "HouseholdType",
    "InsuranceType",
    "MedicalIdentity",
    "MedicalInsurance",
    "MedicalInsuranceStatus",
    "MedicalStatusQuery",
    "Money",
    "NoticeReceipt",
    "Overlap",
    "PaidStatus",
    "PaymentBatch",
    "PaymentInstruction",
    "PaymentState",
    "PaymentStatus",
    "PaymentStatusQuery",
    "PaymentStatusReport",
    "PaymentSubmission",
    "Period",
    "PeriodRange",
    "Person",
    "PersonName",
    "PersonQuery",
    "PersonRecord",
    "PersonStatus",
    "PhoneNumber",
    "Provenance",
    "RecordRejection",
    "RecordType",
    "RegionCode",
    "SourceOutcome",
    "SurvivalCertification",
    "SurvivalResult",
    "TransferAcceptance",
    "TransferCertificate",
    "TransferCertificateRequest",
    "TransferSubmission",
    "YearlyContribution",
]
