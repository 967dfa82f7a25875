"""The ``config:`` block of a ``bank-iso20022`` partner: where the bank is, how to talk to it, what to say."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from ssgateway.partnerhttp import TlsSettings

__all__ = ["BankSettings", "FlatFileSettings", "InitiatingParty"]

_MIB = 1024 * 1024
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_CODE = r"^[A-Z0-9]{1,4}$"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class InitiatingParty(_Section):
    """Who initiates the payments (the pain.001 group header's `InitgPty`)."""

    name: str | None = Field(default=None, min_length=1, max_length=140)
    """Default: the batch's debtor (the paying fund)."""
    id: str | None = Field(default=None, min_length=1, max_length=35)
    """An organisation id the bank knows the fund by (its customer number or unified social credit code)."""


class FlatFileSettings(_Section):
    """The bank-specific flat-file variant: CSV files written and read by mappings alone."""

    instruction_mapping: str = "banks/xinghe-payroll@1"
    """Outbound CSV mapping of `PaymentInstruction`: one row per payment."""
    result_mapping: str = "banks/xinghe-payroll-result@1"
    """Inbound CSV mapping of the bank's result file to `PaymentStatus`."""
    path: str = "/payroll-files"
    """Where files are uploaded (`POST`) and results fetched (`GET ?batch=`)."""
    encoding: str | None = None
    """Encoding of both files; default: each mapping's `csv.encoding`."""


class BankSettings(_Section):
    """How to reach one paying bank and what to send it."""

    endpoint: str
    """The bank's base URL. `https://` (with `tls` for the client certificate); plain `http://` is accepted
    only for 127.0.0.1 or localhost (the simulator, the sandbox)."""
    format: Literal["iso20022", "flat-file"] = "iso20022"
    """`iso20022`: pain.001 out, pain.002 and camt.054 in; `flat-file`: the bank's own CSV files, by mapping.
    """
    submit_path: str = "/pain.001"
    """Where pain.001 messages are uploaded (`POST`)."""
    status_path: str = "/pain.002"
    """Where pain.002 status reports are polled (`GET ?pmtinfid=` or `?msgid=`)."""
    notifications_path: str = "/camt.054"
    """Where camt.054 notifications (returned payments) are polled (`GET ?pmtinfid=`)."""
    stop_list_path: str = "/stop-list"
    """Where stops and suspensions of a person's payments are recorded (`PUT <path>/<event id>`)."""
    max_transactions_per_message: int = Field(default=1000, ge=1, le=100_000)
    """A larger batch is split into several pain.001 messages of at most this many transactions."""
    parallel_messages: int = Field(default=2, ge=1, le=32)
    """Messages of one batch uploaded at once."""
    initiating_party: InitiatingParty = InitiatingParty()
    """The group header's initiating party."""
    clearing_system: str | None = Field(default="CNAPS", min_length=1, max_length=5)
    """`ClrSysId/Cd` of the agents' member ids (`CNAPS`: bank codes are CNAPS participant codes)."""
    category_purpose: str | None = Field(default="PENS", pattern=_CODE)
    """`CtgyPurp/Cd` and `Purp/Cd` of every payment (`PENS`: pension payment)."""
    remittance: str = Field(default="养老金 {period}", min_length=1, max_length=100)
    """Remittance text when an instruction has none; `{period}` is its payout month (`2024-06`)."""
    death_reason_code: str = Field(default="MD07", pattern=_CODE)
    """Reason code the bank rejects payments to a deceased person with (`MD07` end customer deceased)."""
    suspension_reason_code: str = Field(default="SL01", pattern=_CODE)
    """Reason code for payments suspended after a failed survival certification (`SL01`: a service the
    debtor agent offers its customer, here the fund's suspension list)."""
    digest_key: SecretStr | None = None
    """Key of the digests that name events at the bank and in receipts; without it they are plain SHA-256
    digests (set one, the same on every replica, so event ids cannot be matched against guessed ids)."""
    timeout: float = Field(default=30.0, gt=0)
    """Seconds one HTTP exchange may take (a whole batch may take several; see the partner's `timeout`)."""
    connect_timeout: float = Field(default=5.0, gt=0)
    """Seconds to establish a connection."""
    max_response_bytes: int = Field(default=64 * _MIB, gt=0)
    """Largest answer read, after decompression."""
    headers: dict[str, str] = Field(default_factory=dict)
    """Extra HTTP headers sent with every request (an API key: use `${NAME}`)."""
    tls: TlsSettings | None = None
    """The bank's CA and the client certificate to present (mutual TLS)."""
    flat_file: FlatFileSettings = FlatFileSettings()
    """The mappings and path of the flat-file variant (used when `format` is `flat-file`)."""

    @field_validator("endpoint")
    @classmethod
    def _secure_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme == "https" and parts.hostname:
            return value.rstrip("/")
        if parts.scheme == "http" and parts.hostname in _LOOPBACK:
            return value.rstrip("/")
        raise ValueError("the endpoint is an https:// URL (http:// only for 127.0.0.1 or localhost)")

    @field_validator("submit_path", "status_path", "notifications_path", "stop_list_path")
    @classmethod
    def _absolute_path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("a path starts with /")
        return value
