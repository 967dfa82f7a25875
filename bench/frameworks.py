"""Starlette vs FastAPI on uvicorn, the same trivial JSON endpoint, the same load, in one run.

This is the measurement behind the sidecar's choice of Starlette: its operations, schemas and OpenAPI
document come from the operation registry, so FastAPI would add only its per-request cost.

    pip install fastapi   # only for this comparison
    python bench/frameworks.py [--seconds 8]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _net import free_port, wait_listening

HERE = Path(__file__).resolve().parent


def measure(app: str, connections: int, seconds: float) -> dict[str, float]:
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            f"_apps:{app}",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=HERE,
    )
    try:
        wait_listening(port)
        with tempfile.NamedTemporaryFile("wb", suffix=".json", delete=False) as body:
            body.write(json.dumps({"citizen_id": "11010519491231002X", "region": "110105"}).encode())
        out = subprocess.run(
            [sys.executable, str(HERE / "loadgen.py"), f"http://127.0.0.1:{port}/v1/ops/person.lookup", "--body", body.name,
             "--header", "Content-Type: application/json", "--connections", str(connections), "--seconds", str(seconds)],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        return json.loads(out)
    finally:
        server.terminate()
        server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))
    import _apps

    if _apps.fastapi_app is None:
        raise SystemExit("pip install fastapi to run this comparison")
    results = {
        name: measure(name, args.connections, args.seconds) for name in ("starlette_app", "fastapi_app")
    }
    for name, r in results.items():
        print(
            f"{name:>14}: {r['rps']:>8,.0f} req/s  p50 {r['p50_ms']:.2f} ms  p99 {r['p99_ms']:.2f} ms  errors {r['errors']}"
        )
    ratio = results["starlette_app"]["rps"] / results["fastapi_app"]["rps"]
    print(f"starlette / fastapi throughput: {ratio:.2f}x at {args.connections} connections")


if __name__ == "__main__":
    main()
