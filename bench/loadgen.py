"""A small closed-loop HTTP/1.1 load generator: N keep-alive connections, each sending one request at a time.

Raw asyncio streams, so the generator itself costs little next to the servers it measures (HTTP client
libraries would be the bottleneck at 64 connections). Prints one JSON line: requests, errors, requests/s
and latency percentiles in milliseconds.

    python bench/loadgen.py URL --body FILE --header "Name: value" --connections 16 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from urllib.parse import urlsplit


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q / 100 * (len(sorted_values) - 1))))
    return sorted_values[index]


async def worker(
    host: str, port: int, request: bytes, stop_at: float, latencies: list[float], errors: list[int]
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < stop_at:
            start = time.perf_counter()
            writer.write(request)
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n")[1:]:
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:].strip())
            if length:
                await reader.readexactly(length)
            latencies.append(time.perf_counter() - start)
            if status >= 400:
                errors[0] += 1
    except (ConnectionError, asyncio.IncompleteReadError):
        errors[0] += 1
    finally:
        writer.close()


async def run(
    url: str, body: bytes, headers: list[str], connections: int, seconds: float, warmup: float
) -> dict[str, float]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    lines = [
        f"POST {parts.path or '/'} HTTP/1.1",
        f"Host: {host}:{port}",
        f"Content-Length: {len(body)}",
        *headers,
    ]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
    warm: list[float] = []
    if warmup:
        await asyncio.gather(
            *(
                worker(host, port, request, time.perf_counter() + warmup, warm, [0])
                for _ in range(connections)
            )
        )
    latencies: list[float] = []
    errors = [0]
    start = time.perf_counter()
    await asyncio.gather(
        *(worker(host, port, request, start + seconds, latencies, errors) for _ in range(connections))
    )
    elapsed = time.perf_counter() - start
    ordered = sorted(latencies)
    return {
        "connections": connections,
        "requests": len(ordered),
        "warmup_requests": len(warm),
        "errors": errors[0],
        "rps": round(len(ordered) / elapsed, 1),
        "p50_ms": round(percentile(ordered, 50) * 1000, 3),
        "p99_ms": round(percentile(ordered, 99) * 1000, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--body", type=Path, required=True)
    parser.add_argument("--header", action="append", default=[])
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    args = parser.parse_args()
    result = asyncio.run(
        run(args.url, args.body.read_bytes(), args.header, args.connections, args.seconds, args.warmup)
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
