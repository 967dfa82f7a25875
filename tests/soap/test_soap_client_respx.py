"""SoapClient against mocked HTTP (respx): headers, decoding, every error mapping."""

from __future__ import annotations

import gzip
import logging
from collections.abc import AsyncIterator

import httpx
import pytest
import respx

from ssgateway.errors import (
    InputError,
    OutcomeUnknown,
    PermanentError,
    ResponseTooLarge,
    TransientError,
    XMLSecurityError,
)
from ssgateway.soap import SoapClient, SoapSettings, WsseSettings, check_username_token
from ssgateway.testing.dialect import REFERENCE_DIALECT
from ssgateway.testing.envelopes import EnvelopeWriter
from ssgateway.xmlsafe import parse_xml

URL = "https://province.test/ws/provincial"
CID = "11010519491231002X"
WRITER = EnvelopeWriter(REFERENCE_DIALECT)
ACCEPTED = WRITER.acceptance("LX4100000001", "ZY41001", "20240628120000")


@pytest.fixture
def mock() -> respx.MockRouter:
    with respx.mock(assert_all_called=False) as router:
        yield router


@pytest.fixture
async def client() -> AsyncIterator[SoapClient]:
    settings = SoapSettings(endpoint=URL, wsse=WsseSettings(username="gw", password="s3cret"), timeout=2)
    async with SoapClient(settings, partner="henan") as soap:
        yield soap


async def accept(client: SoapClient) -> object:
    return await client.call(
        "AcceptTransfer", certificateNo="ZY41001", receivingDivision="110105", receivingAccount="A1"
    )


async def test_requests_carry_soap_headers_and_a_username_token(
    mock: respx.MockRouter, client: SoapClient
) -> None:
    route = mock.post(URL).mock(return_value=httpx.Response(200, content=ACCEPTED))
    payload = await accept(client)
    assert payload.findtext(REFERENCE_DIALECT.tag("letterNo")) == "LX4100000001"  # type: ignore[attr-defined]
    request = route.calls.last.request
    assert request.headers["content-type"] == "text/xml; charset=utf-8"
    assert request.headers["soapaction"] == '"urn:ssgateway:golden-insurance:v1#AcceptTransfer"'
    assert request.headers["accept-encoding"] == "gzip, deflate"
    assert b"s3cret" not in request.content
    assert check_username_token(parse_xml(request.content), {"gw": "s3cret"}) == "gw"


async def test_compressed_answers_are_decoded(mock: respx.MockRouter, client: SoapClient) -> None:
    mock.post(URL).mock(
        return_value=httpx.Response(
            200, content=gzip.compress(ACCEPTED), headers={"content-encoding": "gzip"}
        )
    )
    answer = await client.call_zeep(
        "AcceptTransfer", certificateNo="ZY41001", receivingDivision="110105", receivingAccount="A1"
    )
    assert answer.letterNo == "LX4100000001"


@pytest.mark.parametrize(
    ("response", "error", "retry_after"),
    [
        (httpx.Response(503, text="busy", headers={"retry-after": "7"}), TransientError, 7.0),
        (httpx.Response(429, text="slow down"), TransientError, None),
        (
            httpx.Response(
                500,
                content=WRITER.fault("Server.Busy", "busy", "E9001", "later"),
                headers={"retry-after": "2"},
            ),
            TransientError,
            2.0,
        ),
        (
            httpx.Response(500, content=WRITER.fault("Server.Timeout", "t", "E9002", "timeout")),
            TransientError,
            None,
        ),
        (
            httpx.Response(500, content=WRITER.fault("Client.NotFound", "nf", "E2001", "no such person")),
            PermanentError,
            None,
        ),
        (
            httpx.Response(200, content=WRITER.fault("Client.Invalid", "bad", "E1001", "bad request")),
            PermanentError,
            None,
        ),
        (httpx.Response(500, text="<html>Internal Server Error</html>"), OutcomeUnknown, None),
        (httpx.Response(502, text="bad gateway"), OutcomeUnknown, None),
        (httpx.Response(404, text="not found"), PermanentError, None),
        (httpx.Response(302, headers={"location": "http://elsewhere.test/"}), PermanentError, None),
    ],
    ids=[
        "503",
        "429",
        "busy-fault",
        "timeout-fault",
        "notfound-fault",
        "fault-with-200",
        "500-html",
        "502",
        "404",
        "redirect",
    ],
)
async def test_answers_map_to_errors(
    mock: respx.MockRouter,
    client: SoapClient,
    response: httpx.Response,
    error: type[Exception],
    retry_after: float | None,
) -> None:
    mock.post(URL).mock(return_value=response)
    with pytest.raises(error) as caught:
        await accept(client)
    assert type(caught.value) is error
    assert caught.value.partner == "henan"  # type: ignore[attr-defined]
    assert caught.value.retry_after == retry_after  # type: ignore[attr-defined]


async def test_the_partner_error_code_is_kept(mock: respx.MockRouter, client: SoapClient) -> None:
    fault = WRITER.fault("Client.NotFound", "not found", "E2001", f"person {CID} not found")
    mock.post(URL).mock(return_value=httpx.Response(500, content=fault))
    with pytest.raises(PermanentError) as caught:
        await client.call("QueryPerson", AAC002=CID)
    assert caught.value.partner_code == "E2001"
    assert CID not in str(caught.value) and "110105********002X" in str(caught.value)


@pytest.mark.parametrize(
    ("failure", "error"),
    [
        (httpx.ConnectError("refused"), TransientError),
        (httpx.ConnectTimeout("slow connect"), TransientError),
        (httpx.PoolTimeout("pool"), TransientError),
        (httpx.WriteError("broken pipe"), TransientError),
        (httpx.ReadError("reset by peer"), OutcomeUnknown),
        (httpx.ReadTimeout("no answer"), OutcomeUnknown),
        (httpx.RemoteProtocolError("server disconnected"), OutcomeUnknown),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, Exception) else v.__name__,
)
async def test_transport_failures_map_by_whether_the_request_was_sent(
    mock: respx.MockRouter, client: SoapClient, failure: Exception, error: type[Exception]
) -> None:
    mock.post(URL).mock(side_effect=failure)
    with pytest.raises(error) as caught:
        await accept(client)
    assert type(caught.value) is error
    assert caught.value.__cause__ is failure


@pytest.mark.parametrize(
    ("body", "error", "text"),
    [
        (b"", InputError, "not well-formed"),
        (b"<html><body>maintenance</body></html>", InputError, "not a SOAP 1.1 envelope"),
        (
            b'<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body/></e:Envelope>',
            InputError,
            "not a SOAP 1.1",
        ),
        (
            b'<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body/></e:Envelope>',
            InputError,
            "empty SOAP Body",
        ),
        (b"<!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]><x>&e;</x>", XMLSecurityError, "DOCTYPE"),
    ],
)
async def test_unusable_answers_are_input_errors(
    mock: respx.MockRouter, client: SoapClient, body: bytes, error: type[Exception], text: str
) -> None:
    mock.post(URL).mock(return_value=httpx.Response(200, content=body))
    with pytest.raises(error, match=text):
        await accept(client)


async def test_the_answer_size_is_capped(mock: respx.MockRouter) -> None:
    mock.post(URL).mock(return_value=httpx.Response(200, content=ACCEPTED + b" " * 5000))
    async with SoapClient(SoapSettings(endpoint=URL, max_response_bytes=4096)) as client:
        with pytest.raises(ResponseTooLarge, match="larger than the limit of 4096"):
            await accept(client)


async def test_streams_map_errors_like_calls(mock: respx.MockRouter, client: SoapClient) -> None:
    mock.post(URL).mock(return_value=httpx.Response(503, text="busy"))
    with pytest.raises(TransientError):
        async with client.stream("QueryContributions", REFERENCE_DIALECT.tag("row"), AAC002=CID):
            pass
    mock.post(URL).mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(TransientError):
        async with client.stream("QueryContributions", REFERENCE_DIALECT.tag("row"), AAC002=CID):
            pass


async def test_logs_never_carry_personal_data_or_secrets(
    mock: respx.MockRouter, client: SoapClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    answer = WRITER.fault("Client.NotFound", f"no {CID}", "E2001", f"no {CID}")
    mock.post(URL).mock(return_value=httpx.Response(500, content=answer))
    with pytest.raises(PermanentError):
        await client.call("QueryPerson", AAC002=CID)
    assert "s3cret" not in caplog.text
    assert CID not in caplog.text
    assert any(
        r.name == "ssgateway.soap" and getattr(r, "operation", None) == "QueryPerson" for r in caplog.records
    )
