"""Cancellation fuzz: hypothesis chooses where a request is cancelled.

A phase is a point the server (or the pool) signals with an event: waiting for
a pool slot, TCP connect (a port whose accept queue is full), the TLS
handshake, sending the body, waiting for the head, reading the body. After the
event, the cancel comes ``n`` scheduler checkpoints later (``n`` chosen by
hypothesis), so it lands at or just after that point. A further mode cancels
``n`` checkpoints after the request starts, against a healthy TLS server,
which lands anywhere from connect to the end of the body.

Each example is a fresh trio run with its own servers. Afterwards: the pool
counts nothing connecting, active or waiting and no HTTP/2 stream open; the
next request succeeds; the pool exits, and the run has exactly the tasks it
had before the pool was opened; no socket is left open.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import h11
import trio
import trio.testing
from h2.settings import SettingCodes
from hypothesis import given, settings
from hypothesis import strategies as st

import trio_httpcore
from tests.support.fuzz import EXT, SETTINGS, cancel_after, count_tasks
from tests.support.h2server import H2Server, H2ServerStream, serve_h2
from tests.support.h11server import serve_http
from tests.support.leaks import socket_fds
from tests.support.pool import GatedBody, Phases, read_all, stalling_handler
from tests.support.raw import RawConn, serve_blackhole, serve_raw
from tests.support.tls import TLSMaterial

PHASES = ["pool-wait", "connect", "tls", "send", "headers", "body", "from-start"]


# -- HTTP/1.1 and TLS servers


async def _tls_h11_server(nursery: trio.Nursery, tls: TLSMaterial) -> Any:
    """A TLS server speaking HTTP/1.1 with h11: every request gets 200 b"hello"."""
    context = tls.server_context(alpn=["http/1.1"])

    async def handler(conn: RawConn) -> None:
        stream = trio.SSLStream(conn.stream, context, server_side=True)
        server = h11.Connection(h11.SERVER)
        try:
            while True:
                event = server.next_event()
                if event is h11.NEED_DATA:
                    data = await stream.receive_some(65536)
                    if not data:
                        return
                    server.receive_data(bytes(data))
                elif isinstance(event, h11.EndOfMessage):
                    out = server.send(
                        h11.Response(status_code=200, headers=[(b"content-length", b"5")])
                    )
                    out += server.send(h11.Data(data=b"hello")) or b""
                    out += server.send(h11.EndOfMessage()) or b""
                    await stream.send_all(out)
                    server.start_next_cycle()
                elif isinstance(event, h11.ConnectionClosed):
                    return
        except (trio.BrokenResourceError, trio.ClosedResourceError, h11.ProtocolError):
            return

    return await serve_raw(nursery, handler)


async def _silent_tls(nursery: trio.Nursery, accepted: trio.Event) -> Any:
    async def handler(conn: RawConn) -> None:
        accepted.set()
        await conn.wait_closed_by_peer()  # the handshake never gets an answer

    return await serve_raw(nursery, handler)


async def _tls_h2_server(
    nursery: trio.Nursery, tls: TLSMaterial, handler: Callable[[H2ServerStream], Awaitable[None]]
) -> Any:
    """The scripted HTTP/2 server behind TLS with ALPN h2."""
    context = tls.server_context(alpn=["h2"])
    h2 = H2Server(handler)

    async def serve(conn: RawConn) -> None:
        stream = trio.SSLStream(conn.stream, context, server_side=True)
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            await h2._serve(RawConn(stream, conn.counted))  # type: ignore[arg-type]

    return await serve_raw(nursery, serve)


# -- HTTP/2: the scripted server


def _h2_handler(phases: Phases) -> Callable[[H2ServerStream], Awaitable[None]]:
    async def handler(stream: H2ServerStream) -> None:
        path = stream.path
        if path == "/headers":
            await stream.read_body()
            phases.got_request.set()
            await stream.reset_received.wait()
        elif path == "/body":
            await stream.read_body()
            await stream.send_headers(200, [(b"content-length", b"10")])
            await stream.send_data(b"12345")
            phases.sent_part.set()
            await stream.reset_received.wait()
        elif path == "/upload":
            async for chunk in stream._body_chunks:
                if chunk:
                    phases.got_first_chunk.set()
                    break
            await stream.reset_received.wait()
        else:
            await stream.read_body()
            await stream.respond(200, b"hello")

    return handler


# -- One example


async def _example(protocol: str, phase: str, checkpoints: int, tls: TLSMaterial) -> None:
    tasks_before = count_tasks()
    fds_before = socket_fds()
    phases = Phases()
    async with trio.open_nursery() as servers:
        if protocol == "HTTP/2":
            limit = {SettingCodes.MAX_CONCURRENT_STREAMS: 1} if phase == "pool-wait" else {}
            h2 = await serve_h2(servers, _h2_handler(phases), settings=limit)
            server: Any = h2.tcp
            options: dict[str, Any] = {"http1": False, "http2": True}
        else:
            server = await serve_http(servers, lambda req: stalling_handler(phases, req))
            options = {}
        context = tls.client_context()
        url = server.url4
        extra: dict[str, Any] = {}
        ready: Callable[[], Awaitable[None]]
        holder: Any = None

        async with trio_httpcore.AsyncConnectionPool(
            ssl_context=context, max_connections=1 if phase == "pool-wait" else 2, **options
        ) as pool:
            if phase == "pool-wait":
                # Hold the only slot (HTTP/2: the only stream the server allows) with
                # a response whose body stalls; the request then waits for it.
                holder = [await pool.arequest(b"GET", url("/body"), ext=EXT)]
                target = url("/")
                ready = trio.testing.wait_all_tasks_blocked
            elif phase == "connect":
                blackhole = await serve_blackhole(servers)
                target = blackhole.url4("/")
                ready = trio.testing.wait_all_tasks_blocked
            elif phase == "tls":
                accepted = trio.Event()
                silent = await _silent_tls(servers, accepted)
                target = (b"https", b"127.0.0.1", silent.port, b"/")

                async def ready() -> None:
                    await accepted.wait()
                    await trio.testing.wait_all_tasks_blocked()

            elif phase == "send":
                target = url("/upload")
                extra["stream"] = GatedBody(trio.Event())

                async def ready() -> None:
                    await phases.got_first_chunk.wait()

            elif phase == "headers":
                target = url("/headers")

                async def ready() -> None:
                    await phases.got_request.wait()

            elif phase == "body":
                target = url("/body")

                async def ready() -> None:
                    await phases.sent_part.wait()

            else:  # from-start: a healthy server over TLS, cancelled anywhere
                if protocol == "HTTP/2":
                    healthy = await _tls_h2_server(servers, tls, _h2_handler(phases))
                    target = (b"https", b"127.0.0.1", healthy.port, b"/")
                else:
                    healthy = await _tls_h11_server(servers, tls)
                    target = (b"https", b"127.0.0.1", healthy.port, b"/")

                async def ready() -> None:
                    await trio.lowlevel.checkpoint()

            method = b"POST" if "stream" in extra else b"GET"
            with trio.CancelScope() as scope:
                async with trio.open_nursery() as inner:
                    inner.start_soon(cancel_after, ready, checkpoints, scope)
                    _, _, stream, _ = await pool.arequest(method, target, ext=EXT, **extra)
                    await read_all(stream)
                    inner.cancel_scope.cancel()  # finished before the cancel: fine too
            # Every phase but from-start stalls for good: the request can only end cancelled.
            assert scope.cancelled_caught or phase == "from-start", (phase, checkpoints)
            outcomes[protocol, phase, scope.cancelled_caught] = (
                outcomes.get((protocol, phase, scope.cancelled_caught), 0) + 1
            )
            if holder is not None:
                for _, _, stream, _ in holder:
                    await stream.aclose()

            # The invariants.
            await trio.testing.wait_all_tasks_blocked()
            stats = pool.statistics()
            assert (stats.connecting, stats.active, stats.waiting, stats.http2_streams) == (
                0,
                0,
                0,
                0,
            ), (phase, checkpoints, stats)
            _, _, stream, _ = await pool.arequest(b"GET", url("/"), ext=EXT)
            assert await read_all(stream) == b"hello"
        # The pool exited: every task it started has ended.
        servers.cancel_scope.cancel()
    assert count_tasks() == tasks_before
    assert socket_fds().keys() <= fds_before.keys()


outcomes: dict[tuple[str, str, bool], int] = {}
"""(protocol, phase, cancelled) -> examples: what the fuzz reached, for the coverage check."""


async def _guarded(protocol: str, phase: str, checkpoints: int, tls: TLSMaterial) -> None:
    with trio.fail_after(20):  # real time: only a hang trips it
        await _example(protocol, phase, checkpoints, tls)


def _run(protocol: str, phase: str, checkpoints: int, tls: TLSMaterial) -> None:
    trio.run(_guarded, protocol, phase, checkpoints, tls)


@SETTINGS
@given(phase=st.sampled_from(PHASES), checkpoints=st.integers(0, 40))
def test_cancel_anywhere_http11(tls: TLSMaterial, phase: str, checkpoints: int) -> None:
    _run("HTTP/1.1", phase, checkpoints, tls)


@SETTINGS
@given(phase=st.sampled_from(PHASES), checkpoints=st.integers(0, 40))
def test_cancel_anywhere_http2(tls: TLSMaterial, phase: str, checkpoints: int) -> None:
    _run("HTTP/2", phase, checkpoints, tls)


def test_from_start_cancels_in_some_examples_and_completes_in_others(tls: TLSMaterial) -> None:
    """The checkpoint count spans the whole request: 0 cancels before connect, 40 lets a
    TLS request to a healthy server finish (the fuzz covers the range in between)."""
    for protocol in ("HTTP/1.1", "HTTP/2"):
        outcomes.clear()
        _run(protocol, "from-start", 0, tls)
        assert outcomes == {(protocol, "from-start", True): 1}
        outcomes.clear()
        _run(protocol, "from-start", 400, tls)
        assert outcomes == {(protocol, "from-start", False): 1}


@settings(SETTINGS, max_examples=25)
@given(protocol=st.sampled_from(["HTTP/1.1", "HTTP/2"]), checkpoints=st.integers(0, 60))
def test_cancel_after_n_checkpoints_from_the_start(
    tls: TLSMaterial, protocol: str, checkpoints: int
) -> None:
    """Cancelled ``checkpoints`` scheduler turns after the request starts, against a
    healthy server: lands in connect, TLS, send, head or body, or after the end."""
    _run(protocol, "from-start", checkpoints, tls)
