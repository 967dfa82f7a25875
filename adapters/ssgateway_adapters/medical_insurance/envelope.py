"""The platform's JSON envelope: the request around every transaction, and the answer.

Request keys, in the order the interface lists them: ``infno``, ``msgid``, ``mdtrtarea_admvs``,
``insuplc_admdvs``, ``recer_sys_code``, ``dev_no``, ``dev_safe_info``, ``cainfo``, ``signtype``, ``infver``,
``opter_type``, ``opter``, ``opter_name``, ``inf_time``, ``fixmedins_code``, ``fixmedins_name``, ``sign_no``,
``input``. Answers carry ``infcode`` (``0`` success, ``-1`` failure), ``inf_refmsgid``, ``refmsg_time``,
``respond_time``, ``err_msg`` and ``output``; numbers in them are read as ``Decimal``, never ``float``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from ssgateway.errors import OutcomeUnknown
from ssgateway.masking import mask_text
from ssgateway_adapters.medical_insurance.config import MedicalInsuranceConfig
from ssgateway_adapters.medical_insurance.msgid import BEIJING

__all__ = ["INFVER", "REQUEST_KEYS", "Answer", "build_envelope", "dumps", "inf_time", "parse_answer"]

INFVER = "V1.0"
REQUEST_KEYS = (
    *("infno", "msgid", "mdtrtarea_admvs", "insuplc_admdvs", "recer_sys_code", "dev_no", "dev_safe_info"),
    *("cainfo", "signtype", "infver", "opter_type", "opter", "opter_name", "inf_time", "fixmedins_code"),
    *("fixmedins_name", "sign_no", "input"),
)
"""Every key of a request envelope, in order."""


def inf_time(epoch: float) -> str:
    """``yyyy-MM-dd HH:mm:ss`` in Beijing time."""
    return datetime.fromtimestamp(epoch, BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def build_envelope(
    config: MedicalInsuranceConfig,
    *,
    infno: str,
    msgid: str,
    sign_no: str,
    insured_division: str | None,
    payload: dict[str, Any],
    now: float,
) -> dict[str, Any]:
    """A request envelope; ``cainfo`` and ``signtype`` are left empty for the signer."""
    return {
        "infno": infno,
        "msgid": msgid,
        "mdtrtarea_admvs": config.treatment_division,
        "insuplc_admdvs": insured_division or config.insured_division or config.treatment_division,
        "recer_sys_code": config.receiver_system,
        "dev_no": config.device_number,
        "dev_safe_info": config.device_safety_info,
        "cainfo": "",
        "signtype": "",
        "infver": INFVER,
        "opter_type": config.operator_type,
        "opter": config.operator,
        "opter_name": config.operator_name,
        "inf_time": inf_time(now),
        "fixmedins_code": config.institution_code,
        "fixmedins_name": config.institution_name,
        "sign_no": sign_no,
        "input": payload,
    }


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dumps(envelope: dict[str, Any]) -> bytes:
    """The envelope as compact UTF-8 JSON (Chinese text as is)."""
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":"), default=_default).encode("utf-8")


@dataclass(frozen=True, slots=True)
class Answer:
    """A platform answer.

    Attributes:
        infcode: ``"0"`` for success; anything else is a failure.
        err_msg: the platform's message (raw: mask before logging).
        output: the transaction's output (``None`` on failure).
        refmsgid: ``inf_refmsgid``, the platform's reference of the answer.
    """

    infcode: str
    err_msg: str
    output: Any
    refmsgid: str | None

    @property
    def ok(self) -> bool:
        """Whether the platform did what was asked."""
        return self.infcode == "0"


def parse_answer(data: bytes, *, what: str, partner: str | None) -> Answer:
    """Read an answer; numbers become ``Decimal`` and ``int``.

    Raises:
        OutcomeUnknown: the body is not a complete JSON envelope (cut, malformed): the platform may have
            acted before the answer was spoilt.
    """
    try:
        document = json.loads(data.decode("utf-8"), parse_float=Decimal)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise OutcomeUnknown(
            f"{what}: the answer is not valid JSON ({mask_text(str(exc))[:200]}); "
            "the platform may have acted",
            partner=partner,
            code="partner.invalid_answer",
        ) from exc
    if not isinstance(document, dict) or "infcode" not in document:
        raise OutcomeUnknown(
            f"{what}: the answer is not a platform envelope (no infcode); the platform may have acted",
            partner=partner,
            code="partner.invalid_answer",
        )
    err_msg = document.get("err_msg")
    refmsgid = document.get("inf_refmsgid")
    return Answer(
        infcode=str(document["infcode"]).strip(),
        err_msg="" if err_msg is None else str(err_msg),
        output=document.get("output"),
        refmsgid=None if refmsgid in (None, "") else str(refmsgid),
    )
