"""The drop folder: which drops are complete, and where they go once handled.

```text
DIR/<stem>.csv, <stem>.manifest.json, <stem>.done   delivered (complete once the done marker is there)
DIR/processed/<name>.* and <name>.summary.json      ingested
DIR/failed/<name>.* and <name>.error.json           refused as a whole: nothing was emitted
DIR/duplicates/<name>.* and <name>.duplicate.json   the same CSV bytes were already ingested
```

Files move with ``os.replace`` (atomic within a file system), the done marker last, after the report:
a drop whose marker is in ``processed/`` was moved completely.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["DUPLICATES", "FAILED", "PROCESSED", "SUFFIXES", "free_name", "move_drop", "ready_stems"]

PROCESSED, FAILED, DUPLICATES = "processed", "failed", "duplicates"
SUFFIXES = (".csv", ".manifest.json", ".done")
"""A drop's files, in the order they are moved (the done marker last)."""
_REPORT = {PROCESSED: "summary", FAILED: "error", DUPLICATES: "duplicate"}


def ready_stems(folder: Path) -> list[str]:
    """Stems whose done marker exists, the oldest marker first (a drop without one is left alone)."""
    found = []
    for marker in folder.glob("*.done"):
        try:
            found.append((marker.stat().st_mtime, marker.name[: -len(".done")]))
        except FileNotFoundError:  # moved away meanwhile by another ingester
            continue
    return [stem for _when, stem in sorted(found)]


def free_name(stem: str, digest: str, *taken: Path) -> str:
    """``stem``, or ``<stem>.<digest prefix>`` when a ``taken`` path (``{}`` stands for the name) exists."""
    for name in (stem, f"{stem}.{digest[:12]}"):
        if not any(Path(str(path).format(name)).exists() for path in taken):
            return name
    count = 2
    while any(Path(str(path).format(f"{stem}.{digest[:12]}.{count}")).exists() for path in taken):
        count += 1
    return f"{stem}.{digest[:12]}.{count}"


def move_drop(
    folder: Path, stem: str, to: str, *, name: str | None = None, report: dict[str, Any] | None = None
) -> Path:
    """Move a drop's files to ``folder/to/`` as ``name`` (default: the stem), with its report.

    Returns:
        The report's path (written even when no report is given: the move is then what it records).
    """
    target = folder / to
    target.mkdir(exist_ok=True)
    name = name or stem
    report_path = target / f"{name}.{_REPORT[to]}.json"
    report_path.write_text(json.dumps(report or {"stem": stem}, ensure_ascii=False, indent=2) + "\n", "utf-8")
    for suffix in SUFFIXES:
        try:
            (folder / f"{stem}{suffix}").replace(target / f"{name}{suffix}")
        except FileNotFoundError:  # a file the drop never had, or moved by an earlier attempt
            continue
    return report_path
