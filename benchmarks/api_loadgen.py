"""Load generators of ``benchmarks/api_load.py``: a cheap open-loop HTTP/1.1 client, and wrk.

``open_loop`` runs in its own process: keep-alive connections over raw asyncio
protocols (uvloop when installed), request bytes prepared in advance, responses
framed by Content-Length; each request has a scheduled start ``t0 + i / rate`` and
its latency is measured from that start, so queueing in a slow server (or in the
generator itself, waiting for a free connection) is counted, as wrk2 does.

``wrk_closed`` drives the server with ``wrk`` (closed loop: C connections back to
back) and a Lua script that randomises ids, hosts and time ranges; it reports
capacity and the latency at that load. The installed wrk (4.1) has no ``-R``
constant-rate mode, so latency at the target rate comes from ``open_loop``.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

GRACE_S = 10.0


def cpu_snapshot() -> tuple[dict[int, float], dict[int, list[int]]]:
    """CPU seconds (user + system) of every process, and each process's children."""
    children: dict[int, list[int]] = {}
    stats: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            raw = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2 :].split()
        child = int(entry)
        children.setdefault(int(fields[1]), []).append(child)
        stats[child] = (int(fields[11]) + int(fields[12])) / tick
    return stats, children


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and all its descendants (Linux /proc)."""
    stats, children = cpu_snapshot()
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        total += stats.get(p, 0.0)
        todo += children.get(p, [])
    return total


class _Conn(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection, one request in flight at a time."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.waiter: asyncio.Future[int] | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buf += data
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buf[:end]).lower()
        at = head.find(b"content-length:")
        if at < 0:
            self._finish(exc=ConnectionError("response without Content-Length"))
            return
        stop = head.find(b"\r\n", at)
        length = int(head[at + 15 : stop if stop >= 0 else len(head)])
        if len(self.buf) < end + 4 + length:
            return
        del self.buf[: end + 4 + length]
        self._finish(status=int(head[9:12]))

    def _finish(self, status: int = 0, exc: BaseException | None = None) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            if exc is not None:
                waiter.set_exception(exc)
            else:
                waiter.set_result(status)

    def connection_lost(self, exc: BaseException | None) -> None:
        self._finish(exc=exc or ConnectionError("connection closed"))

    def request(self, data: bytes) -> asyncio.Future[int]:
        self.waiter = asyncio.get_running_loop().create_future()
        assert self.transport is not None
        self.transport.write(data)
        return self.waiter


def request_bytes(paths: list[str], key: str) -> list[bytes]:
    """GET requests with the API key, ready to write."""
    return [
        f"GET {p} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {key}\r\n\r\n".encode() for p in paths
    ]


async def _open_loop(
    port: int, requests: list[bytes], rate: float, connections: int
) -> dict[str, float]:
    loop = asyncio.get_running_loop()
    idle: asyncio.Queue[_Conn] = asyncio.Queue()
    for _ in range(connections):
        _, conn = await loop.create_connection(_Conn, "127.0.0.1", port)
        idle.put_nowait(conn)
    for data in requests[:20]:  # warm-up
        conn = await idle.get()
        await conn.request(data)
        idle.put_nowait(conn)
    lat: list[float] = []
    errors = dropped = 0
    duration = len(requests) / rate
    cpu0, t0 = time.process_time(), time.perf_counter() + 0.05

    async def one(start: float, data: bytes) -> None:
        nonlocal errors, dropped
        conn = await idle.get()
        if time.perf_counter() > t0 + duration + GRACE_S:
            dropped += 1  # the server fell too far behind: not sent
            idle.put_nowait(conn)
            return
        try:
            if await conn.request(data) != 200:
                errors += 1
        except (OSError, ConnectionError):
            errors += 1
            _, conn = await loop.create_connection(_Conn, "127.0.0.1", port)
        lat.append(time.perf_counter() - start)
        idle.put_nowait(conn)

    tasks = []
    for i, data in enumerate(requests):
        start = t0 + i / rate
        delay = start - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(loop.create_task(one(start, data)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    lat.sort()
    full = lat + [float("inf")] * dropped

    def q(p: float) -> float:
        return full[min(len(full) - 1, int(p * len(full)))] * 1000 if full else float("nan")

    return {
        "requests": len(lat),
        "throughput": len(lat) / elapsed,
        "p50": q(0.50),
        "p90": q(0.90),
        "p99": q(0.99),
        "max": (lat[-1] * 1000) if lat else float("nan"),
        "errors": errors,
        "dropped": dropped,
        "gen_cpu_ms": 1000 * cpu / max(1, len(lat)),
    }


def _generator(port: int, requests: list[bytes], rate: float, conns: int, out: mp.Queue) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    try:
        out.put(asyncio.run(_open_loop(port, requests, rate, conns)))
    except BaseException as exc:  # report, never leave the parent waiting
        out.put({"error": repr(exc)})


def open_loop(
    port: int, key: str, paths: list[str], rate: float, connections: int = 64
) -> dict[str, float]:
    """Offer ``rate`` req/s of ``paths`` from a separate process; latency summary."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    args = (port, request_bytes(paths, key), rate, connections, queue)
    proc = ctx.Process(target=_generator, args=args)
    proc.start()
    try:
        result = queue.get(timeout=len(paths) / rate + GRACE_S + 120)
    finally:
        proc.join(5)
        if proc.is_alive():
            proc.kill()
    if "error" in result:
        raise RuntimeError(f"load generator failed: {result['error']}")
    return result


_LUA = """
wrk.headers["X-API-Key"] = "%(key)s"
math.randomseed(%(seed)d)
request = function()
  return wrk.format("GET", %(path)s)
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRKRESULT {\\"requests\\": %%d, \\"us\\": %%d, \\"errors\\": %%d, \\"status\\": %%d, " ..
    "\\"p50\\": %%.3f, \\"p90\\": %%.3f, \\"p99\\": %%.3f, \\"max\\": %%.3f}\\n",
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
end
"""


def have_wrk() -> bool:
    """Whether a ``wrk`` binary is on PATH."""
    return shutil.which("wrk") is not None


def wrk_closed(
    port: int, key: str, lua_path: str, connections: int, duration: float, seed: int = 1
) -> dict[str, float]:
    """Closed loop with wrk: ``connections`` back to back for ``duration`` s.

    ``lua_path`` is a Lua expression of the request path (``math.random`` allowed).
    """
    script = _LUA % {"key": key, "seed": seed, "path": lua_path}
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    try:
        cmd = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(duration))}s",
               "--timeout", "10s", "-s", f.name, f"http://127.0.0.1:{port}"]  # fmt: skip
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60)
    finally:
        os.unlink(f.name)
    line = next((x for x in out.stdout.splitlines() if x.startswith("WRKRESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed: {out.stdout[-500:]} {out.stderr[-500:]}")
    r = json.loads(line.split(" ", 1)[1])
    return {
        "requests": r["requests"],
        "throughput": r["requests"] / (r["us"] / 1e6),
        "p50": r["p50"],
        "p90": r["p90"],
        "p99": r["p99"],
        "max": r["max"],
        "errors": r["errors"] + r["status"],
    }
