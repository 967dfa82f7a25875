"""Client certificates through an ssl.SSLContext, against a TLS server on 127.0.0.1 that requires one."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ssgateway.errors import ConfigError, TransientError
from ssgateway.partnerhttp import TlsSettings
from ssgateway.soap import SoapClient, SoapSettings
from ssgateway.testing.dialect import REFERENCE_DIALECT
from ssgateway.testing.envelopes import EnvelopeWriter

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
ANSWER = EnvelopeWriter(REFERENCE_DIALECT).acceptance("LX4100000001", "ZY41001", "20240628120000")


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("pki")
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1")
    openssl(
        "req",
        "-x509",
        *ec,
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=test-ca",
        cwd=d,
    )
    for name, extra in (("server", "subjectAltName=IP:127.0.0.1"), ("client", "extendedKeyUsage=clientAuth")):
        openssl(
            "req",
            *ec,
            "-nodes",
            "-keyout",
            f"{name}.key",
            "-out",
            f"{name}.csr",
            "-subj",
            f"/CN={name}",
            cwd=d,
        )
        (d / f"{name}.ext").write_text(extra + "\n", encoding="utf-8")
        openssl(
            "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext", cwd=d,
        )  # fmt: skip
    openssl(
        "pkey", "-in", "client.key", "-out", "client-locked.key", "-aes256", "-passout", "pass:kpass", cwd=d
    )
    return d


@pytest.fixture
async def server(pki: Path) -> AsyncIterator[tuple[str, list[str]]]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(pki / "ca.pem"))
    context.load_cert_chain(str(pki / "server.pem"), str(pki / "server.key"))
    context.verify_mode = ssl.CERT_REQUIRED
    clients: list[str] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            )
            await reader.readexactly(length)
            peer = writer.get_extra_info("peercert")
            clients.append(dict(x[0] for x in peer["subject"])["commonName"])
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nConnection: close\r\n")
            writer.write(f"Content-Length: {len(ANSWER)}\r\n\r\n".encode() + ANSWER)
            await writer.drain()
        except (ssl.SSLError, ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    listener = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=context)
    port = listener.sockets[0].getsockname()[1]
    yield f"https://127.0.0.1:{port}/ws", clients
    listener.close()
    await listener.wait_closed()


async def accept(client: SoapClient) -> str | None:
    payload = await client.call(
        "AcceptTransfer", certificateNo="ZY41001", receivingDivision="110105", receivingAccount="A1"
    )
    return payload.findtext(REFERENCE_DIALECT.tag("letterNo"))


async def test_a_client_certificate_is_presented(server: tuple[str, list[str]], pki: Path) -> None:
    url, clients = server
    for key, password in ((pki / "client.key", None), (pki / "client-locked.key", "kpass")):
        tls = TlsSettings(
            ca_file=pki / "ca.pem",
            client_cert=pki / "client.pem",
            client_key=key,
            client_key_password=password,
        )
        async with SoapClient(SoapSettings(endpoint=url, tls=tls)) as client:
            assert await accept(client) == "LX4100000001"
    assert clients == ["client", "client"]


async def test_without_a_certificate_the_handshake_fails_transiently(
    server: tuple[str, list[str]], pki: Path
) -> None:
    url, clients = server
    async with SoapClient(
        SoapSettings(endpoint=url, tls=TlsSettings(ca_file=pki / "ca.pem"), timeout=5)
    ) as client:
        with pytest.raises(TransientError):
            await accept(client)
    assert clients == []


async def test_an_untrusted_server_is_refused(server: tuple[str, list[str]], pki: Path) -> None:
    url, _ = server
    tls = TlsSettings(client_cert=pki / "client.pem", client_key=pki / "client.key")  # system CAs only
    async with SoapClient(SoapSettings(endpoint=url, tls=tls, timeout=5)) as client:
        with pytest.raises(TransientError):
            await accept(client)


def test_bad_tls_settings_are_configuration_errors(pki: Path) -> None:
    with pytest.raises(ConfigError, match="TLS settings"):
        TlsSettings(client_cert=pki / "missing.pem").ssl_context()
    locked = TlsSettings(
        client_cert=pki / "client.pem", client_key=pki / "client-locked.key", client_key_password="wrong"
    )
    with pytest.raises(ConfigError, match="TLS settings"):
        locked.ssl_context()
    assert TlsSettings(minimum_version="1.3").ssl_context().minimum_version is ssl.TLSVersion.TLSv1_3
