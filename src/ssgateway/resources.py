"""Where the files shipped with ssgateway are, in a checkout and in an installed wheel alike."""

from __future__ import annotations

from pathlib import Path

from ssgateway.errors import ConfigError

__all__ = ["shipped_contracts_dir", "shipped_mappings_dir"]

_HERE = Path(__file__).resolve().parent


def shipped_mappings_dir() -> Path:
    """The directory of the shipped mappings and code lists.

    A wheel carries them inside the package (``ssgateway/_mappings``); an editable install reads the
    checkout's ``mappings/`` directly, so edits there take effect without reinstalling.
    """
    for candidate in (_HERE / "_mappings", _HERE.parents[1] / "mappings"):
        if candidate.is_dir():
            return candidate
    raise ConfigError("the shipped mappings are missing from this installation (reinstall ssgateway)")


def shipped_contracts_dir() -> Path:
    """The directory of the contracts shipped inside the package (``ssgateway/contracts``): WSDLs, XSDs."""
    return _HERE / "contracts"
