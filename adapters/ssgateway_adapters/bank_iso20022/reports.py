"""Reading the bank's answers: pain.002 status reports and camt.054 notifications → ``PaymentStatus``.

Both are parsed with the hardened settings of :mod:`ssgateway.xmlsafe` (no DOCTYPE, no entities, no
network). Any version of either message is read (the element names used here have not changed since
pain.002.001.03 and camt.054.001.02); the namespace must be one of theirs.

pain.002 statuses map to canonical states through :data:`TRANSACTION_STATES`; a transaction the report does
not list takes its payment-information status, else the group status (a bank may report only ``ACCP`` for
the whole message, or list only the rejected ones under ``PART``). In a camt.054, a transaction with
return information (``RtrInf``) is a returned payment; a booked debit of ours is a settled one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation

from lxml import etree

from ssgateway.errors import InputError
from ssgateway.model import PaymentState, PaymentStatus
from ssgateway.xmlsafe import parse_xml

__all__ = ["REASONS", "TRANSACTION_STATES", "StatusReport", "read_notification", "read_status_report"]

_log = logging.getLogger("ssgateway.bank")
_PREFIX = "urn:iso:std:iso:20022:tech:xsd:"

TRANSACTION_STATES: dict[str, PaymentState] = {
    "RCVD": PaymentState.PENDING,  # received
    "PDNG": PaymentState.PENDING,  # pending
    "ACTC": PaymentState.PENDING,  # accepted technical validation: only the syntax was checked
    "ACFC": PaymentState.PENDING,  # accepted, funds checked
    "PATC": PaymentState.PENDING,  # partially accepted technical
    "ACCP": PaymentState.ACCEPTED,  # accepted customer profile
    "ACWC": PaymentState.ACCEPTED,  # accepted with change
    "ACWP": PaymentState.ACCEPTED,  # accepted without posting
    "ACSP": PaymentState.ACCEPTED,  # accepted, settlement in process
    "ACSC": PaymentState.SETTLED,  # accepted, settlement completed (debtor side)
    "ACCC": PaymentState.SETTLED,  # accepted, settlement completed (creditor side)
    "RJCT": PaymentState.REJECTED,
    "CANC": PaymentState.REJECTED,  # cancelled
    "BLCK": PaymentState.REJECTED,  # blocked
}
"""ISO 20022 external payment transaction status codes → canonical states."""

REASONS: dict[str, str] = {
    "AC01": "incorrect account number",
    "AC04": "closed account number",
    "AC06": "blocked account",
    "AG01": "transaction forbidden",
    "AM04": "insufficient funds",
    "AM05": "duplication",
    "AM10": "invalid control sum",
    "AM18": "invalid number of transactions",
    "BE01": "inconsistent with end customer",
    "DU01": "duplicate message id",
    "FF01": "invalid file format",
    "MD07": "end customer deceased",
    "MS02": "reason not specified, customer generated",
    "MS03": "reason not specified, agent generated",
    "NARR": "narrative",
    "RR04": "regulatory reason",
    "SL01": "specific service offered by the debtor agent (the fund's suspension list)",
}
"""What the status and return reason codes used with pension payments mean (reason text when none is sent)."""


@dataclass(frozen=True, slots=True)
class StatusReport:
    """A pain.002 as read.

    Attributes:
        original_message_id: ``OrgnlMsgId``: the pain.001 (or first of them) the report is about.
        group_status: ``GrpSts`` (``ACCP``, ``PART``, ``RJCT`` …), if given.
        group_reason: the group's first reason code, if any.
        statuses: one per transaction listed or expected, in report order then expected order.
    """

    original_message_id: str
    group_status: str | None
    group_reason: str | None
    statuses: tuple[PaymentStatus, ...]


def _root(data: bytes, family: str, what: str) -> tuple[etree._Element, str]:
    root = parse_xml(data, what=what)
    tag = root.tag if isinstance(root.tag, str) else ""
    ns = tag[1:].split("}", 1)[0] if tag.startswith("{") else ""
    if not ns.startswith(_PREFIX + family) or not tag.endswith("}Document"):
        raise InputError(f"{what} is not an ISO 20022 {family} document")
    return root, ns


class _Reader:
    """Find and read children by local name in one namespace."""

    def __init__(self, ns: str) -> None:
        self.ns = ns
        self._paths: dict[str, str] = {}

    def q(self, path: str) -> str:
        found = self._paths.get(path)
        if found is None:
            found = self._paths[path] = "/".join(f"{{{self.ns}}}{part}" for part in path.split("/"))
        return found

    def text(self, element: etree._Element, path: str) -> str | None:
        value = element.findtext(self.q(path))
        return value.strip() if value and value.strip() else None

    def all(self, element: etree._Element, path: str) -> list[etree._Element]:
        return element.findall(self.q(path))

    def reason(self, element: etree._Element, info: str = "StsRsnInf") -> tuple[str | None, str | None]:
        for block in self.all(element, info):
            code = self.text(block, "Rsn/Cd") or self.text(block, "Rsn/Prtry")
            notes = [n.strip() for n in (e.text for e in self.all(block, "AddtlInf")) if n and n.strip()]
            text = " ".join(notes) or REASONS.get(code or "")
            if code or text:
                return code, text
        return None, None

    def amount(self, element: etree._Element, *paths: str) -> Decimal | None:
        for path in paths:
            value = self.text(element, path)
            if value is not None:
                try:
                    return Decimal(value)
                except InvalidOperation:
                    raise InputError(f"the amount at {path} is not a number") from None
        return None

    def moment(self, element: etree._Element, path: str) -> datetime | None:
        stamp = self.text(element, f"{path}/DtTm")
        day = self.text(element, f"{path}/Dt")
        try:
            if stamp:
                return datetime.fromisoformat(stamp)
            if day:
                return datetime.combine(date.fromisoformat(day), time())
        except ValueError:
            raise InputError(f"the date at {path} is not an ISO date") from None
        return None


def _state(code: str | None, e2e: str) -> tuple[PaymentState, str | None]:
    if code is None:
        return PaymentState.PENDING, "no status given"
    state = TRANSACTION_STATES.get(code)
    if state is None:
        _log.warning("unrecognised payment status %s for %s: reported as pending", code, e2e)
        return PaymentState.PENDING, f"status {code} not recognised"
    return state, None


def read_status_report(
    data: bytes, *, batch_id: str | None = None, expected: Iterable[str] = ()
) -> StatusReport:
    """Read a pain.002 customer payment status report.

    Args:
        data: the document's bytes.
        batch_id: set on every status (default: the report's ``OrgnlPmtInfId``).
        expected: end-to-end ids the report is about; those it does not list get the status of their
            payment information or group (and ``pending`` when there is none).

    Raises:
        XMLSecurityError: a DOCTYPE, a prolog over the limit.
        InputError: not well-formed, not a pain.002, or a malformed amount or date.
    """
    root, ns = _root(data, "pain.002", "the status report (pain.002)")
    r = _Reader(ns)
    report = root.find(r.q("CstmrPmtStsRpt"))
    if report is None:
        raise InputError("the status report (pain.002) has no CstmrPmtStsRpt")
    group = report.find(r.q("OrgnlGrpInfAndSts"))
    if group is None:
        raise InputError("the status report (pain.002) has no OrgnlGrpInfAndSts")
    created = _stamp(r, report, "GrpHdr/CreDtTm")
    group_status = r.text(group, "GrpSts")
    group_reason = r.reason(group)
    statuses: dict[str, PaymentStatus] = {}
    fallback = (group_status, group_reason)
    for info in r.all(report, "OrgnlPmtInfAndSts"):
        info_status = r.text(info, "PmtInfSts") or group_status
        info_reason = r.reason(info) if r.text(info, "PmtInfSts") else group_reason
        fallback = (info_status, info_reason)
        info_batch = batch_id or r.text(info, "OrgnlPmtInfId")
        for tx in r.all(info, "TxInfAndSts"):
            e2e = r.text(tx, "OrgnlEndToEndId")
            if e2e is None:
                _log.warning("a pain.002 transaction status without OrgnlEndToEndId was skipped")
                continue
            code, reason = r.reason(tx)
            tx_status = r.text(tx, "TxSts")
            if tx_status is None:  # the transaction inherits its payment information's status
                tx_status = info_status
                if code is None:
                    code, reason = info_reason
            state, note = _state(tx_status, e2e)
            statuses[e2e] = PaymentStatus(
                end_to_end_id=e2e,
                batch_id=info_batch,
                state=state,
                reason_code=code,
                reason=(reason or note or "")[:500] or None,
                amount=r.amount(tx, "OrgnlTxRef/Amt/InstdAmt", "OrgnlTxRef/IntrBkSttlmAmt"),
                status_at=_stamp(r, tx, "AccptncDtTm") or created,
            )
    for e2e in expected:
        if e2e not in statuses:
            status, (code, reason) = fallback
            if status == "PART":  # a partly accepted group lists its rejected transactions
                status, code, reason = "ACCP", None, None
            state, note = _state(status, e2e)
            statuses[e2e] = PaymentStatus(
                end_to_end_id=e2e,
                batch_id=batch_id,
                state=state,
                reason_code=code,
                reason=(reason or note or "")[:500] or None,
                status_at=created,
            )
    return StatusReport(
        r.text(group, "OrgnlMsgId") or "", group_status, group_reason[0], tuple(statuses.values())
    )


def _stamp(r: _Reader, element: etree._Element, path: str) -> datetime | None:
    stamp = r.text(element, path)
    try:
        return datetime.fromisoformat(stamp) if stamp else None
    except ValueError:
        raise InputError(f"{path} is not an ISO date-time") from None


def read_notification(data: bytes, *, batch_id: str | None = None) -> tuple[PaymentStatus, ...]:
    """Read a camt.054 debit/credit notification: returned payments (and settled ones, when it lists them).

    Args:
        data: the document's bytes.
        batch_id: set on every status (default: the transaction's ``Refs/PmtInfId``).

    Raises:
        XMLSecurityError, InputError: as :func:`read_status_report`.
    """
    root, ns = _root(data, "camt.054", "the notification (camt.054)")
    r = _Reader(ns)
    found: list[PaymentStatus] = []
    for entry in r.all(root, "BkToCstmrDbtCdtNtfctn/Ntfctn/Ntry"):
        booked = (r.text(entry, "Sts/Cd") or r.text(entry, "Sts") or "") == "BOOK"
        when = r.moment(entry, "BookgDt") or r.moment(entry, "ValDt")
        debit = r.text(entry, "CdtDbtInd") == "DBIT"
        for tx in r.all(entry, "NtryDtls/TxDtls"):
            e2e = r.text(tx, "Refs/EndToEndId")
            if e2e is None or e2e == "NOTPROVIDED":
                continue
            returned = tx.find(r.q("RtrInf")) is not None
            if not booked or not (returned or debit):
                continue
            code, reason = r.reason(tx, "RtrInf") if returned else (None, None)
            found.append(
                PaymentStatus(
                    end_to_end_id=e2e,
                    batch_id=batch_id or r.text(tx, "Refs/PmtInfId"),
                    state=PaymentState.RETURNED if returned else PaymentState.SETTLED,
                    reason_code=code,
                    reason=reason[:500] if reason else None,
                    amount=r.amount(tx, "Amt", "AmtDtls/TxAmt/Amt", "AmtDtls/InstdAmt/Amt")
                    or r.amount(entry, "Amt"),
                    status_at=when,
                )
            )
    return tuple(found)
