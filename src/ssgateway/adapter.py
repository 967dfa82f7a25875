"""What an adapter is: the protocol every partner adapter implements, and a base class that helps.

An adapter translates canonical operations into one partner's protocol and back. It declares its name,
version, the operations it serves and a pydantic model of its configuration; the runtime builds one
instance per configured partner, calls :meth:`Adapter.start` before the first call, :meth:`Adapter.check`
for readiness and :meth:`Adapter.close` at shutdown.

Errors: an adapter raises :class:`~ssgateway.errors.TransientError` (retry may help),
:class:`~ssgateway.errors.OutcomeUnknown` (the partner may have acted),
:class:`~ssgateway.errors.PermanentError` (do not retry) or
:class:`~ssgateway.errors.RecordRejected`, translating its libraries' exceptions in one place.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, ConfigDict

from ssgateway.errors import NotFound

__all__ = ["Adapter", "AdapterContext", "BaseAdapter", "Health", "NoSettings", "handles"]


class NoSettings(BaseModel):
    """The settings of an adapter that has none: an empty ``config:`` block (anything else is an error)."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True, slots=True)
class Health:
    """Result of an adapter's readiness check."""

    ok: bool
    detail: str | None = None


@dataclass(slots=True)
class AdapterContext:
    """What the runtime hands an adapter instance besides its own configuration.

    Attributes:
        partner: the configured partner name (``henan``, ``icbc-shanghai``), used in errors and metrics.
        regions: region-code prefixes this partner serves.
        base_dir: directory of the configuration file; relative paths in adapter config resolve against it.
        logger: a logger named after the partner.
        services: runtime services an adapter may use, by name: ``"mappings"`` (the mapping catalog),
            ``"store"`` (the gateway's store: idempotency, checkpoints), ``"clock"`` (None: the system's),
            ``"events"`` (the gateway's event intake: ``notify(operation, event)`` and ``import_file``, for
            adapters that bring events in).
    """

    partner: str
    regions: tuple[str, ...] = ()
    base_dir: Path = field(default_factory=Path.cwd)
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("ssgateway.adapter"))
    services: dict[str, Any] = field(default_factory=dict)

    def resolve(self, path: str | Path) -> Path:
        """A path from the adapter's configuration, resolved against the configuration's directory."""
        p = Path(path)
        return p if p.is_absolute() else self.base_dir / p


@runtime_checkable
class Adapter(Protocol):
    """The protocol of a partner adapter.

    Class attributes:
        name: the adapter kind, as registered under the ``ssgateway.adapters`` entry-point group.
        version: the adapter's version.
        operations: canonical operation names it serves.
        deduplicated: the mutating operations whose requests the partner dedupes on a key they carry
            (an end-to-end id, a certificate number): these may be resent after an ambiguous failure.
        config_model: pydantic model of the adapter's ``config:`` block.
    """

    name: ClassVar[str]
    version: ClassVar[str]
    operations: ClassVar[frozenset[str]]
    deduplicated: ClassVar[frozenset[str]]
    config_model: ClassVar[type[BaseModel]]

    def __init__(self, config: Any, context: AdapterContext) -> None: ...

    async def start(self) -> None:
        """Open connections, load contracts; called once before the first call."""

    async def check(self) -> Health:
        """Whether the partner is reachable and the adapter usable."""

    async def close(self) -> None:
        """Release everything; called once at shutdown."""

    async def call(self, operation: str, request: BaseModel) -> BaseModel:
        """Perform one canonical operation and return its canonical response."""


Handler = Callable[[Any, Any], Awaitable[BaseModel]]
H = TypeVar("H", bound=Handler)


def handles(operation: str) -> Callable[[H], H]:
    """Mark a :class:`BaseAdapter` method as the handler of a canonical operation."""

    def mark(func: H) -> H:
        func.__ssgateway_operation__ = operation  # type: ignore[attr-defined]
        return func

    return mark


class BaseAdapter:
    """A convenient base for adapters: declare class attributes, decorate handlers with :func:`handles`.

    ``operations`` is filled from the decorated methods when a subclass does not set it.

    Example:
        >>> from pydantic import BaseModel
        >>> from ssgateway.model import PersonQuery, PersonRecord
        >>> class EchoConfig(BaseModel):
        ...     greeting: str = "hi"
        >>> class Echo(BaseAdapter):
        ...     name = "echo"
        ...     version = "1.0"
        ...     config_model = EchoConfig
        ...     @handles("person.lookup")
        ...     async def lookup(self, request: PersonQuery) -> PersonRecord:
        ...         ...
        >>> sorted(Echo.operations)
        ['person.lookup']
    """

    name: ClassVar[str] = ""
    version: ClassVar[str] = "0"
    operations: ClassVar[frozenset[str]] = frozenset()
    deduplicated: ClassVar[frozenset[str]] = frozenset()
    config_model: ClassVar[type[BaseModel]] = NoSettings
    _handlers: ClassVar[dict[str, str]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        handlers: dict[str, str] = {}
        for klass in reversed(cls.__mro__):
            for attr, value in vars(klass).items():
                op = getattr(value, "__ssgateway_operation__", None)
                if op is not None:
                    handlers[op] = attr
        cls._handlers = handlers
        if "operations" not in vars(cls):
            cls.operations = frozenset(handlers)

    def __init__(self, config: Any, context: AdapterContext) -> None:
        self.config = config
        self.context = context

    async def start(self) -> None:
        """Nothing to start by default."""

    async def check(self) -> Health:
        """Healthy by default."""
        return Health(ok=True)

    async def close(self) -> None:
        """Nothing to close by default."""

    async def call(self, operation: str, request: BaseModel) -> BaseModel:
        """Dispatch to the method decorated with ``@handles(operation)``."""
        attr = self._handlers.get(operation)
        if attr is None:
            served = ", ".join(sorted(self._handlers)) or "none"
            raise NotFound(
                f"adapter {self.name!r} (partner {self.context.partner!r}) does not serve {operation!r};"
                f" it serves: {served}",
                code="operation.not_served",
            )
        handler: Callable[[BaseModel], Awaitable[BaseModel]] = getattr(self, attr)
        return await handler(request)
