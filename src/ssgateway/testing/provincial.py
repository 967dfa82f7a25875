"""A simulated province: a real SOAP 1.1 server on 127.0.0.1 answering the provincial service.

The simulator serves one province (a region prefix such as ``"41"``) of a seeded
:class:`~ssgateway.testing.population.Population`, in any :class:`~ssgateway.testing.dialect.Dialect`, and
serves that dialect's WSDL at ``?wsdl`` (its XSD at ``?xsd=provincial.xsd``). Requests are parsed with the
hardened settings and validated against the XSD; an optional UsernameToken is checked. Accepted transfers
go to a :class:`TransferLedger` that dedupes on the certificate number; benefit changes (``ChangeBenefit``:
deaths, survival certifications) to a :class:`BenefitLedger` that dedupes on the event key, recording 451
for a retiree's death and 211 for a death in service. :attr:`ProvincialSimulator.faults`
injects latency, HTTP errors, ``Server.Busy`` faults, resets after the ledger committed, truncated,
malformed, oversized and gzip-bomb answers.

>>> from ssgateway.testing.population import CertificateData, Population
>>> simulator = ProvincialSimulator(Population.generate(seed=1, size=30), region="41")
>>> with simulator.in_thread():
...     simulator.endpoint.startswith("http://127.0.0.1:")
True
"""

from __future__ import annotations

import gzip
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta, timezone

from lxml import etree

from ssgateway.errors import InputError
from ssgateway.masking import mask_text
from ssgateway.model.values import Period
from ssgateway.soap.namespaces import SOAP11_ENV
from ssgateway.soap.wsse import SeenNonces, check_username_token
from ssgateway.testing._provincial_ledgers import Acceptance, BenefitChange, BenefitLedger, TransferLedger
from ssgateway.testing.dialect import REFERENCE_DIALECT, Dialect
from ssgateway.testing.envelopes import EnvelopeWriter
from ssgateway.testing.faultplan import FaultKind, FaultPlan, FaultRule, early_answer, spoil
from ssgateway.testing.httpserver import Request, Response, Served, SimServer
from ssgateway.testing.population import CertificateData, Population, SyntheticPerson
from ssgateway.xmlsafe import hardened_parser, parse_xml

__all__ = [
    "OPERATIONS",
    "Acceptance",
    "BenefitChange",
    "BenefitLedger",
    "ProvincialSimulator",
    "TransferLedger",
    "retired",
]

OPERATIONS = (
    "QueryPerson",
    "QueryContributions",
    "IssueTransferCertificate",
    "AcceptTransfer",
    "ChangeBenefit",
)
"""The service's operations."""

_CHANGE_REASONS = {"451", "421", "431"}  # what may be asked for; 211 is the province's own correction

_XML = "text/xml; charset=utf-8"
_BEIJING = timezone(timedelta(hours=8))


class _Refused(Exception):
    """A business fault: the province answers with a ``soap:Fault``."""

    def __init__(self, code: str, detail_code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.detail_code, self.message = code, detail_code, message


def retired(person: SyntheticPerson, as_of: Period) -> bool:
    """Whether the person reached retirement age (60 men, 50 women: their working lives end there) by then."""
    age = 60 if person.gender == "1" else 50
    return Period(person.birth_date.year + age, person.birth_date.month) <= as_of


class ProvincialSimulator(Served):
    """A province's SOAP service on 127.0.0.1 (see the module).

    Args:
        population: who the province knows (default: ``Population.generate()``).
        region: the region prefix it serves (``"41"``; people outside it are not found).
        dialect: element names, namespace and WSDL to speak.
        path: the endpoint's path.
        passwords: UsernameToken passwords by username; ``None`` accepts requests without a token.
        seed: seed of the fault plan.
        compress: gzip answers when the client accepts gzip.
        clock: the current time (default: now, UTC+8); ``acceptedAt`` comes from it.
        port: the port to listen on (0: a free one; a sandbox gives each province its own).

    Attributes:
        faults: the fault knobs.
        ledger: accepted transfers.
        benefits: benefit changes (stops, suspensions, resumptions), one per event key.
        certificates: certificates issued, by number.
        calls: requests per operation.
        contract_requests: how many times the WSDL or XSD was fetched.
    """

    def __init__(
        self,
        population: Population | None = None,
        *,
        region: str = "41",
        dialect: Dialect = REFERENCE_DIALECT,
        path: str = "/provincial",
        passwords: Mapping[str, str] | None = None,
        seed: int = 0,
        compress: bool = False,
        clock: Callable[[], datetime] | None = None,
        port: int = 0,
    ) -> None:
        self.population = population or Population.generate()
        self.region = region
        self.dialect = dialect
        self.path = path
        self.passwords = dict(passwords) if passwords is not None else None
        self.compress = compress
        self._now = clock or (lambda: datetime.now(_BEIJING))
        self.faults = FaultPlan(seed)
        self.ledger = TransferLedger(region)
        self.benefits = BenefitLedger(region)
        self.certificates: dict[str, CertificateData] = {}
        self.calls: Counter[str] = Counter()
        self.contract_requests = 0
        self.wsdl_override: bytes | None = None
        """Serve these bytes at ``?wsdl`` instead of the dialect's WSDL (hostile-WSDL tests)."""
        self._bulk: dict[str, int] = {}
        self._nonces = SeenNonces()
        self._writer = EnvelopeWriter(dialect)
        self._schema = etree.XMLSchema(etree.parse(str(dialect.xsd), hardened_parser()))
        self._operations = {dialect.tag(f"{op}Request"): op for op in OPERATIONS}
        self._handlers: dict[str, Callable[[etree._Element], bytes]] = {
            "QueryPerson": self._query_person,
            "QueryContributions": self._query_contributions,
            "IssueTransferCertificate": self._issue_certificate,
            "AcceptTransfer": self._accept_transfer,
            "ChangeBenefit": self._change_benefit,
        }
        as_of = self.population.as_of
        self.today = date(as_of.year, as_of.month, 28)
        self.server = SimServer(self._handle, port=port)

    # -- running ------------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (after start)."""
        return self.server.url

    @property
    def endpoint(self) -> str:
        """The service endpoint."""
        return self.server.url + self.path

    @property
    def wsdl_url(self) -> str:
        """Where the WSDL is served."""
        return self.endpoint + "?wsdl"

    def add_bulk_history(self, citizen_id: str, rows: int) -> None:
        """Answer ``QueryContributions`` for this person with ``rows`` synthetic rows (load tests)."""
        self._bulk[citizen_id] = rows

    # -- HTTP ---------------------------------------------------------------------------------------------

    async def _handle(self, request: Request) -> Response:
        if request.path != self.path:
            return Response(404, b"not found", {"content-type": "text/plain"})
        if request.method == "GET":
            return self._contract(request)
        if request.method != "POST":
            return Response(405, b"method not allowed", {"content-type": "text/plain"})
        try:
            envelope = parse_xml(request.body, what="the request")
        except InputError as exc:
            return self._fault_response("Client.Invalid", "E1000", f"unreadable request: {exc.message}")
        payload = self._payload(envelope)
        operation = self._operations.get(str(payload.tag)) if payload is not None else None
        if operation is None or payload is None:
            return self._fault_response("Client.Invalid", "E1000", "no operation of this service in the body")
        self.calls[operation] += 1
        rules = self.faults.draw(operation)
        delay = self.faults.latency(rules)
        primary = next((r for r in rules if r.kind is not FaultKind.LATENCY), None)
        if primary is not None and primary.before_work:
            response = self._early_fault(primary)
        else:
            response = self._answer(operation, envelope, payload)
            if primary is not None:
                response = spoil(response, primary)
            elif self.compress and "gzip" in request.headers.get("accept-encoding", ""):
                response.body = gzip.compress(response.body, compresslevel=5)
                response.headers["content-encoding"] = "gzip"
        response.delay += delay
        return response

    def _contract(self, request: Request) -> Response:
        self.contract_requests += 1
        query = request.query
        if "wsdl" in query or request.target.endswith("?wsdl"):
            if self.wsdl_override is not None:
                return Response(200, self.wsdl_override, {"content-type": _XML})
            text = self.dialect.wsdl.read_text(encoding="utf-8")
            text = text.replace('location="http://127.0.0.1:8080/provincial"', f'location="{self.endpoint}"')
            text = text.replace(
                'schemaLocation="provincial.xsd"', f'schemaLocation="{self.endpoint}?xsd=provincial.xsd"'
            )
            return Response(200, text.encode(), {"content-type": _XML})
        if query.get("xsd") == ["provincial.xsd"]:
            return Response(200, self.dialect.xsd.read_bytes(), {"content-type": _XML})
        return Response(404, b"not found", {"content-type": "text/plain"})

    @staticmethod
    def _payload(envelope: etree._Element) -> etree._Element | None:
        if envelope.tag != f"{{{SOAP11_ENV}}}Envelope":
            return None
        body = envelope.find(f"{{{SOAP11_ENV}}}Body")
        return next((c for c in body if isinstance(c.tag, str)), None) if body is not None else None

    def _fault_response(self, code: str, detail_code: str, message: str, *, string: str = "") -> Response:
        body = self._writer.fault(code, string or message, detail_code, message)
        return Response(500, body, {"content-type": _XML})

    def _early_fault(self, rule: FaultRule) -> Response:
        return early_answer(rule, _XML, lambda r: self._fault_response(r.code, r.detail_code, r.message))

    # -- the operations -----------------------------------------------------------------------------------

    def _answer(self, operation: str, envelope: etree._Element, payload: etree._Element) -> Response:
        try:
            if self.passwords is not None:
                try:
                    check_username_token(envelope, self.passwords, seen_nonces=self._nonces)
                except ValueError as exc:
                    raise _Refused("Client.Invalid", "E1003", f"authentication failed: {exc}") from None
            if not self._schema.validate(payload):
                error = self._schema.error_log.last_error
                reason = mask_text(error.message) if error is not None else "does not match the schema"
                raise _Refused("Client.Invalid", "E1001", f"invalid request: {reason}")
            body = self._handlers[operation](payload)
        except _Refused as refused:
            return self._fault_response(refused.code, refused.detail_code, refused.message)
        return Response(200, body, {"content-type": _XML})

    def _text(self, payload: etree._Element, canonical: str) -> str:
        return (payload.findtext(self.dialect.tag(canonical)) or "").strip()

    def _person(self, payload: etree._Element) -> str:
        citizen_id = self._text(payload, "AAC002").upper()
        person = self.population.person(citizen_id)
        if person is None or not person.spells_in(self.region):
            raise _Refused("Client.NotFound", "E2001", f"person {mask_text(citizen_id)} not found")
        return citizen_id

    def _query_person(self, payload: etree._Element) -> bytes:
        citizen_id = self._person(payload)
        person = self.population.person(citizen_id)
        assert person is not None  # noqa: S101 - checked by _person
        fields = {
            "AAC001": person.person_number(self.region[:2]),
            "AAC002": citizen_id,
            "AAC003": person.name,
            "AAC004": person.gender,
            "AAC006": person.birth_date.strftime("%Y%m%d"),
            "AAB301": person.spells_in(self.region)[-1].region,
        }
        return self._writer.person(fields, self.population.enrolments(citizen_id, self.region))

    def _query_contributions(self, payload: etree._Element) -> bytes:
        citizen_id = self._person(payload)
        try:
            low, high = (self._text(payload, name) for name in ("AAE041", "AAE042"))
            start = Period.parse(low) if low else None
            end = Period.parse(high) if high else None
        except ValueError:
            raise _Refused("Client.Invalid", "E1002", "AAE041/AAE042 are not months (YYYYMM)") from None
        if citizen_id in self._bulk:
            rows = self.population.bulk_contributions(citizen_id, self._bulk[citizen_id], self.region)
            return self._writer.contributions(citizen_id, rows)
        rows_in = self.population.contributions(citizen_id, self.region, start=start, end=end)
        return self._writer.contributions(citizen_id, rows_in)

    def _issue_certificate(self, payload: etree._Element) -> bytes:
        citizen_id = self._person(payload)
        target = self._text(payload, "targetDivision")
        if target.startswith(self.region[:2]):
            raise _Refused("Client.Invalid", "E3002", "the target division is in this province")
        certificate = self.population.certificate(citizen_id, self.region, target, self.today)
        if certificate is None:
            raise _Refused("Client.NotFound", "E3001", "no pension contributions to transfer")
        self.certificates[certificate.certificate_number] = certificate
        return self._writer.certificate(certificate)

    def _accept_transfer(self, payload: etree._Element) -> bytes:
        number = self._text(payload, "certificateNo")
        division = self._text(payload, "receivingDivision")
        account = self._text(payload, "receivingAccount")
        certificate = self.certificates.get(number)
        if certificate is None:
            raise _Refused("Client.NotFound", "E3004", "unknown certificate number")
        if certificate.to_region != division:
            raise _Refused("Client.Invalid", "E3005", "the receiving division differs from the certificate's")
        try:
            accepted = self.ledger.accept(number, division, account, self._now())
        except ValueError as exc:
            raise _Refused("Client.Invalid", "E3003", str(exc)) from None
        stamp = accepted.accepted_at.astimezone(_BEIJING).strftime("%Y%m%d%H%M%S")
        return self._writer.acceptance(accepted.letter_number, number, stamp)

    def _change_benefit(self, payload: etree._Element) -> bytes:
        citizen_id = self._person(payload)
        person = self.population.person(citizen_id)
        assert person is not None  # noqa: S101 - checked by _person
        asked = self._text(payload, "AAE160")
        if asked not in _CHANGE_REASONS:
            raise _Refused("Client.Invalid", "E4001", f"AAE160 {asked!r} is not a change this service makes")
        pensioner = retired(person, self.population.as_of)
        if asked != "451" and not pensioner:
            raise _Refused("Client.NotFound", "E4002", f"no benefit is paid to {mask_text(citizen_id)}")
        try:
            when = datetime.strptime(self._text(payload, "eventDate"), "%Y%m%d").date()
        except ValueError:
            raise _Refused("Client.Invalid", "E1002", "eventDate is not a date (YYYYMMDD)") from None
        reason = "211" if asked == "451" and not pensioner else asked
        key = self._text(payload, "eventKey")
        try:
            change, new = self.benefits.record(key, citizen_id, reason, when, self._now())
        except ValueError as exc:
            raise _Refused("Client.Invalid", "E4003", str(exc)) from None
        stamp = change.recorded_at.astimezone(_BEIJING).strftime("%Y%m%d%H%M%S")
        return self._writer.benefit_change(key, change.record_number, change.reason, stamp, not new)
