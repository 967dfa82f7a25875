"""Dialects of the provincial SOAP service: the element names, namespace and WSDL one province uses.

Real provinces run the same service under different names (``AAC002`` or ``aac002``, ``row`` or
``record``, another namespace). A :class:`Dialect` is the naming table of one: each *canonical* name — the
element names of the reference contract (``docs/adapters/provincial-soap.md``) — mapped to the name this
province uses, plus its namespace and the WSDL that declares exactly those names. The simulator speaks any
dialect; an adapter onboards one with a WSDL and a mapping, no code.

Two ship with ssgateway: :data:`REFERENCE_DIALECT` (the Golden-Insurance names of the reference contract)
and :data:`LOWERCASE_DIALECT` (a sandbox province with lower-case field codes, ``record`` rows, pinyin
abbreviations for the certificate and letter numbers and the event key, and its own namespace).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from ssgateway.resources import shipped_contracts_dir

__all__ = ["CANONICAL_NAMES", "LOWERCASE_DIALECT", "REFERENCE_DIALECT", "Dialect", "sandbox_contracts_dir"]

_FIELD_CODES = (
    *("AAC001", "AAC002", "AAC003", "AAC004", "AAC006", "AAC008", "AAC030", "AAC031"),
    *("AAB001", "AAB004", "AAB191", "AAB301", "BAB010"),
    *("AAE001", "AAE003", "AAE041", "AAE042", "AAE114", "AAE140", "AAE143", "AAE180", "AAE480", "AAE481"),
    "AAE160",
)
CANONICAL_NAMES: tuple[str, ...] = (
    *("QueryPersonRequest", "QueryPersonResponse", "person", "enrolments", "enrolment"),
    *("QueryContributionsRequest", "QueryContributionsResponse", "count", "rows", "row"),
    *("IssueTransferCertificateRequest", "IssueTransferCertificateResponse", "targetDivision"),
    *("certificate", "certificateNo", "fromDivision", "toDivision", "issueDate", "temporaryAccount"),
    *("employerRate", "years", "year", "months", "baseTotal", "account", "before1998"),
    *("from1998To2005", "from2006", "pooledAmount"),
    *("AcceptTransferRequest", "AcceptTransferResponse", "receivingDivision", "receivingAccount"),
    *("letterNo", "acceptedAt", "error", "code", "message"),
    *("ChangeBenefitRequest", "ChangeBenefitResponse", "eventDate", "eventKey", "recordNo", "recordedAt"),
    "duplicate",
    *_FIELD_CODES,
)
"""Every element name of the reference contract."""


def sandbox_contracts_dir() -> Path:
    """The directory of the sandbox provinces' contracts (``ssgateway/contracts/sandbox``).

    They ship among the package's contracts so that a configuration names them like the reference
    contract, by a path relative to the shipped contracts (``sandbox/lowercase/v1/provincial.wsdl``).
    """
    return shipped_contracts_dir() / "sandbox"


@dataclass(frozen=True, slots=True)
class Dialect:
    """The naming table of one province's service.

    Attributes:
        name: a short label (``reference``, ``lowercase``).
        namespace: the target namespace of its elements.
        prefix: the namespace prefix its answers use.
        wsdl: its WSDL file (the XSD sits beside it).
        names: canonical name → this province's name, for the names that differ.
    """

    name: str
    namespace: str
    prefix: str
    wsdl: Path
    names: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = set(self.names) - set(CANONICAL_NAMES)
        if unknown:
            raise ValueError(f"not names of the contract: {sorted(unknown)}")
        object.__setattr__(self, "names", MappingProxyType(dict(self.names)))

    def local(self, canonical: str) -> str:
        """This province's name for a canonical element name."""
        return self.names.get(canonical, canonical)

    def tag(self, canonical: str) -> str:
        """The Clark name (``{namespace}local``) of a canonical element."""
        return f"{{{self.namespace}}}{self.local(canonical)}"

    def canonical(self, local: str) -> str | None:
        """The canonical name of one of this province's element names, if it is one."""
        for key in CANONICAL_NAMES:
            if self.local(key) == local:
                return key
        return None

    @property
    def contract_dir(self) -> Path:
        """The directory holding the WSDL and XSD."""
        return self.wsdl.parent

    @property
    def xsd(self) -> Path:
        """The XSD file (beside the WSDL, same stem)."""
        return self.wsdl.with_suffix(".xsd")


REFERENCE_DIALECT = Dialect(
    name="reference",
    namespace="urn:ssgateway:golden-insurance:v1",
    prefix="gi",
    wsdl=shipped_contracts_dir() / "provincial" / "v1" / "provincial.wsdl",
)
"""The reference contract's own names (Golden-Insurance)."""

LOWERCASE_DIALECT = Dialect(
    name="lowercase",
    namespace="urn:ssgateway:sandbox:lowercase-province:v1",
    prefix="sp",
    wsdl=sandbox_contracts_dir() / "lowercase" / "v1" / "provincial.wsdl",
    names={
        **{code: code.lower() for code in _FIELD_CODES},
        "rows": "records",
        "row": "record",
        "certificateNo": "zmbh",
        "letterNo": "lxh",
        "eventKey": "sjbh",
    },
)
"""A sandbox province: lower-case field codes, ``records/record``, ``zmbh`` (证明编号), ``lxh`` (联系函号),
``sjbh`` (事件编号, the event key)."""
