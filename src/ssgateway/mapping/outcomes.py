"""What mapping a record yields: the validated entity, or a rejection saying where and why."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

__all__ = ["Accepted", "Outcome", "Rejection"]


@dataclass(frozen=True, slots=True)
class Accepted:
    """A record that mapped to a valid canonical entity."""

    position: int
    """Line number (CSV, JSON Lines), element index (XML) or item index (JSON), from 1."""
    entity: BaseModel


@dataclass(frozen=True, slots=True)
class Rejection:
    """A record that did not map, and why. ``raw`` is masked when the field holds personal data."""

    position: int
    reason: str
    field: str | None = None
    """The canonical field at fault (dotted; ``enrollments[2].insurance_type`` inside lists)."""
    source: str | None = None
    """Where its value came from: the column, XPath or JSON path."""
    raw: str | None = None
    code: str = "record.rejected"
    """Stable code of the rejection kind (``record.rejected``, ``record.malformed`` …)."""

    def as_dict(self, position_key: str = "line") -> dict[str, Any]:
        """The rejection as one JSON object of a rejects file."""
        return {
            position_key: self.position,
            "field": self.field,
            "source": self.source,
            "reason": self.reason,
            "raw": self.raw,
            "code": self.code,
        }


Outcome = Accepted | Rejection
