from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from ssgateway import __version__
from ssgateway.model import ENTITIES


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from ssgateway.cli import main; main()", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def test_version() -> None:
    result = run("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"ssgateway {__version__}"


def test_adapters_list_json() -> None:
    result = run("adapters", "list", "--json")
    assert result.returncode == 0, result.stderr
    names = {a["name"] for a in json.loads(result.stdout)}
    assert "records-file" in names


def test_schema_export_writes_loadable_schemas(tmp_path: Path) -> None:
    result = run("schema", "export", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    index = json.loads((tmp_path / "out" / "index.json").read_text())
    assert set(index["entities"]) == set(ENTITIES)
    for name in ENTITIES:
        schema = json.loads((tmp_path / "out" / f"{name}.json").read_text())
        jsonschema.Draft202012Validator.check_schema(schema)


def test_exported_schema_validates_a_canonical_document(tmp_path: Path) -> None:
    from tests.model.test_entities import record

    run("schema", "export", str(tmp_path))
    schema = json.loads((tmp_path / "ContributionRecord.json").read_text())
    doc = json.loads(record("202406").model_dump_json())
    jsonschema.validate(doc, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**doc, "base": 12.5}, schema)


def test_config_check_reports_file_line_key(tmp_path: Path) -> None:
    path = tmp_path / "g.yaml"
    path.write_text("partners:\n  p:\n    adapter: records-file\n    timeout: 0\n", encoding="utf-8")
    result = run("config", "check", str(path))
    assert result.returncode == 1
    assert f"{path}:4: partners.p.timeout:" in result.stderr.replace("\n", "")


def test_config_check_ok_and_schema(tmp_path: Path) -> None:
    path = tmp_path / "g.yaml"
    path.write_text("partners:\n  files:\n    adapter: records-file\n    regions: ['41']\n", encoding="utf-8")
    result = run("config", "check", str(path))
    assert result.returncode == 0, result.stderr
    assert "ok (1 partners" in result.stdout
    schema = run("config", "schema")
    jsonschema.Draft202012Validator.check_schema(json.loads(schema.stdout))


def test_usage_error_exits_2() -> None:
    assert run("no-such-command").returncode == 2


def test_serve_and_schema_problems_are_one_clear_line(tmp_path: Path) -> None:
    import socket

    (tmp_path / "missing.yaml").write_text(
        'store: {url: "sqlite:///gw.db"}\npartners:\n  p:\n    adapter: records-file\n'
        "    config: {contributions: [nothere.jsonl]}\n",
        encoding="utf-8",
    )
    (tmp_path / "empty.yaml").write_text('store: {url: "sqlite:///gw.db"}\n', encoding="utf-8")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        cases = [
            (("serve", "-c", "missing.yaml", "--port", "0"), "nothere.jsonl: cannot read records file"),
            (("serve", "-c", "empty.yaml", "--port", port), "[server.listen]: cannot listen on 127.0.0.1:"),
            (("sandbox", "--port", port), "choose another with --port (0 picks a free one)"),
            (("schema", "export", "missing.yaml"), "[output.file]: missing.yaml: is a file"),
        ]
        for args, message in cases:
            result = run(*args, cwd=tmp_path)
            assert result.returncode == 1, (args, result.stderr)
            assert message in result.stderr and "Traceback" not in result.stderr, (args, result.stderr)
    assert run("serve", "-c", "empty.yaml", "--port", "99999", cwd=tmp_path).returncode == 2
