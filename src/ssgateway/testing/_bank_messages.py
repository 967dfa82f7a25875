"""The simulated bank's documents: reading pain.001 uploads, writing pain.002 reports and camt.054 notices.

Written independently of the ``bank-iso20022`` adapter (a bank is not built from its customer's code), so
the adapter's tests check one against the other. See :mod:`ssgateway.testing.bank`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from lxml import etree

from ssgateway.resources import shipped_contracts_dir
from ssgateway.xmlsafe import hardened_parser

__all__ = [
    "CAMT054",
    "PAIN001",
    "PAIN002",
    "Incoming",
    "MessageError",
    "ReportLine",
    "Transaction",
    "bank_schema",
    "read_pain001",
    "write_camt054",
    "write_pain002",
]

PAIN001 = "pain.001.001.09"
PAIN002 = "pain.002.001.10"
CAMT054 = "camt.054.001.08"
_PREFIX = "urn:iso:std:iso:20022:tech:xsd:"
_SCHEMAS: dict[str, etree.XMLSchema] = {}


def bank_schema(message: str) -> etree.XMLSchema:
    """The compiled schema of ``message``, from the package's ``contracts/iso20022``."""
    found = _SCHEMAS.get(message)
    if found is None:
        path = shipped_contracts_dir() / "iso20022" / f"{message}.xsd"
        found = _SCHEMAS[message] = etree.XMLSchema(etree.parse(str(path), hardened_parser()))
    return found


class MessageError(Exception):
    """The upload is not a usable pain.001: the bank rejects the whole message with ``code``."""

    def __init__(self, code: str, text: str, msg_id: str = "UNKNOWN") -> None:
        super().__init__(text)
        self.code, self.text, self.msg_id = code, text, msg_id


@dataclass(frozen=True, slots=True)
class Transaction:
    """One credit transfer as the bank reads it."""

    end_to_end_id: str
    batch_id: str
    amount: Decimal
    name: str
    citizen_id: str
    account: str
    bank_code: str

    @property
    def content(self) -> tuple[str, ...]:
        """What identifies the payment besides its end-to-end id (a repeat must agree on all of it)."""
        return (f"{self.amount:.2f}", self.citizen_id, self.account, self.bank_code)


@dataclass(frozen=True, slots=True)
class Incoming:
    """A pain.001 as read: its ids, its debtor and its transactions, in order."""

    msg_id: str
    created: str
    count: int
    control_sum: Decimal | None
    debtor_account: str
    transactions: tuple[Transaction, ...]

    @property
    def digest(self) -> tuple[tuple[str, ...], ...]:
        """The message's content without its creation time: a resend compares equal."""
        return tuple((t.end_to_end_id, t.batch_id, *t.content) for t in self.transactions)


def _amount(text: str | None) -> Decimal:
    try:
        return Decimal(text or "")
    except InvalidOperation:
        raise MessageError("FF01", "an amount is not a number") from None


@functools.cache
def _clark(path: str) -> str:
    return "/".join(f"{{{_PREFIX}{PAIN001}}}{part}" for part in path.split("/"))


def read_pain001(root: etree._Element) -> Incoming:
    """Read a parsed pain.001.001.09 (already validated against its schema)."""
    q = _clark

    def text(element: etree._Element, path: str) -> str:
        return (element.findtext(q(path)) or "").strip()

    initiation = root.find(q("CstmrCdtTrfInitn"))
    if initiation is None:
        raise MessageError("FF01", "not a customer credit transfer initiation")
    msg_id = text(initiation, "GrpHdr/MsgId")
    transactions: list[Transaction] = []
    debtor = ""
    for info in initiation.findall(q("PmtInf")):
        batch = text(info, "PmtInfId")
        debtor = debtor or text(info, "DbtrAcct/Id/Othr/Id") or text(info, "DbtrAcct/Id/IBAN")
        for tx in info.findall(q("CdtTrfTxInf")):
            ids = [(text(o, "Id"), text(o, "SchmeNm/Cd")) for o in tx.findall(q("Cdtr/Id/PrvtId/Othr"))]
            citizen = next((value for value, scheme in ids if scheme == "NIDN"), "")
            transactions.append(
                Transaction(
                    end_to_end_id=text(tx, "PmtId/EndToEndId"),
                    batch_id=batch,
                    amount=_amount(text(tx, "Amt/InstdAmt")),
                    name=text(tx, "Cdtr/Nm"),
                    citizen_id=citizen.upper(),
                    account=text(tx, "CdtrAcct/Id/Othr/Id") or text(tx, "CdtrAcct/Id/IBAN"),
                    bank_code=text(tx, "CdtrAgt/FinInstnId/ClrSysMmbId/MmbId"),
                )
            )
    control = text(initiation, "GrpHdr/CtrlSum")
    return Incoming(
        msg_id=msg_id,
        created=text(initiation, "GrpHdr/CreDtTm"),
        count=int(text(initiation, "GrpHdr/NbOfTxs") or "0"),
        control_sum=_amount(control) if control else None,
        debtor_account=debtor,
        transactions=tuple(transactions),
    )


@dataclass(frozen=True, slots=True)
class ReportLine:
    """One transaction's line in a status report or notification."""

    end_to_end_id: str
    batch_id: str
    status: str
    """ISO transaction status: ``ACCP``, ``ACSC``, ``RJCT``."""
    reason_code: str | None = None
    reason: str | None = None
    amount: Decimal | None = None
    msg_id: str | None = None
    name: str | None = None
    account: str | None = None
    at: datetime | None = None


class _Writer:
    def __init__(self, message: str) -> None:
        self.ns = f"{_PREFIX}{message}"
        self.root = etree.Element(f"{{{self.ns}}}Document", nsmap={None: self.ns})
        self._tags: dict[str, list[str]] = {}

    def sub(
        self, parent: etree._Element, path: str, text: str | None = None, **attrib: str
    ) -> etree._Element:
        element = parent
        for i, tag in enumerate(path.split("/")):
            element = etree.SubElement(element, f"{{{self.ns}}}{tag}", attrib if i == path.count("/") else {})
        if text is not None:
            element.text = text
        return element

    def reason(self, parent: etree._Element, tag: str, code: str | None, text: str | None) -> None:
        if not code and not text:
            return
        block = self.sub(parent, tag)
        if code:
            self.sub(block, "Rsn/Cd", code)
        if text:
            self.sub(block, "AddtlInf", text[:105])

    def bytes(self) -> bytes:
        return etree.tostring(self.root, xml_declaration=True, encoding="UTF-8")


def _group_status(lines: Sequence[ReportLine]) -> str:
    rejected = sum(1 for line in lines if line.status == "RJCT")
    if lines and rejected == len(lines):
        return "RJCT"
    return "PART" if rejected else "ACCP"


def write_pain002(
    report_id: str,
    created: datetime,
    original_msg_id: str,
    lines: Sequence[ReportLine],
    *,
    group: tuple[str, str | None, str | None] | None = None,
    original_count: int | None = None,
) -> bytes:
    """A pain.002.001.10 report on ``lines`` (grouped by batch), or on the group alone.

    Args:
        report_id: the report's own message id.
        created: its creation time.
        original_msg_id: the pain.001 it answers (or the first of a batch's messages).
        lines: one per transaction.
        group: ``(status, reason code, text)`` of the whole group, overriding the one derived from lines.
        original_count: the original number of transactions, when known.
    """
    w = _Writer(PAIN002)
    report = w.sub(w.root, "CstmrPmtStsRpt")
    header = w.sub(report, "GrpHdr")
    w.sub(header, "MsgId", report_id)
    w.sub(header, "CreDtTm", created.isoformat(timespec="seconds"))
    original = w.sub(report, "OrgnlGrpInfAndSts")
    w.sub(original, "OrgnlMsgId", original_msg_id)
    w.sub(original, "OrgnlMsgNmId", PAIN001)
    if original_count is not None:
        w.sub(original, "OrgnlNbOfTxs", str(original_count))
    status, code, text = group or (_group_status(lines), None, None)
    w.sub(original, "GrpSts", status)
    w.reason(original, "StsRsnInf", code, text)
    batches: dict[str, list[ReportLine]] = {}
    for line in lines:
        batches.setdefault(line.batch_id, []).append(line)
    for batch, members in batches.items():
        info = w.sub(report, "OrgnlPmtInfAndSts")
        w.sub(info, "OrgnlPmtInfId", batch)
        w.sub(info, "OrgnlNbOfTxs", str(len(members)))
        w.sub(info, "PmtInfSts", _group_status(members))
        for line in members:
            tx = w.sub(info, "TxInfAndSts")
            w.sub(tx, "OrgnlEndToEndId", line.end_to_end_id)
            w.sub(tx, "TxSts", line.status)
            w.reason(tx, "StsRsnInf", line.reason_code, line.reason)
            if line.at is not None:
                w.sub(tx, "AccptncDtTm", line.at.isoformat(timespec="seconds"))
            if line.amount is not None:
                w.sub(tx, "OrgnlTxRef/Amt/InstdAmt", f"{line.amount:.2f}", Ccy="CNY")
    return w.bytes()


def write_camt054(notice_id: str, created: datetime, account: str, returns: Iterable[ReportLine]) -> bytes:
    """A camt.054.001.08 notification of returned payments credited back to ``account``."""
    w = _Writer(CAMT054)
    top = w.sub(w.root, "BkToCstmrDbtCdtNtfctn")
    header = w.sub(top, "GrpHdr")
    w.sub(header, "MsgId", notice_id)
    w.sub(header, "CreDtTm", created.isoformat(timespec="seconds"))
    notification = w.sub(top, "Ntfctn")
    w.sub(notification, "Id", notice_id)
    w.sub(notification, "CreDtTm", created.isoformat(timespec="seconds"))
    w.sub(notification, "Acct/Id/Othr/Id", account or "UNKNOWN")
    for line in returns:
        entry = w.sub(notification, "Ntry")
        w.sub(entry, "Amt", f"{line.amount or 0:.2f}", Ccy="CNY")
        w.sub(entry, "CdtDbtInd", "CRDT")
        w.sub(entry, "Sts/Cd", "BOOK")
        day = (line.at or created).date().isoformat()
        w.sub(entry, "BookgDt/Dt", day)
        w.sub(entry, "ValDt/Dt", day)
        domain = w.sub(entry, "BkTxCd/Domn")
        w.sub(domain, "Cd", "PMNT")
        family = w.sub(domain, "Fmly")
        w.sub(family, "Cd", "ICDT")  # issued credit transfers
        w.sub(family, "SubFmlyCd", "RRTN")  # reversal due to a payment return
        tx = w.sub(entry, "NtryDtls/TxDtls")
        refs = w.sub(tx, "Refs")
        if line.msg_id:
            w.sub(refs, "MsgId", line.msg_id)
        w.sub(refs, "PmtInfId", line.batch_id)
        w.sub(refs, "EndToEndId", line.end_to_end_id)
        w.sub(tx, "Amt", f"{line.amount or 0:.2f}", Ccy="CNY")
        w.sub(tx, "CdtDbtInd", "CRDT")
        if line.name or line.account:
            parties = w.sub(tx, "RltdPties")
            if line.name:
                w.sub(parties, "Cdtr/Pty/Nm", line.name)
            if line.account:
                w.sub(parties, "CdtrAcct/Id/Othr/Id", line.account)
        w.reason(tx, "RtrInf", line.reason_code, line.reason)
    return w.bytes()
