"""The flat-file variant: a bank's own CSV files, chosen by configuration, written and read by mappings."""

from __future__ import annotations

import asyncio
import csv
import io
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
import respx
from tests.bank.batches import batch, instructions
from tests.bank.conftest import Adapter

from ssgateway.errors import ConfigError, OutcomeUnknown, PermanentError
from ssgateway.model import PaymentState, PaymentStatusQuery
from ssgateway.sdk import AdapterContext, MappingCatalog
from ssgateway.testing import BankSimulator, Population
from ssgateway.testing.faultplan import FaultKind
from ssgateway_adapters.bank_iso20022 import BankIso20022Adapter, BankSettings

FLAT = {"format": "flat-file"}


def states(statuses: object) -> list[tuple[str, str, str | None]]:
    return [(s.end_to_end_id, s.state.value, s.reason_code) for s in statuses]  # type: ignore[attr-defined]


async def test_the_payroll_file_goes_out_and_the_result_file_comes_back(
    bank: BankSimulator, adapter: Adapter
) -> None:
    b = batch(bank, 6)
    dead = b.instructions[2]
    bank.ledger.record(
        "death-1", {"kind": "death", "citizen_id": dead.citizen_id.reveal(), "reason_code": "MD07"}
    )
    client = await adapter(**FLAT)
    result = await client.call("payments.submit", b)
    assert (result.accepted, result.rejected) == (5, 1)  # type: ignore[attr-defined]
    assert states(result.statuses)[2] == (dead.end_to_end_id, "rejected", "MD07")  # type: ignore[attr-defined]
    assert bank.calls["payroll-file"] == 1 and bank.calls["pain.001"] == 0
    booked = bank.ledger.get(b.instructions[0].end_to_end_id)
    assert booked is not None and booked.amount == b.instructions[0].amount  # written in fen, read back
    assert booked.account == b.instructions[0].account.reveal()
    again = await client.call("payments.submit", b)
    assert states(again.statuses) == states(result.statuses) and len(bank.ledger) == 6  # type: ignore[attr-defined]
    bank.settle()
    bank.return_payment(b.instructions[4].end_to_end_id, "AC04")
    report = await client.call("payments.status", PaymentStatusQuery(batch_id=b.batch_id))
    by_id = {s.end_to_end_id: s for s in report.statuses}  # type: ignore[attr-defined]
    assert by_id[b.instructions[0].end_to_end_id].state is PaymentState.SETTLED
    assert (by_id[b.instructions[4].end_to_end_id].state, by_id[b.instructions[4].end_to_end_id].reason_code) == (
        PaymentState.RETURNED, "AC04",
    )  # fmt: skip
    assert all(s.batch_id == b.batch_id and s.provenance is None for s in report.statuses)  # type: ignore[attr-defined]


async def test_a_bank_that_refuses_a_file_twice(population: Population, adapter: Adapter) -> None:
    async with BankSimulator(population, duplicate_messages="reject") as bank:
        b = batch(bank, 3)
        config = BankSettings(endpoint=bank.url, format="flat-file", timeout=5)
        client = BankIso20022Adapter(config, AdapterContext(partner="xinghe"))
        await client.start()
        try:
            bank.faults.add(FaultKind.RESET, operations="payroll-file", times=1)
            with pytest.raises(OutcomeUnknown):
                await client.call("payments.submit", b)
            result = await client.call("payments.submit", b)  # 409, then the result file is fetched
            assert result.accepted == 3 and len(bank.ledger) == 3  # type: ignore[attr-defined]
            other = batch(bank, 3, items=instructions(bank, 3, prefix="OTHER"))
            with pytest.raises(PermanentError, match="other payments"):
                await client.call("payments.submit", other)
        finally:
            await client.close()
            await asyncio.sleep(0)


MY_BANK = """\
id: banks/lanshan-salary
version: 1
description: Another invented bank's file (tab-separated UTF-8; amounts in yuan; 19-digit cards only).
direction: outbound
format: csv
entity: PaymentInstruction
csv: {encoding: utf-8, delimiter: "\\t"}
fields:
  card: {source: account, transforms: [{type: regex, pattern: "[0-9]{19}", message: not a 19-digit card}]}
  holder: {source: name}
  yuan: {source: amount}
  ref: {source: end_to_end_id}
  month: {source: payout_period, transforms: [{type: format_month, pattern: YYYY-MM}]}
"""


async def test_another_bank_format_is_a_mapping_in_a_directory(bank: BankSimulator, tmp_path: Path) -> None:
    (tmp_path / "lanshan.yaml").write_text(MY_BANK, encoding="utf-8")
    catalog = MappingCatalog([tmp_path])
    settings = BankSettings.model_validate(
        {"endpoint": "https://lanshan.example", "format": "flat-file",
         "flat_file": {"instruction_mapping": "banks/lanshan-salary", "path": "/salary"}}
    )  # fmt: skip
    client = BankIso20022Adapter(settings, AdapterContext(partner="lanshan", services={"mappings": catalog}))
    await client.start()
    try:
        items = instructions(bank, 3)
        with respx.mock:
            result_file = (
                "LSH,JG,YYDM,YYSM,CLSJ\r\n"
                + "".join(f"{i['end_to_end_id']},0,,,20240628093000\r\n" for i in items[:2])
                + f"{items[2]['end_to_end_id']},7,,,20240628093000\r\n"
            )  # a result code the bank never documented
            route = respx.post("https://lanshan.example/salary").mock(
                return_value=httpx.Response(200, content=result_file.encode("gb18030"))
            )
            result = await client.call("payments.submit", batch(bank, items=items))
        sent = route.calls.last.request
        rows = list(csv.DictReader(io.StringIO(sent.content.decode("utf-8")), delimiter="\t"))
        assert [r["ref"] for r in rows] == [i["end_to_end_id"] for i in items]
        assert rows[0]["yuan"] == str(Decimal(items[0]["amount"])) and rows[0]["month"] == "2024-06"
        assert (
            sent.headers["x-record-count"] == "3"
            and sent.headers["content-type"] == "text/csv; charset=utf-8"
        )
        assert states(result.statuses) == [  # type: ignore[attr-defined]
            (items[0]["end_to_end_id"], "accepted", None),
            (items[1]["end_to_end_id"], "accepted", None),
            (items[2]["end_to_end_id"], "pending", None),  # its row was not understood: nothing is assumed
        ]
        bad = instructions(bank, 2)
        bad[1]["account"] = "62220212345678"
        with (
            respx.mock,
            pytest.raises(PermanentError, match=f"payment {bad[1]['end_to_end_id']} cannot be written"),
        ):
            await client.call("payments.submit", batch(bank, items=bad))  # no route: nothing was sent
    finally:
        await client.close()


@pytest.mark.parametrize(
    ("flat_file", "reason"),
    [
        ({"instruction_mapping": "banks/nowhere"}, "no mapping 'banks/nowhere'"),
        ({"result_mapping": "banks/xinghe-payroll"}, "is outbound"),
        (
            {"instruction_mapping": "golden-insurance/contribution-drop-out"},
            "not a CSV mapping of PaymentInstruction",
        ),
    ],
)
async def test_wrong_mappings_are_configuration_errors(flat_file: dict[str, str], reason: str) -> None:
    settings = BankSettings.model_validate(
        {"endpoint": "https://b.example", "format": "flat-file", "flat_file": flat_file}
    )
    client = BankIso20022Adapter(settings, AdapterContext(partner="b"))
    with pytest.raises(ConfigError, match=reason):
        await client.start()
    await client.close()
