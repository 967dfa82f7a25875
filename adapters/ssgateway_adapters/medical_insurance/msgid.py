"""Message ids (``msgid``): institution code (12) + ``yyyyMMddHHmmss`` (14) + sequence (4) = 30 characters.

The platform asks for a msgid unique per message. Within one second an institution has 10,000 sequence
numbers, shared by every process that sends as that institution, including one that restarts within the
same second. They are handed out in *blocks* reserved through a counter:

- :class:`CheckpointCounter` keeps ``{"second": "yyyyMMddHHmmss", "next": n}`` in one checkpoint of the
  shared store (SQLite or PostgreSQL) and reserves ``[next, next + block)`` with compare-and-set, so two
  processes never hold the same numbers. The stored second never goes back and, within a second, ``next``
  only grows: a reservation for an earlier second than the stored one gets numbers of the stored second
  (a process whose clock lags borrows the later second rather than reusing numbers).
- :class:`MemoryCounter` does the same in one process for use without a store. It starts numbering in the
  second *after* it was created, so a process that restarts within a second cannot repeat the numbers its
  predecessor used; it is not safe for several processes at once.

A block is used only while the clock is still in its second (a msgid's time is the time it was made);
what is left of it when the second ends is dropped. When a second's numbers are all taken, the generator
waits for the next second.
"""

from __future__ import annotations

import asyncio
import random
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Final, Protocol

from ssgateway.errors import ConfigError, TransientError
from ssgateway.sdk import SYSTEM_CLOCK, CheckpointConflict, Checkpoints, Clock

__all__ = [
    "BEIJING",
    "MSGID_LENGTH",
    "SEQUENCE_LIMIT",
    "Block",
    "CheckpointCounter",
    "MemoryCounter",
    "MsgIdGenerator",
    "SequenceCounter",
    "SequenceExhausted",
    "second_of",
]

MSGID_LENGTH: Final = 30
_INSTITUTION_CODE = re.compile(r"[A-Za-z0-9]{12}")
SEQUENCE_LIMIT: Final = 10_000
"""Sequence numbers per second: four digits."""
BEIJING: Final = timezone(timedelta(hours=8))
"""The platform's time zone (China Standard Time has no daylight saving)."""
_CONFLICT_ATTEMPTS = 50
_CONFLICT_BACKOFF_CAP = 0.05
"""Seconds: the longest pause between two tries of a contended reservation (about 2 s of trying in all)."""


def second_of(epoch: float) -> str:
    """The ``yyyyMMddHHmmss`` (Beijing time) of a wall-clock reading."""
    return datetime.fromtimestamp(epoch, BEIJING).strftime("%Y%m%d%H%M%S")


def _start_of(second: str) -> float:
    return datetime.strptime(second, "%Y%m%d%H%M%S").replace(tzinfo=BEIJING).astimezone(UTC).timestamp()


@dataclass(slots=True)
class Block:
    """Sequence numbers ``[next, end)`` of one second, reserved for this process."""

    second: str
    next: int
    end: int


class SequenceExhausted(Exception):
    """Every sequence number of ``second`` is taken; wait for the next second."""

    def __init__(self, second: str) -> None:
        super().__init__(second)
        self.second = second


class SequenceCounter(Protocol):
    """Where blocks of sequence numbers are reserved."""

    async def reserve(self, second: str, size: int) -> Block:
        """Reserve up to ``size`` numbers in ``second``, or in the latest second already reserved if later.

        Raises:
            SequenceExhausted: that second has no number left.
        """


def _plan(stored: tuple[str, int] | None, second: str, size: int) -> Block:
    if stored is None or second > stored[0]:
        start_second, start = second, 0
    else:
        start_second, start = stored
    if start >= SEQUENCE_LIMIT:
        raise SequenceExhausted(start_second)
    return Block(start_second, start, min(start + size, SEQUENCE_LIMIT))


class CheckpointCounter:
    """Blocks reserved in a checkpoint of the shared store (safe across processes and restarts).

    Args:
        checkpoints: the store's checkpoints (SQLite or PostgreSQL).
        name: the checkpoint's name; one per institution code.
    """

    def __init__(self, checkpoints: Checkpoints, name: str) -> None:
        self._checkpoints = checkpoints
        self.name = name
        self.conflicts = 0
        """Reservations that lost a compare-and-set to another process and were tried again."""

    async def reserve(self, second: str, size: int) -> Block:
        """Reserve a block with compare-and-set; re-read and try again when another process wrote first."""
        for attempt in range(_CONFLICT_ATTEMPTS):
            current = await self._checkpoints.get(self.name)
            stored = None
            if current is not None:
                stored = (str(current.state["second"]), int(current.state["next"]))
            block = _plan(stored, second, size)
            try:
                await self._checkpoints.put(
                    self.name,
                    {"second": block.second, "next": block.end},
                    0 if current is None else current.version,
                )
            except CheckpointConflict:
                self.conflicts += 1
                # full jitter that grows: a process that keeps losing to a faster one gets out of step
                pause = min(_CONFLICT_BACKOFF_CAP, 0.001 * 2**attempt)
                await asyncio.sleep(random.uniform(0, pause))  # noqa: S311 - jitter, not a secret
                continue
            return block
        raise TransientError(f"the msgid counter {self.name!r} stayed contended; try again")


class MemoryCounter:
    """Blocks from a counter in this process: unique within it and across its restarts, not across replicas.

    Args:
        started: the wall-clock reading at creation; numbering starts in the following second.
    """

    def __init__(self, started: float) -> None:
        self._stored: tuple[str, int] = (second_of(started), SEQUENCE_LIMIT)

    async def reserve(self, second: str, size: int) -> Block:
        """Reserve a block."""
        block = _plan(self._stored, second, size)
        self._stored = (block.second, block.end)
        return block


class MsgIdGenerator:
    """Makes msgids: ``institution_code`` + the current second (Beijing time) + a 4-digit sequence.

    Args:
        institution_code: the 12-character institution code (``fixmedins_code``).
        counter: where blocks of sequence numbers are reserved.
        block_size: numbers reserved at once (fewer store round trips, more numbers dropped per second).
        clock: wall-clock time and waiting.
        max_wait: seconds to wait for a free sequence number before giving up with ``TransientError``.

    Safe for concurrent use by the tasks of one event loop.
    """

    def __init__(
        self,
        institution_code: str,
        counter: SequenceCounter,
        *,
        block_size: int = 100,
        clock: Clock | None = None,
        max_wait: float = 5.0,
    ) -> None:
        if not _INSTITUTION_CODE.fullmatch(institution_code):
            raise ConfigError("an institution code is 12 ASCII letters or digits", key="institution_code")
        if not 1 <= block_size <= SEQUENCE_LIMIT:
            raise ConfigError(f"block_size is 1 to {SEQUENCE_LIMIT}", key="msgid.block_size")
        self.institution_code = institution_code
        self._counter = counter
        self._block_size = block_size
        self._clock = clock or SYSTEM_CLOCK
        self._max_wait = max_wait
        self._block: Block | None = None
        self._lock = asyncio.Lock()
        self.reservations = 0
        """Blocks reserved so far."""

    async def next(self) -> str:
        """The next msgid."""
        async with self._lock:
            waited = 0.0
            while True:
                now = second_of(self._clock.time())
                block = self._block
                if block is not None and block.next < block.end and block.second >= now:
                    sequence = block.next
                    block.next += 1
                    return f"{self.institution_code}{block.second}{sequence:04d}"
                try:
                    self._block = await self._counter.reserve(now, self._block_size)
                    self.reservations += 1
                except SequenceExhausted as full:
                    pause = max(0.001, _start_of(full.second) + 1 - self._clock.time())
                    if waited + pause > self._max_wait:
                        raise TransientError(
                            f"every msgid sequence number of second {full.second} is taken", code="msgid.busy"
                        ) from None
                    waited += pause
                    await self._clock.sleep(pause)
