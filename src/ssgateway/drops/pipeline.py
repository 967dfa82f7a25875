"""Translating a CSV file through an inbound mapping in frames, in order, on every core.

The calling thread only reads the file and cuts it into frames of whole records; worker processes decode,
parse, map, check and serialise them, and the batches come back in file order. Memory stays flat: a few
frames are in flight at any time, whatever the file's size. Each batch ends at a record boundary, so a
consumer that records a batch's ``end`` can resume there.

Async callers get the same engine through :meth:`CsvTranslator.abatches` and :meth:`CsvTranslator.records`
(everything blocking runs in a worker thread, never on the event loop).
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import threading
from collections import deque
from collections.abc import AsyncGenerator, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TypeVar

from ssgateway.drops.worker import Batch, Check, Cursor, FrameMapper, Job, init_worker, run_frame
from ssgateway.errors import ConfigError, InputError
from ssgateway.mapping import InboundMapping, MappingCatalog, Outcome
from ssgateway.mapping.csvfile import CsvFile, CsvLayout, CsvLimits

__all__ = ["PARALLEL_MIN_BYTES", "CsvTranslator", "available_cpus"]

PARALLEL_MIN_BYTES = 8 * 1024 * 1024
"""Files smaller than this are translated in the calling process: starting workers would cost more."""

FRAME_BYTES = 128 * 1024
"""Bytes read at a time; a frame holds the whole records of about this much."""

T = TypeVar("T")


def _start_method() -> str:
    # fork starts workers at once and shares the parent's imports, but forking a process that runs other
    # threads (an event loop's executor, a database pool) can deadlock the child: spawn then
    try:
        single = len(list(Path("/proc/self/task").iterdir())) == 1
    except OSError:  # pragma: no cover - not Linux
        single = False
    return "fork" if single and "fork" in multiprocessing.get_all_start_methods() else "spawn"


def available_cpus() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


class CsvTranslator:
    """One CSV file translated through an inbound mapping, batch by batch.

    Nothing is read until :meth:`open` (or the first batch): then the mapping is compiled and the header
    read and checked, so an unusable file fails before any output.

    Args:
        path: the CSV file.
        mapping: an inbound CSV mapping: its id (``id`` or ``id@version``) or the compiled mapping.
        catalog: where the mapping and its code lists are found (default: the shipped mappings).
            Worker processes compile the mapping from it; a compiled mapping given without its catalog
            is used in the calling process only.
        encoding: one of ``gb18030``, ``gbk``, ``utf-8``, ``utf-8-sig`` or ``auto`` (default: the
            mapping's ``csv.encoding``).
        limits: field and record sizes.
        source_system: the source named in provenance (default: the mapping id).
        source_name: the name in provenance references and errors (default: the file's name).
        received_at: when the data was received (default: now).
        checks: rules mapped records must also satisfy; a record that breaks one is rejected.
        workers: worker processes; ``None`` picks one per CPU for files of at least
            :data:`PARALLEL_MIN_BYTES`, 0 or 1 works in the calling process.
        frame_bytes: bytes read at a time; a batch holds the whole records of about this much.
    """

    def __init__(
        self,
        path: Path,
        mapping: str | InboundMapping,
        *,
        catalog: MappingCatalog | None = None,
        encoding: str | None = None,
        limits: CsvLimits | None = None,
        source_system: str | None = None,
        source_name: str | None = None,
        received_at: datetime | None = None,
        checks: Sequence[Check] = (),
        workers: int | None = None,
        frame_bytes: int = FRAME_BYTES,
    ) -> None:
        self.path = Path(path)
        self._mapping, self._catalog = mapping, catalog
        self._encoding, self._limits = encoding, limits
        self.source_system, self.source_name = source_system, source_name or self.path.name
        self.received_at = received_at or datetime.now(UTC)
        self.checks = tuple(checks)
        self._workers, self.frame_bytes = workers, frame_bytes
        self._raw: IO[bytes] | None = None
        self._file: CsvFile | None = None
        self._compiled: InboundMapping | None = None
        self.size = 0
        """Bytes in the file (known once open)."""

    # --- opening ------------------------------------------------------------------------------------

    def open(self) -> CsvLayout:
        """Compile the mapping, open the file and check its header (once).

        Raises:
            InputError: no such file, undecodable or malformed header, missing or duplicate columns.
            ConfigError: not a CSV mapping, an unsupported encoding.
        """
        if self._file is not None:
            return self._file.layout
        mapping = self._mapping
        if isinstance(mapping, str):
            mapping = (self._catalog or MappingCatalog()).inbound(mapping)
        if mapping.spec.format != "csv":
            raise ConfigError(f"mapping {mapping.spec.ref} reads {mapping.spec.format}, not CSV")
        settings = mapping.spec.csv
        encoding = self._encoding or (settings.encoding if settings else "utf-8-sig")
        try:
            raw = self.path.open("rb")
        except FileNotFoundError:
            raise InputError(f"{self.path}: no such file", code="input.missing") from None
        except IsADirectoryError:
            raise InputError(f"{self.path}: is a directory, not a file", code="input.directory") from None
        try:
            self._file = CsvFile(
                raw,
                source=str(self.path),
                encoding=encoding,
                delimiter=settings.delimiter if settings else ",",
                required=mapping.columns,
                limits=self._limits,
            )
            self.size = os.fstat(raw.fileno()).st_size
        except BaseException:
            raw.close()
            raise
        self._raw, self._compiled = raw, mapping
        return self._file.layout

    @property
    def encoding(self) -> str:
        """The encoding the file is read with (``auto`` resolved), once open."""
        return self._file.declared if self._file else (self._encoding or "")

    @property
    def workers(self) -> int:
        """Worker processes the translation uses (0: the calling process)."""
        if self._catalog is None and isinstance(self._mapping, InboundMapping):
            return 0
        if self._workers is not None:
            return self._workers if self._workers > 1 else 0
        cpus = available_cpus()
        return cpus if cpus > 1 and self.size >= PARALLEL_MIN_BYTES else 0

    def close(self) -> None:
        """Close the file."""
        if self._raw is not None:
            self._raw.close()
            self._raw = self._file = None

    def __enter__(self) -> CsvTranslator:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- translating --------------------------------------------------------------------------------

    def _job(self, objects: bool) -> Job:
        assert self._file is not None and self._compiled is not None  # noqa: S101 - open() ran
        catalog = self._catalog or MappingCatalog()
        return Job(
            mapping=self._compiled.spec.ref,
            roots=tuple(str(root) for root in catalog.roots),
            source_name=self.source_name,
            layout=self._file.layout,
            limits=self._file.limits,
            received_at=self.received_at,
            source_system=self.source_system,
            checks=self.checks,
            objects=objects,
        )

    def batches(self, start: Cursor | None = None, *, objects: bool = False) -> Iterator[Batch]:
        """Batches of the records from the first (or from ``start``, an earlier batch's ``end``), in order.

        Args:
            start: where to resume.
            objects: keep outcomes as objects instead of JSON Lines (in the calling process).

        Raises:
            InputError: bytes that do not decode, a quote never closed (the whole file is unusable).
        """
        self.open()
        assert self._file is not None  # noqa: S101 - open() ran
        frames = self._file.frames(start, block=self.frame_bytes)
        job = self._job(objects)
        workers = 0 if objects else self.workers
        if workers == 0:
            mapper = FrameMapper(job, self._compiled)
            yield from map(mapper, frames)
            return
        context = multiprocessing.get_context(_start_method())
        pool = ProcessPoolExecutor(
            workers, mp_context=context, initializer=init_worker, initargs=(job, os.getpid())
        )
        pending: deque[Future[Batch]] = deque()
        try:
            for frame in frames:
                pending.append(pool.submit(run_frame, frame))
                if len(pending) > 2 * workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    async def abatches(self, start: Cursor | None = None) -> AsyncGenerator[Batch, None]:
        """:meth:`batches` for async code: the file is read and mapped off the event loop.

        Close it (``contextlib.aclosing``) when leaving early, so workers stop at once.
        """
        try:
            await asyncio.to_thread(self.open)
            async with contextlib.aclosing(_off_loop(self.batches(start))) as batches:
                async for batch in batches:
                    yield batch
        finally:
            await asyncio.to_thread(self.close)

    async def records(self, start: Cursor | None = None) -> AsyncGenerator[Outcome, None]:
        """Every record as an ``Accepted`` canonical entity or a ``Rejection``, in file order.

        Parsing and mapping run in a worker thread, never on the event loop.
        """
        try:
            await asyncio.to_thread(self.open)
            async with contextlib.aclosing(_off_loop(self.batches(start, objects=True))) as batches:
                async for batch in batches:
                    for outcome in batch.outcomes:
                        yield outcome
        finally:
            await asyncio.to_thread(self.close)


async def _off_loop(blocking: Iterator[T]) -> AsyncGenerator[T, None]:
    """Drive a blocking generator from async code, one step at a time in a worker thread."""
    lock = threading.Lock()  # closing waits for a step still running in its thread
    end = object()

    def step() -> object:
        with lock:
            return next(blocking, end)

    def close() -> None:
        with lock:
            getattr(blocking, "close", lambda: None)()

    try:
        while (item := await asyncio.to_thread(step)) is not end:
            yield item  # type: ignore[misc]  # not the end marker, so a T
    finally:
        await asyncio.to_thread(close)
