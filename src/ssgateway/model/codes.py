"""Canonical code values (enums). Legacy codes translate to these through code lists in ``mappings/``."""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "ChangeReason",
    "ContributionStatus",
    "EmployerType",
    "EnrollmentStatus",
    "EvidenceType",
    "Gender",
    "HouseholdType",
    "InsuranceType",
    "PaidStatus",
    "PaymentState",
    "PersonStatus",
    "RecordType",
    "SurvivalResult",
]


class Gender(StrEnum):
    """Gender as recorded (GB/T 2261.1: 1 male, 2 female, 9 unspecified)."""

    MALE = "male"
    FEMALE = "female"
    UNSPECIFIED = "unspecified"


class InsuranceType(StrEnum):
    """Kinds of social insurance (AAE140 in its three legacy schemes, the medical platform's insutype)."""

    BASIC_PENSION = "basic_pension"
    ENTERPRISE_EMPLOYEE_PENSION = "enterprise_employee_pension"
    PUBLIC_INSTITUTION_PENSION = "public_institution_pension"
    RESIDENT_PENSION = "resident_pension"
    ENTERPRISE_SUPPLEMENTARY_PENSION = "enterprise_supplementary_pension"
    UNEMPLOYMENT = "unemployment"
    EMPLOYEE_MEDICAL = "employee_medical"
    CIVIL_SERVANT_MEDICAL_SUBSIDY = "civil_servant_medical_subsidy"
    LARGE_AMOUNT_MEDICAL_SUBSIDY = "large_amount_medical_subsidy"
    RESIDENT_MEDICAL = "resident_medical"
    RETIRED_CADRE_MEDICAL = "retired_cadre_medical"
    SUPPLEMENTARY_MEDICAL = "supplementary_medical"
    WORK_INJURY = "work_injury"
    MATERNITY = "maternity"

    @property
    def is_pension(self) -> bool:
        """Whether this is one of the pension schemes."""
        return self in _PENSIONS

    @property
    def is_employee_pension(self) -> bool:
        """Whether this is the urban employees' pension, legacy code included.

        The scheme with a pooled fund and individual accounts, whose transfers carry a pooled part;
        residents' pension is not.
        """
        return self in _PENSIONS and self is not InsuranceType.RESIDENT_PENSION


_PENSIONS = frozenset(
    {
        InsuranceType.BASIC_PENSION,
        InsuranceType.ENTERPRISE_EMPLOYEE_PENSION,
        InsuranceType.PUBLIC_INSTITUTION_PENSION,
        InsuranceType.RESIDENT_PENSION,
    }
)


class RecordType(StrEnum):
    """AAE143: what a contribution record is."""

    NORMAL = "normal"
    BACK_PAYMENT = "back_payment"
    REFUND = "refund"


class PaidStatus(StrEnum):
    """AAE114: whether the contribution was paid."""

    PAID = "paid"
    ARREARS = "arrears"
    REFUNDED = "refunded"
    WRITTEN_OFF = "written_off"


class EnrollmentStatus(StrEnum):
    """AAC008 in its enrolment-status meaning."""

    NOT_ENROLLED = "not_enrolled"
    NORMAL = "normal"
    INTERRUPTED = "interrupted"
    INTERRUPTED_TAX = "interrupted_sent_to_tax"
    TERMINATED = "terminated"


class PersonStatus(StrEnum):
    """AAC008 in its person-status meaning."""

    EMPLOYED = "employed"
    RETIRED = "retired"
    ONE_OFF_RETIREMENT = "one_off_retirement"
    TERMINATED = "terminated"
    AWAITING_RETIREMENT = "awaiting_retirement"


class ContributionStatus(StrEnum):
    """AAC031: contribution status of an enrolment."""

    NOT_ENROLLED = "not_enrolled"
    PAYING = "paying"
    SUSPENDED = "suspended"
    TERMINATED = "terminated"
    ENROLLED_NOT_PAYING = "enrolled_not_paying"


class HouseholdType(StrEnum):
    """AAC009: household registration type."""

    URBAN = "urban"
    RURAL = "rural"
    NON_LOCAL_URBAN = "non_local_urban"
    NON_LOCAL_RURAL = "non_local_rural"


class EmployerType(StrEnum):
    """AAB019: kind of employer."""

    ENTERPRISE = "enterprise"
    PUBLIC_INSTITUTION = "public_institution"
    GOVERNMENT_ORGAN = "government_organ"
    SOCIAL_GROUP = "social_group"
    SELF_EMPLOYED = "self_employed"
    OTHER = "other"


class ChangeReason(StrEnum):
    """AAE160: why an enrolment or benefit changed (excerpt)."""

    NEW_ENROLMENT = "new_enrolment"
    TRANSFER_IN_FROM_OUTSIDE = "transfer_in_from_outside"
    TRANSFER_IN_WITHIN = "transfer_in_within"
    DEATH_IN_SERVICE = "death_in_service"
    TRANSFER_OUT = "transfer_out"
    EMPLOYED_TO_RETIRED = "employed_to_retired"
    NORMAL_RETIREMENT = "normal_retirement"
    NO_SURVIVAL_PROOF = "no_survival_proof"
    IMPRISONED = "imprisoned"
    MISSING = "missing"
    BENEFIT_RESUMED = "benefit_resumed"
    EMIGRATED = "emigrated"
    RETIREE_DEATH = "retiree_death"


class EvidenceType(StrEnum):
    """What proves a death."""

    MEDICAL_CERTIFICATE = "medical_certificate"
    POLICE_CERTIFICATE = "police_certificate"
    CREMATION_RECORD = "cremation_record"
    COURT_DECLARATION = "court_declaration"


class SurvivalResult(StrEnum):
    """Outcome of a survival (eligibility) certification."""

    CERTIFIED = "certified"
    NOT_CERTIFIED = "not_certified"


class PaymentState(StrEnum):
    """Where a payment instruction stands with the bank."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    SETTLED = "settled"
    REJECTED = "rejected"
    RETURNED = "returned"
