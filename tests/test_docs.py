"""Every code example in the docs runs; generated reference pages are current.

- ``python`` blocks run in order, one namespace per page, in a scratch directory;
- ``yaml`` blocks whose first line is ``# file: NAME`` are written there first (later blocks use them);
  other ``yaml`` blocks must parse;
- ``console`` blocks: each ``$ ssgateway …`` line runs and must succeed; other commands (``make``,
  ``pip``) must be in ``EXERCISED_ELSEWHERE`` (tests and CI run them);
- ``json`` and ``toml`` blocks must parse; ``text`` blocks are output and are not run.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from ssgateway.docgen import GENERATED_PAGES

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted([*DOCS.rglob("*.md"), ROOT / "README.md"])
FENCE = re.compile(r"^```([\w-]*)[^\n]*\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)
EXERCISED_ELSEWHERE = {
    "make run": "the main job: tests/test_sandbox.py starts the sandbox it runs and tries its examples",
    "make test": ".ci/run runs it",
    "pip install .": "tests/test_packaging.py installs a built wheel",
}
ALLOWED_LANGS = {"python", "yaml", "console", "json", "toml", "text", "", "ini", "http"}


def blocks(page: Path) -> list[tuple[str, str, int]]:
    text = page.read_text(encoding="utf-8")
    return [(m.group(1), m.group(2), text.count("\n", 0, m.start()) + 1) for m in FENCE.finditer(text)]


def run_console(body: str, where: str, cwd: Path) -> None:
    for line in body.splitlines():
        if not line.startswith("$ "):
            continue
        command = line[2:].split("  #", 1)[0].strip()
        if command.startswith("ssgateway "):
            args = shlex.split(command)[1:]
            result = subprocess.run(
                [sys.executable, "-c", "from ssgateway.cli import main; main()", *args],
                cwd=cwd,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            assert result.returncode == 0, f"{where}: `{command}` failed:\n{result.stdout}\n{result.stderr}"
        else:
            assert command in EXERCISED_ELSEWHERE, f"{where}: `{command}` is not run by any test"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_examples_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    saved = dict(os.environ)  # a page may set variables: they must not outlive it
    try:
        run_page(page, tmp_path)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def run_page(page: Path, tmp_path: Path) -> None:
    namespace: dict[str, object] = {"__name__": "__docs__"}
    for lang, body, line in blocks(page):
        where = f"{page.relative_to(ROOT)}:{line}"
        assert lang in ALLOWED_LANGS, f"{where}: unknown block language {lang!r}"
        if lang == "python":
            exec(compile(body, where, "exec"), namespace)  # noqa: S102 - running our own docs is the point
        elif lang == "yaml":
            first = body.splitlines()[0] if body else ""
            if first.startswith("# file: "):
                (tmp_path / first.removeprefix("# file: ").strip()).write_text(body, encoding="utf-8")
            else:
                yaml.safe_load(body)
        elif lang == "console":
            run_console(body, where, tmp_path)
        elif lang == "json":
            json.loads(body)
        elif lang == "toml":
            tomllib.loads(body)


@pytest.mark.parametrize("rel", sorted(GENERATED_PAGES))
def test_generated_pages_are_current(rel: str) -> None:
    current = (DOCS / rel).read_text(encoding="utf-8")
    assert current == GENERATED_PAGES[rel](), f"docs/{rel} is stale: run `python -m ssgateway.docgen docs`"
