"""SOAP 1.1 faults: what the partner said, and which of our errors it becomes.

A fault code is matched on its local part (``soap:Server.Busy`` → ``Server.Busy``). Codes listed as
transient become :class:`~ssgateway.errors.TransientError`; ``Client`` and ``Client.*`` are always
:class:`~ssgateway.errors.PermanentError`; anything else follows :attr:`FaultPolicy.unknown`. The partner's
own error code and message (from the fault's ``detail``) are kept on the error, masked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from lxml import etree
from pydantic import BaseModel, ConfigDict, Field

from ssgateway.errors import AdapterError, PermanentError, TransientError
from ssgateway.masking import mask_text
from ssgateway.soap.namespaces import SOAP11_ENV

__all__ = ["FaultPolicy", "SoapFault", "find_fault"]

_FAULT = f"{{{SOAP11_ENV}}}Fault"
_BODY = f"{{{SOAP11_ENV}}}Body"
_TEXT_LIMIT = 500


def _text(element: etree._Element | None) -> str | None:
    if element is None:
        return None
    text = "".join(element.itertext()).strip()
    return text[:_TEXT_LIMIT] if text else None


def _child(parent: etree._Element, local: str) -> etree._Element | None:
    # SOAP 1.1 fault children are unqualified; tolerate partners that qualify them.
    for child in parent:
        if isinstance(child.tag, str) and etree.QName(child).localname == local:
            return child
    return None


@dataclass(frozen=True, slots=True)
class SoapFault:
    """A SOAP 1.1 fault as the partner sent it; free text is already masked.

    Attributes:
        code: the fault code's local part (``Server.Busy``).
        namespace: the namespace the code's prefix resolved to (normally the SOAP envelope's).
        string: ``faultstring``.
        actor: ``faultactor``, if any.
        detail_code: the partner's own error code from ``detail`` (``E2001``), if any.
        detail_message: the partner's message from ``detail``, if any.
    """

    code: str
    namespace: str | None
    string: str
    actor: str | None = None
    detail_code: str | None = None
    detail_message: str | None = None

    @classmethod
    def from_element(
        cls, fault: etree._Element, *, code_name: str = "code", message_name: str = "message"
    ) -> SoapFault:
        """Read a ``soap:Fault`` element.

        Args:
            fault: the element.
            code_name: local name of the element in ``detail`` that carries the partner's error code.
            message_name: local name of the element in ``detail`` that carries the partner's message.
        """
        raw_code = (_text(_child(fault, "faultcode")) or "").strip()
        prefix, _, local = raw_code.rpartition(":")
        namespace = fault.nsmap.get(prefix) if prefix else None
        detail = _child(fault, "detail")
        detail_code = detail_message = None
        if detail is not None:
            for element in detail.iter():
                if not isinstance(element.tag, str):
                    continue
                name = etree.QName(element).localname
                if name == code_name and detail_code is None:
                    detail_code = _text(element)
                elif name == message_name and detail_message is None:
                    detail_message = _text(element)
        actor = _text(_child(fault, "faultactor"))
        return cls(
            code=local or "Server",
            namespace=namespace,
            string=mask_text(_text(_child(fault, "faultstring")) or ""),
            actor=mask_text(actor) if actor else None,
            detail_code=mask_text(detail_code) if detail_code else None,
            detail_message=mask_text(detail_message) if detail_message else None,
        )


def find_fault(envelope: etree._Element) -> etree._Element | None:
    """The ``soap:Fault`` element of a SOAP 1.1 envelope's body, if it holds one."""
    body = envelope.find(_BODY)
    return None if body is None else body.find(_FAULT)


class FaultPolicy(BaseModel):
    """Which SOAP fault codes are worth retrying, and where the partner's own code is in ``detail``."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    transient: tuple[str, ...] = ("Server.Busy", "Server.Timeout")
    """Fault codes (local part) that mean "try again later"."""
    unknown: Literal["permanent", "transient"] = "permanent"
    """What any other ``Server*`` code (or an unrecognised one) is; ``Client*`` codes are always permanent."""
    detail_code: str = Field(default="code", min_length=1)
    """Local name of the element under ``detail`` holding the partner's error code."""
    detail_message: str = Field(default="message", min_length=1)
    """Local name of the element under ``detail`` holding the partner's error message."""

    def is_transient(self, code: str) -> bool:
        """Whether a fault with this code (local part) may succeed when retried."""
        if code in self.transient:
            return True
        if code == "Client" or code.startswith("Client."):
            return False
        return self.unknown == "transient"

    def read(self, fault: etree._Element) -> SoapFault:
        """Read a ``soap:Fault`` element with this policy's detail names."""
        return SoapFault.from_element(fault, code_name=self.detail_code, message_name=self.detail_message)

    def error(
        self,
        fault: SoapFault,
        *,
        partner: str | None = None,
        operation: str | None = None,
        retry_after: float | None = None,
    ) -> AdapterError:
        """The error for a fault: transient or permanent by its code, keeping the partner's detail.

        The fault code itself (``Client.NotFound``) is in the error's ``details["fault_code"]``, for
        adapters that give some codes a meaning of their own (an unknown person is "not found").
        """
        kind: type[AdapterError] = TransientError if self.is_transient(fault.code) else PermanentError
        who = f"{partner}: " if partner else ""
        what = f"{operation} " if operation else ""
        said = f" ({fault.detail_code})" if fault.detail_code else ""
        text = fault.detail_message or fault.string
        error = kind(
            f"{who}{what}fault {fault.code}{said}: {text}",
            partner=partner,
            partner_code=fault.detail_code or fault.code,
            partner_message=text,
            retry_after=retry_after if kind is TransientError else None,
        )
        error.details["fault_code"] = fault.code
        return error
