"""Contribution file drops: reading CSV drops fast and in order, the drop protocol, exactly-once ingestion.

Typical use, translating a file in batches (on every core for big files)::

    from ssgateway.drops import CsvTranslator

    with CsvTranslator(path, "golden-insurance/contribution-drop", encoding="gb18030") as translator:
        for batch in translator.batches():
            out.write(batch.output)  # canonical JSON Lines
            rejects.write(batch.rejects)

or, from async code, every record as an object::

    async for outcome in CsvTranslator(path, "golden-insurance/contribution-drop").records():
        ...  # Accepted(position, entity) or Rejection(position, reason, field, source, raw)
"""

from ssgateway.drops.pipeline import PARALLEL_MIN_BYTES, CsvTranslator, available_cpus
from ssgateway.drops.worker import Batch, Check, Cursor, Violation

__all__ = ["PARALLEL_MIN_BYTES", "Batch", "Check", "CsvTranslator", "Cursor", "Violation", "available_cpus"]
