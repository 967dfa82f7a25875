"""The SOAP envelopes a simulated province writes, in any :class:`~ssgateway.testing.dialect.Dialect`.

Written as text, not built as a tree: a 100,000-row answer is ~50 MB and is produced in about a second.

>>> from ssgateway.testing.dialect import REFERENCE_DIALECT
>>> writer = EnvelopeWriter(REFERENCE_DIALECT)
>>> body = writer.acceptance("LX001", "ZY41001", "20240601120000")
>>> b"<gi:letterNo>LX001</gi:letterNo>" in body
True
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from xml.sax.saxutils import escape

from ssgateway.soap.namespaces import SOAP11_ENV
from ssgateway.testing._people import CONTRIBUTION_COLUMNS, CertificateData, ContributionRow, EnrolmentRow
from ssgateway.testing.dialect import Dialect

__all__ = ["EnvelopeWriter"]

_ENVELOPE_OPEN = (
    f'<?xml version="1.0" encoding="UTF-8"?>\n<soap:Envelope xmlns:soap="{SOAP11_ENV}"><soap:Body>'
)
_ENVELOPE_CLOSE = "</soap:Body></soap:Envelope>"
_PERSON_FIELDS = ("AAC001", "AAC002", "AAC003", "AAC004", "AAC006", "AAB301")
_ENROLMENT_FIELDS = ("AAE140", "AAC008", "AAC031", "AAC030", "AAB001", "AAB004", "AAB301")


def _text(value: str) -> str:
    return escape(value) if ("&" in value or "<" in value or ">" in value) else value


class EnvelopeWriter:
    """Writes the five operations' answers and faults in one dialect."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self._p = dialect.prefix
        cells = "".join(f"<{self._q(c)}>{{{i}}}</{self._q(c)}>" for i, c in enumerate(CONTRIBUTION_COLUMNS))
        self._row = f"<{self._q('row')}>{cells}</{self._q('row')}>"

    def _q(self, canonical: str) -> str:
        return f"{self._p}:{self.dialect.local(canonical)}"

    def _el(self, canonical: str, inner: str) -> str:
        return f"<{self._q(canonical)}>{inner}</{self._q(canonical)}>"

    def _fields(self, values: dict[str, str], names: Sequence[str]) -> str:
        return "".join(self._el(n, _text(values[n])) for n in names)

    def _answer(self, canonical: str, inner: str) -> bytes:
        tag = self._q(canonical)
        opening = f'<{tag} xmlns:{self._p}="{self.dialect.namespace}">'
        return (_ENVELOPE_OPEN + opening + inner + f"</{tag}>" + _ENVELOPE_CLOSE).encode()

    def person(self, person: dict[str, str], enrolments: Iterable[EnrolmentRow]) -> bytes:
        """``QueryPersonResponse``: ``person`` holds AAC001, AAC002, AAC003, AAC004, AAC006, AAB301."""
        rows = "".join(self._el("enrolment", self._fields(e.as_row(), _ENROLMENT_FIELDS)) for e in enrolments)
        inner = self._el("person", self._fields(person, _PERSON_FIELDS)) + self._el("enrolments", rows)
        return self._answer("QueryPersonResponse", inner)

    def contributions(self, citizen_id: str, rows: Iterable[ContributionRow]) -> bytes:
        """``QueryContributionsResponse`` with every row and their count."""
        template = self._row
        body = [template.format(*map(_text, r.as_row().values())) for r in rows]
        inner = (
            self._el("AAC002", _text(citizen_id))
            + self._el("count", str(len(body)))
            + self._el("rows", "".join(body))
        )
        return self._answer("QueryContributionsResponse", inner)

    def certificate(self, data: CertificateData) -> bytes:
        """``IssueTransferCertificateResponse``."""
        years = "".join(
            self._el(
                "year",
                self._el("AAE001", str(y.year))
                + self._el("months", str(y.months))
                + self._el("baseTotal", f"{y.base_total:.2f}"),
            )
            for y in data.years
        )
        account = (
            self._el("before1998", f"{data.before_1998:.2f}")
            + self._el("from1998To2005", f"{data.from_1998_to_2005:.2f}")
            + self._el("from2006", f"{data.from_2006:.2f}")
        )
        inner = (
            self._el("certificateNo", _text(data.certificate_number))
            + self._el("AAC002", data.citizen_id)
            + self._el("AAC003", _text(data.name))
            + self._el("fromDivision", data.from_region)
            + self._el("toDivision", data.to_region)
            + self._el("issueDate", data.issued_on.strftime("%Y%m%d"))
            + self._el("temporaryAccount", "1" if data.temporary_account else "0")
            + (self._el("employerRate", f"{data.employer_rate}") if data.employer_rate is not None else "")
            + self._el("years", years)
            + self._el("account", account)
            + self._el("pooledAmount", f"{data.pooled_amount:.2f}")
        )
        return self._answer("IssueTransferCertificateResponse", self._el("certificate", inner))

    def acceptance(self, letter_number: str, certificate_number: str, accepted_at: str) -> bytes:
        """``AcceptTransferResponse`` (``accepted_at`` as ``yyyyMMddHHmmss``)."""
        inner = (
            self._el("letterNo", _text(letter_number))
            + self._el("certificateNo", _text(certificate_number))
            + self._el("acceptedAt", accepted_at)
        )
        return self._answer("AcceptTransferResponse", inner)

    def benefit_change(
        self, event_key: str, record_number: str, reason: str, recorded_at: str, duplicate: bool
    ) -> bytes:
        """``ChangeBenefitResponse``: ``reason`` is the AAE160 recorded, ``recorded_at`` a timestamp."""
        inner = (
            self._el("eventKey", _text(event_key))
            + self._el("recordNo", _text(record_number))
            + self._el("AAE160", reason)
            + self._el("recordedAt", recorded_at)
            + self._el("duplicate", "1" if duplicate else "0")
        )
        return self._answer("ChangeBenefitResponse", inner)

    def fault(self, code: str, string: str, detail_code: str, detail_message: str) -> bytes:
        """A SOAP 1.1 fault, ``code`` like ``Server.Busy``, with the province's error in ``detail``."""
        detail = (
            f'<{self._q("error")} xmlns:{self._p}="{self.dialect.namespace}">'
            + self._el("code", _text(detail_code))
            + self._el("message", _text(detail_message))
            + f"</{self._q('error')}>"
        )
        fault = (
            f"<soap:Fault><faultcode>soap:{code}</faultcode><faultstring>{_text(string)}</faultstring>"
            f"<detail>{detail}</detail></soap:Fault>"
        )
        return (_ENVELOPE_OPEN + fault + _ENVELOPE_CLOSE).encode()
