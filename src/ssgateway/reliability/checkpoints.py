"""Checkpoints: small named states updated with compare-and-set.

Long-running work that must resume where it stopped (file-drop ingestion: the byte offset reached, the
digests of drops already ingested) keeps its progress here. Every write names the version it read; a
write based on a stale version fails, so two workers never both think they advanced the same state.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from ssgateway.errors import SSGatewayError
from ssgateway.reliability.clock import SYSTEM_CLOCK, Clock

__all__ = ["Checkpoint", "CheckpointConflict", "Checkpoints"]


class CheckpointConflict(SSGatewayError):
    """A checkpoint changed since it was read: another worker advanced it. Re-read and decide again."""

    default_code = "checkpoint.conflict"
    http_status = 409


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A stored checkpoint.

    Attributes:
        name: what it tracks, e.g. ``drops/henan-contributions``.
        state: a JSON object.
        version: 1 after the first write, one more after each.
        updated_at: wall-clock seconds of the last write.
    """

    name: str
    state: dict[str, Any]
    version: int
    updated_at: float


class Checkpoints(ABC):
    """Named states with atomic compare-and-set writes.

    Args:
        clock: wall-clock time for ``updated_at``.
    """

    def __init__(self, *, clock: Clock | None = None) -> None:
        self.clock = clock or SYSTEM_CLOCK

    @abstractmethod
    async def get(self, name: str) -> Checkpoint | None:
        """The checkpoint called ``name``, or None before its first write."""

    @abstractmethod
    async def put(self, name: str, state: dict[str, Any], expected_version: int) -> int:
        """Write ``state`` if the stored version is ``expected_version`` (0: not written yet).

        Returns:
            The new version.

        Raises:
            CheckpointConflict: the stored version is another one.
        """

    @abstractmethod
    async def delete(self, name: str) -> bool:
        """Forget a checkpoint; True when there was one."""
