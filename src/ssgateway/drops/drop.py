"""One drop: the three files of a stem, its manifest, its CSV verified against it, its records.

A drop is complete when its done marker exists (written last). :meth:`Drop.open` reads the manifest;
:meth:`Drop.verify` checks the source, the encoding and the SHA-256 of the CSV bytes; the records then
come through :class:`~ssgateway.drops.CsvTranslator` with the drop's own checks (no record after the
manifest's period; amounts against configured rates). Accepted plus rejected must equal the manifest's
record count, or the whole drop is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ssgateway.config import DropSourceConfig
from ssgateway.drops.checks import PeriodCeiling, RateCheck
from ssgateway.drops.manifest import Manifest, read_manifest
from ssgateway.drops.pipeline import CsvTranslator
from ssgateway.drops.worker import Check
from ssgateway.errors import InputError
from ssgateway.mapping import MappingCatalog, Outcome
from ssgateway.mapping.csvfile import CsvLimits, EncodingProbe

__all__ = ["Drop", "DropScan"]

_BLOCK = 1024 * 1024


@dataclass(frozen=True, slots=True)
class DropScan:
    """What reading a drop's CSV bytes once found."""

    sha256: str
    size: int
    encoding: str
    """The encoding the records are read with (``auto`` resolved)."""


@dataclass(frozen=True)
class Drop:
    """A complete drop (its done marker exists) and its validated manifest."""

    folder: Path
    stem: str
    manifest: Manifest
    received_at: datetime
    """When the drop was complete: the done marker's time. Every record's provenance carries it, so
    ingesting the same drop again gives the same bytes."""

    @property
    def csv(self) -> Path:
        """``<stem>.csv``."""
        return self.folder / f"{self.stem}.csv"

    @property
    def manifest_path(self) -> Path:
        """``<stem>.manifest.json``."""
        return self.folder / f"{self.stem}.manifest.json"

    @property
    def done(self) -> Path:
        """``<stem>.done``."""
        return self.folder / f"{self.stem}.done"

    @classmethod
    def open(cls, folder: Path, stem: str) -> Drop:
        """The drop ``stem`` of ``folder``.

        Raises:
            InputError: no done marker, no CSV file, a missing or invalid manifest.
        """
        done = folder / f"{stem}.done"
        try:
            marked = done.stat().st_mtime
        except FileNotFoundError:
            raise InputError(
                f"{stem}: no done marker: the drop is still being written", code="drop.incomplete"
            ) from None
        if not (folder / f"{stem}.csv").is_file():
            raise InputError(f"{stem}: the done marker is there but not {stem}.csv", code="drop.incomplete")
        manifest = read_manifest(folder / f"{stem}.manifest.json")
        return cls(folder, stem, manifest, datetime.fromtimestamp(marked, UTC))

    def verify(self, *, source: str | None = None, encoding: str | None = None) -> DropScan:
        """Read the CSV bytes once: check the manifest's source, encoding and SHA-256.

        Args:
            source: the source this folder is for; the manifest must name it.
            encoding: the source's configured encoding (None: as the manifest says; ``auto``: detect).

        Raises:
            InputError: another source, another encoding, a digest that does not match.
        """
        manifest = self.manifest
        if source is not None and manifest.source != source:
            raise InputError(
                f"{self.stem}: the manifest's source is {manifest.source!r}, this folder is for {source!r}",
                code="drop.source",
            )
        if encoding not in (None, "auto") and encoding != manifest.encoding:
            raise InputError(
                f"{self.stem}: the manifest says {manifest.encoding}, the source is set to {encoding}",
                code="drop.encoding",
            )
        digest, probe, size = hashlib.sha256(), EncodingProbe(), 0
        with self.csv.open("rb") as raw:
            while block := raw.read(_BLOCK):
                digest.update(block)
                size += len(block)
                if encoding == "auto":
                    probe.feed(block)
        probe.feed(b"", final=True)
        if digest.hexdigest() != manifest.sha256:
            raise InputError(
                f"{self.stem}: the CSV's SHA-256 is {digest.hexdigest()}, the manifest says {manifest.sha256}"
                " (changed or truncated in transit?)",
                code="drop.digest",
            )
        return DropScan(digest.hexdigest(), size, probe.encoding if encoding == "auto" else manifest.encoding)

    def checks(self, settings: DropSourceConfig | None = None) -> tuple[Check, ...]:
        """The checks records of this drop must pass besides their model."""
        rates = settings.rates if settings else ()
        period: list[Check] = [PeriodCeiling(self.manifest.period)]
        return (*period, RateCheck(rates)) if rates else tuple(period)

    def translator(
        self,
        scan: DropScan,
        settings: DropSourceConfig | None = None,
        *,
        catalog: MappingCatalog | None = None,
        workers: int | None = None,
        received_at: datetime | None = None,
    ) -> CsvTranslator:
        """A translator of this drop's records, with its checks, provenance and limits."""
        settings = settings or DropSourceConfig()
        return CsvTranslator(
            self.csv,
            settings.mapping,
            catalog=catalog or MappingCatalog(),
            encoding=scan.encoding,
            limits=CsvLimits(max_field=settings.max_field),
            source_system=self.manifest.source,
            received_at=received_at or self.received_at,
            checks=self.checks(settings),
            workers=workers,
        )

    async def records(
        self, settings: DropSourceConfig | None = None, *, catalog: MappingCatalog | None = None
    ) -> AsyncGenerator[Outcome, None]:
        """Verify the drop, then every record as ``Accepted`` or ``Rejection``, in file order.

        Records are yielded as they are read: consume them into something you can roll back, since a
        drop whose record count is not the manifest's raises at the end.

        Raises:
            InputError: the drop is unusable (digest, encoding, undecodable bytes, record count).
        """
        source = settings.encoding if settings else None
        scan = await asyncio.to_thread(self.verify, encoding=source)
        count = 0
        translator = self.translator(scan, settings, catalog=catalog, workers=0)
        async with contextlib.aclosing(translator.records()) as outcomes:
            async for outcome in outcomes:
                count += 1
                yield outcome
        if count != self.manifest.records:
            raise InputError(self.count_mismatch(count), code="drop.count")

    def count_mismatch(self, count: int) -> str:
        """The message for a CSV holding ``count`` records when the manifest says otherwise."""
        return f"{self.stem}: the manifest says {self.manifest.records} records, the CSV holds {count}"
