"""``provincial-soap``: a province's SOAP service, spoken through mappings.

Each canonical operation is one WSDL operation and two mappings: the outbound one renders the canonical
request as the operation's request element (sent through :class:`~ssgateway.soap.SoapClient`, so zeep
checks it against the contract), the inbound one reads the answer into the canonical response. Element
names live only in the WSDL and the mappings: a province with other names is onboarded with its WSDL, a
mapping set and configuration.

``QueryContributions`` answers are streamed row by row through the compiled mapping (never zeep objects);
rows that do not validate become ``ContributionHistory.rejections``. ``AcceptTransfer`` is deduplicated by
the province on the certificate number, so ``transfer.submit`` may be resent after an ambiguous failure.

``deaths.notify`` and ``survival.report`` (delivered by the gateway's event fan-out) are ``ChangeBenefit``:
a death stops the benefit (AAE160 451 asked; the province, which knows whether the person is retired,
records 211 for a death in service), a certification suspends (421) or resumes (431) it. Each carries the
event key, on which the province keeps one change, so both may be resent too. A province that does not
know the person answers not-found: the receipt says ``not_known`` and the delivery is done.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any, cast

from lxml import etree
from pydantic import BaseModel

from ssgateway.errors import (
    ConfigError,
    NotFound,
    PermanentError,
    RecordRejected,
    RequestInvalid,
)
from ssgateway.model import (
    ContributionHistory,
    ContributionRecord,
    DeathNotice,
    DeliveryReceipt,
    HistoryQuery,
    NoticeReceipt,
    PersonQuery,
    PersonRecord,
    Provenance,
    RecordRejection,
    SurvivalCertification,
    TransferAcceptance,
    TransferCertificate,
    TransferCertificateRequest,
    TransferSubmission,
)
from ssgateway.sdk import (
    AdapterContext,
    BaseAdapter,
    Health,
    MappingCatalog,
    Rejection,
    handles,
    provenance_factory,
)
from ssgateway.soap import SOAP11_ENV, Contract, SoapClient, SoapStream, load_contract
from ssgateway_adapters.provincial_soap.config import (
    OPERATION_DEFAULTS,
    OPTIONAL_OPERATIONS,
    OperationName,
    ProvincialSoapConfig,
    ResolvedOperation,
)
from ssgateway_adapters.provincial_soap.elements import find_record, local_name, request_params
from ssgateway_adapters.provincial_soap.exchange import Exchange, prepare_exchange

__all__ = ["ProvincialSoapAdapter"]

_BODY_CHILDREN = f"{{{SOAP11_ENV}}}Body/*"


class ProvincialSoapAdapter(BaseAdapter):
    """The ``provincial-soap`` adapter: a province's SOAP service for six canonical operations.

    Serves ``person.lookup``, ``contributions.history``, ``transfer.certificate``, ``transfer.submit``,
    ``deaths.notify`` and ``survival.report`` (see the module). The runtime builds it from a
    :class:`ProvincialSoapConfig`; :meth:`start` loads the contract and compiles the mappings from
    ``context.services["mappings"]`` (the shipped ones by default).
    """

    name = "provincial-soap"
    version = "1.0"
    config_model = ProvincialSoapConfig
    deduplicated = frozenset({"transfer.submit", "deaths.notify", "survival.report"})
    config: ProvincialSoapConfig

    def __init__(self, config: ProvincialSoapConfig, context: AdapterContext) -> None:
        super().__init__(config, context)
        self._client: SoapClient | None = None
        self._exchanges: dict[str, Exchange] = {}
        self._unserved: dict[str, str] = {}

    # --- lifecycle ---------------------------------------------------------------------------------

    @property
    def client(self) -> SoapClient:
        """The SOAP client (after :meth:`start`)."""
        if self._client is None:
            raise ConfigError(f"adapter provincial-soap ({self.context.partner}) is not started")
        return self._client

    @property
    def exchanges(self) -> dict[str, Exchange]:
        """The prepared operations by canonical name (after :meth:`start`)."""
        return dict(self._exchanges)

    async def start(self) -> None:
        """Load the contract and compile the mappings, checking they fit each other.

        Raises:
            ConfigError: an unknown WSDL operation or mapping, a mapping for another entity, format or
                element than the operation's, a contract that cannot be loaded.
        """
        if self._client is not None:
            return
        settings = self.config.soap_settings(self.context.resolve)
        roots = (settings.contract_dir,) if settings.contract_dir is not None else ()
        contract = await asyncio.to_thread(
            load_contract, settings.wsdl_path(), roots=roots, service=settings.service, port=settings.port
        )
        catalog = self.context.services.get("mappings") or MappingCatalog()
        names = cast("tuple[OperationName, ...]", tuple(OPERATION_DEFAULTS))
        exchanges: dict[str, Exchange] = {}
        for name in names:
            resolved = self.config.resolved(name)
            missing = self._missing(name, resolved, contract, catalog)
            if missing is not None:
                self._unserved[name] = missing
                self.context.logger.warning("%s is not served by %s: %s", name, self.context.partner, missing)
                continue
            exchanges[name] = prepare_exchange(resolved, contract, catalog, self._config_error)
        self._client = SoapClient(settings, partner=self.context.partner, contract=contract)
        self._exchanges = exchanges

    def _missing(
        self, name: str, resolved: ResolvedOperation, contract: Contract, catalog: MappingCatalog
    ) -> str | None:
        """Why an optional operation (the events) cannot be served by this province, if it cannot.

        A province onboarded before ``ChangeBenefit`` existed — no such operation in its WSDL, or no
        mappings for it in its set — still starts; only what is configured explicitly must be complete.
        """
        if name not in OPTIONAL_OPERATIONS or name in self.config.operations:
            return None
        if resolved.operation not in contract.operations:
            return f"the contract {contract.path.name} has no operation {resolved.operation}"
        for ref in (resolved.request, resolved.response):
            try:
                catalog.resolve(ref)
            except NotFound:
                return f"the mapping set has no {ref}"
        return None

    async def check(self) -> Health:
        """Ready once started: the contract is loaded and every mapping compiled against it."""
        if self._client is None:
            return Health(ok=False, detail="not started")
        detail = f"{self.client.contract.path.name} at {self.config.endpoint}"
        if self._unserved:
            detail += "; not served: " + ", ".join(sorted(self._unserved))
        return Health(ok=True, detail=detail)

    async def close(self) -> None:
        """Close the HTTP connections."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _config_error(self, key: str, reason: str) -> ConfigError:
        return ConfigError(
            f"partner {self.context.partner!r} (provincial-soap): {reason}",
            key=f"partners.{self.context.partner}.config.{key}",
        )

    # --- calling -----------------------------------------------------------------------------------

    def _exchange(self, name: str) -> Exchange:
        if not self._exchanges:
            self.client  # noqa: B018 - raises the "not started" error
        if name in self._unserved:
            raise PermanentError(
                f"{self.context.partner} does not serve {name}: {self._unserved[name]}",
                partner=self.context.partner,
                code="operation.unsupported",
            )
        return self._exchanges[name]

    def _served(self, region: object) -> None:
        prefixes = self.context.regions
        if prefixes and not str(region).startswith(prefixes):
            raise NotFound(
                f"partner {self.context.partner!r} serves regions {', '.join(prefixes)}, not {region}",
                code="route.none",
            )

    def _envelope(self, exchange: Exchange, request: BaseModel) -> etree._Element:
        """The request envelope: rendered by the request mapping, then built by zeep from the contract."""
        try:
            element = exchange.request.render(request)
        except RecordRejected as exc:
            raise RequestInvalid(
                f"{exchange.name}: the request cannot be written for {self.context.partner}: "
                f"{exc.field}: {exc.reason}"
            ) from exc
        return self.client.build(exchange.operation, **request_params(element))

    def _not_found(self, exchange: Exchange, exc: PermanentError) -> NotFound | None:
        if exc.details.get("fault_code") not in self.config.not_found_faults:
            return None
        code = "certificate.not_found" if exchange.name == "transfer.submit" else "person.not_found"
        return NotFound(exc.message, code=code, partner=exc.partner, partner_code=exc.partner_code)

    def _invalid(self, exchange: Exchange, reason: str) -> PermanentError:
        return PermanentError(
            f"{self.context.partner}: the {exchange.operation} answer is unusable: {reason}",
            partner=self.context.partner,
            code="partner.invalid_answer",
        )

    async def _call(self, exchange: Exchange, request: BaseModel) -> etree._Element:
        envelope = self._envelope(exchange, request)
        try:
            answer = await self.client.send(exchange.operation, envelope)
        except PermanentError as exc:
            missing = self._not_found(exchange, exc)
            if missing is None:
                raise
            raise missing from exc
        # send() checked the body holds an element: the payload is its first one
        return next(e for e in answer.iterfind(_BODY_CHILDREN) if isinstance(e.tag, str))

    def _single(self, exchange: Exchange, payload: etree._Element) -> Any:
        mapping = exchange.response
        tag = mapping.record_tag or ""
        record = find_record(payload, tag)
        if record is None:
            raise self._invalid(exchange, f"it holds no {local_name(tag)} element")
        provenance = Provenance(
            source_system=self.context.partner,
            source_ref=exchange.operation,
            received_at=datetime.now(UTC),
            mapping=mapping.spec.ref,
        )
        outcome = mapping.map_record(record, 1, provenance)
        if isinstance(outcome, Rejection):
            got = f" (got {outcome.raw!r})" if outcome.raw is not None else ""
            raise self._invalid(exchange, f"{outcome.field}: {outcome.reason}{got}")
        return outcome.entity

    # --- the operations ----------------------------------------------------------------------------

    @handles("person.lookup")
    async def lookup(self, request: PersonQuery) -> PersonRecord:
        """``QueryPerson``: the person and their enrolments in this province."""
        self._served(request.region)
        exchange = self._exchange("person.lookup")
        record: PersonRecord = self._single(exchange, await self._call(exchange, request))
        if record.person.citizen_id != request.citizen_id:
            raise self._invalid(exchange, "it describes another person")
        return record

    @handles("transfer.certificate")
    async def certificate(self, request: TransferCertificateRequest) -> TransferCertificate:
        """``IssueTransferCertificate``: the certificate for a move out of this province."""
        self._served(request.from_region)
        exchange = self._exchange("transfer.certificate")
        certificate: TransferCertificate = self._single(exchange, await self._call(exchange, request))
        if certificate.citizen_id != request.citizen_id:
            raise self._invalid(exchange, "the certificate is another person's")
        return certificate

    @handles("transfer.submit")
    async def submit(self, request: TransferSubmission) -> TransferAcceptance:
        """``AcceptTransfer``: safe to resend, the province dedupes on the certificate number."""
        self._served(request.from_region)
        exchange = self._exchange("transfer.submit")
        acceptance: TransferAcceptance = self._single(exchange, await self._call(exchange, request))
        if acceptance.certificate_number != request.certificate_number:
            raise self._invalid(exchange, "the letter is for another certificate")
        # The answer names no regions: they are the request's.
        regions = {
            key: getattr(request, key)
            for key in ("from_region", "to_region")
            if getattr(acceptance, key) is None
        }
        return acceptance.model_copy(update=regions)

    @handles("deaths.notify")
    async def death(self, request: DeathNotice) -> NoticeReceipt:
        """``ChangeBenefit`` 451: stop the benefit (the province records 211 for a death in service)."""
        return await self._change("deaths.notify", request, request.event_key)

    @handles("survival.report")
    async def survival(self, request: SurvivalCertification) -> NoticeReceipt:
        """``ChangeBenefit`` 421 (not certified: suspend) or 431 (certified: resume)."""
        return await self._change("survival.report", request, request.event_key)

    async def _change(self, name: str, request: BaseModel, key: str) -> NoticeReceipt:
        exchange = self._exchange(name)
        partner = self.context.partner
        try:
            payload = await self._call(exchange, request)
        except NotFound:
            # the province does not know the person, or pays them nothing: there is nothing to change here
            nothing = DeliveryReceipt(subscriber=partner, delivery_id="", state="not_known")
            return NoticeReceipt(
                key=key, duplicate=False, received_at=datetime.now(UTC), deliveries=(nothing,)
            )
        receipt: NoticeReceipt = self._single(exchange, payload)
        if receipt.key != key:
            raise self._invalid(exchange, "it names another event")
        named = tuple(d.model_copy(update={"subscriber": partner}) for d in receipt.deliveries)
        return receipt.model_copy(update={"deliveries": named})

    @handles("contributions.history")
    async def history(self, request: HistoryQuery) -> ContributionHistory:
        """``QueryContributions``, streamed: the records that validate, and the rows that did not."""
        records: list[ContributionRecord] = []
        rejections: list[RecordRejection] = []
        async for item in self.iter_history(request):
            if isinstance(item, RecordRejection):
                rejections.append(item)
            else:
                records.append(item)
        return ContributionHistory.merge(
            request.citizen_id, records, insurance_type=request.insurance_type, rejections=rejections
        )

    async def iter_history(
        self, request: HistoryQuery
    ) -> AsyncIterator[ContributionRecord | RecordRejection]:
        """Each row of the ``QueryContributions`` answer as it arrives: a record, or a rejection.

        Rows are mapped one at a time as the answer streams in, so memory stays flat whatever their
        number. A row that does not validate, or is another person's, becomes a rejection saying where
        and why; records outside the query's months or insurance type are skipped. A province that does
        not know the person yields nothing. Consume the iterator to its end (or close it): it holds the
        HTTP response open until then.

        Raises:
            PermanentError: the answer announced another number of rows than it held
                (``partner.invalid_answer``); and the client's errors (see ``ssgateway.soap``).
        """
        exchange = self._exchange("contributions.history")
        envelope = self._envelope(exchange, request)
        mapping = exchange.response
        partner, operation = self.context.partner, exchange.operation
        make = provenance_factory(
            source_system=partner, received_at=datetime.now(UTC), mapping=mapping.spec.ref
        )
        map_record = mapping.map_record
        wanted = _wanted(request)
        position = rejected = 0
        async with contextlib.AsyncExitStack() as stack:
            try:
                stream = SoapStream(
                    self.client,
                    operation,
                    envelope,
                    mapping.record_tag or "",
                    self.client.settings.stream_timeout,
                )
                rows = await stack.enter_async_context(stream)
            except PermanentError as exc:
                if self._not_found(exchange, exc) is not None:
                    return
                raise
            async for element in rows:
                position += 1
                outcome = map_record(element, position, make(f"{operation}:{position}", {}))
                if isinstance(outcome, Rejection):
                    rejected += 1
                    yield RecordRejection(
                        source=partner,
                        position=position,
                        field=outcome.field,
                        reason=outcome.reason,
                        raw=outcome.raw,
                    )
                    continue
                record = cast("ContributionRecord", outcome.entity)
                if record.citizen_id != request.citizen_id:
                    rejected += 1
                    yield RecordRejection(
                        source=partner,
                        position=position,
                        field="citizen_id",
                        reason="a record of another person",
                        raw=str(record.citizen_id),  # masks itself
                    )
                elif wanted(record):
                    yield record
            announced = self._announced(exchange, rows.values)
        if announced is not None and announced != position:
            raise self._invalid(exchange, f"it announced {announced} rows but held {position}")
        # counts only: rows carry personal data
        self.context.logger.log(
            logging.WARNING if rejected else logging.INFO,
            "contribution history read",
            extra={"partner": partner, "operation": operation, "rows": position, "rejected": rejected},
        )

    def _announced(self, exchange: Exchange, values: dict[str, str]) -> int | None:
        name = self.config.count_element
        if name is None:
            return None
        for tag, text in values.items():
            if local_name(tag) == name:
                try:
                    return int(text)
                except ValueError:
                    raise self._invalid(exchange, f"its {name} is not a number") from None
        return None


def _wanted(request: HistoryQuery) -> Callable[[ContributionRecord], bool]:
    low, high, kind = request.from_period, request.to_period, request.insurance_type

    def wanted(record: ContributionRecord) -> bool:
        return (
            (low is None or record.period >= low)
            and (high is None or record.period <= high)
            and (kind is None or record.insurance_type.value is kind)
        )

    return wanted
