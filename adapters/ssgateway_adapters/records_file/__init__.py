"""``records-file``: answer lookups from canonical JSON Lines files (for example ingested drops).

A province that only delivers file drops has no service to ask; once its drops are translated to canonical
JSON Lines (``ssgateway translate`` / ``ssgateway drops ingest``), this adapter serves ``person.lookup`` and
``contributions.history`` from them. It indexes the files' byte offsets by citizen id at start-up and reads
a person's lines on demand, so memory grows with the number of records, not their size.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from ssgateway.errors import ConfigError, InputError, NotFound
from ssgateway.model import (
    ContributionHistory,
    ContributionRecord,
    HistoryQuery,
    Person,
    PersonQuery,
    PersonRecord,
)
from ssgateway.sdk import AdapterContext, BaseAdapter, Health, handles

__all__ = ["RecordsFileAdapter", "RecordsFileConfig"]

_ID_KEY = b'"citizen_id":"'


class RecordsFileConfig(BaseModel):
    """Settings of a ``records-file`` partner."""

    model_config = ConfigDict(extra="forbid")

    contributions: list[Path] = Field(default_factory=list)
    """JSON Lines files of ``ContributionRecord`` documents."""
    persons: list[Path] = Field(default_factory=list)
    """JSON Lines files of ``Person`` documents."""


Index = dict[str, list[tuple[Path, int]]]


def _citizen_id(line: bytes) -> str | None:
    start = line.find(_ID_KEY)
    if start < 0:
        return None
    start += len(_ID_KEY)
    return line[start : start + 18].decode("ascii", "replace")


def _index(paths: list[Path]) -> Index:
    index: Index = defaultdict(list)
    for path in paths:
        try:
            with path.open("rb") as fh:
                offset = 0
                for number, line in enumerate(fh, start=1):
                    if line.strip():
                        cid = _citizen_id(line)
                        if cid is None:
                            raise InputError(f"{path}:{number}: a line without citizen_id")
                        index[cid].append((path, offset))
                    offset += len(line)
        except OSError as exc:
            raise ConfigError(f"cannot read records file: {exc}", file=str(path)) from exc
    return dict(index)


def _read(entries: list[tuple[Path, int]]) -> list[bytes]:
    lines = []
    for path, offset in entries:
        with path.open("rb") as fh:
            fh.seek(offset)
            lines.append(fh.readline())
    return lines


class RecordsFileAdapter(BaseAdapter):
    """Serves lookups from canonical JSON Lines files."""

    name = "records-file"
    version = "1.0"
    config_model = RecordsFileConfig

    def __init__(self, config: RecordsFileConfig, context: AdapterContext) -> None:
        super().__init__(config, context)
        self._contributions: Index = {}
        self._persons: Index = {}

    async def start(self) -> None:
        """Index the files (in a worker thread: it reads them whole once)."""
        resolve = self.context.resolve
        self._contributions = await asyncio.to_thread(_index, [resolve(p) for p in self.config.contributions])
        self._persons = await asyncio.to_thread(_index, [resolve(p) for p in self.config.persons])

    async def check(self) -> Health:
        """Healthy when every file is still there."""
        missing = [
            str(p)
            for p in (*self.config.contributions, *self.config.persons)
            if not self.context.resolve(p).exists()
        ]
        return Health(ok=not missing, detail=f"missing: {', '.join(missing)}" if missing else None)

    @handles("person.lookup")
    async def lookup(self, request: PersonQuery) -> PersonRecord:
        """The person's document from the persons files."""
        entries = self._persons.get(request.citizen_id.reveal())
        if not entries:
            raise NotFound(
                f"no person {request.citizen_id} in {self.context.partner}", code="person.not_found"
            )
        lines = await asyncio.to_thread(_read, entries[-1:])
        return PersonRecord(person=Person.model_validate_json(lines[0]))

    @handles("contributions.history")
    async def history(self, request: HistoryQuery) -> ContributionHistory:
        """The person's records, filtered by the query's periods and insurance type."""
        entries = self._contributions.get(request.citizen_id.reveal(), [])
        lines = await asyncio.to_thread(_read, entries)
        records = [ContributionRecord.model_validate_json(line) for line in lines]
        kept = [
            r
            for r in records
            if (request.from_period is None or r.period >= request.from_period)
            and (request.to_period is None or r.period <= request.to_period)
            and (request.insurance_type is None or r.insurance_type.value is request.insurance_type)
        ]
        return ContributionHistory.merge(request.citizen_id, kept, insurance_type=request.insurance_type)
