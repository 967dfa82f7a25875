"""The ``bank-iso20022`` adapter: pension payment batches to a paying bank, their status, and stops.

- ``payments.submit``: a ``PaymentBatch`` → pain.001.001.09 message(s), each validated against the official
  XSD before anything is sent, uploaded over HTTPS; the pain.002 answers → ``PaymentSubmission``.
- ``payments.status``: the batch's pain.002 status report and camt.054 notifications (returned payments).
- ``deaths.notify`` / ``survival.report``: stop, suspend or resume a person's future payments at the bank.

Every payment carries its end-to-end id and the bank books each at most once; every stop carries an event
id derived from the event. So all four may be resent after an ambiguous failure (``deduplicated``).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from lxml import etree

from ssgateway.errors import (
    AdapterError,
    InputError,
    OutcomeUnknown,
    PermanentError,
    SSGatewayError,
    XMLSecurityError,
)
from ssgateway.model import (
    DeathNotice,
    NoticeReceipt,
    PaymentBatch,
    PaymentState,
    PaymentStatus,
    PaymentStatusQuery,
    PaymentStatusReport,
    PaymentSubmission,
    SurvivalCertification,
)
from ssgateway.sdk import AdapterContext, BaseAdapter, Health, MappingCatalog, handles

from .flatfile import FlatFileFormat
from .pain001 import MessagePart, build_pain001, split_batch
from .reports import REASONS, StatusReport, read_notification, read_status_report
from .schemas import PAIN001, schema, validate
from .settings import BankSettings
from .stops import StopList
from .transport import Answer, BankTransport

__all__ = ["BankIso20022Adapter"]

_XML = "application/xml; charset=utf-8"
_BEIJING = timezone(timedelta(hours=8))
_KEEP_PREPARED = 8
_OK = (200, 201, 202)
_FINALITY = {
    PaymentState.PENDING: 0,
    PaymentState.ACCEPTED: 1,
    PaymentState.SETTLED: 2,
    PaymentState.REJECTED: 3,
    PaymentState.RETURNED: 4,
}
"""How final a state is: a report never replaces a state with a less final one, whatever the order."""


@dataclass
class _Prepared:
    """A batch's messages, built and validated once, and the answers received so far (by message id)."""

    messages: list[tuple[MessagePart, bytes]]
    answers: dict[str, tuple[PaymentStatus, ...]] = field(default_factory=dict)


def _fingerprint(batch: PaymentBatch) -> str:
    return hashlib.sha256(batch.model_dump_json(exclude={"provenance"}).encode()).hexdigest()


def _prepare(batch: PaymentBatch, settings: BankSettings, partner: str) -> _Prepared:
    """Build and validate every message of the batch: nothing is sent unless all of them are valid."""
    created = datetime.now(_BEIJING).replace(microsecond=0)
    messages = []
    for part in split_batch(batch, settings.max_transactions_per_message):
        try:
            document = build_pain001(batch, part, settings, created)
        except ValueError as exc:  # the batch's own texts (the debtor's name) with control characters
            raise PermanentError(
                f"{partner}: batch {batch.batch_id}: a text holds characters XML cannot carry ({exc})",
                partner=partner,
                code="iso20022.invalid",
            ) from exc
        validate(document, PAIN001, partner=partner)
        messages.append((part, etree.tostring(document, xml_declaration=True, encoding="UTF-8")))
    return _Prepared(messages)


def _looks_like_xml(body: bytes) -> bool:
    return body.lstrip()[:1] == b"<"


class BankIso20022Adapter(BaseAdapter):
    """A paying bank that takes ISO 20022 payment messages (or its own flat files) over HTTPS."""

    name = "bank-iso20022"
    version = "1.0"
    config_model = BankSettings
    deduplicated = frozenset({"payments.submit", "deaths.notify", "survival.report"})

    def __init__(self, config: BankSettings, context: AdapterContext) -> None:
        super().__init__(config, context)
        self.config: BankSettings = config
        self.partner = context.partner
        self._transport: BankTransport | None = None
        self._flat: FlatFileFormat | None = None
        self._stops: StopList | None = None
        # Messages of batches not yet fully answered: a retry of the same batch resends only the messages
        # whose answers were lost, byte for byte. Bounded; a batch dropped from here is rebuilt (same ids).
        self._prepared: OrderedDict[str, _Prepared] = OrderedDict()
        self._preparing = asyncio.Lock()

    # --- lifecycle ------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Load the schema, or the flat-file mappings; open the connection pool."""
        if self.config.format == "flat-file":
            catalog = self.context.services.get("mappings") or MappingCatalog()
            self._flat = FlatFileFormat(catalog, self.config.flat_file, partner=self.partner)
        else:
            await asyncio.to_thread(schema, PAIN001)  # compile it once, off the event loop
        self._transport = BankTransport(self.config, partner=self.partner)
        self._stops = StopList(self.config, self._transport)

    async def check(self) -> Health:
        """Usable once started (whether the bank answers shows in the partner's breaker)."""
        return Health(ok=self._transport is not None, detail=None if self._transport else "not started")

    async def close(self) -> None:
        """Close the connection pool."""
        if self._transport is not None:
            await self._transport.aclose()
            self._transport = None

    @property
    def transport(self) -> BankTransport:
        """The HTTP transport (after :meth:`start`)."""
        if self._transport is None:
            raise PermanentError(f"{self.partner}: the adapter is not started", partner=self.partner)
        return self._transport

    # --- payments.submit ------------------------------------------------------------------------------

    @handles("payments.submit")
    async def submit(self, request: PaymentBatch) -> PaymentSubmission:
        """Send a batch; the bank's answer per payment.

        Raises:
            PermanentError: a message does not validate against the XSD (code ``iso20022.invalid``, the
                element named; nothing was sent), or the bank refused a message.
            TransientError, OutcomeUnknown: the bank was busy or an answer was lost; resending is safe.
        """
        if self._flat is not None:
            return await self._submit_flat(request)
        key = _fingerprint(request)
        async with self._preparing:
            prepared = self._prepared.get(key)
            if prepared is None:
                prepared = await asyncio.to_thread(_prepare, request, self.config, self.partner)
                self._prepared[key] = prepared
                while len(self._prepared) > _KEEP_PREPARED:
                    self._prepared.popitem(last=False)
        gate = asyncio.Semaphore(self.config.parallel_messages)

        async def send(part: MessagePart, body: bytes) -> tuple[PaymentStatus, ...]:
            answered = prepared.answers.get(part.msg_id)
            if answered is not None:
                return answered
            async with gate:
                statuses = await self._upload(request, part, body)
            prepared.answers[part.msg_id] = statuses
            return statuses

        results = await asyncio.gather(*(send(p, b) for p, b in prepared.messages), return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            raise self._worst(failures, answered=len(results) - len(failures), total=len(results))
        self._prepared.pop(key, None)
        statuses = [s for r in results if not isinstance(r, BaseException) for s in r]
        rejected = sum(1 for s in statuses if s.state is PaymentState.REJECTED)
        return PaymentSubmission(
            batch_id=request.batch_id,
            accepted=len(statuses) - rejected,
            rejected=rejected,
            statuses=tuple(statuses),
        )

    @staticmethod
    def _worst(failures: list[BaseException], *, answered: int, total: int) -> BaseException:
        """The failure the whole batch fails with.

        A message whose answer was lost outranks a refused one: the bank may have booked it, and a resend
        (safe, the bank dedupes on end-to-end ids) learns what it did, where a refusal would end the call and
        leave the lost answer unknown. Then what retrying cannot mend, then what it can.
        """
        for failure in failures:
            if not isinstance(failure, Exception):
                return failure  # cancellation and the like go on unchanged

        def rank(error: BaseException) -> int:
            if not isinstance(error, AdapterError):
                return 0  # unusable or hostile answers, bugs
            if isinstance(error, OutcomeUnknown):
                return 1
            return 2 if isinstance(error, PermanentError) else 3

        chosen = min(failures, key=rank)
        if total > 1 and isinstance(chosen, SSGatewayError):
            refused = sum(1 for f in failures if isinstance(f, PermanentError))
            chosen.message += (
                f" (of the batch's {total} messages, {answered} answered, {refused} refused,"
                f" {len(failures) - refused} without a usable answer)"
            )
            chosen.args = (chosen.message,)
        return chosen

    async def _upload(self, batch: PaymentBatch, part: MessagePart, body: bytes) -> tuple[PaymentStatus, ...]:
        what = f"pain.001 {part.msg_id}"
        answer = await self.transport.request(
            "POST", self.config.submit_path, what=what, content=body, content_type=_XML
        )
        expected = [i.end_to_end_id for i in part.instructions]
        wanted = set(expected)
        if answer.status not in _OK:
            refusal = self._refusal(what, answer)
            if refusal.details.get("partner_code") != "DU01":
                raise refusal
            # a resend of a message the bank has (its answer was lost), refused with an HTTP error status
            report = await self._status_of_message(batch.batch_id, part.msg_id, expected, what)
            return tuple(s for s in report.statuses if s.end_to_end_id in wanted)
        report = await self._report(answer.body, batch.batch_id, expected, what)
        if report.original_message_id not in ("", part.msg_id):
            raise OutcomeUnknown(
                f"{self.partner}: {what}: the answer is about message {report.original_message_id}; "
                "the bank may have acted",
                partner=self.partner,
                code="partner.unreadable_answer",
            )
        if report.group_status == "RJCT" and report.group_reason == "DU01":
            # the bank has this message id already and does not answer it twice: ask for its status
            report = await self._status_of_message(batch.batch_id, part.msg_id, expected, what)
        return tuple(s for s in report.statuses if s.end_to_end_id in wanted)

    async def _report(self, body: bytes, batch_id: str, expected: list[str], what: str) -> StatusReport:
        try:
            return await asyncio.to_thread(read_status_report, body, batch_id=batch_id, expected=expected)
        except XMLSecurityError:
            raise
        except InputError as exc:
            # the bank may have booked the message; the answer is lost in the noise: resend (it dedupes)
            raise OutcomeUnknown(
                f"{self.partner}: {what}: the answer is unreadable ({exc.message}); the bank may have acted",
                partner=self.partner,
                code="partner.unreadable_answer",
            ) from exc

    async def _status_of_message(
        self, batch_id: str, msg_id: str, expected: list[str], what: str
    ) -> StatusReport:
        answer = await self.transport.request(
            "GET", self.config.status_path, what=f"{what} status", params={"msgid": msg_id}
        )
        if answer.status not in _OK:
            raise PermanentError(
                f"{self.partner}: {what}: the bank refused the message id as a duplicate and gives no status "
                f"for it (HTTP {answer.status}); reconcile with payments.status",
                partner=self.partner,
                partner_code="DU01",
            )
        report = await self._report(answer.body, batch_id, [], what)
        listed = {s.end_to_end_id for s in report.statuses}
        if not listed.issuperset(expected):
            raise PermanentError(
                f"{self.partner}: {what}: the bank holds this message id with other payments (DU01): "
                "the batch id was used before for another batch",
                partner=self.partner,
                partner_code="DU01",
            )
        return report

    def _refusal(self, what: str, answer: Answer) -> AdapterError:
        code = detail = None
        if _looks_like_xml(answer.body):
            try:
                report = read_status_report(answer.body)
                code = report.group_reason or next(
                    (s.reason_code for s in report.statuses if s.reason_code), None
                )
                # the standard text of the code only: the bank's own words may name the payee
                detail = REASONS.get(code or "")
            except InputError:
                pass  # not a pain.002: the HTTP status says enough
        return self.transport.failure(what, answer, code=code, detail=detail)

    async def _submit_flat(self, batch: PaymentBatch) -> PaymentSubmission:
        flat = self._flat
        assert flat is not None  # noqa: S101 - only called in flat-file mode
        body = await asyncio.to_thread(flat.render, batch)
        what = f"payroll file {batch.batch_id}"
        answer = await self.transport.request(
            "POST",
            self.config.flat_file.path,
            what=what,
            content=body,
            content_type=flat.content_type,
            headers=flat.headers(batch),
        )
        expected = [i.end_to_end_id for i in batch.instructions]
        if answer.status == 409:
            # the bank has this batch's file already and does not answer it twice: fetch its result file
            answer = await self.transport.request(
                "GET", self.config.flat_file.path, what=f"{what} result", params={"batch": batch.batch_id}
            )
            if answer.status not in _OK:
                raise self.transport.failure(f"{what} result", answer)
            found = await self._flat_statuses(answer.body, batch.batch_id, [], what)
            if not {s.end_to_end_id for s in found}.issuperset(expected):
                raise PermanentError(
                    f"{self.partner}: {what}: the bank holds a file of this batch id with other payments",
                    partner=self.partner,
                    partner_code="409",
                )
        elif answer.status not in _OK:
            raise self.transport.failure(what, answer)
        statuses = await self._flat_statuses(answer.body, batch.batch_id, expected, what)
        rejected = sum(1 for s in statuses if s.state is PaymentState.REJECTED)
        return PaymentSubmission(
            batch_id=batch.batch_id, accepted=len(statuses) - rejected, rejected=rejected, statuses=statuses
        )

    async def _flat_statuses(
        self, body: bytes, batch_id: str, expected: list[str], what: str
    ) -> tuple[PaymentStatus, ...]:
        flat = self._flat
        assert flat is not None  # noqa: S101 - only called in flat-file mode
        try:
            found = await asyncio.to_thread(flat.read, body, batch_id=batch_id, expected=expected)
        except InputError as exc:
            raise OutcomeUnknown(
                f"{self.partner}: {what}: the result file is unreadable ({exc.message}); "
                "the bank may have acted",
                partner=self.partner,
                code="partner.unreadable_answer",
            ) from exc
        wanted = set(expected) if expected else None
        return tuple(s for s in found if wanted is None or s.end_to_end_id in wanted)

    # --- payments.status ------------------------------------------------------------------------------

    @handles("payments.status")
    async def status(self, request: PaymentStatusQuery) -> PaymentStatusReport:
        """Where the payments of a batch stand: the status report, overlaid with returns.

        Raises:
            PermanentError: the bank does not know the batch (HTTP 404), or refused the query.
        """
        batch_id = request.batch_id
        if self._flat is not None:
            what = f"result file {batch_id}"
            answer = await self.transport.request(
                "GET", self.config.flat_file.path, what=what, params={"batch": batch_id}
            )
            if answer.status not in _OK:
                raise self.transport.failure(what, answer)
            statuses = await self._flat_statuses(answer.body, batch_id, list(request.end_to_end_ids), what)
            return PaymentStatusReport(batch_id=batch_id, statuses=statuses)
        what = f"status of {batch_id}"
        params = {"pmtinfid": batch_id}
        answer = await self.transport.request("GET", self.config.status_path, what=what, params=params)
        if answer.status not in _OK:
            raise self.transport.failure(what, answer)
        report = await self._report(answer.body, batch_id, list(request.end_to_end_ids), what)
        notes = f"notifications of {batch_id}"
        answer = await self.transport.request(
            "GET", self.config.notifications_path, what=notes, params=params
        )
        returns: tuple[PaymentStatus, ...] = ()
        if answer.status in _OK:
            returns = await asyncio.to_thread(read_notification, answer.body, batch_id=batch_id)
        elif answer.status != 404:  # 404: nothing was returned or booked yet
            raise self.transport.failure(notes, answer)
        merged = {s.end_to_end_id: s for s in report.statuses}
        for later in returns:  # booked debits and returns, in whatever order the bank lists them
            current = merged.get(later.end_to_end_id)
            if current is None or _FINALITY[later.state] >= _FINALITY[current.state]:
                merged[later.end_to_end_id] = later
        wanted = set(request.end_to_end_ids)
        statuses = tuple(s for s in merged.values() if not wanted or s.end_to_end_id in wanted)
        return PaymentStatusReport(batch_id=batch_id, statuses=statuses)

    # --- events ---------------------------------------------------------------------------------------

    @handles("deaths.notify")
    async def death(self, request: DeathNotice) -> NoticeReceipt:
        """Stop every future payment to the person (the bank rejects them with ``death_reason_code``)."""
        assert self._stops is not None  # noqa: S101 - set by start
        return await self._stops.death(request)

    @handles("survival.report")
    async def survival(self, request: SurvivalCertification) -> NoticeReceipt:
        """Suspend the person's payments (``not_certified``) or lift the suspension (``certified``)."""
        assert self._stops is not None  # noqa: S101 - set by start
        return await self._stops.survival(request)
