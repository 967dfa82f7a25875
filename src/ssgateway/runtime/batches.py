"""Batches of events from a file (a civil-affairs CSV of deaths): each record goes the way a push goes.

Each record is mapped with an inbound mapping to the canonical event; an accepted one goes to
:meth:`EventIntake.notify <ssgateway.runtime.events.EventIntake.notify>` — the dedupe and fan-out a pushed
notice gets, so a death pushed yesterday and listed again in today's batch is one event — and a rejected
one to the rejects file with its line, field and reason (raw values masked). Nothing is dropped: every
record is recorded, found to be a repeat, or rejected.

Importing the same file again is safe (every event in it is a repeat), so an import cut short by a crash or
a store outage is simply run again.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ssgateway.errors import ConfigError
from ssgateway.mapping import Accepted, InboundMapping
from ssgateway.model import DeathNotice, SurvivalCertification
from ssgateway.translate import open_records, position_key

if TYPE_CHECKING:
    from ssgateway.runtime.events import EventIntake

__all__ = ["ImportSummary", "event_operation", "import_events"]


@dataclass
class ImportSummary:
    """What an import did; ``read == recorded + duplicates + rejected`` always."""

    read: int = 0
    recorded: int = 0
    """Events seen for the first time (fanned out now)."""
    duplicates: int = 0
    """Events received before (pushed, or in an earlier batch): nothing new was sent."""
    rejected: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """The summary as JSON-ready data."""
        return asdict(self)


def event_operation(mapping: InboundMapping) -> str:
    """The event a mapping produces: ``deaths.notify`` (``DeathNotice``) or ``survival.report``.

    Raises:
        ConfigError: the mapping produces something else.
    """
    if mapping.model is DeathNotice:
        return "deaths.notify"
    if mapping.model is SurvivalCertification:
        return "survival.report"
    raise ConfigError(
        f"mapping {mapping.spec.ref} maps {mapping.spec.entity}; "
        "events are DeathNotice or SurvivalCertification"
    )


async def import_events(
    intake: EventIntake,
    mapping: InboundMapping,
    path: Path,
    *,
    rejects: Path | None,
    encoding: str | None = None,
    source_system: str | None = None,
) -> ImportSummary:
    """Record and fan out every event of ``path``; write the records that do not map to ``rejects``.

    Args:
        intake: where events go.
        mapping: the inbound mapping of the file's format.
        path: the file.
        rejects: JSON Lines of rejected records (written whole once the file was read; an empty file
            when none was rejected); None keeps no rejects, for callers that only count.
        encoding: the file's encoding (default: the mapping's).
        source_system: named in each event's provenance (default: the mapping id).

    Raises:
        InputError: the file is unusable as a whole (undecodable, missing columns).
        StoreUnavailable: the store went away; what was recorded stays, run the import again.
    """
    operation = event_operation(mapping)
    summary = ImportSummary()
    where = position_key(mapping, path)
    rejected: list[str] = []
    start = time.perf_counter()
    with open_records(mapping, path, encoding) as records:
        for outcome in mapping.map_records(records, source_system=source_system, source_name=path.name):
            summary.read += 1
            if isinstance(outcome, Accepted):
                receipt = await intake.notify(operation, outcome.entity)
                if receipt.duplicate:
                    summary.duplicates += 1
                else:
                    summary.recorded += 1
            else:
                summary.rejected += 1
                rejected.append(json.dumps(outcome.as_dict(where), ensure_ascii=False))
    if rejects is not None:
        rejects.parent.mkdir(parents=True, exist_ok=True)
        partial = rejects.with_name(f".{rejects.name}.part")
        partial.write_text("".join(f"{line}\n" for line in rejected), encoding="utf-8")
        partial.replace(rejects)
    summary.seconds = time.perf_counter() - start
    return summary
