"""Contribution file drops: reading CSV drops fast and in order, the drop protocol, exactly-once ingestion.

Translating a file in batches (on every core for big files)::

    from ssgateway.drops import CsvTranslator

    with CsvTranslator(path, "golden-insurance/contribution-drop", encoding="gb18030") as translator:
        for batch in translator.batches():
            out.write(batch.output)  # canonical JSON Lines
            rejects.write(batch.rejects)

every record of a file or a drop as an object, from async code::

    async for outcome in CsvTranslator(path, "golden-insurance/contribution-drop").records():
        ...  # Accepted(position, entity) or Rejection(position, reason, field, source, raw)
    async for outcome in Drop.open(folder, "henan-202406").records():
        ...

and a folder of drops, each exactly once (``ssgateway drops ingest`` does this)::

    async with open_store("sqlite:///drops.db") as store:
        outcomes = await DropIngestor(folder, "henan-provincial", store).run_once()
"""

from ssgateway.drops.checks import PeriodCeiling, RateCheck
from ssgateway.drops.drop import Drop, DropScan
from ssgateway.drops.ingest import DropIngestor, DropOutcome
from ssgateway.drops.manifest import MANIFEST_FORMAT, Manifest, read_manifest
from ssgateway.drops.pipeline import PARALLEL_MIN_BYTES, CsvTranslator, available_cpus
from ssgateway.drops.worker import Batch, Check, Cursor, Violation

__all__ = [
    "MANIFEST_FORMAT",
    "PARALLEL_MIN_BYTES",
    "Batch",
    "Check",
    "CsvTranslator",
    "Cursor",
    "Drop",
    "DropIngestor",
    "DropOutcome",
    "DropScan",
    "Manifest",
    "PeriodCeiling",
    "RateCheck",
    "Violation",
    "available_cpus",
    "read_manifest",
]
