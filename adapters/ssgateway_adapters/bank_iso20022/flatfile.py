"""The flat-file variant: a bank's own CSV payroll and result files, written and read by mappings alone.

The payroll file is a header row plus one row per instruction, rendered by an outbound CSV mapping of
``PaymentInstruction``; the bank's result file is read by an inbound CSV mapping to ``PaymentStatus``. The
facts of the batch as a whole travel as HTTP headers of the upload (``X-Batch-Id``, ``X-Debtor-Account``,
``X-Debtor-Bank``, ``X-Execution-Date``, ``X-Record-Count``, ``X-Control-Sum``), so no mapping needs them.
Onboarding another bank with its own file format means two mapping files and ``flat_file:`` settings.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterable

from ssgateway.errors import ConfigError, InputError, PermanentError, RecordRejected, SSGatewayError
from ssgateway.model import PaymentBatch, PaymentState, PaymentStatus
from ssgateway.sdk import Accepted, MappingCatalog, read_csv

from .settings import FlatFileSettings

__all__ = ["FlatFileFormat"]

_log = logging.getLogger("ssgateway.bank")


class FlatFileFormat:
    """A bank's payroll and result files, by mapping.

    Args:
        catalog: where the mappings are found (the runtime's, or the shipped ones).
        settings: which mappings, and the files' encoding.
        partner: the configured partner name, for errors.

    Raises:
        ConfigError: a mapping is missing, or not a CSV mapping of the right entity and direction.
    """

    def __init__(self, catalog: MappingCatalog, settings: FlatFileSettings, *, partner: str) -> None:
        self.partner = partner
        try:
            self.rows = catalog.outbound(settings.instruction_mapping)
            self.results = catalog.inbound(settings.result_mapping)
        except SSGatewayError as exc:  # an unknown mapping is NotFound: here it is a setting to fix
            raise ConfigError(exc.message, key="flat_file") from exc
        for mapping, entity, key in (
            (self.rows, "PaymentInstruction", "instruction_mapping"),
            (self.results, "PaymentStatus", "result_mapping"),
        ):
            if mapping.spec.format != "csv" or mapping.spec.entity != entity:
                raise ConfigError(
                    f"{mapping.spec.ref} is not a CSV mapping of {entity}", key=f"flat_file.{key}"
                )
        rows_csv, results_csv = self.rows.spec.csv, self.results.spec.csv
        self.write_encoding = settings.encoding or (rows_csv.encoding if rows_csv else "utf-8")
        self.read_encoding = settings.encoding or (results_csv.encoding if results_csv else "utf-8-sig")
        self.delimiter = rows_csv.delimiter if rows_csv else ","

    @property
    def content_type(self) -> str:
        """The upload's media type, with its charset."""
        return f"text/csv; charset={self.write_encoding}"

    def render(self, batch: PaymentBatch) -> bytes:
        """The payroll file of ``batch``.

        Raises:
            PermanentError: an instruction cannot be written (field and end-to-end id named); nothing is sent.
        """
        out = io.StringIO(newline="")
        writer = csv.DictWriter(
            out, fieldnames=self.rows.columns, delimiter=self.delimiter, lineterminator="\r\n"
        )
        writer.writeheader()
        for item in batch.instructions:
            try:
                writer.writerow(self.rows.render(item))
            except RecordRejected as exc:
                raise PermanentError(
                    f"{self.partner}: payment {item.end_to_end_id} cannot be written with "
                    f"{self.rows.spec.ref}: {exc.message}",
                    partner=self.partner,
                    code="flat_file.invalid",
                ) from exc
        try:
            return out.getvalue().encode(self.write_encoding)
        except UnicodeEncodeError as exc:
            raise PermanentError(
                f"{self.partner}: the payroll file cannot be encoded in {self.write_encoding}: {exc.reason}",
                partner=self.partner,
                code="flat_file.invalid",
            ) from exc

    def headers(self, batch: PaymentBatch) -> dict[str, str]:
        """The upload's headers: the facts of the batch as a whole."""
        return {
            "X-Batch-Id": batch.batch_id,
            "X-Debtor-Account": batch.debtor_account,
            "X-Debtor-Bank": batch.debtor_bank_code,
            "X-Execution-Date": batch.requested_execution_date.isoformat(),
            "X-Record-Count": str(batch.count),
            "X-Control-Sum": f"{batch.control_sum:.2f}",
        }

    def read(self, data: bytes, *, batch_id: str, expected: Iterable[str] = ()) -> list[PaymentStatus]:
        """Statuses from the bank's result file; expected payments it does not list stay ``pending``.

        A row the mapping rejects is logged (masked) and leaves its payment ``pending``.

        Raises:
            InputError: the file cannot be decoded or lacks the mapping's columns.
        """
        encoding = self.read_encoding
        try:
            text = data.decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise InputError(f"{self.partner}: the result file is not {encoding} text") from exc
        rows = read_csv(io.StringIO(text, newline=""), source="result file", required=self.results.columns)
        found: dict[str, PaymentStatus] = {}
        for outcome in self.results.map_records(rows, source_system=self.partner, source_name="result file"):
            if isinstance(outcome, Accepted) and isinstance(outcome.entity, PaymentStatus):
                found[outcome.entity.end_to_end_id] = outcome.entity.model_copy(
                    update={"batch_id": batch_id, "provenance": None}
                )
            else:
                _log.warning(
                    "%s: a result row was not understood: %s", self.partner, getattr(outcome, "reason", "")
                )
        for e2e in expected:
            if e2e not in found:
                found[e2e] = PaymentStatus(
                    end_to_end_id=e2e,
                    batch_id=batch_id,
                    state=PaymentState.PENDING,
                    reason="not in the bank's result file",
                )
        return list(found.values())
