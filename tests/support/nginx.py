"""nginx in a subprocess, on two ports (HTTP/1.1 and h2c), each answering ``hello``.

Debian's ``nginx`` package is enough. Where it is missing the tests that need it
skip, except under ``TRIO_HTTPCORE_NEED_NGINX=1`` (CI's ``.ci/run`` sets it), where
they fail: see :func:`nginx_path`.
nginx cannot bind port 0 and say which port it got, so the listening sockets
are ours, bound to port 0 and handed over: nginx takes sockets it inherits
when the ``NGINX`` variable lists their descriptors (its binary-upgrade path),
and uses each for the ``listen`` of the same address.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
import trio

NGINX_CONF = """\
worker_processes 1;
daemon off;
master_process on;
pid {dir}/nginx.pid;
error_log stderr notice;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen 127.0.0.1:{http_port} backlog=4096;
        location / {{ return 200 "hello"; }}
    }}
    server {{
        listen 127.0.0.1:{h2c_port} backlog=4096{h2_listen};
{h2_on}        location / {{ return 200 "hello"; }}
    }}
}}
"""


def _listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(4096)
    return sock


NEED_NGINX = "TRIO_HTTPCORE_NEED_NGINX"


def nginx_path() -> str:
    """The nginx binary; a missing one skips the test, or fails it where nginx is required."""
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if found is not None:
        return found
    if os.environ.get(NEED_NGINX) == "1":
        pytest.fail(f"nginx is not installed, and {NEED_NGINX}=1 says this run needs it")
    pytest.skip(f"nginx is not installed (apt-get install nginx); {NEED_NGINX}=1 makes this fail")


def _nginx_version(nginx: str) -> tuple[int, ...]:
    out = subprocess.run([nginx, "-v"], capture_output=True, text=True, check=False).stderr
    match = re.search(r"nginx/(\d+)\.(\d+)\.(\d+)", out)
    return tuple(int(x) for x in match.groups()) if match else (0, 0, 0)


async def start_nginx(nursery: trio.Nursery, directory: Path) -> tuple[int, int]:
    """nginx on two ports (HTTP/1.1, h2c); returns once it listens (it says so on stderr)."""
    nginx = nginx_path()
    new_h2 = _nginx_version(nginx) >= (1, 25, 1)  # `http2 on;` replaced `listen ... http2`
    sockets = [_listening_socket(), _listening_socket()]
    http_port, h2c_port = (sock.getsockname()[1] for sock in sockets)
    conf = NGINX_CONF.format(
        dir=directory,
        http_port=http_port,
        h2c_port=h2c_port,
        h2_listen="" if new_h2 else " http2",
        h2_on="        http2 on;\n" if new_h2 else "",
    )
    if os.geteuid() == 0:
        conf = "user root;\n" + conf
    (directory / "nginx.conf").write_text(conf)
    fds = [sock.fileno() for sock in sockets]
    try:
        process = await trio.lowlevel.open_process(
            [nginx, "-p", str(directory), "-c", str(directory / "nginx.conf"), "-e", "stderr"],
            stdin=None,
            stdout=None,
            stderr=-1,  # subprocess.PIPE
            pass_fds=fds,
            env={**os.environ, "NGINX": "".join(f"{fd};" for fd in fds)},
        )
    finally:
        for sock in sockets:  # nginx has its own copies now
            sock.close()
    assert process.stderr is not None
    log = b""
    # The master takes the listening sockets before it starts its worker, and says so.
    while b"start worker process" not in log:
        data = await process.stderr.receive_some(4096)
        if not data:
            raise RuntimeError(f"nginx exited while starting: {log.decode(errors='replace')}")
        log += data

    async def drain_and_stop(task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        try:
            task_status.started()
            assert process.stderr is not None
            while await process.stderr.receive_some(4096):
                pass
            await trio.sleep_forever()
        finally:
            process.terminate()
            with trio.CancelScope(shield=True):
                await process.wait()
                assert process.stderr is not None
                await process.stderr.aclose()

    await nursery.start(drain_and_stop)
    return http_port, h2c_port
