"""Shared test setup: every test runs with network access limited to loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ssgateway.testing import loopback_only as _loopback_only


@pytest.fixture(autouse=True)
def _stay_on_loopback() -> Iterator[None]:
    with _loopback_only():
        yield
