"""The ``medical-insurance`` adapter: the national medical-insurance platform's JSON envelope.

Serves ``medical.insurance_status`` (transaction 1101, through the shipped mappings) and ``deaths.notify``
(the death report; its transaction number is unverified and must be configured). Every call carries a
fresh msgid (:mod:`.msgid`), the current session number (:mod:`.session`) and a signature
(:mod:`.signing`); failure answers become our errors (:mod:`.errors`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from ssgateway.errors import (
    ConfigError,
    MappingError,
    NotFound,
    OutcomeUnknown,
    PermanentError,
    RecordRejected,
    RequestInvalid,
    SSGatewayError,
    TransientError,
)
from ssgateway.model import DeathNotice, MedicalInsuranceStatus, MedicalStatusQuery, NoticeReceipt, Provenance
from ssgateway.sdk import (
    SYSTEM_CLOCK,
    AdapterContext,
    BaseAdapter,
    Health,
    InboundMapping,
    MappingCatalog,
    OutboundMapping,
    Rejection,
    Store,
    handles,
    open_store,
)
from ssgateway_adapters.medical_insurance.config import MedicalInsuranceConfig
from ssgateway_adapters.medical_insurance.envelope import Answer, build_envelope, dumps
from ssgateway_adapters.medical_insurance.errors import ErrorPolicy, compile_patterns
from ssgateway_adapters.medical_insurance.msgid import (
    CheckpointCounter,
    MemoryCounter,
    MsgIdGenerator,
    SequenceCounter,
)
from ssgateway_adapters.medical_insurance.session import Session
from ssgateway_adapters.medical_insurance.signing import (
    HmacSM3,
    Signer,
    SM3Digest,
    Unsigned,
    load_signer,
    sign_envelope,
)
from ssgateway_adapters.medical_insurance.transport import PlatformTransport

__all__ = ["SIGN_IN", "MedicalInsuranceAdapter"]

SIGN_IN = "9001"
"""Transaction number of sign-in."""


class MedicalInsuranceAdapter(BaseAdapter):
    """Speaks the medical-insurance platform's envelope (see the module and the docs page)."""

    name = "medical-insurance"
    version = "1.0"
    config_model = MedicalInsuranceConfig
    deduplicated = frozenset({"deaths.notify"})
    """The platform keeps one death report per person and date of death (unverified; the simulator does)."""

    config: MedicalInsuranceConfig

    def __init__(self, config: MedicalInsuranceConfig, context: AdapterContext) -> None:
        super().__init__(config, context)
        self._clock = context.services.get("clock") or SYSTEM_CLOCK
        self._errors = ErrorPolicy(config.errors)
        self._duplicate = compile_patterns(config.death_report.duplicate_messages)
        self._own_store: Store | None = None
        self._transport: PlatformTransport | None = None
        self._msgids: MsgIdGenerator | None = None
        self._signer: Signer = Unsigned()
        self.session = Session(self._sign_in, clock=self._clock, max_age=config.sign_in.max_age)
        """The platform session (``session.sign_ins`` counts sign-ins)."""

    # -- lifecycle ------------------------------------------------------------------------------------

    def _config_error(self, key: str, message: str) -> ConfigError:
        return ConfigError(message, key=f"partners.{self.context.partner}.config.{key}")

    async def start(self) -> None:
        """Compile the mappings, set up the msgid counter, the signer and the HTTP client."""
        config = self.config
        catalog = self.context.services.get("mappings") or MappingCatalog()
        self._status_request: OutboundMapping = self._mapping(
            catalog.outbound, config.status.request_mapping, "status.request_mapping"
        )
        self._status_response: InboundMapping = self._mapping(
            catalog.inbound, config.status.response_mapping, "status.response_mapping"
        )
        self._death_report: OutboundMapping = self._mapping(
            catalog.outbound, config.death_report.mapping, "death_report.mapping"
        )
        self._signer = self._make_signer()
        counter = self._counter()
        self._msgids = MsgIdGenerator(
            config.institution_code,
            counter,
            block_size=config.msgid.block_size,
            clock=self._clock,
            max_wait=config.msgid.max_wait,
        )
        self._transport = PlatformTransport(config, partner=self.context.partner)

    def _mapping(self, get: Any, ref: str, key: str) -> Any:
        try:
            return get(ref)
        except (NotFound, MappingError) as exc:
            raise self._config_error(key, exc.message) from exc

    def _make_signer(self) -> Signer:
        signing = self.config.signing
        if signing.method == "sm3":
            digest = SM3Digest()
            digest.sign(b"")  # fail at start-up, not on the first call, when SM3 is missing
            return digest
        if signing.method == "hmac-sm3":
            assert signing.key is not None  # noqa: S101 - the settings' validator requires it
            return HmacSM3(signing.key.get_secret_value().encode("utf-8"))
        if signing.method == "custom":
            assert signing.signer is not None  # noqa: S101 - the settings' validator requires it
            return load_signer(signing.signer, signing.options)
        return Unsigned()

    def _counter(self) -> SequenceCounter:
        settings = self.config.msgid
        if settings.store == "memory":
            return MemoryCounter(self._clock.time())
        if settings.store == "gateway":
            store = self.context.services.get("store")
            if store is None:
                raise self._config_error(
                    "msgid.store", "no gateway store was handed to this adapter: give a store URL or `memory`"
                )
        else:
            store = self._own_store = open_store(
                settings.store, base_dir=self.context.base_dir, namespace=settings.namespace
            )
        if not store.supports_outbox:  # the same kinds hold checkpoints
            raise self._config_error(
                "msgid.store", f"msgid sequences need a SQLite or PostgreSQL store, not {store.kind}"
            )
        return CheckpointCounter(store.checkpoints, f"medical-insurance/msgid/{self.config.institution_code}")

    async def check(self) -> Health:
        """Healthy when a session can be had (signing in if there is none)."""
        try:
            await self.session.current()
        except SSGatewayError as exc:
            return Health(ok=False, detail=exc.message)
        return Health(ok=True)

    async def close(self) -> None:
        """Close the HTTP client and the adapter's own store, if it opened one."""
        if self._transport is not None:
            await self._transport.aclose()
            self._transport = None
        if self._own_store is not None:
            await self._own_store.close()
            self._own_store = None

    # -- exchanges ------------------------------------------------------------------------------------

    def _who(self, infno: str) -> str:
        return f"{self.context.partner}: {infno}"

    def _started(self) -> tuple[PlatformTransport, MsgIdGenerator]:
        if self._transport is None or self._msgids is None:
            raise ConfigError(f"the {self.name} adapter of {self.context.partner} is not started")
        return self._transport, self._msgids

    async def _send(self, infno: str, payload: dict[str, Any], division: str | None, sign_no: str) -> Answer:
        transport, msgids = self._started()
        msgid = await msgids.next()
        envelope = build_envelope(
            self.config,
            infno=infno,
            msgid=msgid,
            sign_no=sign_no,
            insured_division=division,
            payload=payload,
            now=self._clock.time(),
        )
        await sign_envelope(envelope, self._signer)
        return await transport.post(infno, dumps(envelope))

    async def _sign_in(self) -> str:
        settings = self.config.sign_in
        payload = {
            "signIn": {
                "opter_no": settings.operator_number or self.config.operator,
                "mac": settings.mac,
                "ip": settings.ip,
            }
        }
        try:
            answer = await self._send(SIGN_IN, payload, None, "")
        except OutcomeUnknown as exc:
            # a lost sign-in answer leaves at most an unused session behind: safe to sign in again
            raise TransientError(exc.message, partner=self.context.partner, code="partner.sign_in") from exc
        who = self._who(SIGN_IN)
        if not answer.ok:
            error = self._errors.error(answer, who=who, partner=self.context.partner, not_found_code="")
            if isinstance(error, TransientError):
                raise error
            raise PermanentError(
                f"sign-in refused: {error.message}",
                partner=self.context.partner,
                partner_code=answer.infcode,
                partner_message=error.details.get("partner_message"),
                code="partner.sign_in_refused",
            )
        output = answer.output if isinstance(answer.output, dict) else {}
        signed = output.get("signinoutb")
        sign_no = signed.get("sign_no") if isinstance(signed, dict) else None
        if not isinstance(sign_no, str) or not sign_no.strip():
            raise PermanentError(
                f"{who}: the sign-in answer has no signinoutb.sign_no", partner=self.context.partner
            )
        return sign_no.strip()

    async def _call(self, infno: str, payload: dict[str, Any], division: str | None) -> Answer:
        """One transaction with the current session; an expired session is renewed and the call resent."""
        sign_no = await self.session.current()
        answer = await self._send(infno, payload, division, sign_no)
        for _ in range(self.config.sign_in.renewals_per_call):
            if answer.ok or self._errors.kind(answer) != "expired":
                break
            self.context.logger.info("the platform session expired; signing in again", extra={"infno": infno})
            sign_no = await self.session.renew(sign_no)
            answer = await self._send(infno, payload, division, sign_no)
        return answer

    def _render(self, mapping: OutboundMapping, request: BaseModel, operation: str) -> dict[str, Any]:
        try:
            rendered = mapping.render(request)
        except RecordRejected as exc:
            raise RequestInvalid(
                f"{operation}: the request cannot be written for {self.context.partner}: {exc.message}"
            ) from exc
        if not isinstance(rendered, dict):
            raise self._config_error("mapping", f"{mapping.spec.ref} does not produce a JSON object")
        return rendered

    # -- operations -----------------------------------------------------------------------------------

    @handles("medical.insurance_status")
    async def insurance_status(self, request: MedicalStatusQuery) -> MedicalInsuranceStatus:
        """Transaction 1101: the person's base information, insurances and special identities."""
        self._started()
        infno = self.config.status.infno
        payload = self._render(self._status_request, request, "medical.insurance_status")
        answer = await self._call(infno, payload, str(request.region))
        who = self._who(infno)
        if not answer.ok:
            raise self._errors.error(
                answer, who=who, partner=self.context.partner, not_found_code="person.not_found"
            )
        if not isinstance(answer.output, dict):
            raise PermanentError(
                f"{who}: the answer has no output object",
                partner=self.context.partner,
                code="partner.invalid_answer",
            )
        provenance = Provenance(
            source_system=self.context.partner,
            source_ref=f"{infno}:{answer.refmsgid}" if answer.refmsgid else infno,
            received_at=datetime.now(UTC),
            mapping=self._status_response.spec.ref,
        )
        outcome = self._status_response.map_record(answer.output, 1, provenance)
        if isinstance(outcome, Rejection):
            shown = f" (got {outcome.raw!r})" if outcome.raw is not None else ""
            raise PermanentError(
                f"{who}: the answer does not map: {outcome.field or outcome.source}: {outcome.reason}{shown}",
                partner=self.context.partner,
                code="partner.invalid_answer",
            )
        status = outcome.entity
        assert isinstance(status, MedicalInsuranceStatus)  # noqa: S101 - the mapping's entity
        if status.citizen_id.reveal() != request.citizen_id.reveal():
            raise PermanentError(
                f"{who}: the platform answered about another person ({status.citizen_id})",
                partner=self.context.partner,
                code="partner.invalid_answer",
            )
        return status

    @handles("deaths.notify")
    async def report_death(self, request: DeathNotice) -> NoticeReceipt:
        """Report a death to the platform; a report the platform had already is a duplicate, not a failure."""
        infno = self.config.death_report.infno
        if infno is None:
            raise self._config_error(
                "death_report.infno",
                "the death report's transaction number is not set (it is unverified: agree it with the "
                "platform)",
            )
        self._started()
        payload = self._render(self._death_report, request, "deaths.notify")
        answer = await self._call(infno, payload, str(request.region))
        if answer.ok:
            output = answer.output if isinstance(answer.output, dict) else {}
            duplicate = str(output.get("dup_flag", "0")) == "1"
        elif any(p.search(answer.err_msg) for p in self._duplicate):
            duplicate = True
        else:
            raise self._errors.error(
                answer, who=self._who(infno), partner=self.context.partner, not_found_code="person.not_found"
            )
        return NoticeReceipt(key=request.event_key, duplicate=duplicate, received_at=datetime.now(UTC))
