"""A built wheel (not the editable checkout) carries the core, the adapters, the mappings and the data."""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp / "dist"),
            str(ROOT),
        ],
        check=True,
        timeout=300,
    )
    (wheel,) = (tmp / "dist").glob("ssgateway-*.whl")
    venv.create(tmp / "env", with_pip=False)
    python = tmp / "env" / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps", str(wheel)],
        check=True,
        timeout=300,
    )
    # Dependencies come from this environment, read-only: the package itself must come from the wheel.
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(site, "_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    return python


def run(python: Path, code: str, cwd: Path) -> str:
    result = subprocess.run(
        [str(python), "-c", code], capture_output=True, text=True, cwd=cwd, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_wheel_has_everything(wheel_python: Path, tmp_path: Path) -> None:
    out = run(
        wheel_python,
        "import json, ssgateway, ssgateway_adapters\n"
        "from ssgateway.resources import shipped_mappings_dir\n"
        "from ssgateway.model import RegionCode\n"
        "from ssgateway.soap import load_contract\n"
        "from ssgateway.testing.dialect import LOWERCASE_DIALECT as L\n"
        "c = load_contract('provincial/v1/provincial.wsdl')\n"
        "s = load_contract(L.wsdl, roots=[L.contract_dir])\n"
        "print(json.dumps({'core': ssgateway.__file__, 'adapters': ssgateway_adapters.__file__,"
        " 'mappings': str(shipped_mappings_dir()), 'region': RegionCode.parse('410105').name,"
        " 'contract': str(c.path), 'operations': c.operations, 'sandbox_contract': str(s.path)}))",
        tmp_path,
    )
    found = json.loads(out)
    env = str(wheel_python.parent.parent)
    for key in ("core", "adapters", "mappings", "contract", "sandbox_contract"):
        assert found[key].startswith(env), (key, found[key])
    assert found["region"] == "金水区"
    assert "QueryContributions" in found["operations"] and len(found["operations"]) == 5


def test_wheel_cli(wheel_python: Path, tmp_path: Path) -> None:
    cli = "from ssgateway.cli import main; main()"
    assert (
        "ssgateway"
        in subprocess.run(
            [str(wheel_python), "-c", cli, "--version"],
            capture_output=True,
            text=True,
            check=True,
            cwd=tmp_path,
        ).stdout
    )
    listed = subprocess.run(
        [str(wheel_python), "-c", cli, "adapters", "list", "--json"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    ).stdout
    assert "records-file" in {a["name"] for a in json.loads(listed)}
    subprocess.run(
        [str(wheel_python), "-c", cli, "schema", "export", "out"],
        check=True,
        cwd=tmp_path,
        capture_output=True,
    )
    assert (tmp_path / "out" / "index.json").exists()
