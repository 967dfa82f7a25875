"""A simulated medical-insurance platform: a real HTTP server on 127.0.0.1 speaking the JSON envelope.

One endpoint takes every transaction; the envelope's ``infno`` selects it:

- ``9001`` sign-in issues a ``sign_no`` that expires after ``session_lifetime`` seconds or when
  :meth:`MedicalSimulator.expire_now` is called; a call with an expired or unknown one is answered with
  infcode ``-1`` and :data:`EXPIRED_MESSAGE`;
- ``1101`` person information answers from a :class:`~ssgateway.testing.population.Population`
  (``baseinfo`` with ``surv_stas``, ``insuinfo[]``, ``idetinfo[]``; balances as JSON numbers);
- the death report (:data:`DEATH_REPORT_INFNO`, the simulator's own number: the real one is unverified)
  records deaths in a :class:`DeathLedger` that keeps one report per person and date of death, and
  answers repeats with the same report number and ``dup_flag`` ``1``; 1101 then answers ``surv_stas`` 2.

Every envelope is checked (all keys, ``infver``, the msgid's form and institution, ``inf_time``), every
msgid is recorded and repeats are flagged (:attr:`MedicalSimulator.duplicate_msgids`).
:attr:`MedicalSimulator.faults` injects latency, HTTP errors, platform-level "busy" answers (``FAULT``:
infcode ``-1`` with the rule's message), resets after the work was committed, truncated, malformed,
oversized and gzip-bomb answers. Fault rules name transactions by ``infno``.

>>> simulator = MedicalSimulator(Population.generate(seed=1, size=10))
>>> with simulator.in_thread():
...     simulator.endpoint.startswith("http://127.0.0.1:")
True
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from ssgateway.testing._medical_records import DeathLedger, DeathReport, person_information
from ssgateway.testing.faultplan import FaultKind, FaultPlan, FaultRule, early_answer, spoil
from ssgateway.testing.httpserver import Request, Response, Served, SimServer
from ssgateway.testing.population import Population

__all__ = [
    "DEATH_REPORT_INFNO",
    "EXPIRED_MESSAGE",
    "NOT_FOUND_MESSAGE",
    "PATH",
    "DeathLedger",
    "DeathReport",
    "MedicalSimulator",
]

PATH = "/fsi/api/rsfComIfsService/callService"
"""The endpoint's path (real deployments give theirs at onboarding)."""
DEATH_REPORT_INFNO = "SD01"
"""The simulator's transaction number for death reports (the platform's real one is unverified)."""
EXPIRED_MESSAGE = "签到信息已失效，请重新签到 (sign_no expired)"
"""``err_msg`` of a call whose ``sign_no`` expired."""
NOT_FOUND_MESSAGE = "未查询到人员参保信息 (no insured person found)"
"""``err_msg`` of a 1101 or death report about a person the platform does not know."""
_BEIJING = timezone(timedelta(hours=8))
_JSON = "application/json; charset=utf-8"
_KEYS = (
    *("infno", "msgid", "mdtrtarea_admvs", "insuplc_admdvs", "recer_sys_code", "dev_no", "dev_safe_info"),
    *("cainfo", "signtype", "infver", "opter_type", "opter", "opter_name", "inf_time", "fixmedins_code"),
    *("fixmedins_name", "sign_no", "input"),
)
_MSGID = re.compile(r"([A-Za-z0-9]{12})(\d{14})(\d{4})")
_DIVISION = re.compile(r"\d{6}")
_NUMBER = re.compile(r'"\\u0000number:(-?\d+(?:\.\d+)?)"')


def _dumps(document: Any) -> bytes:
    """JSON with ``Decimal`` values written as exact numbers (``1234.50``), as the platform sends them."""

    def default(value: Any) -> Any:
        if isinstance(value, Decimal):
            return f"\0number:{value}"
        raise TypeError(type(value).__name__)

    text = json.dumps(document, ensure_ascii=False, default=default)
    return _NUMBER.sub(r"\1", text).encode("utf-8")


class _Refused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class MedicalSimulator(Served):
    """The medical-insurance platform on 127.0.0.1 (see the module).

    Args:
        population: who the platform knows (default: ``Population.generate()``).
        seed: seed of the fault plan.
        path: the endpoint's path.
        session_lifetime: seconds a ``sign_no`` is valid (None: until :meth:`expire_now`).
        institution_code: accept only this ``fixmedins_code`` (None: any).
        death_infno: transaction number of the death report.
        verify: checks each envelope's signature (``cainfo``/``signtype``); None accepts any.
        clock: the current time (default: now, UTC+8).

    Attributes:
        faults: the fault knobs.
        ledger: recorded deaths.
        msgids: every msgid received, in order; duplicate_msgids: those received before.
        calls: requests per ``infno``.
        sign_ins: sessions issued; expired_answers: calls refused for an expired session.
    """

    def __init__(
        self,
        population: Population | None = None,
        *,
        seed: int = 0,
        path: str = PATH,
        session_lifetime: float | None = 3600.0,
        institution_code: str | None = None,
        death_infno: str = DEATH_REPORT_INFNO,
        verify: Callable[[Mapping[str, Any]], bool] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.population = population or Population.generate()
        self.path = path
        self.session_lifetime = session_lifetime
        self.institution_code = institution_code
        self.death_infno = death_infno
        self.verify = verify
        self._now = clock or (lambda: datetime.now(_BEIJING))
        self.faults = FaultPlan(seed)
        self.ledger = DeathLedger()
        self.msgids: list[str] = []
        self.duplicate_msgids: list[str] = []
        self.calls: Counter[str] = Counter()
        self.sign_ins = 0
        self.expired_answers = 0
        self._seen: set[str] = set()
        self._sessions: dict[str, float] = {}
        self._serial = 0
        self._answers: dict[tuple[str, bool], dict[str, Any]] = {}
        self._lock = threading.Lock()
        self.server = SimServer(self._handle)

    # -- running ------------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (after start)."""
        return self.server.url

    @property
    def endpoint(self) -> str:
        """The URL every transaction is posted to."""
        return self.server.url + self.path

    def expire_now(self) -> None:
        """Expire every session issued so far: the next call with one is refused with the expiry answer."""
        with self._lock:
            self._sessions.clear()

    # -- HTTP ---------------------------------------------------------------------------------------------

    async def _handle(self, request: Request) -> Response:
        if request.path == "/_ledger" and request.method == "GET":
            return Response(200, _dumps(self._ledger_view()), {"content-type": _JSON})
        if request.path != self.path:
            return Response(404, b"not found", {"content-type": "text/plain"})
        if request.method != "POST":
            return Response(405, b"method not allowed", {"content-type": "text/plain"})
        try:
            envelope = json.loads(request.body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return self._reply({}, "-1", "报文格式错误 (the request is not JSON)")
        if not isinstance(envelope, dict):
            return self._reply({}, "-1", "报文格式错误 (the request is not a JSON object)")
        infno = str(envelope.get("infno", ""))
        self.calls[infno] += 1
        self._record_msgid(envelope.get("msgid"))
        try:
            self._check(envelope)
        except _Refused as refused:
            return self._reply(envelope, "-1", refused.message)
        rules = self.faults.draw(infno)
        delay = self.faults.latency(rules)
        primary = next((r for r in rules if r.kind is not FaultKind.LATENCY), None)
        if primary is not None and primary.before_work:
            response = self._early_fault(envelope, primary)
        else:
            response = self._answer(envelope, infno)
            if primary is not None:
                response = spoil(response, primary)
        response.delay += delay
        return response

    def _record_msgid(self, msgid: object) -> None:
        text = str(msgid)
        with self._lock:
            self.msgids.append(text)
            if text in self._seen:
                self.duplicate_msgids.append(text)
            self._seen.add(text)

    def _check(self, envelope: dict[str, Any]) -> None:
        missing = [k for k in _KEYS if k not in envelope]
        if missing:
            raise _Refused(f"入参校验失败: 缺少 {', '.join(missing)} (missing keys)")
        if envelope["infver"] != "V1.0":
            raise _Refused("入参校验失败: infver 应为 V1.0")
        match = _MSGID.fullmatch(str(envelope["msgid"]))
        if match is None or match.group(1) != envelope["fixmedins_code"]:
            raise _Refused("入参校验失败: msgid 应为机构编码(12)+时间(14)+顺序号(4)")
        if self.institution_code is not None and envelope["fixmedins_code"] != self.institution_code:
            raise _Refused("入参校验失败: 未知的定点机构 (unknown institution)")
        try:
            datetime.strptime(match.group(2), "%Y%m%d%H%M%S")
            datetime.strptime(str(envelope["inf_time"]), "%Y-%m-%d %H:%M:%S")
        except ValueError:
            raise _Refused("入参校验失败: msgid 或 inf_time 的时间无效") from None
        if envelope["opter_type"] not in ("1", "2", "3"):
            raise _Refused("入参校验失败: opter_type")
        for key in ("mdtrtarea_admvs", "insuplc_admdvs"):
            if not _DIVISION.fullmatch(str(envelope[key])):
                raise _Refused(f"入参校验失败: {key}")
        if not isinstance(envelope["input"], dict):
            raise _Refused("入参校验失败: input")
        if self.verify is not None and not self.verify(envelope):
            raise _Refused("验签失败 (signature check failed)")

    def _reply(
        self, envelope: Mapping[str, Any], infcode: str, err_msg: str = "", output: Any = None
    ) -> Response:
        now = self._now()
        with self._lock:
            self._serial += 1
            serial = self._serial
        division = str(envelope.get("mdtrtarea_admvs", "000000"))[:6]
        stamp = f"{now:%Y%m%d%H%M%S}{now.microsecond // 1000:03d}"
        document = {
            "infcode": infcode,
            "inf_refmsgid": f"{division}{now:%Y%m%d%H%M%S}{serial:010d}",
            "refmsg_time": stamp,
            "respond_time": stamp,
            "err_msg": err_msg or None,
            "warn_msg": None,
            "cainfo": None,
            "signtype": None,
            "output": output if infcode == "0" else None,
        }
        return Response(200, _dumps(document), {"content-type": _JSON})

    def _early_fault(self, envelope: Mapping[str, Any], rule: FaultRule) -> Response:
        return early_answer(rule, _JSON, lambda r: self._reply(envelope, "-1", r.message))

    # -- transactions -------------------------------------------------------------------------------------

    def _session_valid(self, sign_no: str) -> bool:
        with self._lock:
            issued = self._sessions.get(sign_no)
            if issued is None:
                return False
            if self.session_lifetime is not None and time.monotonic() - issued >= self.session_lifetime:
                del self._sessions[sign_no]
                return False
            return True

    def _answer(self, envelope: dict[str, Any], infno: str) -> Response:
        if infno == "9001":
            return self._reply(envelope, "0", output=self._sign_in(envelope))
        if not self._session_valid(str(envelope["sign_no"])):
            with self._lock:
                self.expired_answers += 1
            return self._reply(envelope, "-1", EXPIRED_MESSAGE)
        data = envelope["input"].get("data")
        if not isinstance(data, dict):
            return self._reply(envelope, "-1", "入参校验失败: input.data")
        try:
            if infno == "1101":
                output = self._person_information(data)
            elif infno == self.death_infno:
                output = self._death_report(data, str(envelope["msgid"]))
            else:
                raise _Refused(f"交易编号 {infno} 不存在 (unknown transaction)")
        except _Refused as refused:
            return self._reply(envelope, "-1", refused.message)
        return self._reply(envelope, "0", output=output)

    def _sign_in(self, envelope: Mapping[str, Any]) -> dict[str, Any]:
        now = self._now()
        with self._lock:
            self.sign_ins += 1
            sign_no = f"{now:%Y%m%d%H%M%S}{self.sign_ins:06d}"
            self._sessions[sign_no] = time.monotonic()
        return {"signinoutb": {"sign_time": f"{now:%Y-%m-%d %H:%M:%S}", "sign_no": sign_no}}

    def _person(self, data: Mapping[str, Any]) -> Any:
        certno = str(data.get("certno") or "")
        if not certno and str(data.get("mdtrt_cert_type")) == "02":
            certno = str(data.get("mdtrt_cert_no") or "")
        person = self.population.person(certno.upper())
        if person is None:
            raise _Refused(NOT_FOUND_MESSAGE)
        name = str(data.get("psn_name") or "")
        if name and name != person.name:
            raise _Refused("人员姓名与证件号码不符 (the name does not match the certificate)")
        return person

    def _person_information(self, data: Mapping[str, Any]) -> dict[str, Any]:
        if str(data.get("mdtrt_cert_type")) not in ("02", ""):
            raise _Refused("仅支持身份证号就诊凭证 (only mdtrt_cert_type 02 is simulated)")
        person = self._person(data)
        key = (person.citizen_id, self.ledger.deceased(person.citizen_id))
        answer = self._answers.get(key)
        if answer is None:  # derived from the whole working life: worth keeping
            answer = self._answers[key] = person_information(self.population, person, deceased=key[1])
        return answer

    def _death_report(self, data: dict[str, Any], msgid: str) -> dict[str, Any]:
        self._person(data)
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(data.get("die_date", ""))):
            raise _Refused("入参校验失败: die_date 应为 yyyy-MM-dd")
        report, new = self.ledger.record(data, msgid, self._now())
        return {"rpt_sn": report.report_number, "dup_flag": "0" if new else "1"}

    def _ledger_view(self) -> dict[str, Any]:
        return {
            "deaths": [
                {"report_number": r.report_number, "certno": r.certno, "date_of_death": r.date_of_death}
                for r in self.ledger.entries
            ],
            "death_reports_received": self.ledger.attempts,
            "msgids": len(self.msgids),
            "duplicate_msgids": list(self.duplicate_msgids),
            "sign_ins": self.sign_ins,
        }
