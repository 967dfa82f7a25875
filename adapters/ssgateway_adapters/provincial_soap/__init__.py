"""``provincial-soap``: provincial social-insurance SOAP services, spoken through mappings.

Serves ``person.lookup``, ``contributions.history``, ``transfer.certificate`` and ``transfer.submit`` for the
regions its partner configuration lists, and the events ``deaths.notify`` and ``survival.report`` (benefit
stopped, suspended or resumed through ``ChangeBenefit``). The reference contract and its mappings are the
defaults; a province with other element names needs its WSDL, a mapping set and configuration, no code. See
``docs/adapters/provincial-soap.md``.
"""

from ssgateway_adapters.provincial_soap.adapter import ProvincialSoapAdapter
from ssgateway_adapters.provincial_soap.config import (
    OPERATION_DEFAULTS,
    OperationSettings,
    ProvincialSoapConfig,
    ResolvedOperation,
)
from ssgateway_adapters.provincial_soap.exchange import Exchange

__all__ = [
    "OPERATION_DEFAULTS",
    "Exchange",
    "OperationSettings",
    "ProvincialSoapAdapter",
    "ProvincialSoapConfig",
    "ResolvedOperation",
]
