"""The README's main command: the sandbox comes up and every curl example it prints works as printed."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from ssgateway.config import load_config


def start(tmp_path: Path) -> tuple[subprocess.Popen[str], list[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-c", "from ssgateway.cli import main; main()", "sandbox", "--port", "0",
         "--api-key", "ssg_sandbox_test_key", "--config-out", str(tmp_path / "generated.yaml"),
         "--log-level", "info"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
    )  # fmt: skip
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.time() + 120
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if line.startswith("Press Ctrl-C"):
            return proc, lines
    proc.kill()
    raise AssertionError(
        "the sandbox did not come up:\n" + "\n".join(lines) + (proc.stderr.read() if proc.stderr else "")
    )


def run(command: str) -> str:
    return subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, check=True, timeout=120
    ).stdout


def body(output: str) -> dict[str, object]:
    """The JSON body of a curl answer (printed with or without its headers)."""
    return json.loads(output.split("\n\n", 1)[1] if output.startswith("HTTP/") else output)


def drained(metrics_command: str) -> None:
    """Wait until the outbox has nothing pending or leased (the relays delivered the death notice)."""
    for _ in range(200):
        lines = run(metrics_command).splitlines()
        waiting = [
            line for line in lines
            if line.startswith("ssgateway_outbox_deliveries{") and ('"pending"' in line or '"leased"' in line)
        ]  # fmt: skip
        if waiting and all(line.endswith(" 0.0") for line in waiting):
            return
        time.sleep(0.1)
    raise AssertionError("the outbox did not drain")


def test_sandbox_examples_work_as_printed(tmp_path: Path) -> None:
    proc, lines = start(tmp_path)
    try:
        assert lines[0].startswith("ssgateway sandbox is running at http://127.0.0.1:")
        assert "API key: ssg_sandbox_test_key" in lines
        commands = [line.strip() for line in lines if line.strip().startswith("curl ")]
        assert len(commands) >= 3
        history = json.loads(run(commands[0]))
        assert history["total_months"] > 0 and history["complete"]
        assert {s["partner"] for s in history["sources"]} == {"henan", "guangdong"}
        assert sorted(history["regions"]) == ["410000", "440000"]
        first, second = run(commands[1]), run(commands[1])
        assert first.startswith("HTTP/1.1 200") and "idempotent-replayed" not in first.lower()
        assert "idempotent-replayed: true" in second.lower()
        assert first.split("\n\n", 1)[1] == second.split("\n\n", 1)[1]  # the same acceptance letter
        metrics = run(commands[2])
        assert 'ssgateway_requests_total{operation="transfer.submit",status="200"} 2.0' in metrics
        # the death-notice story: June paid, a death reported, July's payment to that person rejected
        june, death = body(run(commands[3])), body(run(commands[4]))
        assert june["accepted"] == 3 and june["rejected"] == 0
        assert death["duplicate"] is False and death["key"].startswith("death:")
        assert [d["subscriber"] for d in death["deliveries"]] == ["henan", "guangdong", "bank", "medical"]
        drained(commands[2])
        assert body(run(commands[4]))["duplicate"] is False  # the same key: the stored answer, replayed
        july = body(run(commands[5]))
        first = july["statuses"][0]
        assert (first["state"], first["reason_code"]) == ("rejected", "MD07") and july["accepted"] == 2
        generated = load_config(tmp_path / "generated.yaml")
        assert set(generated.partners) >= {"henan", "guangdong", "bank", "medical", "civil-affairs"}
        assert generated.events.subscribers["deaths.notify"] == ("henan", "guangdong", "bank", "medical")
        assert yaml.safe_load((tmp_path / "generated.yaml").read_text())["api_keys"][0]["hash"].startswith(
            "sha256:"
        )
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            _out, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            _out, err = proc.communicate()
    assert proc.returncode == 0, err
    assert "sandbox stopped" in err
    inbox = re.search(r"batches into (\S+)\)", "\n".join(lines))
    assert inbox is not None and not Path(inbox.group(1)).exists()  # its temporary directory is removed
    # --log-level info: an access line per request, and the people in them stay masked
    assert "ssgateway.access: POST /v1/ops/transfer.submit 200" in err
    assert "ssgateway.events: deaths.notify death:" in err
    assert re.search(r"(?<!\d)\d{17}[\dX](?!\d)", err) is None, "an unmasked citizen id in the log"
    assert (tmp_path / "generated.yaml").exists()
