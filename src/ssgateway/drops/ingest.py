"""Ingesting a folder of drops exactly once, resuming where a killed process stopped.

Each drop is known by the SHA-256 of its CSV bytes. Its progress is a checkpoint in the store,
``drops/<source>/<sha256>``, written with compare-and-set:

- the first ingester to write it owns the drop; a drop already ``done`` is a duplicate (whatever its
  name) and is moved to ``duplicates/``;
- while translating, every ``checkpoint_every`` records the staged outputs are synced, then the
  checkpoint records their sizes with the input's byte offset and line. A restart truncates the staged
  outputs to those sizes and reads on from that offset: the final files equal an uninterrupted run's,
  byte for byte;
- a drop whose owner died (same host: its process is gone; another host: no checkpoint for ``lease``
  seconds) is taken over. A takeover from another host copies the staged outputs, so a stalled owner
  that wakes up cannot write into the new owner's files, and its next checkpoint fails;
- at the end the record count is checked against the manifest, the outputs are renamed into place (they
  appear whole or not at all), the checkpoint says ``done``, and the drop moves to ``processed/``.

A drop that is unusable as a whole (manifest, digest, encoding, undecodable bytes, record count) moves to
``failed/`` with an error report and nothing is emitted. Problems of the machine (store down, disk full)
leave the drop where it is, to be resumed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import socket
import time
import uuid
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Literal

from ssgateway.config import DropSourceConfig
from ssgateway.drops.drop import Drop, DropScan
from ssgateway.drops.folder import DUPLICATES, FAILED, PROCESSED, free_name, move_drop, ready_stems
from ssgateway.drops.manifest import read_manifest
from ssgateway.drops.worker import Batch, Cursor
from ssgateway.errors import InputError, StoreUnavailable
from ssgateway.mapping import MappingCatalog
from ssgateway.reliability import CheckpointConflict, Store

__all__ = ["DropIngestor", "DropOutcome"]

log = logging.getLogger("ssgateway.drops")

Status = Literal["ingested", "duplicate", "failed", "busy", "interrupted"]


@dataclass
class DropOutcome:
    """What became of one drop."""

    stem: str
    status: Status
    """``ingested``; ``duplicate`` (already ingested); ``failed`` (moved to ``failed/``); ``busy``
    (another ingester owns it); ``interrupted`` (stopped on request, resumable)."""
    message: str
    sha256: str | None = None
    read: int = 0
    accepted: int = 0
    rejected: int = 0
    rejected_by: dict[str, int] = field(default_factory=dict)
    output: str | None = None
    rejects: str | None = None
    resumed_from: int | None = None
    """The line a resumed ingestion went on from."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)


def _process_start(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # field 22: start time, after the command name


def _me() -> dict[str, Any]:
    return {"host": socket.gethostname(), "pid": os.getpid(), "start": _process_start(os.getpid())}


def _alive(owner: dict[str, Any]) -> bool | None:
    """Whether the owning process still runs (None: on another host, unknown)."""
    if owner.get("host") != socket.gethostname():
        return None
    start = _process_start(int(owner.get("pid", 0)))
    return start is not None and start == owner.get("start")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


_INGESTING: set[str] = set()
"""Checkpoints of the drops this process is ingesting right now. One that names this process as its owner
but is not here was left by an attempt that stopped on an error (disk full, store down): it is resumed."""


@dataclass
class _Claim:
    """The checkpoint of a drop this ingester owns: its name, state and the version last written."""

    name: str
    state: dict[str, Any]
    version: int

    async def put(self, store: Store) -> None:
        self.version = await store.checkpoints.put(self.name, self.state, self.version)


ProgressFn = Callable[[Drop, int, int, "DropOutcome"], None]
"""Called after each batch with the drop, bytes done, bytes in all and the counts so far."""


class DropIngestor:
    """Ingests the complete drops of one source's folder.

    Args:
        folder: where the drops arrive.
        source: the source the folder is for (each manifest must name it).
        store: where checkpoints live (SQLite or PostgreSQL).
        settings: the source's settings (mapping, encoding, field limit, rates).
        output: where canonical JSON Lines go (default: ``folder/output``).
        catalog: where mappings are found.
        checkpoint_every: records between checkpoints.
        lease: seconds without a checkpoint after which an owner on another host is taken over.
        workers: worker processes per drop (None: one per CPU for big files).
        progress: called after each batch.
    """

    def __init__(
        self,
        folder: Path,
        source: str,
        store: Store,
        *,
        settings: DropSourceConfig | None = None,
        output: Path | None = None,
        catalog: MappingCatalog | None = None,
        checkpoint_every: int = 50_000,
        lease: float = 300.0,
        workers: int | None = None,
        progress: ProgressFn | None = None,
    ) -> None:
        self.folder, self.source, self.store = Path(folder), source, store
        self.settings = settings or DropSourceConfig()
        self.output = Path(output) if output else self.folder / "output"
        self.catalog = catalog or MappingCatalog()
        self.checkpoint_every, self.lease, self.workers = checkpoint_every, lease, workers
        self.progress = progress
        self.stop = asyncio.Event()
        """Set it to stop after the current batch (with a checkpoint); the drop resumes next time."""

    # --- the folder ----------------------------------------------------------------------------------

    async def run_once(self) -> list[DropOutcome]:
        """Handle every complete drop in the folder, oldest first."""
        outcomes = []
        for stem in await asyncio.to_thread(ready_stems, self.folder):
            if self.stop.is_set():
                break
            outcomes.append(await self.ingest(stem))
        return outcomes

    async def watch(self, interval: float, on_outcome: Callable[[DropOutcome], None]) -> None:
        """Keep handling drops as they complete until :attr:`stop` is set.

        A drop left to another ingester is reported once, not at every look. When the store or the disk
        fails, the error is logged and the folder looked at again after ``interval``.
        """
        reported: dict[str, str] = {}
        while not self.stop.is_set():
            try:
                for outcome in await self.run_once():
                    if outcome.status != "busy" or reported.get(outcome.stem) != outcome.message:
                        on_outcome(outcome)
                    reported[outcome.stem] = outcome.message
            except (StoreUnavailable, OSError, BrokenProcessPool) as exc:
                log.warning("drops: %s; trying again in %s s", exc, interval)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), interval)

    # --- one drop -----------------------------------------------------------------------------------

    async def ingest(self, stem: str) -> DropOutcome:
        """Handle the drop ``stem``: ingest it, resume it, or set it aside as a duplicate or a failure."""
        try:
            drop = await asyncio.to_thread(Drop.open, self.folder, stem)
            scan = await asyncio.to_thread(drop.verify, source=self.source, encoding=self.settings.encoding)
        except InputError as exc:
            if exc.code == "drop.incomplete" and not (self.folder / f"{stem}.done").exists():
                return DropOutcome(stem, "busy", "moved away by another ingester")
            if exc.code == "drop.incomplete":  # the done marker but no CSV: a move a killed process began?
                moving = await self._unfinished_move(stem)
                if moving is not None:
                    return moving
            return await self._fail(stem, exc, digest=None)
        name = f"drops/{self.source}/{scan.sha256}"
        checkpoint = await self.store.checkpoints.get(name)
        state = checkpoint.state if checkpoint else None
        version = checkpoint.version if checkpoint else 0
        if state is not None and state["status"] == "done":
            return await self._already_done(drop, scan, _Claim(name, state, version))
        fence = False
        if state is not None and state["status"] in ("running", "finalizing"):
            alive = _alive(state["owner"])
            if alive and state["owner"] == _me() and name not in _INGESTING:
                alive = False  # this process's own attempt, abandoned on an error: resume it
            if alive or (alive is None and time.time() - state["heartbeat"] < self.lease):
                owner = state["owner"]
                return DropOutcome(
                    stem, "busy", f"being ingested by {owner['host']}:{owner['pid']}", scan.sha256
                )
            fence = alive is None  # the owner may still run somewhere: stage into files of our own
            state = {**state, "owner": _me(), "heartbeat": time.time(), "resumed_from": state["line"] or None}
        else:  # new, or failed before: start over
            state = await asyncio.to_thread(self._fresh, drop, scan)
        claim = _Claim(name, state, version)
        try:
            await claim.put(self.store)
        except CheckpointConflict:
            return DropOutcome(stem, "busy", "claimed by another ingester just now", scan.sha256)
        _INGESTING.add(name)
        try:
            if fence:
                await self._fence(claim)
            if claim.state["status"] == "running":
                outcome = await self._translate(drop, scan, claim)
                if outcome is not None:
                    return outcome
            return await self._finish(drop, scan, claim)
        except CheckpointConflict:
            return DropOutcome(stem, "busy", "taken over by another ingester", scan.sha256)
        except InputError as exc:
            await asyncio.to_thread(self._discard, claim.state)
            claim.state = {"status": "failed", "stem": stem, "code": exc.code, "error": exc.message}
            with contextlib.suppress(CheckpointConflict):
                await claim.put(self.store)
            return await self._fail(stem, exc, digest=scan.sha256)
        finally:
            _INGESTING.discard(name)

    def _fresh(self, drop: Drop, scan: DropScan) -> dict[str, Any]:
        name = free_name(
            drop.stem, scan.sha256, self.output / "{}.jsonl", self.folder / PROCESSED / "{}.done"
        )
        return {
            "status": "running", "stem": drop.stem, "name": name, "token": uuid.uuid4().hex[:12],
            "sha256": scan.sha256, "records": drop.manifest.records,
            "received_at": drop.received_at.isoformat(),
            "started_at": _now(), "owner": _me(), "heartbeat": time.time(), "offset": 0, "line": 0,
            "out": 0, "rejects": 0, "read": 0, "accepted": 0, "rejected": 0, "rejected_by": {},
        }  # fmt: skip

    def _staged(self, state: dict[str, Any]) -> tuple[Path, Path]:
        partial = self.output / ".partial"
        stem = f"{state['name']}.{state['token']}"
        return partial / f"{stem}.jsonl", partial / f"{stem}.rejects.jsonl"

    def _final(self, state: dict[str, Any]) -> tuple[Path, Path]:
        return self.output / f"{state['name']}.jsonl", self.output / f"{state['name']}.rejects.jsonl"

    async def _fence(self, claim: _Claim) -> None:
        state = claim.state
        if state["status"] != "running":  # finalizing: the staged files are complete, only renamed
            return
        old = self._staged(state)
        stale = [*state.get("stale", []), state["token"]]  # removed once the drop is done
        claim.state = state = {**state, "token": uuid.uuid4().hex[:12], "stale": stale}

        def copy() -> None:
            sizes = (state["out"], state["rejects"])
            for source, target, size in zip(old, self._staged(state), sizes, strict=True):
                if source.exists():
                    with source.open("rb") as src, target.open("wb") as dst:
                        shutil.copyfileobj(src, dst)
                        dst.truncate(size)

        await asyncio.to_thread(copy)
        await claim.put(self.store)

    def _open_staged(self, state: dict[str, Any]) -> tuple[IO[bytes], IO[bytes]]:
        paths = self._staged(state)
        paths[0].parent.mkdir(parents=True, exist_ok=True)
        sizes = (state["out"], state["rejects"])
        if any((p.stat().st_size if p.exists() else 0) < size for p, size in zip(paths, sizes, strict=True)):
            # the staged outputs lost what the checkpoint counts (deleted by hand?): start the drop over
            state.update(offset=0, line=0, out=0, rejects=0, read=0, accepted=0, rejected=0, rejected_by={})
            sizes = (0, 0)
        files = []
        for path, size in zip(paths, sizes, strict=True):
            handle = path.open("r+b" if path.exists() else "w+b")
            handle.truncate(size)  # whatever was written after the checkpoint is written again
            handle.seek(size)
            files.append(handle)
        return files[0], files[1]

    async def _checkpoint(self, claim: _Claim, files: tuple[IO[bytes], IO[bytes]]) -> None:
        def sync() -> None:
            for handle in files:
                handle.flush()
                os.fsync(handle.fileno())

        await asyncio.to_thread(sync)  # the data is durable before the checkpoint counts it
        claim.state.update(out=files[0].tell(), rejects=files[1].tell(), heartbeat=time.time())
        await claim.put(self.store)

    async def _translate(self, drop: Drop, scan: DropScan, claim: _Claim) -> DropOutcome | None:
        state = claim.state
        files = await asyncio.to_thread(self._open_staged, state)
        received_at = datetime.fromisoformat(state["received_at"])  # the first run's, whatever happened since
        translator = drop.translator(
            scan, self.settings, catalog=self.catalog, workers=self.workers, received_at=received_at
        )
        start = Cursor(state["offset"], state["line"]) if state["offset"] else None
        counts = DropOutcome(drop.stem, "ingested", "", scan.sha256)

        def write(batch: Batch) -> None:
            files[0].write(batch.output)
            files[1].write(batch.rejects)

        try:
            since = 0
            async with contextlib.aclosing(translator.abatches(start)) as batches:
                async for batch in batches:
                    await asyncio.to_thread(write, batch)
                    state.update(offset=batch.end.offset, line=batch.end.line,
                                 read=state["read"] + batch.read, accepted=state["accepted"] + batch.accepted,
                                 rejected=state["rejected"] + batch.rejected)  # fmt: skip
                    for key, count in batch.rejected_by.items():
                        state["rejected_by"][key] = state["rejected_by"].get(key, 0) + count
                    since += batch.read
                    if since >= self.checkpoint_every or self.stop.is_set():
                        await self._checkpoint(claim, files)
                        since = 0
                    if self.progress is not None:
                        counts.read, counts.rejected = state["read"], state["rejected"]
                        self.progress(drop, batch.end.offset, scan.size, counts)
                    if self.stop.is_set():
                        message = f"stopped at line {state['line']}; it resumes there next time"
                        return DropOutcome(drop.stem, "interrupted", message, scan.sha256)
            if state["read"] != drop.manifest.records:
                raise InputError(drop.count_mismatch(state["read"]), code="drop.count")
            await self._checkpoint(claim, files)
        finally:
            for handle in files:
                handle.close()
        state["status"] = "finalizing"
        await claim.put(self.store)
        return None

    async def _finish(self, drop: Drop, scan: DropScan, claim: _Claim) -> DropOutcome:
        state = claim.state

        def publish() -> None:
            self.output.mkdir(parents=True, exist_ok=True)
            for staged, final in zip(self._staged(state), self._final(state), strict=True):
                if staged.exists():  # else renamed before a restart
                    staged.replace(final)
            for token in state.get("stale", ()):  # what owners taken over had staged
                for path in self._staged({**state, "token": token}):
                    path.unlink(missing_ok=True)
            directory = os.open(self.output, os.O_RDONLY)
            try:
                os.fsync(directory)  # the renames are durable before the checkpoint says done
            finally:
                os.close(directory)

        await asyncio.to_thread(publish)
        state.update(status="done", finished_at=_now())
        state.pop("owner", None)
        await claim.put(self.store)
        return await self._processed(drop, scan, claim)

    async def _processed(self, drop: Drop, scan: DropScan, claim: _Claim) -> DropOutcome:
        """Move the drop to ``processed/``, then record in its checkpoint that it was moved."""
        state = claim.state
        output, rejects = self._final(state)
        manifest = drop.manifest
        report = {
            "stem": drop.stem, "sha256": scan.sha256, "source": manifest.source,
            "region": str(manifest.region), "period": str(manifest.period), "records": manifest.records,
            "accepted": state["accepted"], "rejected": state["rejected"], "rejected_by": state["rejected_by"],
            "output": str(output), "rejects": str(rejects), "received_at": state["received_at"],
            "started_at": state["started_at"], "finished_at": state.get("finished_at"),
        }  # fmt: skip
        await asyncio.to_thread(
            move_drop, self.folder, drop.stem, PROCESSED, name=state["name"], report=report
        )
        if not state.get("moved"):
            state["moved"] = True  # a later delivery of these bytes is a duplicate, whatever processed/ holds
            with contextlib.suppress(CheckpointConflict):  # another ingester finished the same move
                await claim.put(self.store)
        log.info("drop ingested", extra={"stem": drop.stem, "records": manifest.records})
        return DropOutcome(
            drop.stem, "ingested",
            f"{state['accepted']:,} accepted, {state['rejected']:,} rejected → {output}",
            scan.sha256, state["read"], state["accepted"], state["rejected"], dict(state["rejected_by"]),
            str(output), str(rejects), state.get("resumed_from"),
        )  # fmt: skip

    async def _already_done(self, drop: Drop, scan: DropScan, claim: _Claim) -> DropOutcome:
        state = claim.state
        if state["stem"] == drop.stem and not self._moved(state):
            return await self._processed(drop, scan, claim)  # a move a killed process did not finish
        name = self._duplicate_name(drop.stem, scan.sha256)
        report = {"stem": drop.stem, "sha256": scan.sha256, "duplicate_of": state["stem"],
                  "ingested_at": state.get("finished_at"), "output": str(self._final(state)[0])}  # fmt: skip
        await asyncio.to_thread(move_drop, self.folder, drop.stem, DUPLICATES, name=name, report=report)
        message = f"already ingested as {state['stem']} ({state.get('finished_at')}): moved to {DUPLICATES}/"
        return DropOutcome(drop.stem, "duplicate", message, scan.sha256)

    def _moved(self, state: dict[str, Any]) -> bool:
        """Whether a done drop was moved to ``processed/`` (which may have been purged since).

        The checkpoint records it; one written before that was recorded, or by a process killed between
        the move and the record, is told by the done marker in ``processed/``.
        """
        return bool(state.get("moved")) or (self.folder / PROCESSED / f"{state['name']}.done").exists()

    def _duplicate_name(self, stem: str, sha256: str) -> str:
        return free_name(stem, sha256, self.folder / DUPLICATES / "{}.done")

    async def _unfinished_move(self, stem: str) -> DropOutcome | None:
        """Finish moving a drop whose CSV a killed process already moved (None: not such a drop).

        The manifest names the digest; a checkpoint that says that drop is done means its outputs are
        published and only the rest of its files are still to move, to ``processed/`` or ``duplicates/``.
        """
        try:
            manifest = await asyncio.to_thread(read_manifest, self.folder / f"{stem}.manifest.json")
        except InputError:
            return None
        name = f"drops/{self.source}/{manifest.sha256}"
        checkpoint = await self.store.checkpoints.get(name)
        if checkpoint is None or checkpoint.state["status"] != "done":
            return None
        state, sha256 = checkpoint.state, manifest.sha256
        if state["stem"] == stem and not self._moved(state):
            moved_csv = self.folder / PROCESSED / f"{state['name']}.csv"
        else:
            moved_csv = self.folder / DUPLICATES / f"{self._duplicate_name(stem, sha256)}.csv"
        if not moved_csv.exists():
            return None  # the CSV was lost, not moved: the drop fails
        received_at = datetime.fromisoformat(state["received_at"])
        drop = Drop(self.folder, stem, manifest, received_at)
        scan = DropScan(manifest.sha256, 0, manifest.encoding)
        log.info("drops: finishing the move of %s", stem)
        return await self._already_done(drop, scan, _Claim(name, state, checkpoint.version))

    def _discard(self, state: dict[str, Any]) -> None:
        for path in self._staged(state):
            path.unlink(missing_ok=True)

    async def _fail(self, stem: str, exc: InputError, *, digest: str | None) -> DropOutcome:
        key = digest or datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        name = free_name(stem, key, self.folder / FAILED / "{}.done", self.folder / FAILED / "{}.error.json")
        report = {"stem": stem, "code": exc.code, "error": exc.message, "sha256": digest, "failed_at": _now()}
        path = await asyncio.to_thread(move_drop, self.folder, stem, FAILED, name=name, report=report)
        log.warning("drop failed", extra={"stem": stem, "code": exc.code})
        return DropOutcome(stem, "failed", f"{exc.message} → {path}", digest)
