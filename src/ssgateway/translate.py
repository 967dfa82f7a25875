"""Translate a legacy file to canonical JSON Lines through an inbound mapping, streaming.

Every record ends up in exactly one place: the output (accepted) or the rejects file (with its position,
field, reason and masked raw value). Outputs are written to temporary files and renamed into place only
when the whole input was read: an input that turns out unusable halfway leaves no partial output.

CSV files go through :class:`ssgateway.drops.CsvTranslator`: read in frames, mapped in batches on every
core for big files, written in file order. XML and JSON are mapped record by record.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from ssgateway.drops import Batch, CsvTranslator
from ssgateway.errors import InputError
from ssgateway.mapping import (
    Accepted,
    InboundMapping,
    MappingCatalog,
    Rejection,
    read_csv,
    read_json,
    read_xml,
)
from ssgateway.mapping.csvfile import CsvLimits
from ssgateway.mapping.sources import Record

__all__ = ["TranslateSummary", "open_records", "position_key", "translate_file"]


@dataclass
class TranslateSummary:
    """Counts of a translation; ``read == accepted + rejected`` always."""

    read: int = 0
    accepted: int = 0
    rejected: int = 0
    seconds: float = 0.0
    encoding: str | None = None
    """CSV: the encoding the file was read with (``auto`` resolved)."""
    workers: int = 0
    """CSV: worker processes used (0: the calling process)."""
    rejected_by: dict[str, int] = field(default_factory=dict)
    """Rejections by canonical field (or by code, for rows that never reached the mapping)."""

    @property
    def records_per_second(self) -> float:
        """Throughput."""
        return self.read / self.seconds if self.seconds > 0 else 0.0

    def add(self, batch: Batch) -> None:
        """Count a batch in."""
        self.read += batch.read
        self.accepted += batch.accepted
        self.rejected += batch.rejected
        for key, count in batch.rejected_by.items():
            self.rejected_by[key] = self.rejected_by.get(key, 0) + count

    def as_dict(self) -> dict[str, Any]:
        """The summary as JSON-ready data."""
        return {**asdict(self), "records_per_second": round(self.records_per_second, 1)}


def position_key(mapping: InboundMapping, path: Path) -> str:
    """What a position means for this input: ``line`` (CSV, JSON Lines), ``element`` (XML), ``item``."""
    if mapping.spec.format == "xml":
        return "element"
    if mapping.spec.format == "json" and path.suffix not in (".jsonl", ".ndjson"):
        return "item"
    return "line"


@contextlib.contextmanager
def open_records(
    mapping: InboundMapping, path: Path, encoding: str | None = None
) -> Iterator[Iterator[Record]]:
    """Open ``path`` with the reader the mapping's format needs and yield its records."""
    spec = mapping.spec
    name = str(path)
    if path.is_dir():
        raise InputError(f"{name}: is a directory, not a file", code="input.directory")
    try:
        with path.open("rb") as raw:
            if spec.format == "csv":
                settings = spec.csv
                yield read_csv(
                    raw,
                    source=name,
                    delimiter=settings.delimiter if settings else ",",
                    required=mapping.columns,
                    encoding=encoding or (settings.encoding if settings else "utf-8-sig"),
                )
            elif spec.format == "xml":
                if mapping.record_tag is None:  # pragma: no cover - an xml spec always has a record tag
                    raise InputError(f"mapping {spec.ref} names no record element")
                yield read_xml(raw, record_tag=mapping.record_tag, source=name)
            else:
                records = spec.json_.records if spec.json_ else None
                yield read_json(raw, source=name, records=records, lines=path.suffix in (".jsonl", ".ndjson"))
    except FileNotFoundError:
        raise InputError(f"{name}: no such file", code="input.missing") from None


@contextlib.contextmanager
def _atomic(target: Path | None) -> Iterator[IO[bytes] | None]:
    if target is None:
        yield None
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
        Path(tmp).replace(target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def translate_file(
    mapping: InboundMapping,
    path: Path,
    *,
    output: Path | None,
    rejects: Path | None,
    encoding: str | None = None,
    source_system: str | None = None,
    stdout: IO[bytes] | None = None,
    catalog: MappingCatalog | None = None,
    workers: int | None = None,
    limits: CsvLimits | None = None,
    progress: Callable[[int, int, TranslateSummary], None] | None = None,
) -> TranslateSummary:
    """Map every record of ``path`` to canonical JSON Lines.

    Accepted entities go to ``output`` (or ``stdout``), rejections to ``rejects``, both as JSON Lines.

    Args:
        mapping: the compiled inbound mapping.
        path: the input file.
        output: where accepted records go (written whole or not at all).
        rejects: where rejections go (same).
        encoding: CSV: the file's encoding, or ``auto`` (default: the mapping's).
        source_system: the source named in provenance (default: the mapping id).
        stdout: where accepted records go when ``output`` is None.
        catalog: the catalog the mapping came from; CSV files are then mapped in worker processes too.
        workers: CSV: worker processes (``None``: one per CPU for big files; 0: this process).
        limits: CSV: field and record sizes.
        progress: CSV: called after each batch with the bytes done, the file's size and the counts so far.

    Raises:
        InputError: the input is unusable (undecodable, malformed or hostile XML, missing columns), or it
            or an output path is a directory.
    """
    summary = TranslateSummary()
    start = time.perf_counter()
    for target in (output, rejects):  # refused before the input is read, however long it is
        if target is not None and target.is_dir():
            raise InputError(f"{target}: is a directory; name a file to write", code="output.directory")
    if mapping.spec.format == "csv":
        translator = CsvTranslator(
            path,
            mapping if catalog is None else mapping.spec.ref,
            catalog=catalog,
            encoding=encoding,
            limits=limits,
            source_system=source_system,
            workers=workers,
        )
        with translator, _atomic(output) as out, _atomic(rejects) as rej:
            sink = out or stdout
            summary.encoding, summary.workers = translator.encoding, translator.workers
            for batch in translator.batches():
                summary.add(batch)
                if sink is not None:
                    sink.write(batch.output)
                if rej is not None:
                    rej.write(batch.rejects)
                if progress is not None:
                    progress(batch.end.offset, translator.size, summary)
        summary.seconds = time.perf_counter() - start
        return summary
    key = position_key(mapping, path)
    with open_records(mapping, path, encoding) as records, _atomic(output) as out, _atomic(rejects) as rej:
        sink = out or stdout
        to_json = mapping.model.__pydantic_serializer__.to_json
        for outcome in mapping.map_records(records, source_system=source_system, source_name=path.name):
            summary.read += 1
            if isinstance(outcome, Accepted):
                summary.accepted += 1
                if sink is not None:
                    sink.write(to_json(outcome.entity) + b"\n")
            elif isinstance(outcome, Rejection):
                summary.rejected += 1
                summary.rejected_by[outcome.field or outcome.code] = (
                    summary.rejected_by.get(outcome.field or outcome.code, 0) + 1
                )
                if rej is not None:
                    rej.write(json.dumps(outcome.as_dict(key), ensure_ascii=False).encode() + b"\n")
    summary.seconds = time.perf_counter() - start
    return summary
