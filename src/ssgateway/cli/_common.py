"""Helpers the command modules share: consoles and output conventions."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console

__all__ = ["console", "console_err", "emit_json", "interactive"]

console = Console(highlight=False, soft_wrap=True)
console_err = Console(stderr=True, highlight=False, soft_wrap=True)


def interactive() -> bool:
    """Whether standard error is a terminal (progress bars and colour make sense)."""
    return sys.stderr.isatty()


def emit_json(data: Any) -> None:
    """Print one JSON document on standard output (machine-readable summaries)."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, default=str) + "\n")
