"""The ``config:`` block of a ``provincial-soap`` partner.

Everything :class:`~ssgateway.soap.SoapSettings` holds (endpoint, contract, timeouts, size caps,
WS-Security, TLS, fault policy), plus what makes one province differ from another without code: the
mapping set that names its elements, per-operation overrides (the WSDL operation, the request and response
mappings), which fault codes mean "not known here", and the element that announces a history's row count.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ssgateway.soap import SoapSettings

__all__ = [
    "OPERATION_DEFAULTS",
    "OPTIONAL_OPERATIONS",
    "OperationDefaults",
    "OperationName",
    "OperationSettings",
    "ProvincialSoapConfig",
    "ResolvedOperation",
]

OperationName = Literal[
    "person.lookup",
    "contributions.history",
    "transfer.certificate",
    "transfer.submit",
    "deaths.notify",
    "survival.report",
]
"""The canonical operations the adapter serves."""


@dataclass(frozen=True, slots=True)
class OperationDefaults:
    """What a canonical operation calls in the reference contract, and its mappings' names in a set."""

    operation: str
    """The WSDL operation."""
    request: str
    """Name of the outbound (request) mapping within a mapping set."""
    response: str
    """Name of the inbound (response) mapping within a mapping set."""


OPERATION_DEFAULTS: dict[str, OperationDefaults] = {
    "person.lookup": OperationDefaults("QueryPerson", "query-person-request", "query-person"),
    "contributions.history": OperationDefaults(
        "QueryContributions", "query-contributions-request", "query-contributions"
    ),
    "transfer.certificate": OperationDefaults(
        "IssueTransferCertificate", "transfer-certificate-request", "transfer-certificate"
    ),
    "transfer.submit": OperationDefaults("AcceptTransfer", "accept-transfer-request", "accept-transfer"),
    "deaths.notify": OperationDefaults("ChangeBenefit", "death-change-request", "benefit-change"),
    "survival.report": OperationDefaults("ChangeBenefit", "survival-change-request", "benefit-change"),
}
"""Per canonical operation: the reference WSDL operation and the names of its mappings in a set."""

OPTIONAL_OPERATIONS = frozenset({"deaths.notify", "survival.report"})
"""Served only when the province's contract and mapping set have them (or they are configured)."""


class OperationSettings(BaseModel):
    """Overrides for one canonical operation; anything left out follows the reference contract."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    operation: str | None = Field(default=None, min_length=1)
    """The WSDL operation to call (default: the reference name, e.g. `QueryPerson`)."""
    request: str | None = Field(default=None, min_length=1)
    """Id (or `id@version`) of the outbound mapping that builds the request element from the canonical
    request (default: `<mappings>/query-person-request` …)."""
    response: str | None = Field(default=None, min_length=1)
    """Id of the inbound mapping that reads the answer — for `contributions.history`, each row — into the
    canonical response (default: `<mappings>/query-person` …)."""


@dataclass(frozen=True, slots=True)
class ResolvedOperation:
    """One canonical operation as configured: the WSDL operation and the ids of its two mappings."""

    name: str
    operation: str
    request: str
    response: str


class ProvincialSoapConfig(SoapSettings):
    """Settings of a `provincial-soap` partner: the SOAP service, and the mappings that name its elements.

    The SOAP keys (`endpoint`, `wsdl`, `contract_dir`, `service`, `port`, timeouts, size caps,
    `compression`, `headers`, `wsse`, `tls`, `faults`) are those of `ssgateway.soap.SoapSettings`; paths
    (`contract_dir`, the `tls` files) are relative to the configuration file.
    """

    mappings: str = Field(default="provincial-soap", min_length=1, pattern=r"^[\w.-]+(/[\w.-]+)*$")
    """The mapping set: the id prefix of the operations' mappings (`provincial-soap` is the reference
    contract's; `provincial-soap-lowercase` the lower-case sandbox province's)."""
    operations: dict[OperationName, OperationSettings] = Field(default_factory=dict)
    """Per canonical operation (`person.lookup`, `contributions.history`, `transfer.certificate`,
    `transfer.submit`, `deaths.notify`, `survival.report`): another WSDL operation or other mappings than
    the set's."""
    not_found_faults: tuple[str, ...] = ("Client.NotFound",)
    """Fault codes (local part) meaning the province does not know the person or certificate asked for:
    `person.lookup` and `transfer.certificate` answer `NotFound` (404), `contributions.history` an empty
    history from this province, `transfer.submit` `NotFound` (`certificate.not_found`)."""
    count_element: str | None = Field(default="count", min_length=1)
    """Local name of the element of a `QueryContributions` answer announcing its number of rows; when the
    answer has it, the rows received must match it. Null skips the check."""

    def resolved(self, name: OperationName) -> ResolvedOperation:
        """The WSDL operation and mapping ids of a canonical operation, defaults filled in."""
        defaults = OPERATION_DEFAULTS[name]
        given = self.operations.get(name) or OperationSettings()
        return ResolvedOperation(
            name=name,
            operation=given.operation or defaults.operation,
            request=given.request or f"{self.mappings}/{defaults.request}",
            response=given.response or f"{self.mappings}/{defaults.response}",
        )

    def soap_settings(self, resolve: Callable[[Path], Path]) -> SoapSettings:
        """The client's settings, with the contract directory and TLS files resolved by ``resolve``."""
        data = {name: getattr(self, name) for name in SoapSettings.model_fields}
        if self.contract_dir is not None:
            data["contract_dir"] = resolve(self.contract_dir)
        if self.tls is not None:
            files = {
                key: resolve(path)
                for key in ("ca_file", "client_cert", "client_key")
                if (path := getattr(self.tls, key)) is not None
            }
            data["tls"] = self.tls.model_copy(update=files)
        return SoapSettings.model_validate(data)
