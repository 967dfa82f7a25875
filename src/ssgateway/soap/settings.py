"""Settings of a SOAP client: endpoint, contract, timeouts, limits, WS-Security, TLS, fault policy.

A SOAP adapter embeds :class:`SoapSettings` in its ``config:`` block; every field has a safe default
except the endpoint. Paths relative to the configuration file are resolved by the adapter (its
``AdapterContext.resolve``) before the settings are used.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from ssgateway.partnerhttp import TlsSettings
from ssgateway.soap.faults import FaultPolicy
from ssgateway.soap.wsse import UsernameToken

__all__ = ["SoapSettings", "WsseSettings"]

_MIB = 1024 * 1024


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class WsseSettings(_Section):
    """WS-Security UsernameToken credentials."""

    username: str = Field(min_length=1)
    """The account the partner issued."""
    password: SecretStr
    """The password (use `${NAME}` to read it from the environment)."""
    digest: bool = True
    """Send `PasswordDigest` (nonce and created time hashed with the password) instead of `PasswordText`."""
    timestamp_ttl: float | None = Field(default=300.0, gt=0)
    """Seconds until the `wsu:Timestamp` expires; null sends no timestamp."""

    def token(self) -> UsernameToken:
        """The token that signs outgoing envelopes."""
        return UsernameToken(self.username, self.password, self.digest, self.timestamp_ttl)


class SoapSettings(_Section):
    """How to reach one SOAP service and what to accept from it."""

    endpoint: str
    """The service URL (`http://` or `https://`); the WSDL's own address is never used."""
    wsdl: Path = Path("provincial/v1/provincial.wsdl")
    """The WSDL file: relative to the shipped contracts unless `contract_dir` is set, then relative to it."""
    contract_dir: Path | None = None
    """A local directory the WSDL and its XSDs may be read from, besides the shipped contracts."""
    service: str | None = None
    """The WSDL service to use (default: the first)."""
    port: str | None = None
    """The port of that service (default: the first)."""
    timeout: float = Field(default=10.0, gt=0)
    """Seconds a whole call may take, from connecting to the last byte of the answer."""
    connect_timeout: float = Field(default=5.0, gt=0)
    """Seconds to establish the connection."""
    stream_timeout: float = Field(default=300.0, gt=0)
    """Seconds a streamed (bulk) answer may take in all."""
    max_response_bytes: int = Field(default=16 * _MIB, gt=0)
    """Largest answer read into memory, after decompression."""
    max_stream_bytes: int = Field(default=1024 * _MIB, gt=0)
    """Largest streamed answer, after decompression (memory stays flat while streaming)."""
    compression: bool = True
    """Ask for gzip/deflate answers (always decompressed under the limits above)."""
    headers: dict[str, str] = Field(default_factory=dict)
    """Extra HTTP headers sent with every request."""
    wsse: WsseSettings | None = None
    """WS-Security UsernameToken, when the service asks for one."""
    tls: TlsSettings | None = None
    """TLS trust and client certificate for `https://` endpoints."""
    faults: FaultPolicy = FaultPolicy()
    """Which fault codes are transient, and where the partner's error code is."""

    @field_validator("endpoint")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("the endpoint is an http:// or https:// URL")
        return value

    @field_validator("wsdl", mode="before")
    @classmethod
    def _local_file(cls, value: object) -> object:
        if isinstance(value, str) and ":" in value.split("/", 1)[0]:
            raise ValueError("the WSDL is a local file (shipped, or in contract_dir), never a URL")
        return value

    def wsdl_path(self) -> Path:
        """The WSDL file this configuration names, as :func:`~ssgateway.soap.load_contract` takes it."""
        if self.contract_dir is not None and not self.wsdl.is_absolute():
            return self.contract_dir / self.wsdl
        return self.wsdl
