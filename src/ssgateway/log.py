"""Structured logging: JSON lines with a request id, personal data masked on the way out.

The formatters mask every string they emit (message, extra fields, exception text) with
:func:`ssgateway.masking.mask_text`, so a citizen id or card number that slips into a log call is masked
anyway. Personal values of the canonical model mask themselves before that.
"""

from __future__ import annotations

import json
import logging
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO, Any

from ssgateway.masking import mask_data, mask_text

__all__ = [
    "JsonFormatter",
    "TextFormatter",
    "configure_logging",
    "new_request_id",
    "request_id",
    "request_scope",
]

request_id: ContextVar[str | None] = ContextVar("ssgateway_request_id", default=None)
"""The id of the request being handled, added to every log record."""

# Attributes every LogRecord has; anything else on a record came from ``extra=`` and is emitted.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}


def new_request_id() -> str:
    """A fresh random request id."""
    return uuid.uuid4().hex


@contextmanager
def request_scope(rid: str | None = None) -> Iterator[str]:
    """Run a block with a request id set (a new one unless given)."""
    rid = rid or new_request_id()
    token = request_id.set(rid)
    try:
        yield rid
    finally:
        request_id.reset(token)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts``, ``level``, ``logger``, ``msg``, ``request_id``, extras, ``exc``."""

    def format(self, record: logging.LogRecord) -> str:
        """Render the record as masked JSON."""
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": mask_text(record.getMessage()),
        }
        rid = request_id.get()
        if rid is not None:
            out["request_id"] = rid
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = mask_data(value)
        if record.exc_info:
            out["exc"] = mask_text(self.formatException(record.exc_info))
        return json.dumps(out, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """Human-readable lines for a terminal, masked like the JSON ones."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        """Render the record as one masked line."""
        text = super().format(record)
        rid = request_id.get()
        return mask_text(f"{text} [{rid}]" if rid else text)


def configure_logging(
    level: str = "INFO", fmt: str = "json", stream: IO[str] | None = None
) -> logging.Handler:
    """Send the ``ssgateway`` loggers' records to ``stream`` (stderr by default) in ``fmt``.

    Returns the handler installed, replacing one installed earlier by this function.
    """
    logger = logging.getLogger("ssgateway")
    for h in list(logger.handlers):
        if getattr(h, "_ssgateway", False):
            logger.removeHandler(h)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler._ssgateway = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    return handler
