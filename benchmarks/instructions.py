"""CPU instructions per sequential keep-alive HTTP/1.1 request, counted by callgrind.

Usage: python benchmarks/instructions.py [--layer LAYER] [--n N]

Layers: ``pool`` (``AsyncConnectionPool.arequest``, no headers, no timeouts),
``pool-as-client`` (the pool sent what ``AsyncClient`` sends it: the client's
default headers and timeouts, so ``client`` minus this is the client's own
cost), ``client`` (``AsyncClient.get``), ``sync-pool`` and ``sync-client``
(``SyncConnectionPool`` and ``Client``, each request a handoff to the portal
thread: valgrind runs one thread at a time, so both threads are counted),
``raw`` (a bare trio + h11 loop).

Instruction counts do not depend on the machine's load, unlike times: this is
how a change to the request path is judged on a busy machine. The benchmark
server (nginx when installed) runs outside valgrind; the client runs under
``valgrind --tool=callgrind`` twice, with N and 2N requests on a warm
connection, and the difference over N is the cost of one request, start-up
and warm-up excluded. Needs valgrind (Debian: ``apt-get install valgrind``).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from _server import start_server

HERE = Path(__file__).resolve().parent

CHILD = """
import sys, trio
sys.path.insert(0, {here!r})
import trio_httpcore
from _clients import ConnCfg, _RawTrioSession

URL = "http://127.0.0.1:{port}/"
URL4 = (b"http", b"127.0.0.1", {port}, b"/")


async def main():
    if {layer!r} in ("pool", "pool-as-client"):
        headers, ext = None, None
        if {layer!r} == "pool-as-client":
            request = trio_httpcore.AsyncClient().build_request("GET", URL)
            headers, ext = request.headers.raw, request.ext
        async with trio_httpcore.AsyncConnectionPool() as pool:
            async def get():
                _, _, stream, _ = await pool.arequest(b"GET", URL4, headers=headers, ext=ext)
                try:
                    return b"".join([chunk async for chunk in stream])
                finally:
                    await stream.aclose()

            await loop(get)
    elif {layer!r} == "client":
        async with trio_httpcore.AsyncClient() as client:
            await loop(lambda: client.get(URL))
    else:
        session = _RawTrioSession(ConnCfg("h1", {port}, 1))
        try:
            await loop(lambda: session.get("/"))
        finally:
            await session.aclose()


async def loop(get):
    for _ in range(20):
        await get()
    for _ in range({n}):
        await get()


def blocking():
    if {layer!r} == "sync-pool":
        transport = trio_httpcore.SyncConnectionPool()

        def get():
            _, _, stream, _ = transport.request(b"GET", URL4)
            try:
                return b"".join(stream)
            finally:
                stream.close()
    else:
        transport = trio_httpcore.Client()

        def get():
            return transport.get(URL).content

    with transport:
        for _ in range(20):
            get()
        for _ in range({n}):
            get()


if {layer!r}.startswith("sync-"):
    blocking()
else:
    trio.run(main)
"""


def count(layer: str, port: int, n: int) -> int:
    """Instructions callgrind counted for the whole child process doing ``n`` requests."""
    with tempfile.TemporaryDirectory() as directory:
        result = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={directory}/out",
                sys.executable,
                "-c",
                CHILD.format(here=str(HERE), port=port, layer=layer, n=n),
            ],
            capture_output=True,
            text=True,
        )
    if result.returncode:
        raise RuntimeError(f"the client failed under valgrind:\n{result.stderr[-3000:]}")
    match = re.search(r"Collected : (\d+)", result.stderr)
    if match is None:
        raise RuntimeError(f"no instruction count in valgrind's output:\n{result.stderr}")
    return int(match.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--layer",
        choices=["pool", "pool-as-client", "client", "sync-pool", "sync-client", "raw"],
        default="pool",
    )
    parser.add_argument("--n", type=int, default=1000)
    args = parser.parse_args()
    server = start_server(None)
    try:
        once = count(args.layer, server.http_port, args.n)
        twice = count(args.layer, server.http_port, 2 * args.n)
    finally:
        server.close()
    per_request = (twice - once) / args.n
    print(f"{args.layer}: {per_request / 1000:,.0f} k instructions per keep-alive request")
    return 0


if __name__ == "__main__":
    sys.exit(main())
