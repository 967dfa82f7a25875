"""Operations that ask several partners and merge: a person's history, duplicate enrolments.

``contributions.history`` asks every partner that serves it (or those for the regions the query names),
then follows the regions the answers' records point to that no partner has been asked for yet. Partners
that fail do not fail the call: the merged history lists them in ``sources`` with the error, and its
``complete`` flag is false. So does a province the records point to that no partner serves
(``route.none``), and a partner still to ask when the rounds of following ran out (``history.not_asked``).
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable

from pydantic import BaseModel

from ssgateway.errors import NotFound, SSGatewayError
from ssgateway.masking import mask_text
from ssgateway.model import (
    ContributionHistory,
    ContributionRecord,
    DuplicateEnrollment,
    DuplicateEnrollmentQuery,
    DuplicateEnrollmentReport,
    Enrollment,
    EnrollmentStatus,
    HistoryQuery,
    InsuranceType,
    PersonQuery,
    PersonRecord,
    RecordRejection,
    SourceOutcome,
)
from ssgateway.model.codes import ContributionStatus
from ssgateway.runtime.router import Route, Router

__all__ = ["PartnerCall", "duplicate_enrollments", "gather_history"]

PartnerCall = Callable[[str, str, BaseModel], Awaitable[BaseModel]]
"""``call(partner, operation, request)``: one call to one partner, through its policies."""

log = logging.getLogger("ssgateway.runtime")
MAX_ROUNDS = 8
"""Rounds of following records to partners not asked yet (a chain of transfers across provinces)."""


def _outcome(route: Route, error: BaseException | None = None, records: int = 0) -> SourceOutcome:
    region = ",".join(route.prefixes) or "*"
    if error is None:
        return SourceOutcome(region=region, partner=route.partner, ok=True, records=records)
    if isinstance(error, SSGatewayError):
        code, message = error.code, error.message
    else:
        log.error("partner %s failed unexpectedly", route.partner, exc_info=error)
        code, message = "internal", type(error).__name__
    return SourceOutcome(
        region=region, partner=route.partner, ok=False, error_code=code, error=mask_text(message)
    )


def _unexpected(result: object) -> BaseException:
    return (
        result
        if isinstance(result, BaseException)
        else TypeError(f"unexpected answer {type(result).__name__}")
    )


async def gather_history(query: HistoryQuery, router: Router, call: PartnerCall) -> ContributionHistory:
    """A person's contribution history from every partner that may hold it, merged."""
    op = "contributions.history"
    if query.regions:
        pending = {
            router.route(op, str(region)).partner: router.route(op, str(region)) for region in query.regions
        }
    else:
        pending = {r.partner: r for r in router.serving(op)}
    asked: set[str] = set()
    records: list[ContributionRecord] = []
    rejections: list[RecordRejection] = []
    sources: list[SourceOutcome] = []
    unserved: dict[str, str] = {}  # province → why no partner could be asked
    for _round in range(MAX_ROUNDS):
        if not pending:
            break
        routes = list(pending.values())
        asked.update(pending)
        results = await asyncio.gather(*(call(r.partner, op, query) for r in routes), return_exceptions=True)
        for route, result in zip(routes, results, strict=True):
            if isinstance(result, ContributionHistory):
                records.extend(r for r in result.records if r.citizen_id == query.citizen_id)
                rejections.extend(result.rejections)
                sources.append(_outcome(route, records=len(result.records)))
            else:
                sources.append(_outcome(route, _unexpected(result)))
        pending = {}
        for region in sorted({str(r.region) for r in records}):  # regions the records point to
            try:
                route = router.route(op, region)
            except NotFound as exc:  # nobody to ask: the history cannot be known to be complete
                unserved.setdefault(f"{region[:2]}0000", exc.message)
                continue
            if route.partner not in asked:
                pending[route.partner] = route
    sources.extend(  # still to ask when the rounds ran out
        SourceOutcome(
            region=",".join(route.prefixes) or "*",
            partner=route.partner,
            ok=False,
            error_code="history.not_asked",
            error=f"not asked: records led to it after {MAX_ROUNDS} rounds of following regions",
        )
        for route in pending.values()
    )
    sources.extend(
        SourceOutcome(region=province, ok=False, error_code="route.none", error=mask_text(reason))
        for province, reason in unserved.items()
    )
    return ContributionHistory.merge(
        query.citizen_id, records, sources=sources, insurance_type=query.insurance_type, rejections=rejections
    )


_ACTIVE = {EnrollmentStatus.NORMAL}
_EMPLOYEE_PENSIONS = {InsuranceType.ENTERPRISE_EMPLOYEE_PENSION, InsuranceType.PUBLIC_INSTITUTION_PENSION}


def _active(e: Enrollment) -> bool:
    if e.enrollment_status is not None and e.enrollment_status.value is not None:
        return e.enrollment_status.value in _ACTIVE
    if e.contribution_status is not None and e.contribution_status.value is not None:
        return e.contribution_status.value is ContributionStatus.PAYING
    return True


async def duplicate_enrollments(
    query: DuplicateEnrollmentQuery, router: Router, call: PartnerCall
) -> DuplicateEnrollmentReport:
    """Active enrolments that should not coexist, found by asking every partner serving ``person.lookup``."""
    op = "person.lookup"
    routes = [router.route(op, str(r)) for r in query.regions] if query.regions else router.serving(op)
    routes = list({r.partner: r for r in routes}.values())

    async def ask(route: Route) -> BaseModel:
        region = (route.prefixes[0] if route.prefixes else query.citizen_id.division).ljust(6, "0")
        return await call(route.partner, op, PersonQuery(citizen_id=query.citizen_id, region=region))  # type: ignore[arg-type]

    results = await asyncio.gather(*(ask(r) for r in routes), return_exceptions=True)
    enrollments: list[Enrollment] = []
    sources = []
    for route, result in zip(routes, results, strict=True):
        if isinstance(result, PersonRecord):
            enrollments.extend(result.enrollments)
            sources.append(_outcome(route, records=len(result.enrollments)))
        elif isinstance(result, NotFound):  # not known there: an answer, not a failure
            sources.append(_outcome(route))
        else:
            sources.append(_outcome(route, _unexpected(result)))
    active = [e for e in enrollments if _active(e)]
    by_kind: dict[InsuranceType | None, list[Enrollment]] = defaultdict(list)
    for e in active:
        by_kind[e.insurance_type.value].append(e)
    duplicates = [
        DuplicateEnrollment(kind="same_insurance_in_several_regions", enrollments=tuple(group))
        for kind, group in by_kind.items()
        if kind is not None and len({str(e.region or "")[:2] for e in group}) > 1
    ]
    employee = [e for e in active if e.insurance_type.value in _EMPLOYEE_PENSIONS]
    resident = [e for e in active if e.insurance_type.value is InsuranceType.RESIDENT_PENSION]
    if employee and resident:
        duplicates.append(
            DuplicateEnrollment(kind="employee_and_resident_pension", enrollments=(*employee, *resident))
        )
    return DuplicateEnrollmentReport(
        citizen_id=query.citizen_id, duplicates=tuple(duplicates), sources=tuple(sources)
    )
