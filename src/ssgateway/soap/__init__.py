"""The hardened SOAP client layer any SOAP adapter builds on.

- :class:`SoapClient` calls a service: zeep builds envelopes from the contract, httpx sends them, answers are
  size-capped (after decompression too), parsed with hardened settings and turned into our errors;
- :func:`load_contract` parses a WSDL once (from the package or an explicitly allowed directory only);
- :class:`RecordStream` / :meth:`SoapClient.stream` stream the records of bulk answers;
- :class:`UsernameToken` and :class:`FaultPolicy` are pieces usable on their own; hardened parsing itself
  is :mod:`ssgateway.xmlsafe`, shared with the mapping engine.

See ``docs/adapters/provincial-soap.md`` for the security settings.
"""

from ssgateway.soap.client import SoapClient, SoapStream
from ssgateway.soap.contract import (
    ZEEP_SETTINGS,
    Contract,
    ContractLoader,
    clear_contract_cache,
    load_contract,
)
from ssgateway.soap.faults import FaultPolicy, SoapFault, find_fault
from ssgateway.soap.namespaces import SOAP11_ENV
from ssgateway.soap.settings import SoapSettings, WsseSettings
from ssgateway.soap.streaming import RecordStream, iter_records, record_texts
from ssgateway.soap.wsse import SeenNonces, UsernameToken, check_username_token

__all__ = [
    "SOAP11_ENV",
    "ZEEP_SETTINGS",
    "Contract",
    "ContractLoader",
    "FaultPolicy",
    "RecordStream",
    "SeenNonces",
    "SoapClient",
    "SoapFault",
    "SoapSettings",
    "SoapStream",
    "UsernameToken",
    "WsseSettings",
    "check_username_token",
    "clear_contract_cache",
    "find_fault",
    "iter_records",
    "load_contract",
    "record_texts",
]
