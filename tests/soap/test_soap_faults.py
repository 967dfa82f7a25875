from __future__ import annotations

import pytest

from ssgateway.errors import PermanentError, TransientError
from ssgateway.soap import FaultPolicy, SoapFault, find_fault
from ssgateway.testing.dialect import LOWERCASE_DIALECT, REFERENCE_DIALECT
from ssgateway.testing.envelopes import EnvelopeWriter
from ssgateway.xmlsafe import parse_xml


def fault(code: str, message: str = "无此人 11010519491231002X", dialect=REFERENCE_DIALECT) -> SoapFault:  # type: ignore[no-untyped-def]
    element = find_fault(parse_xml(EnvelopeWriter(dialect).fault(code, "fault string", "E2001", message)))
    assert element is not None
    return FaultPolicy().read(element)


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("Server.Busy", TransientError),
        ("Server.Timeout", TransientError),
        ("Client.NotFound", PermanentError),
        ("Client.Invalid", PermanentError),
        ("Client", PermanentError),
        ("Server", PermanentError),
        ("Server.Crashed", PermanentError),
        ("Weird", PermanentError),
    ],
)
def test_fault_codes_decide_transient_or_permanent(code: str, kind: type[Exception]) -> None:
    error = FaultPolicy().error(fault(code), partner="henan", operation="QueryPerson")
    assert type(error) is kind
    assert error.partner == "henan"
    assert error.partner_code == "E2001"


def test_the_partner_detail_is_kept_and_masked() -> None:
    read = fault("Client.NotFound")
    assert (read.code, read.detail_code) == ("Client.NotFound", "E2001")
    assert read.namespace == "http://schemas.xmlsoap.org/soap/envelope/"
    assert read.detail_message == "无此人 110105********002X"
    error = FaultPolicy().error(read, partner="henan", operation="QueryPerson", retry_after=5)
    assert "11010519491231002X" not in str(error)
    assert error.partner_message == "无此人 110105********002X"
    assert error.retry_after is None  # only transient errors carry a wait


def test_unknown_codes_can_be_declared_transient() -> None:
    policy = FaultPolicy(transient=("Server.Busy", "Server.Maintenance"), unknown="transient")
    assert policy.is_transient("Server.Maintenance")
    assert policy.is_transient("Server.Whatever")
    assert not policy.is_transient("Client.Invalid")  # a client fault is never worth retrying
    busy = policy.error(fault("Server.Busy"), retry_after=3)
    assert isinstance(busy, TransientError) and busy.retry_after == 3


def test_detail_names_follow_the_dialect() -> None:
    read = fault("Client.Invalid", dialect=LOWERCASE_DIALECT)
    assert read.detail_code == "E2001"
    custom = FaultPolicy(detail_code="errcode", detail_message="errmsg")
    element = find_fault(
        parse_xml(
            b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault>'
            b"<faultcode>s:Server.Busy</faultcode><faultstring>busy</faultstring>"
            b"<detail><e><errcode>X9</errcode><errmsg>later</errmsg></e></detail></s:Fault></s:Body></s:Envelope>"
        )
    )
    assert element is not None
    read = custom.read(element)
    assert (read.code, read.detail_code, read.detail_message) == ("Server.Busy", "X9", "later")
