"""The ``civil-affairs`` adapter: an inbox of batches, each imported once through the event intake.

A batch is picked up when a file matching ``pattern`` appears in ``inbox`` (hidden files — names starting
with ``.`` — are ignored, so a sender writes ``.name.part`` and renames it when whole). Each row goes to
the gateway's event intake (``context.services["events"]``); rejected rows go to
``rejects/<batch>.rejects.jsonl`` with line, field and reason; the batch then moves to ``done/``. A batch
that cannot be read at all (undecodable, columns missing) moves to ``rejects/`` whole, with
``<batch>.error.txt`` saying why.

Nothing here needs to be exactly once: every event is deduplicated by the intake, so a batch imported
twice — after a crash before it was moved, or by two gateway replicas watching one shared folder — sends
nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ssgateway.errors import ConfigError, InputError, MappingError, NotFound, SSGatewayError
from ssgateway.sdk import AdapterContext, BaseAdapter, Health, InboundMapping, MappingCatalog

__all__ = ["CivilAffairsAdapter", "InboxConfig"]


class InboxConfig(BaseModel):
    """Settings of a ``civil-affairs`` partner: where batches arrive and how they are read."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    inbox: Path
    """Directory batches arrive in (relative paths resolve against the configuration file)."""
    done: Path | None = None
    """Where imported batches move (default: `<inbox>/done`)."""
    rejects: Path | None = None
    """Where rejected rows (`<batch>.rejects.jsonl`) and unreadable batches go (`<inbox>/rejects`)."""
    mapping: str = Field(default="civil-affairs/death-notice-csv", min_length=1)
    """Inbound mapping of the batches' format (to `DeathNotice`, or `SurvivalCertification`)."""
    pattern: str = Field(default="*.csv", min_length=1)
    """Which files of the inbox are batches (a glob)."""
    encoding: str | None = None
    """The batches' encoding (default: the mapping's)."""
    poll_interval: float = Field(default=10.0, gt=0)
    """Seconds between looks at the inbox."""


class CivilAffairsAdapter(BaseAdapter):
    """Imports civil affairs' batches from an inbox (see the module); it serves no operation itself."""

    name = "civil-affairs"
    version = "1.0"
    config_model = InboxConfig
    config: InboxConfig

    def __init__(self, config: InboxConfig, context: AdapterContext) -> None:
        super().__init__(config, context)
        self.inbox = context.resolve(config.inbox)
        self.done = context.resolve(config.done) if config.done else self.inbox / "done"
        self.rejects = context.resolve(config.rejects) if config.rejects else self.inbox / "rejects"
        self.imported = 0
        """Batches imported since start."""
        self.last_error: str | None = None
        self._mapping: InboundMapping | None = None
        self._events: Any = None
        self._watcher: asyncio.Task[None] | None = None

    def _fail(self, key: str, reason: str) -> ConfigError:
        return ConfigError(
            f"partner {self.context.partner!r} (civil-affairs): {reason}",
            key=f"partners.{self.context.partner}.config.{key}",
        )

    async def start(self) -> None:
        """Compile the mapping, create the directories, start watching the inbox.

        Raises:
            ConfigError: no event intake (the adapter runs inside a gateway only), an unknown mapping or
                one that does not produce events, a directory that cannot be created.
        """
        events = self.context.services.get("events")
        if events is None:
            raise self._fail(
                "inbox", "batches go to the gateway's event intake: run the adapter in a gateway"
            )
        catalog = self.context.services.get("mappings") or MappingCatalog()
        try:
            mapping = catalog.inbound(self.config.mapping)
        except (NotFound, MappingError) as exc:
            raise self._fail("mapping", exc.message) from exc
        if mapping.spec.entity not in ("DeathNotice", "SurvivalCertification"):
            raise self._fail("mapping", f"{mapping.spec.ref} maps {mapping.spec.entity}, not an event")
        try:
            for directory in (self.inbox, self.done, self.rejects):
                directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise self._fail("inbox", f"cannot create {exc.filename}: {exc.strerror}") from exc
        self._mapping, self._events = mapping, events
        self._watcher = asyncio.create_task(self._watch(), name=f"civil-affairs-{self.context.partner}")

    async def check(self) -> Health:
        """Ready while watching; the detail says how many batches wait and the last error, if any."""
        if self._watcher is None or self._watcher.done():
            return Health(ok=False, detail="not watching the inbox")
        waiting = len(self.waiting())
        detail = f"{waiting} batches waiting in {self.inbox}, {self.imported} imported"
        return Health(
            ok=True, detail=detail + (f"; last error: {self.last_error}" if self.last_error else "")
        )

    async def close(self) -> None:
        """Stop watching (a batch being imported stops midway; it is imported again on the next start)."""
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None

    def waiting(self) -> list[Path]:
        """The batches in the inbox, oldest name first."""
        return sorted(
            p for p in self.inbox.glob(self.config.pattern) if p.is_file() and not p.name.startswith(".")
        )

    async def _watch(self) -> None:
        while True:
            try:
                await self.poll()
            except SSGatewayError as exc:  # the store or the intake is down: try again later
                self.last_error = exc.message
                self.context.logger.warning("civil-affairs batches wait: %s", exc.code)
            await asyncio.sleep(self.config.poll_interval)

    async def poll(self) -> int:
        """Import every waiting batch now; how many were imported (or set aside as unreadable)."""
        if self._mapping is None:
            raise self._fail("inbox", "the adapter is not started")
        count = 0
        for batch in self.waiting():
            await self._import(batch, self._mapping)
            count += 1
        return count

    async def _import(self, batch: Path, mapping: InboundMapping) -> None:
        # Today's batch may carry yesterday's name: it is filed, with its rejects, under a name neither
        # done/ nor rejects/ holds yet, so no earlier batch's rejected rows are overwritten.
        name = _free_name(batch.name, self.done, self.rejects)
        rejects = self.rejects / f"{name}.rejects.jsonl"
        try:
            summary = await self._events.import_file(
                mapping,
                batch,
                rejects=rejects,
                encoding=self.config.encoding,
                source_system=self.context.partner,
            )
        except InputError as exc:
            if not batch.exists():  # another replica took it while this one started: nothing to do
                return
            # unusable as a whole: keep it, with the reason, where an operator looks
            (self.rejects / f"{name}.error.txt").write_text(exc.message + "\n", encoding="utf-8")
            _move(batch, self.rejects / name)
            self.last_error = exc.message
            self.context.logger.warning("civil-affairs batch %s refused: %s", batch.name, exc.code)
            return
        _move(batch, self.done / name)
        self.imported += 1
        # counts only: rows are personal data
        self.context.logger.info(
            "civil-affairs batch %s imported",
            batch.name,
            extra={
                "read": summary.read,
                "recorded": summary.recorded,
                "duplicates": summary.duplicates,
                "rejected": summary.rejected,
            },
        )


def _free_name(name: str, *directories: Path) -> str:
    """``name``, or ``stem.N.suffix`` with the first N that none of ``directories`` holds."""
    path = Path(name)
    candidate, n = name, 1
    while any((d / candidate).exists() for d in directories):
        candidate = f"{path.stem}.{n}{path.suffix}"
        n += 1
    return candidate


def _move(path: Path, target: Path) -> None:
    """Move ``path`` to ``target``. Gone already: another replica took it."""
    with contextlib.suppress(FileNotFoundError):
        path.replace(target)
