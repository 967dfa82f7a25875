"""The adapter against mocked HTTP (respx): the envelope, sessions, Decimal amounts, every error mapping."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from tests.medical.conftest import INSTITUTION, adapter_config

from ssgateway.errors import ConfigError, NotFound, OutcomeUnknown, PermanentError, TransientError
from ssgateway.mapping import MappingCatalog
from ssgateway.model import DeathNotice, MedicalInsuranceStatus, MedicalStatusQuery
from ssgateway.reliability import open_store
from ssgateway.sdk import AdapterContext
from ssgateway.testing import FakeClock
from ssgateway_adapters.medical_insurance import REQUEST_KEYS, MedicalInsuranceAdapter, MedicalInsuranceConfig
from ssgateway_adapters.medical_insurance.msgid import BEIJING

URL = "https://nhsa.test/fsi/api/rsfComIfsService/callService"
CID = "44011320141005001X"
START = datetime(2026, 3, 1, 10, 15, 30, 500_000, tzinfo=BEIJING).timestamp()
PERSON = {
    "baseinfo": {"psn_no": "44000011223344", "psn_cert_type": "01", "certno": CID, "psn_name": "陈小红",
                 "gend": "2", "naty": "01", "brdy": "2014-10-05", "age": 10, "surv_stas": "1"},
    "insuinfo": [{"balc": "@BALANCE@", "insutype": "390", "psn_type": "31", "psn_insu_stas": "1",
                  "psn_insu_date": "2015-01-01", "paus_insu_date": None, "cvlserv_flag": "0",
                  "insuplc_admdvs": "440113", "emp_name": ""}],
    "idetinfo": [{"psn_idet_type": "2301", "psn_type_lv": "1", "memo": "", "begntime": "2020-01-01 00:00:00",
                  "endtime": None}],
}  # fmt: skip
CATALOG = MappingCatalog()  # compiled once for every adapter of this module
QUERY = MedicalStatusQuery.model_validate({"citizen_id": CID, "name": "陈小红", "region": "440113"})


def answer(
    infcode: str = "0", err_msg: str | None = None, output: Any = None, *, raw: str = "1234.50"
) -> httpx.Response:
    body = json.dumps({"infcode": infcode, "inf_refmsgid": "440113202603011015310000000001", "err_msg": err_msg,
                       "output": output}, ensure_ascii=False)  # fmt: skip
    body = body.replace('"@BALANCE@"', raw)  # an exact number, the way the platform writes it
    return httpx.Response(200, content=body.encode(), headers={"content-type": "application/json"})


class Platform:
    """A scripted platform: sign-in issues S1, S2, ...; business calls are answered by ``business``."""

    def __init__(self) -> None:
        self.envelopes: list[dict[str, Any]] = []
        self.sign_ins = 0
        self.valid: set[str] = set()
        self.business: Callable[[dict[str, Any]], httpx.Response] = lambda env: answer(output=PERSON)

    def expire(self) -> None:
        self.valid.clear()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        envelope = json.loads(request.content)
        self.envelopes.append(envelope)
        if envelope["infno"] == "9001":
            self.sign_ins += 1
            sign_no = f"S{self.sign_ins}"
            self.valid.add(sign_no)
            return answer(output={"signinoutb": {"sign_time": "2026-03-01 10:15:31", "sign_no": sign_no}})
        if envelope["sign_no"] not in self.valid:
            return answer("-1", "签到信息已失效，请重新签到")
        return self.business(envelope)


@pytest.fixture
def platform() -> Platform:
    return Platform()


@pytest.fixture
def mock(platform: Platform) -> respx.MockRouter:
    with respx.mock(assert_all_called=False) as router:
        router.post(URL).mock(side_effect=platform)
        yield router


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def make_adapter(clock: FakeClock) -> Callable[..., Any]:
    async def make(**overrides: Any) -> MedicalInsuranceAdapter:
        settings = {"msgid": {"store": "memory"}, **overrides}
        config = MedicalInsuranceConfig.model_validate(adapter_config(URL, **settings))
        adapter = MedicalInsuranceAdapter(
            config, AdapterContext(partner="nhsa", services={"clock": clock, "mappings": CATALOG})
        )
        await adapter.start()
        return adapter

    return make


@pytest.fixture
async def adapter(
    make_adapter: Callable[..., Any], mock: respx.MockRouter
) -> AsyncIterator[MedicalInsuranceAdapter]:
    made = await make_adapter()
    yield made
    await made.close()


async def test_the_envelope_carries_every_key_in_order(
    adapter: MedicalInsuranceAdapter, platform: Platform
) -> None:
    await adapter.call("medical.insurance_status", QUERY)
    await adapter.call("medical.insurance_status", QUERY)
    sign_in, first, second = platform.envelopes
    for envelope in platform.envelopes:
        assert tuple(envelope) == REQUEST_KEYS
        assert envelope["infver"] == "V1.0" and envelope["fixmedins_code"] == INSTITUTION
        assert (
            envelope["fixmedins_name"] == "广州市越秀区测试医院" and envelope["mdtrtarea_admvs"] == "440106"
        )
        assert (envelope["opter_type"], envelope["opter"], envelope["opter_name"]) == ("1", "0001", "收费员")
        assert (envelope["cainfo"], envelope["signtype"]) == ("", "")
        # the memory counter starts in the second after start-up; inf_time is the same second
        assert envelope["msgid"][12:26] == "20260301101531" and envelope["inf_time"] == "2026-03-01 10:15:31"
    assert [e["msgid"][26:] for e in platform.envelopes] == ["0000", "0001", "0002"]
    assert sign_in["infno"] == "9001" and sign_in["sign_no"] == "" and sign_in["insuplc_admdvs"] == "440106"
    assert sign_in["input"] == {"signIn": {"opter_no": "0001", "mac": "", "ip": ""}}
    assert first["infno"] == "1101" and first["insuplc_admdvs"] == "440113"
    assert first["sign_no"] == second["sign_no"] == "S1"  # the session is reused
    assert first["input"] == {
        "data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": CID, "card_sn": "", "begntime": "",
                 "psn_cert_type": "01", "certno": CID, "psn_name": "陈小红"}
    }  # fmt: skip


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("12345678901234567.89", "12345678901234567.89"),
        ("0.1", "0.10"),
        ("7", "7.00"),
        ('"1234.5"', "1234.50"),
    ],
)
async def test_amounts_are_read_exactly(
    adapter: MedicalInsuranceAdapter, platform: Platform, raw: str, expected: str
) -> None:
    platform.business = lambda env: answer(output=PERSON, raw=raw)
    status = await adapter.call("medical.insurance_status", QUERY)
    assert isinstance(status, MedicalInsuranceStatus)
    balance = status.insurances[0].balance
    assert isinstance(balance, Decimal) and str(balance) == expected  # a float would have lost digits
    assert (
        status.insurances[0].insurance_type.raw == "390" and status.identities[0].identity_type.raw == "2301"
    )


@pytest.mark.parametrize(
    ("infcode", "message", "settings", "kind", "code"),
    [
        ("-1", "系统繁忙，请稍后再试", {}, TransientError, "partner.busy"),
        ("-1", "Service busy", {}, TransientError, "partner.busy"),
        ("-1", "未查询到人员参保信息", {}, NotFound, "person.not_found"),
        ("-1", "参数校验失败: certno", {}, PermanentError, "partner.refused"),
        ("5001", "", {"transient_codes": ["5001"]}, TransientError, "partner.busy"),
        ("4004", "无", {"not_found_codes": ["4004"]}, NotFound, "person.not_found"),
        ("-1", "查询失败", {"transient_messages": ["查询失败"]}, TransientError, "partner.busy"),
    ],
)
async def test_failure_answers_map_to_our_errors(
    make_adapter: Callable[..., Any],
    mock: respx.MockRouter,
    platform: Platform,
    infcode: str,
    message: str,
    settings: dict[str, Any],
    kind: type[Exception],
    code: str,
) -> None:
    platform.business = lambda env: answer(infcode, message)
    adapter = await make_adapter(errors=settings)
    with pytest.raises(kind) as caught:
        await adapter.call("medical.insurance_status", QUERY)
    await adapter.close()
    error = caught.value
    assert type(error) is kind and error.code == code  # type: ignore[attr-defined]
    assert error.details["partner_code"] == infcode and error.details["partner_message"] == message  # type: ignore[attr-defined]
    assert error.details["partner"] == "nhsa"  # type: ignore[attr-defined]


async def test_the_platforms_message_is_masked(adapter: MedicalInsuranceAdapter, platform: Platform) -> None:
    platform.business = lambda env: answer("-1", f"证件号码{CID}与姓名不符")
    with pytest.raises(PermanentError) as caught:
        await adapter.call("medical.insurance_status", QUERY)
    assert CID not in str(caught.value) and CID not in str(caught.value.partner_message)
    assert "与姓名不符" in str(caught.value.partner_message)


async def test_many_calls_meeting_an_expired_session_sign_in_once(
    adapter: MedicalInsuranceAdapter, platform: Platform, mock: respx.MockRouter
) -> None:
    async def on_the_wire(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.01)  # the answers take a while, so the calls overlap
        return platform(request)

    mock.post(URL).mock(side_effect=on_the_wire)
    await adapter.call("medical.insurance_status", QUERY)
    platform.expire()
    answers = await asyncio.gather(*(adapter.call("medical.insurance_status", QUERY) for _ in range(30)))
    assert len(answers) == 30
    assert platform.sign_ins == 2 and adapter.session.sign_ins == 2
    refused = [e for e in platform.envelopes if e["infno"] == "1101" and e["sign_no"] == "S1"]
    assert len(refused) == 31  # the first call, and all 30 discovered the expiry before one renewal
    assert len({e["msgid"] for e in platform.envelopes}) == len(platform.envelopes)


async def test_a_session_that_stays_expired_fails_transiently(
    adapter: MedicalInsuranceAdapter, platform: Platform
) -> None:
    platform.business = lambda env: answer("-1", "签到信息已失效，请重新签到")
    with pytest.raises(TransientError) as caught:
        await adapter.call("medical.insurance_status", QUERY)
    assert caught.value.code == "partner.session_expired"
    assert platform.sign_ins == 3  # the first sign-in and two renewals (sign_in.renewals_per_call)


async def test_a_session_older_than_max_age_is_renewed_before_use(
    make_adapter: Callable[..., Any], mock: respx.MockRouter, platform: Platform, clock: FakeClock
) -> None:
    adapter = await make_adapter(sign_in={"max_age": 600})
    await adapter.call("medical.insurance_status", QUERY)
    clock.advance(599)
    await adapter.call("medical.insurance_status", QUERY)
    clock.advance(2)
    await adapter.call("medical.insurance_status", QUERY)
    await adapter.close()
    assert [e["sign_no"] for e in platform.envelopes if e["infno"] == "1101"] == ["S1", "S1", "S2"]


@pytest.mark.parametrize(
    ("signed_in", "kind", "code"),
    [
        (answer("-1", "系统繁忙"), TransientError, "partner.busy"),
        (answer("-1", "操作员未授权"), PermanentError, "partner.sign_in_refused"),
        (
            answer(output={"signinoutb": {"sign_time": "2026-03-01 10:15:31"}}),
            PermanentError,
            "partner.refused",
        ),
        (httpx.ReadError("connection reset"), TransientError, "partner.sign_in"),
    ],
)
async def test_sign_in_failures(
    adapter: MedicalInsuranceAdapter,
    mock: respx.MockRouter,
    signed_in: httpx.Response | Exception,
    kind: type[Exception],
    code: str,
) -> None:
    mock.post(URL).mock(side_effect=[signed_in])
    with pytest.raises(kind) as caught:
        await adapter.call("medical.insurance_status", QUERY)
    assert caught.value.code == code  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("reply", "kind", "code"),
    [
        (httpx.Response(503, headers={"retry-after": "7"}), TransientError, "partner.unavailable"),
        (httpx.Response(500), OutcomeUnknown, "partner.outcome_unknown"),
        (httpx.Response(404), PermanentError, "partner.refused"),
        (
            httpx.Response(200, content=b'{"infcode": "0", "output": {"baseinfo'),
            OutcomeUnknown,
            "partner.invalid_answer",
        ),
        (httpx.Response(200, content=b'{"code": 0}'), OutcomeUnknown, "partner.invalid_answer"),
        (httpx.Response(200, content=b"\xff\xfe"), OutcomeUnknown, "partner.invalid_answer"),
        (httpx.ConnectError("refused"), TransientError, "partner.unavailable"),
        (httpx.ReadError("reset"), OutcomeUnknown, "partner.outcome_unknown"),
    ],
)
async def test_http_failures(
    adapter: MedicalInsuranceAdapter,
    platform: Platform,
    mock: respx.MockRouter,
    reply: httpx.Response | Exception,
    kind: type[Exception],
    code: str,
) -> None:
    await adapter.session.current()  # signed in; the business call meets the failure
    mock.post(URL).mock(side_effect=[reply])
    with pytest.raises(kind) as caught:
        await adapter.call("medical.insurance_status", QUERY)
    assert type(caught.value) is kind and caught.value.code == code  # type: ignore[attr-defined]
    if code == "partner.unavailable" and isinstance(reply, httpx.Response):
        assert caught.value.retry_after == 7  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("output", "reason"),
    [
        ({"baseinfo": {"psn_name": "陈小红"}, "insuinfo": []}, "citizen_id"),
        ({**PERSON, "baseinfo": {**PERSON["baseinfo"], "certno": "11010519491231002X"}}, "another person"),
        ([], "no output object"),
    ],
)
async def test_answers_that_do_not_map_are_refused(
    adapter: MedicalInsuranceAdapter, platform: Platform, output: Any, reason: str
) -> None:
    platform.business = lambda env: answer(output=json.loads(json.dumps(output).replace('"@BALANCE@"', "1")))
    with pytest.raises(PermanentError) as caught:
        await adapter.call("medical.insurance_status", QUERY)
    assert caught.value.code == "partner.invalid_answer" and reason in str(caught.value)
    assert "11010519491231002X" not in str(caught.value)


async def test_a_death_the_platform_had_is_a_duplicate(
    adapter: MedicalInsuranceAdapter, platform: Platform
) -> None:
    death = DeathNotice.model_validate(
        {"citizen_id": CID, "name": "陈小红", "date_of_death": "2024-06-01", "evidence": "medical_certificate",
         "source_agency": "广州市卫生健康委员会", "region": "440113", "reported_on": "2024-06-02"}
    )  # fmt: skip
    replies = iter([answer(output={"rpt_sn": "1", "dup_flag": "0"}), answer(output={"rpt_sn": "1", "dup_flag": "1"}),
                    answer("-1", "该人员死亡信息已上报"), answer("-1", "人员不存在，未查询到")])  # fmt: skip
    platform.business = lambda env: next(replies)
    first, again, told = [await adapter.call("deaths.notify", death) for _ in range(3)]
    assert [r.duplicate for r in (first, again, told)] == [False, True, True]  # type: ignore[attr-defined]
    assert first.key == death.event_key  # type: ignore[attr-defined]  # the key the event intake uses
    with pytest.raises(NotFound):
        await adapter.call("deaths.notify", death)
    sent = [e for e in platform.envelopes if e["infno"] == "SD01"]
    assert sent[0]["input"]["data"]["die_evid_type"] == "1" and sent[0]["insuplc_admdvs"] == "440113"


async def test_configuration_problems_are_named(make_adapter: Callable[..., Any], tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as no_store:
        await make_adapter(msgid={"store": "gateway"})
    assert no_store.value.key == "partners.nhsa.config.msgid.store"
    with pytest.raises(ConfigError) as no_mapping:
        await make_adapter(status={"request_mapping": "medical-insurance/nothing"})
    assert no_mapping.value.key == "partners.nhsa.config.status.request_mapping"
    own = await make_adapter(msgid={"store": f"sqlite:///{tmp_path / 'own.db'}", "namespace": "mi"})
    await own.close()
    async with open_store(f"sqlite:///{tmp_path / 'own.db'}", namespace="mi") as store:
        assert (
            await store.checkpoints.get(f"medical-insurance/msgid/{INSTITUTION}") is None
        )  # nothing sent yet
    with pytest.raises(ValueError, match="hmac-sm3 needs a key"):
        MedicalInsuranceConfig.model_validate(adapter_config(URL, signing={"method": "hmac-sm3"}))
    with pytest.raises(ValueError, match="not a regular expression"):
        MedicalInsuranceConfig.model_validate(adapter_config(URL, errors={"transient_messages": ["(busy"]}))


async def test_readiness_signs_in(
    adapter: MedicalInsuranceAdapter, platform: Platform, mock: respx.MockRouter
) -> None:
    assert (await adapter.check()).ok and platform.sign_ins == 1
    assert (await adapter.check()).ok and platform.sign_ins == 1  # the session is kept
    adapter.session.forget()
    mock.post(URL).mock(side_effect=[answer("-1", "操作员未授权")])
    health = await adapter.check()
    assert not health.ok and health.detail is not None and "操作员未授权" in health.detail
