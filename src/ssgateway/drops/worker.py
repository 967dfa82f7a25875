"""The work done on one frame of a CSV file: rows → mapping → checks → canonical JSON Lines.

It runs in worker processes (or in a thread of the caller for small files and for callers that want
objects): each worker compiles the mapping once from a picklable :class:`Job`, then turns frames into
:class:`Batch` es. A batch carries its output already serialised, so only bytes cross process boundaries.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from pydantic import BaseModel

from ssgateway.mapping import Accepted, InboundMapping, MappingCatalog, Outcome, Rejection
from ssgateway.mapping.csvfile import CsvLayout, CsvLimits, Frame, parse_frame
from ssgateway.mapping.spec import FieldRule
from ssgateway.masking import mask_text

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["Batch", "Check", "Cursor", "FrameMapper", "Job", "Violation", "init_worker", "run_frame"]


class Cursor(NamedTuple):
    """A place in a CSV file where a record starts: where to resume."""

    offset: int
    """Byte offset."""
    line: int
    """Line number."""


class Violation(NamedTuple):
    """What a :class:`Check` found wrong with a mapped record."""

    field: str
    """The canonical field at fault."""
    reason: str
    raw: str | None = None
    """The value at fault (never personal data: checks look at periods and amounts)."""


class Check(Protocol):
    """A rule a mapped record must also satisfy (beyond its model), e.g. amounts against rates.

    Checks must be picklable: they travel to worker processes.
    """

    def __call__(self, entity: BaseModel) -> Violation | None:
        """The violation, or None when the record passes."""


@dataclass(frozen=True)
class Job:
    """Everything a worker needs to map frames of one file (picklable)."""

    mapping: str
    """The inbound mapping, ``id@version``."""
    roots: tuple[str, ...]
    """The mapping catalog's roots, shipped mappings included, to compile the mapping from."""
    source_name: str
    """The file's name, in provenance (``source_ref``) and errors."""
    layout: CsvLayout
    limits: CsvLimits
    received_at: datetime
    """When the data was received, in every record's provenance."""
    source_system: str | None = None
    """The source named in provenance (default: the mapping id)."""
    checks: tuple[Check, ...] = ()
    objects: bool = False
    """Keep outcomes as objects (in-process only) instead of JSON Lines."""


@dataclass(frozen=True, slots=True)
class Batch:
    """The outcome of one frame: counts, JSON Lines of accepted records and of rejections.

    ``read == accepted + rejected`` always. ``outcomes`` holds the objects when the job asked for them
    (``output`` and ``rejects`` are then empty).
    """

    start: Cursor
    end: Cursor
    """Where the next frame starts: a safe place to resume."""
    accepted: int
    rejected: int
    output: bytes = b""
    rejects: bytes = b""
    outcomes: tuple[Outcome, ...] = ()
    rejected_by: dict[str, int] = field(default_factory=dict)
    """Rejections by canonical field (or by code, for rows that never reached the mapping)."""

    @property
    def read(self) -> int:
        """Records read."""
        return self.accepted + self.rejected


def _sources(mapping: InboundMapping) -> dict[str, str]:
    return {
        name: spec.source
        for name, spec in mapping.spec.fields.items()
        if isinstance(spec, FieldRule) and isinstance(spec.source, str)
    }


class FrameMapper:
    """Maps frames with one compiled mapping.

    Args:
        job: what to map and how.
        mapping: the compiled mapping, when the caller has it (else it is compiled from the job).
    """

    def __init__(self, job: Job, mapping: InboundMapping | None = None) -> None:
        if mapping is None:
            catalog = MappingCatalog(job.roots, include_shipped=False)
            mapping = catalog.inbound(job.mapping)
        self.job, self.mapping = job, mapping
        self._to_json: Callable[[Any], bytes] = mapping.model.__pydantic_serializer__.to_json
        self._sources = _sources(mapping)

    def __call__(self, frame: Frame) -> Batch:
        """Map every row of ``frame``."""
        job = self.job
        rows = parse_frame(frame, job.layout, source=job.source_name, limits=job.limits)
        outcomes = self.mapping.map_records(
            rows, source_system=job.source_system, source_name=job.source_name, received_at=job.received_at
        )
        if job.checks:
            outcomes = map(self._check, outcomes)
        start, end = Cursor(frame.offset, frame.line), Cursor(*frame.end)
        if job.objects:
            kept = tuple(outcomes)
            rejected = [o for o in kept if isinstance(o, Rejection)]
            return Batch(start, end, len(kept) - len(rejected), len(rejected), outcomes=kept,
                         rejected_by=_tally(rejected))  # fmt: skip
        to_json, dumps = self._to_json, json.dumps
        out: list[bytes] = []
        rejections: list[Rejection] = []
        for outcome in outcomes:
            if isinstance(outcome, Accepted):
                out.append(to_json(outcome.entity))
            else:
                rejections.append(outcome)
        rejects = [dumps(r.as_dict("line"), ensure_ascii=False).encode() for r in rejections]
        return Batch(
            start,
            end,
            len(out),
            len(rejections),
            output=b"".join(line + b"\n" for line in out),
            rejects=b"".join(line + b"\n" for line in rejects),
            rejected_by=_tally(rejections),
        )

    def _check(self, outcome: Outcome) -> Outcome:
        if isinstance(outcome, Accepted):
            for check in self.job.checks:
                found = check(outcome.entity)
                if found is not None:
                    return Rejection(outcome.position, mask_text(found.reason), found.field,
                                     self._sources.get(found.field), found.raw)  # fmt: skip
        return outcome


def _tally(rejections: Sequence[Rejection]) -> dict[str, int]:
    return dict(Counter(r.field or r.code for r in rejections))


# --- in worker processes ---------------------------------------------------------------------------------

_MAPPER: FrameMapper | None = None


def _watch_parent(parent: int) -> None:
    # a worker whose parent was killed (SIGKILL leaves no time to stop the pool) exits on its own
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def init_worker(job: Job, parent: int) -> None:
    """Set up a worker process: compile the mapping, leave signals to ``parent``, exit when it is gone.

    ``parent`` is the pid of the process that started the pool, passed explicitly: a parent killed while
    this worker was still starting must not be mistaken for whatever process adopted the worker.
    """
    global _MAPPER  # noqa: PLW0603 - one mapper per worker process, built once
    if os.getppid() != parent:
        os._exit(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the parent stops the pool when it is told to stop
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    _MAPPER = FrameMapper(job)
    # what was built so far lives as long as the process: keep the collector from walking it again
    gc.collect()
    gc.freeze()


def run_frame(frame: Frame) -> Batch:
    """Map a frame in a worker process set up by :func:`init_worker`."""
    if _MAPPER is None:  # pragma: no cover - the pool always runs the initializer first
        raise RuntimeError("worker not initialised")
    return _MAPPER(frame)
