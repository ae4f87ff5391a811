"""The benchmark's server: nginx when it is on PATH, else Hypercorn; pinned to one core.

nginx gets a config generated in a temporary directory:

* HTTP/1.1 on one port, TLS with HTTP/2 (ALPN ``h2``/``http/1.1``) on a
  second, HTTP/2 with prior knowledge (h2c) on a third;
* ``/`` answers a 14-byte body, ``/64MiB`` a 64 MiB file (sendfile), and
  ``/delay`` the same small body after 10 ms.

nginx cannot wait by itself: ``/delay`` uses ``echo_sleep`` from the echo
module (Debian's ``libnginx-mod-http-echo``) when it is installed; without
it the latency-bound run goes to ``_delay_server.py``, a small trio server.
Without nginx, Hypercorn (asyncio worker) serves everything from
``_bench_app.py``, which is slower: the output says so.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import trustme

HOST = "127.0.0.1"
HERE = Path(__file__).resolve().parent
SMALL_BODY = b"Hello, world!\n"
BIG_SIZE = 64 * 1024 * 1024

NGINX_CONF = """\
worker_processes 1;
daemon off;
master_process on;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
{load_module}
events {{
    worker_connections 4096;
}}
http {{
    access_log off;
    client_body_temp_path {dir}/tmp/body;
    proxy_temp_path {dir}/tmp/proxy;
    fastcgi_temp_path {dir}/tmp/fastcgi;
    uwsgi_temp_path {dir}/tmp/uwsgi;
    scgi_temp_path {dir}/tmp/scgi;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 100000000;
    keepalive_timeout 600s;
    http2_chunk_size 1m;
    types {{ }}
    default_type application/octet-stream;
    root {dir}/www;

    server {{
        listen {host}:{http_port} backlog=4096;
{locations}
    }}
    server {{
        listen {host}:{tls_port} ssl{h2_listen} backlog=4096;
{h2_on}        ssl_certificate {dir}/cert.pem;
        ssl_certificate_key {dir}/key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
{locations}
    }}
    server {{
        listen {host}:{h2c_port}{h2_listen} backlog=4096;
{h2_on}{locations}
    }}
}}
"""

LOCATIONS = """\
        location = / {{
            default_type text/plain;
            return 200 "Hello, world!\\n";
        }}
        location = /delay {{
{delay}
        }}
        location / {{
        }}
"""

ECHO_DELAY = """\
            default_type text/plain;
            echo_sleep 0.01;
            echo "Hello, world!";"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with status {process.returncode} while starting")
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on port {port} within 15 s")


def pin_prefix(core: int | None) -> list[str]:
    if core is None or shutil.which("taskset") is None:
        return []
    return ["taskset", "-c", str(core)]


def nginx_version(nginx: str) -> tuple[int, ...]:
    out = subprocess.run([nginx, "-v"], capture_output=True, text=True).stderr
    match = re.search(r"nginx/(\d+)\.(\d+)\.(\d+)", out)
    return tuple(int(part) for part in match.groups()) if match else (0, 0, 0)


def nginx_echo_module(nginx: str) -> str | None:
    """The echo module's .so next to nginx's other dynamic modules, if installed."""
    out = subprocess.run([nginx, "-V"], capture_output=True, text=True).stderr
    match = re.search(r"--modules-path=(\S+)", out)
    dirs = [match.group(1)] if match else []
    dirs += ["/usr/lib/nginx/modules", "/usr/lib64/nginx/modules"]
    for directory in dirs:
        path = Path(directory) / "ngx_http_echo_module.so"
        if path.exists():
            return str(path)
    return None


@dataclass
class Server:
    """The running server(s); :meth:`close` stops them and removes the temp dir."""

    kind: str  # "nginx" or "hypercorn"
    description: str
    http_port: int
    tls_port: int
    h2c_port: int
    delay_port: int
    ca: trustme.CA
    notes: list[str] = field(default_factory=list)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    directory: str = ""

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self.directory:
            shutil.rmtree(self.directory, ignore_errors=True)


def _write_files(directory: Path, ca: trustme.CA) -> None:
    cert = ca.issue_cert(HOST, "localhost")
    cert.private_key_pem.write_to_path(str(directory / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(directory / "cert.pem"))
    for pem in cert.cert_chain_pems[1:]:
        pem.write_to_path(str(directory / "cert.pem"), append=True)
    www = directory / "www"
    www.mkdir()
    block = bytes(range(256)) * 4096  # 1 MiB
    with open(www / "64MiB", "wb") as f:
        for _ in range(BIG_SIZE // len(block)):
            f.write(block)
    # nginx's workers may run as another user: let them read everything.
    for path in [directory, www, *directory.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


def _start_delay_server(core: int | None, directory: Path) -> tuple[int, subprocess.Popen[bytes]]:
    port = free_port()
    log = open(directory / "delay-server.log", "wb")  # noqa: SIM115 - lives as long as the process
    process = subprocess.Popen(
        [*pin_prefix(core), sys.executable, str(HERE / "_delay_server.py"), HOST, str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    wait_for_port(port, process, "the delay server")
    return port, process


def start_nginx(nginx: str, core: int | None) -> Server:
    directory = Path(tempfile.mkdtemp(prefix="trio-httpcore-bench-"))
    processes: list[subprocess.Popen[bytes]] = []
    try:
        ca = trustme.CA()
        _write_files(directory, ca)
        (directory / "tmp").mkdir(mode=0o755)
        version = nginx_version(nginx)
        echo = nginx_echo_module(nginx)
        new_h2 = version >= (1, 25, 1)  # `http2 on;` replaced `listen ... http2`
        http_port, tls_port, h2c_port = free_port(), free_port(), free_port()
        locations = LOCATIONS.format(
            delay=ECHO_DELAY if echo else "            return 404;",
        )
        conf = NGINX_CONF.format(
            dir=directory,
            host=HOST,
            http_port=http_port,
            tls_port=tls_port,
            h2c_port=h2c_port,
            load_module=f"load_module {echo};" if echo else "",
            h2_listen="" if new_h2 else " http2",
            h2_on="        http2 on;\n" if new_h2 else "",
            locations=locations,
        )
        if os.geteuid() == 0:
            conf = "user root;\n" + conf
        (directory / "nginx.conf").write_text(conf)
        process = subprocess.Popen(
            [
                *pin_prefix(core),
                nginx,
                "-p",
                str(directory),
                "-c",
                str(directory / "nginx.conf"),
                "-e",
                str(directory / "error.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=open(directory / "stderr.log", "wb"),  # noqa: SIM115
        )
        processes.append(process)
        try:
            for port in (http_port, tls_port, h2c_port):
                wait_for_port(port, process, "nginx")
        except RuntimeError as exc:
            log = (directory / "stderr.log").read_text(errors="replace")
            log += (
                (directory / "error.log").read_text(errors="replace")
                if (directory / "error.log").exists()
                else ""
            )
            raise RuntimeError(f"{exc}\n{log}") from None
        notes = []
        vtext = ".".join(map(str, version))
        if echo:
            delay_port = http_port
            delay_text = "/delay by nginx echo_sleep 0.01"
        else:
            delay_port, delay_process = _start_delay_server(core, directory)
            processes.append(delay_process)
            delay_text = "/delay by benchmarks/_delay_server.py (trio.sleep(0.01))"
            notes.append(
                "nginx has no echo module (Debian: libnginx-mod-http-echo): the latency-bound "
                "run uses a small trio server instead"
            )
        pinned = f", pinned to CPU {core}" if pin_prefix(core) else ", not pinned"
        return Server(
            kind="nginx",
            description=f"nginx {vtext} (1 worker{pinned}); {delay_text}",
            http_port=http_port,
            tls_port=tls_port,
            h2c_port=h2c_port,
            delay_port=delay_port,
            ca=ca,
            notes=notes,
            processes=processes,
            directory=str(directory),
        )
    except BaseException:
        for process in processes:
            process.kill()
        shutil.rmtree(directory, ignore_errors=True)
        raise


def hypercorn_process(
    directory: Path, binds: list[str], core: int | None = None
) -> subprocess.Popen[bytes]:
    """Hypercorn (asyncio worker) serving ``_bench_app`` from ``directory``'s files and
    certificate; ``binds`` are its bind options (``--bind``, ``--insecure-bind``,
    ``--quic-bind`` with an address each). Returns once it is started, not yet listening."""
    return subprocess.Popen(
        [
            *pin_prefix(core),
            sys.executable,
            "-m",
            "hypercorn",
            "--worker-class",
            "asyncio",
            "--keep-alive",
            "600",
            "--log-level",
            "warning",
            "--certfile",
            str(directory / "cert.pem"),
            "--keyfile",
            str(directory / "key.pem"),
            *binds,
            "_bench_app:app",
        ],
        env=dict(os.environ, PYTHONPATH=str(HERE), BENCH_ROOT=str(directory / "www")),
        stdout=subprocess.DEVNULL,
        stderr=open(directory / "hypercorn.log", "wb"),
    )


def start_hypercorn(core: int | None) -> Server:
    directory = Path(tempfile.mkdtemp(prefix="trio-httpcore-bench-"))
    processes: list[subprocess.Popen[bytes]] = []
    try:
        ca = trustme.CA()
        _write_files(directory, ca)
        http_port, tls_port = free_port(), free_port()
        process = hypercorn_process(
            directory,
            ["--bind", f"{HOST}:{tls_port}", "--insecure-bind", f"{HOST}:{http_port}"],
            core,
        )
        processes.append(process)
        wait_for_port(http_port, process, "hypercorn")
        wait_for_port(tls_port, process, "hypercorn")
        pinned = f", pinned to CPU {core}" if pin_prefix(core) else ", not pinned"
        return Server(
            kind="hypercorn",
            description=f"Hypercorn, asyncio worker{pinned} (h2c on the HTTP/1.1 port)",
            http_port=http_port,
            tls_port=tls_port,
            h2c_port=http_port,
            delay_port=http_port,
            ca=ca,
            notes=[
                "nginx is not on PATH: Hypercorn serves instead and is likely the bottleneck, "
                "so the figures understate every client (see benchmarks/README.md to install nginx)"
            ],
            processes=processes,
            directory=str(directory),
        )
    except BaseException:
        for process in processes:
            process.kill()
        shutil.rmtree(directory, ignore_errors=True)
        raise


def start_server(core: int | None, prefer: str = "auto") -> Server:
    """nginx if on PATH (or ``prefer="nginx"``), else Hypercorn."""
    nginx = shutil.which("nginx") or (
        "/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None
    )
    if prefer == "hypercorn" or (prefer == "auto" and nginx is None):
        return start_hypercorn(core)
    if nginx is None:
        raise RuntimeError("--server nginx: nginx is not installed (see benchmarks/README.md)")
    return start_nginx(nginx, core)
