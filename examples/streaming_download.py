"""Stream a large download to a file with a progress display, never holding the body in memory.

    python examples/streaming_download.py

Starts a local server that sends 32 MiB, downloads it chunk by chunk into a
temporary file while showing progress on stderr, then checks the SHA-256.
The response stream is closed in ``finally`` whatever happens: until it is
read to the end or closed it holds its connection.
"""

from __future__ import annotations

import hashlib
import sys
import tempfile
import time
from functools import partial

import h11
import trio

import trio_httpcore

SIZE = 32 * 1024 * 1024
BLOCK = bytes(range(256)) * 256  # 64 KiB


async def handle(stream: trio.SocketStream) -> None:
    """Answer every request with SIZE bytes of a repeating pattern, sent in 64 KiB pieces."""
    conn = h11.Connection(h11.SERVER)
    try:
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(await stream.receive_some(65536))
            elif isinstance(event, h11.EndOfMessage):
                headers = [("content-length", str(SIZE)), ("content-type", "application/x-demo")]
                await stream.send_all(conn.send(h11.Response(status_code=200, headers=headers)))
                for _ in range(SIZE // len(BLOCK)):
                    await stream.send_all(conn.send(h11.Data(data=BLOCK)))
                await stream.send_all(conn.send(h11.EndOfMessage()))
                conn.start_next_cycle()
            elif not isinstance(event, h11.Request):
                return
    except (trio.BrokenResourceError, h11.ProtocolError):
        pass
    finally:
        await stream.aclose()


class Progress:
    """One status line on stderr: redrawn in place on a terminal, every 25% otherwise."""

    def __init__(self, total: int | None) -> None:
        self.total = total
        self.done = 0
        self.started = time.perf_counter()
        self.tty = sys.stderr.isatty()
        self.next_report = 0.25

    def update(self, n: int) -> None:
        self.done += n
        fraction = self.done / self.total if self.total else 0.0
        if self.tty:
            print(f"\r{self.line(fraction)}", end="", file=sys.stderr, flush=True)
        elif fraction >= self.next_report:
            print(self.line(fraction), file=sys.stderr)
            self.next_report += 0.25

    def line(self, fraction: float) -> str:
        mib = self.done / 2**20
        rate = mib / max(time.perf_counter() - self.started, 1e-9)
        return f"{mib:7.1f} MiB  {fraction:4.0%}  {rate:7.1f} MiB/s"

    def finish(self) -> None:
        if self.tty:
            print(file=sys.stderr)


async def download(pool: trio_httpcore.AsyncConnectionPool, url: tuple, path: str) -> str:
    """Download ``url`` into ``path``; return the SHA-256 of what was written."""
    digest = hashlib.sha256()
    timeouts = {"connect": 5.0, "read": 5.0, "write": 5.0, "pool": 5.0}
    status, headers, stream, _ = await pool.arequest(b"GET", url, ext={"timeout": timeouts})
    try:
        if status != 200:
            raise RuntimeError(f"server answered {status}")
        length = dict(headers).get(b"content-length")
        progress = Progress(int(length) if length else None)
        async with await trio.open_file(path, "wb") as file:
            async for chunk in stream:
                await file.write(chunk)
                digest.update(chunk)
                progress.update(len(chunk))
        progress.finish()
    finally:
        await stream.aclose()
    return digest.hexdigest()


async def main() -> None:
    expected = hashlib.sha256(BLOCK * (SIZE // len(BLOCK))).hexdigest()
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(partial(trio.serve_tcp, handle, 0, host="127.0.0.1"))
        port = listeners[0].socket.getsockname()[1]

        with tempfile.TemporaryDirectory() as tmp:
            path = f"{tmp}/download.bin"
            async with trio_httpcore.AsyncConnectionPool() as pool:
                sha256 = await download(pool, (b"http", b"127.0.0.1", port, b"/big"), path)
            size = (await trio.Path(path).stat()).st_size

        nursery.cancel_scope.cancel()

    assert size == SIZE, size
    assert sha256 == expected
    print(f"downloaded {size // 2**20} MiB, sha256 {sha256[:16]}... matches")


if __name__ == "__main__":
    trio.run(main)
