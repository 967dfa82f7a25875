"""The store conformance suite: the checks every store backend must pass, as a pytest class in one line.

Checks are small named async functions grouped in suites (``idempotency``, ``outbox``, ``checkpoints``).
:func:`store_conformance` expands the chosen suites into a test class; the test module provides a
``store_factory`` fixture: a function that takes a clock and returns an async context manager yielding a
fresh, empty store using that clock (and removing what it created on exit)::

    @pytest.fixture
    def store_factory(tmp_path):
        @contextlib.asynccontextmanager
        async def factory(clock):
            async with open_store(f"sqlite:///{tmp_path}/s.db", clock=clock) as store:
                yield store
        return factory

    TestSQLiteStore = store_conformance("idempotency", "outbox", "checkpoints")

Checks drive time with a :class:`~ssgateway.testing.FakeClock`, so leases and retention expire instantly.
Each check runs in its own event loop (no pytest-asyncio needed).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from ssgateway.testing.clock import FakeClock

__all__ = [
    "CHECKS",
    "SUITES",
    "Check",
    "StoreFactory",
    "check",
    "expect",
    "raises",
    "run_check",
    "store_conformance",
]

StoreFactory = Callable[[FakeClock], AbstractAsyncContextManager[Any]]
"""Makes a fresh store that uses the given clock; cleans up on exit."""

SUITES = ("idempotency", "outbox", "checkpoints")
"""The suites, in the order their checks run."""


@dataclass(frozen=True, slots=True)
class Check:
    """One named conformance check.

    Attributes:
        name: becomes the test name (``test_<name>``).
        suite: the group it belongs to.
        func: the check; gets a fresh store and the clock it uses.
        doc: what it checks.
    """

    name: str
    suite: str
    func: Callable[[Any, FakeClock], Awaitable[None]]
    doc: str


CHECKS: dict[str, Check] = {}
"""Every registered check by name, in registration order."""


def check(suite: str) -> Callable[[Callable[[Any, FakeClock], Awaitable[None]]], Check]:
    """Register a check in ``suite`` under its function's name."""

    def register(func: Callable[[Any, FakeClock], Awaitable[None]]) -> Check:
        found = Check(func.__name__, suite, func, (func.__doc__ or func.__name__).strip())
        CHECKS[found.name] = found
        return found

    return register


def expect(condition: object, what: str) -> None:
    """Fail the check with ``what`` unless ``condition`` holds (``assert`` that survives ``-O``)."""
    if not condition:
        raise AssertionError(what)


@asynccontextmanager
async def raises(error: type[BaseException], what: str) -> AsyncIterator[None]:
    """Fail the check unless the block raises ``error``."""
    try:
        yield
    except error:
        return
    raise AssertionError(f"{what}: expected {error.__name__}")


async def run_check(found: Check, factory: StoreFactory) -> None:
    """Run one check against a fresh store from ``factory``."""
    clock = FakeClock()
    async with factory(clock) as store:
        await found.func(store, clock)


def store_conformance(*suites: str, name: str = "StoreConformance") -> type:
    """A pytest test class with one test per check of ``suites`` (default: all).

    Its tests use the ``store_factory`` fixture the test module defines (see the module docstring).
    """
    _load_checks()
    chosen = suites or SUITES
    unknown = set(chosen) - set(SUITES)
    if unknown:
        raise ValueError(f"unknown suites {sorted(unknown)}; known: {', '.join(SUITES)}")
    namespace: dict[str, Any] = {"__doc__": f"Store conformance: {', '.join(chosen)}."}
    for found in CHECKS.values():
        if found.suite in chosen:
            namespace[f"test_{found.name}"] = _test_for(found)
    return type(name, (), namespace)


def _test_for(found: Check) -> Callable[[Any, StoreFactory], None]:
    def test(self: Any, store_factory: StoreFactory) -> None:
        asyncio.run(run_check(found, store_factory))

    test.__name__ = f"test_{found.name}"
    test.__doc__ = found.doc
    return test


def _load_checks() -> None:
    # the check modules register themselves on import
    from ssgateway.testing import _checks_idempotency, _checks_outbox  # noqa: F401
