"""The simulated bank's flat files: the invented Xinghe Bank payroll file in, its result file out.

GB18030 CSV with a header row. Payroll columns: ``LSH`` serial number (the end-to-end id), ``ZH`` account,
``HM`` holder, ``HH`` bank code, ``JE`` amount in fen, ``ZJHM`` citizen id, ``FFYF`` payout month, ``XMDM``
benefit, ``FY`` remittance. Result columns: ``LSH``, ``JG`` result (0 accepted, 1 rejected, 2 settled,
3 returned, 9 processing), ``YYDM`` the bank's reason code, ``YYSM`` its text, ``CLSJ`` time
(``yyyyMMddHHmmss``). The facts of the batch come in the upload's headers (``X-Batch-Id`` …).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation

from ssgateway.testing._bank_messages import Incoming, MessageError, ReportLine, Transaction

__all__ = ["ENCODING", "PAYROLL_COLUMNS", "read_payroll", "write_results"]

ENCODING = "gb18030"
PAYROLL_COLUMNS = ("LSH", "ZH", "HM", "HH", "JE", "ZJHM", "FFYF", "XMDM", "FY")
_RESULT_COLUMNS = ("LSH", "JG", "YYDM", "YYSM", "CLSJ")
# ISO 20022 reason codes → the bank's own
_OWN_CODES = {"AC01": "E101", "AC04": "E102", "AM04": "E103", "MD07": "E201", "SL01": "E202", "AM05": "E301"}
_RESULT = {"ACCP": "0", "RJCT": "1", "ACSC": "2"}


def read_payroll(data: bytes, headers: Mapping[str, str]) -> Incoming:
    """Read an uploaded payroll file with the batch facts from its headers.

    Raises:
        MessageError: undecodable, missing columns, counts or sums that disagree with the headers.
    """
    batch = headers.get("x-batch-id", "")
    if not batch:
        raise MessageError("FF01", "X-Batch-Id is missing")
    try:
        text = data.decode(ENCODING)
    except UnicodeDecodeError:
        raise MessageError("FF01", "the file is not GB18030 text", batch) from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    missing = [c for c in PAYROLL_COLUMNS if c not in (reader.fieldnames or ())]
    if missing:
        raise MessageError("FF01", f"missing columns: {', '.join(missing)}", batch)
    try:
        transactions = [
            Transaction(
                end_to_end_id=row["LSH"].strip(),
                batch_id=batch,
                amount=Decimal(row["JE"].strip()) / 100,
                name=row["HM"].strip(),
                citizen_id=row["ZJHM"].strip().upper(),
                account=row["ZH"].strip(),
                bank_code=row["HH"].strip(),
            )
            for row in reader
        ]
    except (InvalidOperation, csv.Error, AttributeError):
        raise MessageError("FF01", f"line {reader.line_num} is malformed", batch) from None
    count = headers.get("x-record-count", "")
    if count != str(len(transactions)):
        raise MessageError("AM18", "X-Record-Count differs from the rows", batch)
    try:
        total = Decimal(headers.get("x-control-sum", ""))
    except InvalidOperation:
        raise MessageError("AM10", "X-Control-Sum is not a number", batch) from None
    if total != sum((t.amount for t in transactions), Decimal(0)):
        raise MessageError("AM10", "X-Control-Sum differs from the rows", batch)
    return Incoming(
        msg_id=f"file:{batch}",
        created="",
        count=len(transactions),
        control_sum=total,
        debtor_account=headers.get("x-debtor-account", ""),
        transactions=tuple(transactions),
    )


def write_results(lines: Iterable[ReportLine], now: datetime, returned: Mapping[str, str]) -> bytes:
    """The result file for ``lines``; ``returned`` gives the return reason of returned payments."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(_RESULT_COLUMNS)
    stamp = now.strftime("%Y%m%d%H%M%S")
    for line in lines:
        back = returned.get(line.end_to_end_id)
        result = "3" if back else _RESULT.get(line.status, "9")
        code = back or line.reason_code
        own = _OWN_CODES.get(code, code) if code else ""
        writer.writerow((line.end_to_end_id, result, own, line.reason or "", stamp))
    return out.getvalue().encode(ENCODING)
