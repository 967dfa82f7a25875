"""The ISO 20022 schemas shipped with ssgateway, and validation whose errors name the element at fault.

The schemas are read from the package once per process, with the hardened parser (they are our own files,
but nothing is parsed any other way). lxml's schema errors quote the offending value; a value can be a
name or an account, so the messages are rewritten: the element's path (with the end-to-end id of its
transaction, when it is inside one) and the rule it broke, never the value.
"""

from __future__ import annotations

import functools
import re
from typing import Final

from lxml import etree

from ssgateway.errors import PermanentError
from ssgateway.masking import mask_text
from ssgateway.sdk import shipped_contracts_dir
from ssgateway.xmlsafe import hardened_parser

__all__ = ["CAMT054", "PAIN001", "PAIN002", "namespace", "schema", "validate"]

PAIN001: Final = "pain.001.001.09"
"""Customer credit transfer initiation, the message we send."""
PAIN002: Final = "pain.002.001.10"
"""Customer payment status report, the bank's answer and status."""
CAMT054: Final = "camt.054.001.08"
"""Bank-to-customer debit/credit notification: returned payments."""

_QUOTED = re.compile(r"'([^']*)'")
_SAFE = re.compile(r"[A-Za-z0-9_:{}./-]{0,64}")


def namespace(message: str) -> str:
    """The XML namespace of an ISO 20022 message (``urn:iso:std:iso:20022:tech:xsd:pain.001.001.09``)."""
    return f"urn:iso:std:iso:20022:tech:xsd:{message}"


@functools.cache
def schema(message: str) -> etree.XMLSchema:
    """The compiled schema of ``message`` (one of :data:`PAIN001`, :data:`PAIN002`, :data:`CAMT054`)."""
    path = shipped_contracts_dir() / "iso20022" / f"{message}.xsd"
    return etree.XMLSchema(etree.parse(str(path), hardened_parser()))


def _reason(text: str) -> str:
    # drop the "Element '{ns}Name': " prefix, then every quoted value that could be data
    text = text.split("': ", 1)[1] if text.startswith("Element '") and "': " in text else text
    return mask_text(_QUOTED.sub(lambda m: m.group(0) if _SAFE.fullmatch(m.group(1)) else "'…'", text))


def _where(root: etree._Element, xpath: str, ns: str) -> tuple[str, str | None]:
    found = root.getroottree().xpath(xpath) if xpath else []
    element = found[0] if isinstance(found, list) and found and isinstance(found[0], etree._Element) else None
    if element is None:
        return xpath or "the document", None
    path = root.getroottree().getelementpath(element).replace(f"{{{ns}}}", "")
    transaction = next((a for a in element.iterancestors() if a.tag == f"{{{ns}}}CdtTrfTxInf"), None)
    e2e = transaction.findtext(f"{{{ns}}}PmtId/{{{ns}}}EndToEndId") if transaction is not None else None
    return path, e2e


def validate(document: etree._Element, message: str, *, partner: str | None = None) -> None:
    """Check ``document`` against the schema of ``message``.

    Raises:
        PermanentError: (code ``iso20022.invalid``) the first violation, naming the element and, inside a
            transaction, its end-to-end id; ``details`` holds ``element`` and ``end_to_end_id``.
    """
    checker = schema(message)
    if checker.validate(document):
        return
    error = checker.error_log[0]
    element, e2e = _where(document, error.path or "", namespace(message))
    within = f" (transaction {e2e})" if e2e else ""
    problem = PermanentError(
        f"the {message} message does not validate against {message}.xsd at {element}{within}: "
        f"{_reason(error.message)}",
        partner=partner,
        code="iso20022.invalid",
    )
    problem.details.update(element=element, end_to_end_id=e2e)
    raise problem
