"""Canonical payment batches → ISO 20022 pain.001.001.09 customer credit transfer initiations.

A batch becomes one message, or several when it has more instructions than the bank takes in one (the
``max_transactions_per_message`` setting). Every message of a batch is derived from the batch alone, so a
resend carries the same message ids, the same payment-information id and the same end-to-end ids:

- ``MsgId``: the batch id for a batch sent in one message; ``<batch id>-1of3``, ``-2of3`` … when split
  (the count is part of the id, so splitting the same batch differently never reuses an id for other
  payments; the batch id is shortened with a digest of itself when the whole would pass 35 characters);
- ``PmtInfId``: the batch id, in every message of the batch (status is asked per batch with it);
- ``EndToEndId``: the instruction's own, the key the bank books each payment under at most once.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from lxml import etree

from ssgateway.errors import PermanentError
from ssgateway.model import PaymentBatch, PaymentInstruction

from .schemas import PAIN001, namespace
from .settings import BankSettings

__all__ = ["MessagePart", "build_pain001", "message_id", "split_batch"]

_NS = namespace(PAIN001)
_MAX_ID = 35


@dataclass(frozen=True, slots=True)
class MessagePart:
    """One pain.001 message of a batch.

    Attributes:
        msg_id: the message id (``GrpHdr/MsgId``).
        index: 1 for the first message of the batch.
        total: how many messages the batch is sent in.
        instructions: the payments this message carries.
    """

    msg_id: str
    index: int
    total: int
    instructions: tuple[PaymentInstruction, ...]

    @property
    def control_sum(self) -> Decimal:
        """Sum of the instructed amounts of this message."""
        return sum((i.amount for i in self.instructions), Decimal("0.00"))


def message_id(batch_id: str, index: int, total: int) -> str:
    """The message id of message ``index`` of ``total`` of a batch (stable: a resend reuses it)."""
    if total == 1:
        return batch_id
    suffix = f"-{index}of{total}"
    if len(batch_id) + len(suffix) <= _MAX_ID:
        return batch_id + suffix
    digest = hashlib.sha256(batch_id.encode()).hexdigest()[:8]
    return f"{batch_id[: _MAX_ID - len(suffix) - 9]}.{digest}{suffix}"


def split_batch(batch: PaymentBatch, max_per_message: int) -> list[MessagePart]:
    """The messages a batch is sent in, in order, each with at most ``max_per_message`` instructions."""
    instructions = batch.instructions
    total = (len(instructions) + max_per_message - 1) // max_per_message
    return [
        MessagePart(
            message_id(batch.batch_id, n + 1, total),
            n + 1,
            total,
            instructions[n * max_per_message : (n + 1) * max_per_message],
        )
        for n in range(total)
    ]


@functools.cache
def _tag(name: str) -> str:
    return f"{{{_NS}}}{name}"


@functools.cache
def _tags(path: str) -> tuple[str, ...]:
    return tuple(_tag(name) for name in path.split("/"))


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attrib: str) -> etree._Element:
    element = etree.SubElement(parent, _tag(tag), attrib) if attrib else etree.SubElement(parent, _tag(tag))
    if text is not None:
        element.text = text
    return element


def _path(parent: etree._Element, tags: str, text: str) -> etree._Element:
    for tag in _tags(tags):
        parent = etree.SubElement(parent, tag)
    parent.text = text
    return parent


def _agent(parent: etree._Element, tag: str, bank_code: str, settings: BankSettings) -> None:
    member = _sub(_sub(_sub(parent, tag), "FinInstnId"), "ClrSysMmbId")
    if settings.clearing_system:
        _path(member, "ClrSysId/Cd", settings.clearing_system)
    _sub(member, "MmbId", bank_code)


def _account(parent: etree._Element, tag: str, number: str, currency: str | None = None) -> None:
    account = _sub(parent, tag)
    _path(account, "Id/Othr/Id", number)
    if currency:
        _sub(account, "Ccy", currency)


def _transaction(parent: etree._Element, item: PaymentInstruction, settings: BankSettings) -> None:
    tx = _sub(parent, "CdtTrfTxInf")
    _path(tx, "PmtId/EndToEndId", item.end_to_end_id)
    _sub(_sub(tx, "Amt"), "InstdAmt", f"{item.amount:.2f}", Ccy=item.currency)
    _agent(tx, "CdtrAgt", item.bank_code, settings)
    creditor = _sub(tx, "Cdtr")
    _sub(creditor, "Nm", item.name.reveal())
    other = _sub(_sub(_sub(creditor, "Id"), "PrvtId"), "Othr")
    _sub(other, "Id", item.citizen_id.reveal())
    _path(other, "SchmeNm/Cd", "NIDN")  # national identity number: the bank's stop list matches on it
    _account(tx, "CdtrAcct", item.account.reveal())
    if settings.category_purpose:
        _path(tx, "Purp/Cd", settings.category_purpose)
    text = item.remittance or settings.remittance.format(period=item.payout_period)
    _path(tx, "RmtInf/Ustrd", text[:140])


def build_pain001(
    batch: PaymentBatch, part: MessagePart, settings: BankSettings, created_at: datetime
) -> etree._Element:
    """The pain.001.001.09 ``Document`` of one message of ``batch`` (not yet validated).

    Args:
        batch: the batch (debtor, execution date, batch id).
        part: which of its messages (from :func:`split_batch`).
        settings: the partner's settings (initiating party, clearing system, purpose, remittance text).
        created_at: the message's creation time (``CreDtTm``), timezone-aware.
    """
    document = etree.Element(f"{{{_NS}}}Document", nsmap={None: _NS})
    initiation = _sub(document, "CstmrCdtTrfInitn")
    header = _sub(initiation, "GrpHdr")
    _sub(header, "MsgId", part.msg_id)
    _sub(header, "CreDtTm", created_at.isoformat(timespec="seconds"))
    _sub(header, "NbOfTxs", str(len(part.instructions)))
    _sub(header, "CtrlSum", f"{part.control_sum:.2f}")
    party = _sub(header, "InitgPty")
    _sub(party, "Nm", settings.initiating_party.name or batch.debtor_name)
    if settings.initiating_party.id:
        _path(party, "Id/OrgId/Othr/Id", settings.initiating_party.id)

    info = _sub(initiation, "PmtInf")
    _sub(info, "PmtInfId", batch.batch_id)
    _sub(info, "PmtMtd", "TRF")
    _sub(info, "BtchBookg", "false")  # one booking per pension, so each can be returned on its own
    _sub(info, "NbOfTxs", str(len(part.instructions)))
    _sub(info, "CtrlSum", f"{part.control_sum:.2f}")
    if settings.category_purpose:
        _path(info, "PmtTpInf/CtgyPurp/Cd", settings.category_purpose)
    _path(info, "ReqdExctnDt/Dt", batch.requested_execution_date.isoformat())
    _sub(_sub(info, "Dbtr"), "Nm", batch.debtor_name)
    _account(info, "DbtrAcct", batch.debtor_account, "CNY")
    _agent(info, "DbtrAgt", batch.debtor_bank_code, settings)
    for item in part.instructions:
        try:
            _transaction(info, item, settings)
        except ValueError as exc:  # lxml refuses control characters: XML 1.0 cannot carry them
            raise PermanentError(
                f"payment {item.end_to_end_id}: a text field holds characters XML cannot carry ({exc})",
                code="iso20022.invalid",
            ) from exc
    return document
