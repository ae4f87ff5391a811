"""A 64 MiB download over HTTP/2 and over HTTP/1.1 (both cleartext, or both TLS), from one server.

    python benchmarks/h2_download.py [--size-mib 64] [--rounds 7] [--server lean|hypercorn]
                                     [--tls] [--frame-kib N]

The server runs in a child process, so that client and server each get a
core, and serves both protocols on one port (HTTP/1.1, and HTTP/2 with prior
knowledge; with ``--tls``, HTTPS/1.1 and HTTP/2 over TLS, chosen by ALPN, with
a throw-away trustme certificate), the body from memory in 1 MiB pieces:

* ``lean`` (the default): a minimal threaded server (h2 server-side for
  HTTP/2, but DATA frames written by hand from the body, uncopied), fast
  enough on both protocols that the client is what is measured; its DATA
  frames are as large as the client allows, or ``--frame-kib`` (nginx sends
  8 KiB by default, ``http2_chunk_size``; 32-64 KiB over TLS with the
  benchmark's ``1m``, its output buffers being 32 KiB);
* ``hypercorn``: Hypercorn on trio. Its HTTP/2 sending path (a bytearray it
  pops frames from, Python h2) runs at a few hundred MB/s on one core, so
  there the server, not the client, sets the HTTP/2 figure.

The client is trio_httpcore's pool: ``http1=True`` for HTTP/1.1,
``http1=False, http2=True`` for HTTP/2, one connection opened before the clock
starts. Rounds alternate between the protocols; the best round of each is
reported (MB/s, 10**6 bytes), and their ratio. The target is HTTP/2 at 0.8x
HTTP/1.1 or better. The client's own CPU time per download is reported too:
on a busy machine the wall-clock figures swing with other load, the CPU time
much less.
"""

from __future__ import annotations

import argparse
import contextlib
import ssl
import subprocess
import sys
import tempfile
import time
from typing import Any

import trio

PIECE = 1024 * 1024


def serve_hypercorn(size: int, cert_dir: str | None) -> None:
    """Hypercorn on 127.0.0.1 (HTTP/1.1 and HTTP/2 on one port); the port is printed on stdout."""
    from hypercorn.config import Config
    from hypercorn.trio import serve as hypercorn_serve

    piece = b"x" * PIECE

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                await send({"type": message["type"] + ".complete"})
                if message["type"] == "lifespan.shutdown":
                    return
        headers = [(b"content-length", str(size).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for start in range(0, size, PIECE):
            chunk = piece[: min(PIECE, size - start)]
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    async def main() -> None:
        config = Config()
        config.bind = ["127.0.0.1:0"]
        config.accesslog = None
        config.errorlog = None
        if cert_dir is not None:
            config.certfile = f"{cert_dir}/cert.pem"
            config.keyfile = f"{cert_dir}/key.pem"
        async with trio.open_nursery() as nursery:
            binds = await nursery.start(
                lambda task_status: hypercorn_serve(app, config, task_status=task_status)
            )
            print(binds[0].rsplit(":", 1)[1], flush=True)

    trio.run(main)


def serve_lean(size: int, cert_dir: str | None, frame_size: int) -> None:
    """A minimal server, one thread per connection, cheap on both protocols.

    HTTP/1.1: the head, then the body in 1 MiB ``sendall`` calls. HTTP/2 (the
    client preface tells): h2 server-side, DATA frames (written by hand) as
    large as the client allows, sent as the client's windows open. Every
    request but a HEAD gets the body. With ``cert_dir``, each connection is
    TLS first (ALPN ``h2`` and ``http/1.1``; the preface still tells).
    """
    import socket
    import ssl
    import threading

    import h2.config
    import h2.connection
    import h2.events
    from h2.settings import SettingCodes

    piece = b"x" * PIECE
    preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

    def http11(sock: socket.socket, data: bytes) -> None:
        while True:
            while b"\r\n\r\n" not in data:
                more = sock.recv(65536)
                if not more:
                    return
                data += more
            head, _, data = data.partition(b"\r\n\r\n")
            sock.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % size)
            if not head.startswith(b"HEAD "):
                for start in range(0, size, PIECE):
                    sock.sendall(piece[: min(PIECE, size - start)])

    def http2(sock: socket.socket, data: bytes) -> None:
        """h2 for everything but the DATA frames, which are written here, payload uncopied.

        h2 would copy each payload four times on the way out (frame, queue,
        ``data_to_send``), which at a few hundred MB/s made this server, not
        the client, the HTTP/2 figure. So the flow-control windows are kept
        here too (RFC 9113 section 6.9): the client's initial window from its
        SETTINGS, plus its WINDOW_UPDATEs, minus what was sent. h2 never hears
        of the DATA, so its own idea of the windows only grows: fine up to a
        body of 2 GiB. END_STREAM goes through h2, so its stream states hold.
        """
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
        conn.initiate_connection()
        pending: dict[int, int] = {}  # stream id -> body bytes still to send
        windows: dict[int, int] = {}  # stream id -> what the client lets us send on it
        initial_window = connection_window = 65_535  # until the client says otherwise
        body = memoryview(piece)

        while True:
            for event in conn.receive_data(data):
                if isinstance(event, h2.events.RequestReceived):
                    assert event.stream_id is not None
                    head = event.stream_ended is not None and any(
                        k == b":method" and v == b"HEAD" for k, v in event.headers or []
                    )
                    conn.send_headers(
                        event.stream_id,
                        [(":status", "200"), ("content-length", str(size))],
                        end_stream=head,
                    )
                    if not head:
                        pending[event.stream_id] = size
                        windows[event.stream_id] = initial_window
                elif isinstance(event, h2.events.WindowUpdated):
                    if event.stream_id == 0:
                        connection_window += event.delta or 0
                    elif event.stream_id in windows:
                        windows[event.stream_id] += event.delta or 0
                elif isinstance(event, h2.events.RemoteSettingsChanged):
                    changed = event.changed_settings.get(SettingCodes.INITIAL_WINDOW_SIZE)
                    if changed is not None and changed.new_value is not None:
                        # Open streams' windows move by the difference (section 6.9.2).
                        delta = changed.new_value - initial_window
                        initial_window = changed.new_value
                        for stream_id in windows:
                            windows[stream_id] += delta
            sock.sendall(conn.data_to_send())  # h2's frames (SETTINGS ACK, HEADERS) first
            for stream_id, left in list(pending.items()):
                while left:
                    n = min(
                        windows[stream_id],
                        connection_window,
                        conn.max_outbound_frame_size,
                        frame_size,
                        left,
                    )
                    if n <= 0:
                        break
                    # DATA (type 0), no flags (RFC 9113 section 6.1); header and
                    # payload in one call, so that Nagle never holds the header back.
                    header = n.to_bytes(3, "big") + b"\x00\x00" + stream_id.to_bytes(4, "big")
                    if tls is not None:
                        # No sendmsg on TLS; a header sent alone would be a record
                        # of its own, which a server would not send.
                        sock.sendall(header + body[:n])
                        sent = len(header) + n
                    else:
                        sent = sock.sendmsg([header, body[:n]])
                    if sent < len(header):
                        sock.sendall(header[sent:])
                        sent = len(header)
                    sock.sendall(body[sent - len(header) : n])
                    windows[stream_id] -= n
                    connection_window -= n
                    left -= n
                pending[stream_id] = left
                if not left:
                    conn.end_stream(stream_id)
                    del pending[stream_id], windows[stream_id]
            sock.sendall(conn.data_to_send())
            data = sock.recv(65536)
            if not data:
                return

    tls: ssl.SSLContext | None = None
    if cert_dir is not None:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(f"{cert_dir}/cert.pem", f"{cert_dir}/key.pem")
        tls.set_alpn_protocols(["h2", "http/1.1"])

    def handle(sock: socket.socket) -> None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls is not None:
            try:
                sock = tls.wrap_socket(sock, server_side=True)
            except OSError:
                sock.close()
                return
        with sock:
            data = b""
            while len(data) < len(preface) and preface.startswith(data):
                more = sock.recv(65536)
                if not more:
                    return
                data += more
            with contextlib.suppress(OSError):  # the client went away
                (http2 if data.startswith(preface) else http11)(sock, data)

    listener = socket.create_server(("127.0.0.1", 0))
    print(listener.getsockname()[1], flush=True)
    while True:
        sock, _ = listener.accept()
        threading.Thread(target=handle, args=(sock,), daemon=True).start()


async def download(port: int, http2: bool, size: int, cert_dir: str | None) -> tuple[float, float]:
    """Wall-clock and client CPU seconds to download the body once, on a connection
    opened beforehand."""
    from trio_httpcore import AsyncConnectionPool

    url = (b"https" if cert_dir else b"http", b"127.0.0.1", port, b"/")
    options: dict[str, Any] = {"http1": False, "http2": True} if http2 else {}
    if cert_dir is not None:
        options["ssl_context"] = ssl.create_default_context(cafile=f"{cert_dir}/ca.pem")
    async with AsyncConnectionPool(**options) as pool:
        _, _, warm, _ = await pool.arequest(b"HEAD", url)
        await warm.aclose()
        start, start_cpu = time.perf_counter(), time.process_time()
        status, _, stream, ext = await pool.arequest(b"GET", url)
        received = 0
        async for chunk in stream:
            received += len(chunk)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    assert status == 200 and received == size, (status, received)
    assert ext["http_version"] == ("HTTP/2" if http2 else "HTTP/1.1")
    return elapsed, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument(
        "--server", choices=["lean", "hypercorn"], default="lean", help="which server to run"
    )
    parser.add_argument(
        "--frame-kib",
        type=int,
        default=PIECE // 1024,
        help="the lean server's largest DATA frame, KiB (default 1024, capped by the client's)",
    )
    parser.add_argument(
        "--tls", action="store_true", help="HTTPS/1.1 against HTTP/2 over TLS (ALPN)"
    )
    parser.add_argument("--serve", metavar="CERT_DIR", help=argparse.SUPPRESS)
    args = parser.parse_args()
    size = args.size_mib * 1024 * 1024
    if args.serve is not None:
        cert_dir = args.serve or None
        if args.server == "lean":
            serve_lean(size, cert_dir, min(args.frame_kib * 1024, PIECE))
        else:
            serve_hypercorn(size, cert_dir)
        return
    with tempfile.TemporaryDirectory() as directory:
        cert_dir = None
        if args.tls:
            cert_dir = directory
            write_certificates(cert_dir)
        run(args, size, cert_dir)


def write_certificates(directory: str) -> None:
    """A throw-away CA (``ca.pem``) and a certificate for 127.0.0.1 (``cert.pem``, ``key.pem``)."""
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    ca.cert_pem.write_to_path(f"{directory}/ca.pem")
    cert.private_key_pem.write_to_path(f"{directory}/key.pem")
    cert.cert_chain_pems[0].write_to_path(f"{directory}/cert.pem")


def run(args: argparse.Namespace, size: int, cert_dir: str | None) -> None:
    server = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--serve",
            cert_dir or "",
            "--server",
            args.server,
            "--size-mib",
            str(args.size_mib),
            "--frame-kib",
            str(args.frame_kib),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        best = {"HTTP/1.1": float("inf"), "HTTP/2": float("inf")}
        best_cpu = dict(best)
        for _ in range(args.rounds):
            for name in best:
                seconds, cpu = trio.run(download, port, name == "HTTP/2", size, cert_dir)
                best[name] = min(best[name], seconds)
                best_cpu[name] = min(best_cpu[name], cpu)
    finally:
        server.terminate()
        server.wait()
    rates = {name: size / seconds / 1e6 for name, seconds in best.items()}
    for name, rate in rates.items():
        print(
            f"{name:9} {rate:8.1f} MB/s  ({args.size_mib} MiB in {best[name]:.3f} s, best round; "
            f"client CPU {best_cpu[name]:.3f} s)"
        )
    print(f"ratio HTTP/2 / HTTP/1.1: {rates['HTTP/2'] / rates['HTTP/1.1']:.2f} (target >= 0.80)")
    print(
        "client CPU per byte, HTTP/1.1 / HTTP/2: "
        f"{best_cpu['HTTP/1.1'] / best_cpu['HTTP/2']:.2f} (the same ratio, free of the server "
        "and of other load on the machine)"
    )


if __name__ == "__main__":
    main()
