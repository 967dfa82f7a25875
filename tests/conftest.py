"""Shared test setup: every test runs with network access limited to loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import respx.mocks
from tests.canaries import FifoCanary

import ssgateway.testing.respxmocker  # noqa: F401 - registers respx's "ssgateway" mocker
from ssgateway.testing import loopback_only as _loopback_only

# Partner HTTP goes through our own transport (ssgateway.httptransport), not httpcore: every respx router,
# the global one included, uses the mocker that intercepts both.
respx.mocks.DEFAULT_MOCKER = "ssgateway"


@pytest.fixture(autouse=True)
def _stay_on_loopback() -> Iterator[None]:
    with _loopback_only():
        yield


@pytest.fixture
def fifo(tmp_path: Path) -> Iterator[FifoCanary]:
    """A :class:`~tests.canaries.FifoCanary` at ``entity.dtd``: point an entity at it, then check ``opened``."""
    canary = FifoCanary(tmp_path / "entity.dtd")
    yield canary
    canary.close()
