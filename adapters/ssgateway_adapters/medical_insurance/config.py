"""The ``config:`` block of a ``medical-insurance`` partner."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from ssgateway.partnerhttp import TlsSettings

__all__ = [
    "DeathReportSettings",
    "ErrorSettings",
    "MedicalInsuranceConfig",
    "MsgIdSettings",
    "SignInSettings",
    "SigningSettings",
    "StatusSettings",
]

_MIB = 1024 * 1024
_INFNO = r"^[A-Za-z0-9]{4}$"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


def _patterns(value: tuple[str, ...]) -> tuple[str, ...]:
    for pattern in value:
        try:
            re.compile(pattern, re.IGNORECASE)
        except re.error as exc:
            raise ValueError(f"{pattern!r} is not a regular expression: {exc}") from None
    return value


class SignInSettings(_Section):
    """The session number (`sign_no`) from transaction 9001."""

    max_age: float | None = Field(default=None, gt=0)
    """Seconds after which the session is renewed before use; null: only when the platform says it expired."""
    renewals_per_call: int = Field(default=2, ge=1, le=10)
    """How many times one call may renew an expired session and resend before it fails (transiently)."""
    operator_number: str | None = None
    """`signIn.opter_no`; default: `operator`."""
    mac: str = ""
    """`signIn.mac`: the MAC address the platform registered for this client."""
    ip: str = ""
    """`signIn.ip`: the IP address the platform registered for this client."""


class MsgIdSettings(_Section):
    """Where msgid sequence numbers are reserved (see docs/adapters/medical-insurance.md)."""

    store: str = "gateway"
    """`gateway`: the gateway's store (SQLite or PostgreSQL; every process sending as this institution
    must share it); a `sqlite:///` or `postgresql://` URL: a store of the adapter's own; `memory`: this
    process only (unique across its restarts, not across replicas)."""
    namespace: str = Field(default="ssgateway", pattern=r"^[a-z_][a-z0-9_]{0,39}$")
    """Namespace of the adapter's own store (a URL in `store`)."""
    block_size: int = Field(default=100, ge=1, le=10_000)
    """Sequence numbers reserved at once; each second has 10,000 for the institution."""
    max_wait: float = Field(default=5.0, gt=0)
    """Seconds to wait for a free sequence number (all 10,000 of a second taken) before failing."""

    @field_validator("store")
    @classmethod
    def _store(cls, value: str) -> str:
        if value in ("gateway", "memory") or value.startswith(("sqlite:///", "postgresql://", "postgres://")):
            return value
        raise ValueError("use gateway, memory, or a sqlite:/// or postgresql:// URL")


class SigningSettings(_Section):
    """How `cainfo` and `signtype` are filled."""

    method: Literal["none", "sm3", "hmac-sm3", "custom"] = "none"
    """`none`: empty; `sm3`: the SM3 digest of the envelope; `hmac-sm3`: HMAC-SM3 with `key`;
    `custom`: the integrator's signer (`signer`), e.g. SM2 through an HSM."""
    key: SecretStr | None = None
    """The HMAC key (`hmac-sm3`); use `${NAME}` to read it from the environment."""
    signer: str | None = None
    """`package.module:factory` returning a signer (`custom`); called with `options`."""
    options: dict[str, Any] = Field(default_factory=dict)
    """Passed to the custom signer's factory."""

    @model_validator(mode="after")
    def _complete(self) -> SigningSettings:
        if self.method == "hmac-sm3" and self.key is None:
            raise ValueError("hmac-sm3 needs a key")
        if self.method == "custom" and not self.signer:
            raise ValueError("custom signing needs signer: package.module:factory")
        return self


class ErrorSettings(_Section):
    """Which failure answers (`infcode` other than 0) mean what.

    Codes match exactly; messages are regular expressions searched in `err_msg`, ignoring case.
    """

    expired_codes: tuple[str, ...] = ()
    """`infcode` values meaning the session expired: sign in again and resend."""
    expired_messages: tuple[str, ...] = (
        r"签到.{0,12}(失效|过期|超时|无效|不存在)",
        r"重新签到",
        r"sign_?no.{0,20}(expired|invalid)",
    )
    """`err_msg` patterns meaning the session expired."""
    transient_codes: tuple[str, ...] = ()
    """`infcode` values meaning "busy, try again"."""
    transient_messages: tuple[str, ...] = (r"繁忙", r"稍后", r"超时", r"busy", r"timed? ?out", r"try again")
    """`err_msg` patterns meaning "busy, try again" (TransientError)."""
    not_found_codes: tuple[str, ...] = ()
    """`infcode` values meaning the person is unknown."""
    not_found_messages: tuple[str, ...] = (r"未查询到", r"未找到", r"查无", r"无参保", r"not found")
    """`err_msg` patterns meaning the person is unknown (NotFound)."""

    _check = field_validator("expired_messages", "transient_messages", "not_found_messages")(_patterns)


class StatusSettings(_Section):
    """`medical.insurance_status` through transaction 1101."""

    infno: str = Field(default="1101", pattern=_INFNO)
    """Transaction number of the person-information query."""
    request_mapping: str = "medical-insurance/1101-input"
    """Outbound mapping: `MedicalStatusQuery` → the transaction's `input`."""
    response_mapping: str = "medical-insurance/1101-output"
    """Inbound mapping: the transaction's `output` → `MedicalInsuranceStatus`."""


class DeathReportSettings(_Section):
    """`deaths.notify`: reporting a death to the platform. The transaction is *unverified*."""

    infno: str | None = Field(default=None, pattern=_INFNO)
    """Transaction number of the death report, as agreed with the platform (no default: it is
    unverified); `deaths.notify` fails with a configuration error until it is set."""
    mapping: str = "medical-insurance/death-report"
    """Outbound mapping: `DeathNotice` → the transaction's `input`."""
    duplicate_messages: tuple[str, ...] = (r"已上报", r"重复上报", r"already reported")
    """`err_msg` patterns of a failure answer that means "reported before": counted as done."""

    _check = field_validator("duplicate_messages")(_patterns)


class MedicalInsuranceConfig(_Section):
    """Settings of a `medical-insurance` partner: the national medical-insurance platform's JSON envelope."""

    endpoint: str
    """The platform's one URL every transaction is posted to (`http://` or `https://`)."""
    institution_code: str = Field(pattern=r"^[A-Za-z0-9]{12}$")
    """`fixmedins_code`: the 12-character institution code; also the first 12 characters of every msgid."""
    institution_name: str = Field(min_length=1, max_length=200)
    """`fixmedins_name`."""
    treatment_division: str = Field(pattern=r"^\d{6}$")
    """`mdtrtarea_admvs`: the division where this institution is (6 digits)."""
    insured_division: str | None = Field(default=None, pattern=r"^\d{6}$")
    """`insuplc_admdvs` of calls without a person's region (sign-in); default: `treatment_division`."""
    receiver_system: str = ""
    """`recer_sys_code`: the receiving system's code, if the platform asks for one."""
    device_number: str = ""
    """`dev_no`."""
    device_safety_info: str = ""
    """`dev_safe_info`."""
    operator_type: Literal["1", "2", "3"] = "1"
    """`opter_type`: 1 staff, 2 self-service terminal, 3 mobile."""
    operator: str = Field(min_length=1, max_length=30)
    """`opter`: the operator's number."""
    operator_name: str = Field(min_length=1, max_length=50)
    """`opter_name`."""
    timeout: float = Field(default=10.0, gt=0)
    """Seconds one HTTP exchange may take, connecting included."""
    connect_timeout: float = Field(default=5.0, gt=0)
    """Seconds to connect."""
    max_response_bytes: int = Field(default=4 * _MIB, gt=0)
    """Largest answer accepted, after decompression."""
    headers: dict[str, str] = Field(default_factory=dict)
    """Extra HTTP headers sent with every request (gateway credentials the platform issued)."""
    tls: TlsSettings | None = None
    """CA bundle and client certificate for `https://` endpoints."""
    sign_in: SignInSettings = SignInSettings()
    """Session handling (transaction 9001)."""
    msgid: MsgIdSettings = MsgIdSettings()
    """Where msgid sequence numbers are reserved."""
    signing: SigningSettings = SigningSettings()
    """`cainfo` / `signtype`."""
    errors: ErrorSettings = ErrorSettings()
    """How failure answers are classified."""
    status: StatusSettings = StatusSettings()
    """`medical.insurance_status` (1101)."""
    death_report: DeathReportSettings = DeathReportSettings()
    """`deaths.notify` (transaction number unverified)."""

    @field_validator("endpoint")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("the endpoint is an http:// or https:// URL")
        return value
