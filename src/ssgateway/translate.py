"""Translate a legacy file to canonical JSON Lines through an inbound mapping, streaming.

Every record ends up in exactly one place: the output (accepted) or the rejects file (with its position,
field, reason and masked raw value). Outputs are written to temporary files and renamed into place only
when the whole input was read: an input that turns out unusable halfway leaves no partial output.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

from ssgateway.errors import InputError
from ssgateway.mapping import Accepted, InboundMapping, Rejection, read_csv, read_json, read_xml
from ssgateway.mapping.sources import Record

__all__ = ["TranslateSummary", "open_records", "position_key", "translate_file"]


@dataclass
class TranslateSummary:
    """Counts of a translation; ``read == accepted + rejected`` always."""

    read: int = 0
    accepted: int = 0
    rejected: int = 0
    seconds: float = 0.0

    @property
    def records_per_second(self) -> float:
        """Throughput."""
        return self.read / self.seconds if self.seconds > 0 else 0.0

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
    try:
        if spec.format == "csv":
            settings = spec.csv
            enc = encoding or (settings.encoding if settings else "utf-8-sig")
            delimiter = settings.delimiter if settings else ","
            with path.open(encoding=enc, errors="strict", newline="") as text:
                yield read_csv(text, source=name, delimiter=delimiter, required=mapping.columns)
        elif spec.format == "xml":
            if mapping.record_tag is None:  # pragma: no cover - an xml spec always has a record tag
                raise InputError(f"mapping {spec.ref} names no record element")
            with path.open("rb") as raw:
                yield read_xml(raw, record_tag=mapping.record_tag, source=name)
        else:
            with path.open("rb") as raw:
                records = spec.json_.records if spec.json_ else None
                yield read_json(raw, source=name, records=records, lines=path.suffix in (".jsonl", ".ndjson"))
    except FileNotFoundError:
        raise InputError(f"{name}: no such file") from None
    except LookupError as exc:
        raise InputError(f"unknown encoding {encoding!r}: {exc}") from None


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
) -> TranslateSummary:
    """Map every record of ``path`` to canonical JSON Lines.

    Accepted entities go to ``output`` (or ``stdout``), rejections to ``rejects``, both as JSON Lines.

    Raises:
        InputError: the input is unusable (undecodable, malformed or hostile XML, missing columns).
    """
    summary = TranslateSummary()
    key = position_key(mapping, path)
    start = time.perf_counter()
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
                if rej is not None:
                    rej.write(json.dumps(outcome.as_dict(key), ensure_ascii=False).encode() + b"\n")
    summary.seconds = time.perf_counter() - start
    return summary
