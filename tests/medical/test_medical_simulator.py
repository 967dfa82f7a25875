"""The simulated platform on its own: envelope checks, msgids, sessions, the death ledger, numbers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from tests.medical.conftest import INSTITUTION

from ssgateway.testing import MedicalSimulator, Population
from ssgateway.testing.medical import EXPIRED_MESSAGE

CODE = INSTITUTION


class Client:
    """Posts hand-made envelopes with fresh msgids."""

    def __init__(self, simulator: MedicalSimulator) -> None:
        self.simulator = simulator
        self.sequence = 0
        self.sign_no = ""

    def envelope(self, infno: str, data: dict[str, Any], **changes: Any) -> dict[str, Any]:
        self.sequence += 1
        now = datetime.now()
        envelope = {
            "infno": infno, "msgid": f"{CODE}{now:%Y%m%d%H%M%S}{self.sequence:04d}", "mdtrtarea_admvs": "440106",
            "insuplc_admdvs": "440106", "recer_sys_code": "", "dev_no": "", "dev_safe_info": "", "cainfo": "",
            "signtype": "", "infver": "V1.0", "opter_type": "1", "opter": "1", "opter_name": "x",
            "inf_time": f"{now:%Y-%m-%d %H:%M:%S}", "fixmedins_code": CODE, "fixmedins_name": "x",
            "sign_no": self.sign_no, "input": {"data": data} if infno != "9001" else {"signIn": data},
        }  # fmt: skip
        envelope.update(changes)
        return envelope

    def post(self, envelope: dict[str, Any] | bytes) -> dict[str, Any]:
        body = envelope if isinstance(envelope, bytes) else json.dumps(envelope).encode()
        response = httpx.post(self.simulator.endpoint, content=body)
        assert response.status_code == 200
        answer: dict[str, Any] = json.loads(response.content, parse_float=Decimal)
        return answer

    def sign_in(self) -> str:
        answer = self.post(self.envelope("9001", {"opter_no": "1", "mac": "", "ip": ""}))
        self.sign_no = answer["output"]["signinoutb"]["sign_no"]
        return self.sign_no


@pytest.fixture
def client(population: Population) -> Iterator[Client]:
    simulator = MedicalSimulator(population, institution_code=INSTITUTION)
    with simulator.in_thread():
        yield Client(simulator)


def test_sessions_expire_on_demand_and_with_time(client: Client, population: Population) -> None:
    person = population.people[0]
    ask = {"mdtrt_cert_type": "02", "mdtrt_cert_no": person.citizen_id, "certno": person.citizen_id}
    assert client.post(client.envelope("1101", ask))["err_msg"] == EXPIRED_MESSAGE  # never signed in
    first = client.sign_in()
    answer = client.post(client.envelope("1101", ask))
    assert answer["infcode"] == "0" and answer["output"]["baseinfo"]["certno"] == person.citizen_id
    assert len(answer["inf_refmsgid"]) == 30 and len(answer["respond_time"]) == 17
    client.simulator.expire_now()
    expired = client.post(client.envelope("1101", ask))
    assert (expired["infcode"], expired["err_msg"], expired["output"]) == ("-1", EXPIRED_MESSAGE, None)
    assert client.sign_in() != first and client.post(client.envelope("1101", ask))["infcode"] == "0"
    client.simulator.session_lifetime = 0.0
    assert client.post(client.envelope("1101", ask))["err_msg"] == EXPIRED_MESSAGE
    assert client.simulator.sign_ins == 2 and client.simulator.expired_answers == 3


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"infver": "V2.0"}, "infver"),
        ({"msgid": f"{CODE}2026030110153"}, "msgid"),
        ({"msgid": f"H00000000000{'2026030110153'}01234"}, "msgid"),
        ({"msgid": f"{CODE}202613011015300001"}, "时间无效"),
        ({"inf_time": "2026/03/01 10:15:30"}, "时间无效"),
        ({"opter_type": "9"}, "opter_type"),
        ({"insuplc_admdvs": "44"}, "insuplc_admdvs"),
        (
            {"fixmedins_code": "H00000000000", "msgid": "H000000000002026030110153000001"[:30]},
            "unknown institution",
        ),
    ],
)
def test_envelopes_are_checked(client: Client, changes: dict[str, Any], reason: str) -> None:
    answer = client.post(client.envelope("9001", {}, **changes))
    assert answer["infcode"] == "-1" and reason in answer["err_msg"]


def test_missing_keys_and_non_json_are_refused(client: Client) -> None:
    envelope = client.envelope("9001", {})
    del envelope["dev_safe_info"], envelope["cainfo"]
    assert "dev_safe_info, cainfo" in client.post(envelope)["err_msg"]
    assert "not JSON" in client.post(b"{infno")["err_msg"]
    assert "not a JSON object" in client.post(b"[]")["err_msg"]


def test_repeated_msgids_are_flagged(client: Client) -> None:
    envelope = client.envelope("9001", {})
    client.post(envelope)
    client.post(envelope)
    client.post(client.envelope("9001", {}))
    assert len(client.simulator.msgids) == 3 and client.simulator.duplicate_msgids == [envelope["msgid"]]


def test_balances_are_exact_json_numbers(client: Client, population: Population) -> None:
    client.sign_in()
    person = population.people[4]
    ask = {"mdtrt_cert_type": "02", "mdtrt_cert_no": person.citizen_id, "psn_name": person.name}
    raw = httpx.post(
        client.simulator.endpoint, content=json.dumps(client.envelope("1101", ask)).encode()
    ).text
    assert '"balc": ' in raw and '"balc": "' not in raw
    balances = [i["balc"] for i in json.loads(raw, parse_float=Decimal)["output"]["insuinfo"]]
    assert balances and all(isinstance(b, Decimal) and b.as_tuple().exponent == -2 for b in balances)


def test_the_death_ledger_keeps_one_report_per_death(client: Client, population: Population) -> None:
    client.sign_in()
    person = population.people[9]
    death = {"certno": person.citizen_id, "psn_name": person.name, "die_date": "2024-05-31"}
    first = client.post(client.envelope("SD01", death))["output"]
    again = client.post(client.envelope("SD01", death))["output"]
    assert first == {"rpt_sn": again["rpt_sn"], "dup_flag": "0"} and again["dup_flag"] == "1"
    refused = client.post(client.envelope("SD01", {**death, "die_date": "31/05/2024"}))
    assert "die_date" in refused["err_msg"]
    unknown = client.post(client.envelope("SD01", {**death, "certno": "11010519491231002X"}))
    assert "未查询到" in unknown["err_msg"]
    assert "不存在" in client.post(client.envelope("9999", death))["err_msg"]
    ledger = client.simulator.ledger
    assert len(ledger) == 1 and ledger.attempts == 2 and ledger.deceased(person.citizen_id)
    view = httpx.get(client.simulator.url + "/_ledger").json()
    assert view["deaths"] == [
        {"report_number": first["rpt_sn"], "certno": person.citizen_id, "date_of_death": "2024-05-31"}
    ]
    assert view["death_reports_received"] == 2 and view["duplicate_msgids"] == []
