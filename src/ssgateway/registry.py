"""The adapter registry: adapters installed under the ``ssgateway.adapters`` entry-point group.

A plugin that fails to import or does not look like an adapter is reported (a warning, and listed as
broken with its reason) instead of breaking every other adapter. A failed lookup names what is installed.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

from ssgateway.errors import NotFound
from ssgateway.operations import OPERATIONS

if TYPE_CHECKING:
    from ssgateway.adapter import Adapter

__all__ = ["ENTRY_POINT_GROUP", "AdapterInfo", "AdapterLoadWarning", "AdapterRegistry", "default_registry"]

ENTRY_POINT_GROUP = "ssgateway.adapters"
_REQUIRED = ("name", "version", "operations", "config_model", "start", "check", "close", "call")


class AdapterLoadWarning(UserWarning):
    """An installed adapter plugin could not be loaded."""


@dataclass(frozen=True, slots=True)
class AdapterInfo:
    """What the registry knows of one adapter: where it came from and, if broken, why."""

    name: str
    source: str
    version: str | None = None
    operations: tuple[str, ...] = ()
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the adapter loaded."""
        return self.error is None


def _problem(obj: object) -> str | None:
    missing = [attr for attr in _REQUIRED if not hasattr(obj, attr)]
    if not isinstance(obj, type):
        return "the entry point does not name a class"
    if missing:
        return f"the class lacks {', '.join(missing)}"
    unknown = sorted(set(getattr(obj, "operations", ())) - set(OPERATIONS))
    if unknown:
        return f"it serves unknown operations: {', '.join(unknown)}"
    return None


class AdapterRegistry:
    """Adapters by name: those installed as entry points plus any registered in code."""

    def __init__(self, *, group: str = ENTRY_POINT_GROUP, load_entry_points: bool = True) -> None:
        self._group = group
        self._load_entry_points = load_entry_points
        self._loaded = False
        self._classes: dict[str, type[Adapter]] = {}
        self._infos: dict[str, AdapterInfo] = {}

    def _ensure_loaded(self) -> None:
        if self._loaded or not self._load_entry_points:
            return
        self._loaded = True
        for ep in entry_points(group=self._group):
            if ep.name in self._classes:
                continue
            try:
                obj = ep.load()
                problem = _problem(obj)
            except Exception as exc:  # noqa: BLE001 - a broken plugin must not break the others
                problem = f"{type(exc).__name__}: {exc}"
                obj = None
            if problem is not None:
                warnings.warn(
                    f"adapter plugin {ep.name!r} ({ep.value}) failed to load: {problem}",
                    AdapterLoadWarning,
                    stacklevel=2,
                )
                self._infos[ep.name] = AdapterInfo(name=ep.name, source=ep.value, error=problem)
                continue
            self._add(ep.name, obj, ep.value)

    def _add(self, name: str, cls: type[Adapter], source: str) -> None:
        self._classes[name] = cls
        self._infos[name] = AdapterInfo(
            name=name, source=source, version=str(cls.version), operations=tuple(sorted(cls.operations))
        )

    def register(self, cls: type[Adapter], *, name: str | None = None) -> type[Adapter]:
        """Register an adapter class in code (tests, embedded use). Returns the class, so it decorates."""
        problem = _problem(cls)
        if problem is not None:
            raise TypeError(f"{cls!r} is not an adapter: {problem}")
        self._add(name or cls.name, cls, f"{cls.__module__}:{cls.__qualname__}")
        return cls

    def get(self, name: str) -> type[Adapter]:
        """The adapter class registered as ``name``.

        Raises:
            NotFound: naming the installed adapters, and why ``name`` is broken if it is.
        """
        self._ensure_loaded()
        try:
            return self._classes[name]
        except KeyError:
            pass
        info = self._infos.get(name)
        if info is not None and info.error:
            raise NotFound(f"adapter {name!r} is installed but broken: {info.error}", code="adapter.broken")
        installed = ", ".join(sorted(self._classes)) or "none"
        raise NotFound(f"no adapter named {name!r}; installed adapters: {installed}", code="adapter.unknown")

    def names(self) -> list[str]:
        """Names of the adapters that loaded."""
        self._ensure_loaded()
        return sorted(self._classes)

    def infos(self) -> list[AdapterInfo]:
        """Every adapter found, broken ones included."""
        self._ensure_loaded()
        return [self._infos[n] for n in sorted(self._infos)]


_default: AdapterRegistry | None = None


def default_registry() -> AdapterRegistry:
    """The process-wide registry over installed entry points."""
    global _default  # noqa: PLW0603 - one lazily built registry per process
    if _default is None:
        _default = AdapterRegistry()
    return _default
