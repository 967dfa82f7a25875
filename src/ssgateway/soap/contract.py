"""Service contracts (WSDL + XSD): loaded only from local files we trust, parsed once, shared.

zeep would fetch imports over HTTP, open ``file://`` URLs and plain paths anywhere on the disk. Here zeep
loads through a :class:`ContractLoader` that reads files under the allowed roots only — the contracts
shipped in the package and directories the configuration names explicitly — and refuses everything else
with :class:`~ssgateway.errors.XMLSecurityError`. Each file passes the DOCTYPE guard before zeep parses it.

Parsing a WSDL costs milliseconds to tens of milliseconds; :func:`load_contract` keeps each parsed contract,
keyed by the WSDL's path and content digest (and the digests of every file it imported, re-checked on each
hit), so every client of the same service shares one.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

import zeep
from lxml import etree
from zeep.exceptions import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
from zeep.wsdl.bindings import Soap11Binding

from ssgateway.errors import ConfigError, InputError, RequestInvalid, SSGatewayError, XMLSecurityError
from ssgateway.masking import mask_text
from ssgateway.resources import shipped_contracts_dir
from ssgateway.xmlsafe import PrologGuard

__all__ = [
    "ZEEP_SETTINGS",
    "Contract",
    "ContractLoader",
    "clear_contract_cache",
    "load_contract",
]

MAX_CONTRACT_BYTES: Final = 4 * 1024 * 1024
"""Largest WSDL or XSD file read."""


def _zeep_settings() -> zeep.Settings:
    return zeep.Settings(
        strict=True, forbid_dtd=True, forbid_entities=True, forbid_external=True, xml_huge_tree=False
    )


ZEEP_SETTINGS: Final = _zeep_settings()
"""The zeep settings every contract is parsed with."""


def _real(path: str | Path) -> Path:
    return Path(os.path.realpath(path))


class ContractLoader:
    """The zeep transport contracts load through: local files under ``roots``, and nothing else.

    zeep calls :meth:`load` for the WSDL and every import. URLs of any scheme (``http``, ``https``,
    ``file``, ...), relative paths and paths outside the roots (after resolving symlinks) are refused, as
    are files with a DOCTYPE. zeep never sends requests through it: :meth:`get`, :meth:`post` and
    :meth:`post_xml` refuse too.

    Attributes:
        roots: the allowed directories (resolved).
        loaded: every file read, with its SHA-256 digest.
    """

    # Only SOAP 1.1 bindings: zeep's HTTP GET/POST bindings parse replies with bare lxml.
    binding_classes: Final = (Soap11Binding,)

    def __init__(self, roots: Iterable[str | Path]) -> None:
        self.roots = tuple(_real(r) for r in roots)
        self.loaded: dict[Path, str] = {}

    def _allowed(self, path: Path) -> bool:
        return any(path.is_relative_to(root) for root in self.roots)

    def load(self, url: str) -> bytes:
        """Read one contract file, if it is allowed."""
        text = str(url)
        scheme = urlsplit(text).scheme
        if scheme:
            raise XMLSecurityError(
                f"contract import refused: {scheme}: locations are never loaded (only local files under "
                "the allowed contract directories)",
                code="xml.external",
            )
        if not Path(text).is_absolute():
            raise XMLSecurityError("contract import refused: relative location", code="xml.external")
        path = _real(text)
        if not self._allowed(path):
            raise XMLSecurityError(
                "contract import refused: the file is outside the allowed contract directories",
                code="xml.external",
            )
        try:
            size = path.stat().st_size
            if size > MAX_CONTRACT_BYTES:
                raise XMLSecurityError(f"contract file {path.name} is larger than {MAX_CONTRACT_BYTES} bytes")
            data = path.read_bytes()
        except OSError as exc:
            raise ConfigError(
                f"contract file {path.name} cannot be read: {exc.strerror}", file=str(path)
            ) from exc
        guard = PrologGuard()
        try:
            guard.feed(data)
            guard.close()
        except XMLSecurityError:
            raise
        except InputError as exc:
            raise ConfigError(
                f"contract file {path.name} is not usable XML: {exc.message}", file=str(path)
            ) from exc
        self.loaded[path] = hashlib.sha256(data).hexdigest()
        return data

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise XMLSecurityError("the contract loader never sends requests", code="xml.external")

    get = post = post_xml = _refuse


@dataclass(frozen=True, slots=True, eq=False)
class Contract:
    """A parsed service contract: the zeep client bound to one SOAP 1.1 port, shared by every user.

    zeep's objects are not changed after loading, so one contract serves any number of clients and
    threads.

    Attributes:
        path: the WSDL file.
        digest: SHA-256 of the WSDL's bytes.
        files: every file the contract was built from (WSDL and imports) with its digest.
        client: the zeep client (it can build and read messages; it never sends anything).
    """

    path: Path
    digest: str
    files: Mapping[Path, str]
    client: Any
    _service: Any = field(repr=False)

    @property
    def operations(self) -> tuple[str, ...]:
        """The operations of the bound port, sorted."""
        return tuple(sorted(self._service._binding._operations))

    def _operation(self, name: str) -> Any:
        try:
            return self._service._binding._operations[name]
        except KeyError:
            raise ConfigError(
                f"the contract {self.path.name} has no operation {name!r}; it has "
                + ", ".join(self.operations)
            ) from None

    def soap_action(self, operation: str) -> str:
        """The ``SOAPAction`` of an operation (empty when the WSDL gives none)."""
        return str(self._operation(operation).soapaction or "")

    def request_element(self, operation: str) -> str:
        """The Clark name (``{ns}local``) of the operation's request body element."""
        return str(self._operation(operation).input.body.qname)

    def response_element(self, operation: str) -> str:
        """The Clark name of the operation's response body element."""
        return str(self._operation(operation).output.body.qname)

    def build(self, operation: str, /, **params: Any) -> etree._Element:
        """A SOAP 1.1 envelope for the operation, its body built by zeep from ``params``.

        Raises:
            RequestInvalid: the parameters do not fit the contract (unknown or missing elements).
        """
        op = self._operation(operation)
        try:
            envelope: etree._Element = self.client.create_message(self._service, op.name, **params)
        except (TypeError, ValueError, zeep.exceptions.Error) as exc:
            raise RequestInvalid(
                f"{operation}: the request does not fit the contract: {mask_text(str(exc))}"
            ) from exc
        return envelope

    def deserialize(self, operation: str, envelope: etree._Element) -> Any:
        """The zeep objects for a response envelope (already parsed with the hardened settings)."""
        return self._operation(operation).process_reply(envelope)


_cache: dict[tuple[Path, str, tuple[Path, ...], str | None, str | None], Contract] = {}
_lock = threading.Lock()


def clear_contract_cache() -> None:
    """Forget every parsed contract (the next :func:`load_contract` parses again)."""
    with _lock:
        _cache.clear()


def _current(contract: Contract) -> bool:
    for path, digest in contract.files.items():
        try:
            if hashlib.sha256(path.read_bytes()).hexdigest() != digest:
                return False
        except OSError:
            return False
    return True


def _resolve(wsdl: str | Path) -> Path:
    text = str(wsdl)
    scheme = urlsplit(text).scheme
    if scheme:
        raise XMLSecurityError(
            f"a contract is loaded from a local file only, not from a {scheme}: location",
            code="xml.external",
        )
    path = Path(text)
    return _real(path if path.is_absolute() else shipped_contracts_dir() / path)


def load_contract(
    wsdl: str | Path,
    *,
    roots: Iterable[str | Path] = (),
    service: str | None = None,
    port: str | None = None,
) -> Contract:
    """The parsed contract of a WSDL file, from the cache when its files have not changed.

    Args:
        wsdl: the WSDL file; a relative path is relative to :func:`shipped_contracts_dir`.
        roots: directories besides the shipped contracts that the WSDL and its imports may be read from.
        service: the WSDL service to bind (default: the first).
        port: the port of that service (default: the first).

    Raises:
        XMLSecurityError: a URL, a file outside the allowed directories, a DOCTYPE.
        ConfigError: the file is missing or is not a usable SOAP 1.1 WSDL.
    """
    path = _resolve(wsdl)
    allowed = (_real(shipped_contracts_dir()), *(_real(r) for r in roots))
    loader = ContractLoader(allowed)
    try:
        data = path.read_bytes() if loader._allowed(path) else b""
    except OSError as exc:
        raise ConfigError(f"the WSDL {path.name} cannot be read: {exc.strerror}", file=str(path)) from exc
    key = (path, hashlib.sha256(data).hexdigest(), allowed, service, port)
    with _lock:
        cached = _cache.get(key)
        if cached is not None and _current(cached):
            return cached
        contract = _parse(path, loader, service, port)
        _cache[key] = contract
        return contract


def _parse(path: Path, loader: ContractLoader, service: str | None, port: str | None) -> Contract:
    try:
        client = zeep.Client(  # type: ignore[no-untyped-call]  # zeep's Client is not annotated
            str(path), transport=loader, settings=_zeep_settings()
        )
        proxy = client.bind(service, port) if (service or port) else client.service
    except SSGatewayError:
        raise
    except (DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden) as exc:
        raise XMLSecurityError(f"the contract {path.name} was refused: {type(exc).__name__}") from exc
    except Exception as exc:  # zeep signals a bad WSDL with many unrelated types: all mean the same here
        raise ConfigError(
            f"{path.name} is not a usable SOAP 1.1 WSDL: {type(exc).__name__}: {mask_text(str(exc))[:300]}",
            file=str(path),
        ) from exc
    files = dict(loader.loaded)
    return Contract(path=path, digest=files.get(path, ""), files=files, client=client, _service=proxy)
