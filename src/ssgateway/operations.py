"""The canonical operations: named, typed request → response pairs.

One registry serves the library API, the sidecar's routes and the adapters. An operation says whether it
changes state at the partner (``mutating``: needs an idempotency key) and which request field carries the
region that routes it.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from ssgateway import model as m
from ssgateway.errors import NotFound

__all__ = ["OPERATIONS", "Operation", "get_operation", "operation_names", "register_operation"]


@dataclass(frozen=True, slots=True)
class Operation:
    """A canonical operation.

    Attributes:
        name: dotted name, e.g. ``person.lookup``.
        request: the request model.
        response: the response model.
        mutating: changes state at a partner; callers must send an idempotency key.
        route_field: the request field whose region code picks the partner, if any.
        summary: one line for docs and the OpenAPI document.
    """

    name: str
    request: type[BaseModel]
    response: type[BaseModel]
    mutating: bool
    route_field: str | None
    summary: str

    def region_of(self, request: BaseModel) -> str | None:
        """The region code that routes ``request`` (None when the operation is not routed by region)."""
        if self.route_field is None:
            return None
        value = getattr(request, self.route_field, None)
        return None if value is None else str(value)


OPERATIONS: dict[str, Operation] = {}


def register_operation(operation: Operation) -> Operation:
    """Add an operation to the registry (for extensions); names must be new."""
    if operation.name in OPERATIONS:
        raise ValueError(f"operation {operation.name!r} is already registered")
    OPERATIONS[operation.name] = operation
    return operation


def get_operation(name: str) -> Operation:
    """The operation with this name; ``NotFound`` naming the known ones otherwise."""
    try:
        return OPERATIONS[name]
    except KeyError:
        known = ", ".join(sorted(OPERATIONS))
        raise NotFound(
            f"no operation named {name!r}; known operations: {known}", code="operation.unknown"
        ) from None


def operation_names() -> list[str]:
    """Every registered operation name, sorted."""
    return sorted(OPERATIONS)


for _op in (
    Operation(
        "person.lookup", m.PersonQuery, m.PersonRecord, False, "region", "Find a person and their enrolments."
    ),
    Operation(
        "contributions.history",
        m.HistoryQuery,
        m.ContributionHistory,
        False,
        None,
        "A person's contribution history merged across every region that holds records.",
    ),
    Operation(
        "enrollment.duplicates",
        m.DuplicateEnrollmentQuery,
        m.DuplicateEnrollmentReport,
        False,
        None,
        "Concurrent enrolments of one person across regions or schemes.",
    ),
    Operation(
        "transfer.certificate",
        m.TransferCertificateRequest,
        m.TransferCertificate,
        False,
        "from_region",
        "Ask the old place for a contribution certificate for a transfer.",
    ),
    Operation(
        "transfer.submit",
        m.TransferSubmission,
        m.TransferAcceptance,
        True,
        "from_region",
        "Accept a transfer against a certificate (deduplicated on the certificate number).",
    ),
    Operation(
        "payments.submit",
        m.PaymentBatch,
        m.PaymentSubmission,
        True,
        "debtor_bank_code",
        "Send a pension payment batch to the paying bank (deduplicated on end-to-end ids).",
    ),
    Operation(
        "payments.status",
        m.PaymentStatusQuery,
        m.PaymentStatusReport,
        False,
        "bank_code",
        "Where the payments of a batch stand.",
    ),
    Operation(
        "deaths.notify",
        m.DeathNotice,
        m.NoticeReceipt,
        True,
        None,
        "Record a death notice once and fan it out to every subscriber.",
    ),
    Operation(
        "survival.report",
        m.SurvivalCertification,
        m.NoticeReceipt,
        True,
        None,
        "Record a survival certification result: suspend on failure, resume on success.",
    ),
    Operation(
        "medical.insurance_status",
        m.MedicalStatusQuery,
        m.MedicalInsuranceStatus,
        False,
        "region",
        "A person's status on the medical-insurance platform (1101).",
    ),
):
    register_operation(_op)
