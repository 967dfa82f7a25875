"""pain.001.001.09: what the adapter builds, and that every message validates against the official XSD."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from tests.bank.batches import DEBTOR, batch, instructions
from tests.bank.conftest import Adapter

from ssgateway.errors import PermanentError
from ssgateway.model import PaymentBatch
from ssgateway.testing import BankSimulator
from ssgateway_adapters.bank_iso20022 import (
    PAIN001,
    BankSettings,
    build_pain001,
    message_id,
    namespace,
    schema,
    split_batch,
    validate,
)

NS = {"p": namespace(PAIN001)}
SETTINGS = BankSettings(endpoint="http://127.0.0.1:9")
NOW = datetime(2024, 6, 27, 9, 30, tzinfo=UTC)


def build(
    b: PaymentBatch, settings: BankSettings = SETTINGS, per_message: int = 1000
) -> list[etree._Element]:
    return [build_pain001(b, part, settings, NOW) for part in split_batch(b, per_message)]


def test_a_batch_becomes_a_valid_message_with_every_field(bank: BankSimulator) -> None:
    b = batch(bank, 3)
    (doc,) = build(
        b, BankSettings(endpoint="http://127.0.0.1:9", initiating_party={"id": "12410100MB0123456X"})
    )
    assert schema(PAIN001).validate(doc), schema(PAIN001).error_log
    text = lambda path: doc.findtext(path, namespaces=NS)  # noqa: E731
    assert text("p:CstmrCdtTrfInitn/p:GrpHdr/p:MsgId") == b.batch_id
    assert text("p:CstmrCdtTrfInitn/p:GrpHdr/p:NbOfTxs") == "3"
    assert Decimal(text("p:CstmrCdtTrfInitn/p:GrpHdr/p:CtrlSum")) == b.control_sum
    assert text("p:CstmrCdtTrfInitn/p:GrpHdr/p:InitgPty/p:Id/p:OrgId/p:Othr/p:Id") == "12410100MB0123456X"
    info = "p:CstmrCdtTrfInitn/p:PmtInf"
    assert text(f"{info}/p:PmtInfId") == b.batch_id
    assert text(f"{info}/p:Dbtr/p:Nm") == DEBTOR["debtor_name"]
    assert text(f"{info}/p:DbtrAcct/p:Id/p:Othr/p:Id") == DEBTOR["debtor_account"]
    assert text(f"{info}/p:DbtrAgt/p:FinInstnId/p:ClrSysMmbId/p:MmbId") == DEBTOR["debtor_bank_code"]
    assert text(f"{info}/p:ReqdExctnDt/p:Dt") == "2024-06-28"
    transactions = doc.findall(f"{info}/p:CdtTrfTxInf", NS)
    assert len(transactions) == 3
    for tx, item in zip(transactions, b.instructions, strict=True):
        assert tx.findtext("p:PmtId/p:EndToEndId", namespaces=NS) == item.end_to_end_id
        amount = tx.find("p:Amt/p:InstdAmt", NS)
        assert amount is not None and amount.get("Ccy") == "CNY" and Decimal(amount.text or "") == item.amount
        assert tx.findtext("p:Cdtr/p:Nm", namespaces=NS) == item.name.reveal()
        assert tx.findtext("p:Cdtr/p:Id/p:PrvtId/p:Othr/p:Id", namespaces=NS) == item.citizen_id.reveal()
        assert tx.findtext("p:Cdtr/p:Id/p:PrvtId/p:Othr/p:SchmeNm/p:Cd", namespaces=NS) == "NIDN"
        assert tx.findtext("p:CdtrAcct/p:Id/p:Othr/p:Id", namespaces=NS) == item.account.reveal()
        assert tx.findtext("p:CdtrAgt/p:FinInstnId/p:ClrSysMmbId/p:MmbId", namespaces=NS) == item.bank_code
        assert tx.findtext("p:CdtrAgt/p:FinInstnId/p:ClrSysMmbId/p:ClrSysId/p:Cd", namespaces=NS) == "CNAPS"
        assert tx.findtext("p:Purp/p:Cd", namespaces=NS) == "PENS"
        assert tx.findtext("p:RmtInf/p:Ustrd", namespaces=NS) == "养老金 2024-06"


def test_a_large_batch_is_split_with_stable_message_ids(bank: BankSimulator) -> None:
    b = batch(bank, 25)
    docs = build(b, per_message=10)
    ids = [d.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:MsgId", namespaces=NS) for d in docs]
    assert ids == ["ZZ202406-001-1of3", "ZZ202406-001-2of3", "ZZ202406-001-3of3"]
    assert [d.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:NbOfTxs", namespaces=NS) for d in docs] == [
        "10",
        "10",
        "5",
    ]
    assert {d.findtext("p:CstmrCdtTrfInitn/p:PmtInf/p:PmtInfId", namespaces=NS) for d in docs} == {b.batch_id}
    assert (
        sum(Decimal(d.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:CtrlSum", namespaces=NS) or "") for d in docs)
        == b.control_sum
    )
    assert all(schema(PAIN001).validate(d) for d in docs)
    # a resend derives the same ids; a long batch id is shortened with a digest, still unique and <= 35
    assert [p.msg_id for p in split_batch(b, 10)] == ids
    long_ids = {message_id("B" * 35, i, 1200) for i in range(1, 1201)}
    assert len(long_ids) == 1200 and max(map(len, long_ids)) == 35
    assert message_id("B", 1, 3) != message_id("B", 1, 2)  # another split never reuses an id
    assert message_id("X" * 35, 1, 2) != message_id("X" * 34 + "Y", 1, 2)


def test_optional_codes_can_be_left_out(bank: BankSimulator) -> None:
    plain = BankSettings(endpoint="http://127.0.0.1:9", clearing_system=None, category_purpose=None)
    (doc,) = build(
        batch(bank, 2, items=[{**i, "remittance": "6月 养老金 & 补发 <2>"} for i in instructions(bank, 2)]),
        plain,
    )
    assert schema(PAIN001).validate(doc)
    assert doc.find(".//p:ClrSysId", NS) is None and doc.find(".//p:Purp", NS) is None
    assert doc.findtext(".//p:RmtInf/p:Ustrd", namespaces=NS) == "6月 养老金 & 补发 <2>"


names = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=100
).filter(lambda s: s.strip())
amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("9999999999999.99"), places=2)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=st.lists(names, min_size=1, max_size=6), amounts=st.lists(amounts, min_size=6, max_size=6),
       remittance=st.none() | st.text(min_size=1, max_size=140).filter(lambda s: s.strip() and s.isprintable()),
       debtor=names)  # fmt: skip
def test_any_valid_batch_gives_messages_the_schema_accepts(
    bank: BankSimulator, names: list[str], amounts: list[Decimal], remittance: str | None, debtor: str
) -> None:
    items = [
        {**item, "name": name, "amount": str(amount), "remittance": remittance}
        for item, name, amount in zip(instructions(bank, len(names)), names, amounts, strict=False)
    ]
    b = batch(bank, items=items, debtor_name=debtor[:140])
    for doc in build(b, per_message=4):
        validate(doc, PAIN001)  # raises naming the element if not


async def test_a_message_the_schema_refuses_is_never_sent(bank: BankSimulator, adapter: Adapter) -> None:
    items = instructions(bank, 3)
    items[1]["amount"] = "12345678901234567.89"  # more digits than ISO 20022 amounts allow (18)
    bank_adapter = await adapter()
    with pytest.raises(PermanentError) as caught:
        await bank_adapter.call("payments.submit", batch(bank, items=items))
    error = caught.value
    assert error.code == "iso20022.invalid"
    assert (
        error.details["element"] == "CstmrCdtTrfInitn/GrpHdr/CtrlSum"
    )  # the first violation in the document
    assert "totalDigits" in error.message
    assert bank.calls["pain.001"] == 0 and len(bank.ledger) == 0


async def test_the_violating_transaction_is_named(bank: BankSimulator, adapter: Adapter) -> None:
    b = batch(bank, 3)
    (doc,) = build(b)
    tx = doc.findall(".//p:CdtTrfTxInf", NS)[1]
    name = tx.find("p:Cdtr/p:Nm", NS)
    assert name is not None
    name.text = "某" * 141
    with pytest.raises(PermanentError) as caught:
        validate(doc, PAIN001, partner="icbc")
    error = caught.value
    assert error.details == {
        "partner": "icbc",
        "partner_code": None,
        "partner_message": None,
        "element": "CstmrCdtTrfInitn/PmtInf/CdtTrfTxInf[2]/Cdtr/Nm",
        "end_to_end_id": b.instructions[1].end_to_end_id,
    }
    assert "maxLength" in error.message and "某" not in error.message


async def test_control_characters_are_refused_before_sending(bank: BankSimulator, adapter: Adapter) -> None:
    items = instructions(bank, 2)
    items[0]["name"] = "李\x07四"
    with pytest.raises(PermanentError, match=f"payment {items[0]['end_to_end_id']}: a text field"):
        await (await adapter()).call("payments.submit", batch(bank, items=items))
    assert bank.calls["pain.001"] == 0
