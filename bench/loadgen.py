"""An HTTP/1.1 load generator on plain asyncio streams (uvloop), run as its own process.

Open loop (`--rate R`): request i is due at t0 + i/R whatever happened before, and its latency
counts from that due time, so a slow server cannot slow the generator down and hide its own
queueing (no coordinated omission). Closed loop (`--rate 0`): `--connections` clients each send
the next request when the last one is answered: the server's maximum throughput.
Prints one JSON object: offered and achieved rates, latency percentiles (ms), errors.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import percentile  # noqa: E402


class Connection:
    """One keep-alive HTTP/1.1 connection."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def exchange(self, request: bytes) -> int:
        """Sends `request` and reads the whole answer; returns the status code."""
        if self.writer is None or self.writer.is_closing():
            await self.open()
        assert self.reader is not None and self.writer is not None
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        close = False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
        if length:
            await self.reader.readexactly(length)
        if close:
            self.writer.close()
        return status


def build_request(url: str, body: bytes, headers: list[str]) -> tuple[str, int, bytes]:
    parts = urlsplit(url)
    lines = [f"POST {parts.path or '/'} HTTP/1.1", f"Host: {parts.netloc}"]
    lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    lines += headers
    return (
        parts.hostname or "127.0.0.1",
        parts.port or 80,
        "\r\n".join(lines).encode() + b"\r\n\r\n" + body,
    )


async def open_loop(args: argparse.Namespace, host: str, port: int, request: bytes) -> dict:
    clock = time.perf_counter  # uvloop's loop.time() ticks in whole milliseconds
    pool: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(args.connections):
        connection = Connection(host, port)
        await connection.open()
        pool.put_nowait(connection)
    samples: list[tuple[float, float, int]] = []  # (due, latency, status)
    errors = 0
    t0 = clock() + 0.05
    total = int(args.rate * args.duration)
    tasks: set[asyncio.Task[None]] = set()

    async def one(due: float) -> None:
        nonlocal errors
        connection = await pool.get()
        try:
            status = await connection.exchange(request)
            samples.append((due, clock() - due, status))
        except (OSError, asyncio.IncompleteReadError, ValueError):
            errors += 1
            connection = Connection(host, port)
        finally:
            pool.put_nowait(connection)

    for i in range(total):
        due = t0 + i / args.rate
        delay = due - clock()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.wait(set(tasks), timeout=args.drain)
    unfinished = len(tasks)
    window_start = t0 + args.warmup
    window_end = t0 + args.duration
    measured = [s for s in samples if s[0] >= window_start]
    latencies = [s[1] * 1000 for s in measured] + [float("inf")] * unfinished
    completed_in_window = sum(1 for s in samples if window_start <= s[0] + s[1] < window_end)
    return {
        "mode": "open",
        "offered_rps": args.rate,
        "achieved_rps": completed_in_window / (window_end - window_start),
        "requests": len(measured),
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        "max_ms": max(latencies) if latencies else float("inf"),
        "non_2xx": sum(1 for s in measured if not 200 <= s[2] < 300),
        "errors": errors,
        "unfinished": unfinished,
    }


async def closed_loop(args: argparse.Namespace, host: str, port: int, request: bytes) -> dict:
    clock = time.perf_counter
    samples: list[tuple[float, float, int]] = []  # (sent, latency, status)
    errors = 0
    t0 = clock()
    end = t0 + args.duration

    async def client() -> None:
        nonlocal errors
        connection = Connection(host, port)
        await connection.open()
        while clock() < end:
            sent = clock()
            try:
                status = await connection.exchange(request)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                errors += 1
                connection = Connection(host, port)
                continue
            samples.append((sent, clock() - sent, status))

    await asyncio.gather(*(client() for _ in range(args.connections)))
    window_start = t0 + args.warmup
    measured = [s for s in samples if window_start <= s[0] + s[1] < end]
    latencies = [s[1] * 1000 for s in measured]
    return {
        "mode": "closed",
        "connections": args.connections,
        "achieved_rps": len(measured) / (end - window_start),
        "requests": len(measured),
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        "max_ms": max(latencies) if latencies else float("inf"),
        "non_2xx": sum(1 for s in measured if not 200 <= s[2] < 300),
        "errors": errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--body-file", type=Path, required=True)
    parser.add_argument("--header", action="append", default=[], help="e.g. 'Authorization: ...'")
    parser.add_argument("--rate", type=float, default=0, help="requests/s; 0 = closed loop")
    parser.add_argument("--duration", type=float, default=10, help="seconds, warm-up included")
    parser.add_argument("--warmup", type=float, default=2, help="seconds not measured")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--drain", type=float, default=15, help="seconds to wait for stragglers")
    args = parser.parse_args()
    host, port, request = build_request(args.url, args.body_file.read_bytes(), args.header)
    run = open_loop if args.rate > 0 else closed_loop
    result = uvloop.run(run(args, host, port, request))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    # The generator's own CPU (1.0 = one core busy): near 1, it and not the server is the limit.
    result["client_cpu"] = (usage.ru_utime + usage.ru_stime) / args.duration
    print(json.dumps(result))


if __name__ == "__main__":
    main()
