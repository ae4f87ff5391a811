"""Cancellation fuzz over HTTP/3: hypothesis chooses where a request is cancelled.

The reliability suite's fuzz (tests/reliability/test_cancel_fuzz.py), against
the scripted HTTP/3 server: the phases are waiting for a stream of the pool's
only connection, the QUIC handshake (a UDP socket that never answers), sending
the body, waiting for the head, reading the body, and ``n`` checkpoints after
the start against a healthy server. Afterwards: the server saw the stream
stopped (STOP_SENDING, and RESET_STREAM for a body being sent); the pool counts
nothing connecting, active or waiting and no HTTP/3 stream open; the next request
succeeds, on the same QUIC connection where one was up; the run has exactly the
tasks it had before; no socket is left open.
"""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("aioquic", reason="HTTP/3 needs the http3 extra (aioquic)")

import trio_httpcore
from tests.support.fuzz import EXT, SETTINGS, cancel_after, count_tasks
from tests.support.leaks import socket_fds
from tests.support.pool import GatedBody, Phases, read_all
from tests.support.servers import HOST
from tests.support.tls import TLSMaterial

from .scripted import ServerStream, serve_scripted_h3

PHASES = ["pool-wait", "handshake", "send", "headers", "body", "from-start"]
H3_REQUEST_CANCELLED = 0x10C


def _handler(phases: Phases) -> Callable[[ServerStream], Awaitable[None]]:
    async def handler(stream: ServerStream) -> None:
        if stream.path == "/headers":
            await stream.read_body()
            phases.got_request.set()
            await stream.stop_sending_received.wait()
        elif stream.path == "/body":
            await stream.read_body()
            stream.send_headers(200, [(b"content-length", b"10")])
            stream.send_data(b"12345")
            phases.sent_part.set()
            await stream.stop_sending_received.wait()
        elif stream.path == "/upload":
            await stream.wait_for_body(1)
            phases.got_first_chunk.set()
            await stream.reset_received.wait()
        else:
            await stream.read_body()
            stream.respond(200, b"hello")

    return handler


async def _example(phase: str, checkpoints: int, tls: TLSMaterial) -> None:
    tasks_before = count_tasks()
    fds_before = socket_fds()
    phases = Phases()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind((HOST, 0))  # bound, never read: the QUIC handshake gets no answer
        async with trio.open_nursery() as servers:
            server = await serve_scripted_h3(
                servers, tls, _handler(phases), max_streams=1 if phase == "pool-wait" else 128
            )
            extra: dict[str, Any] = {}
            ready: Callable[[], Awaitable[None]]
            holder: Any = None
            async with trio_httpcore.AsyncConnectionPool(
                ssl_context=tls.client_context(),
                http3="only",
                max_connections=1 if phase == "pool-wait" else 2,
            ) as pool:
                target = server.url4(f"/{phase}")
                if phase == "pool-wait":
                    # The only stream of the only connection holds a stalled body.
                    holder = await pool.arequest(b"GET", server.url4("/body"), ext=EXT)
                    target = server.url4("/")
                    ready = trio.testing.wait_all_tasks_blocked
                elif phase == "handshake":
                    target = (b"https", HOST.encode(), silent.getsockname()[1], b"/")
                    ready = trio.testing.wait_all_tasks_blocked
                elif phase == "send":
                    target = server.url4("/upload")
                    extra["stream"] = GatedBody(trio.Event())
                    ready = phases.got_first_chunk.wait
                elif phase == "headers":
                    ready = phases.got_request.wait
                elif phase == "body":
                    ready = phases.sent_part.wait
                else:
                    target = server.url4("/")
                    ready = trio.lowlevel.checkpoint

                method = b"POST" if "stream" in extra else b"GET"
                with trio.CancelScope() as scope:
                    async with trio.open_nursery() as inner:
                        inner.start_soon(cancel_after, ready, checkpoints, scope)
                        _, _, stream, _ = await pool.arequest(method, target, ext=EXT, **extra)
                        await read_all(stream)
                        inner.cancel_scope.cancel()  # finished before the cancel: fine too
                assert scope.cancelled_caught or phase == "from-start", (phase, checkpoints)
                outcomes[phase, scope.cancelled_caught] = (
                    outcomes.get((phase, scope.cancelled_caught), 0) + 1
                )
                if phase in ("send", "headers", "body"):
                    # The server hears the request was cancelled; nothing else closed.
                    cancelled = server.requests[0]
                    with trio.fail_after(5):
                        await cancelled.stop_sending_received.wait()
                        if phase == "send":
                            await cancelled.reset_received.wait()
                    assert cancelled.stop_code == H3_REQUEST_CANCELLED
                    assert cancelled.reset_code in (None, H3_REQUEST_CANCELLED)
                if holder is not None:
                    await holder[2].aclose()

                await trio.testing.wait_all_tasks_blocked()
                stats = pool.statistics()
                counts = (stats.connecting, stats.active, stats.waiting, stats.http3_streams)
                assert counts == (0, 0, 0, 0), (
                    phase,
                    checkpoints,
                    stats,
                )
                connections = len(server.connections)
                _, _, stream, ext = await pool.arequest(b"GET", server.url4("/"), ext=EXT)
                assert (await read_all(stream), ext["http_version"]) == (b"hello", "HTTP/3")
                if phase in ("send", "headers", "body"):
                    assert len(server.connections) == connections == 1
            servers.cancel_scope.cancel()
    assert count_tasks() == tasks_before
    assert socket_fds().keys() <= fds_before.keys()


outcomes: dict[tuple[str, bool], int] = {}
"""(phase, cancelled) -> examples: what the fuzz reached, for the coverage check."""


async def _guarded(phase: str, checkpoints: int, tls: TLSMaterial) -> None:
    with trio.fail_after(20):  # real time: only a hang trips it
        await _example(phase, checkpoints, tls)


def _run(phase: str, checkpoints: int, tls: TLSMaterial) -> None:
    trio.run(_guarded, phase, checkpoints, tls)


@SETTINGS
@given(phase=st.sampled_from(PHASES), checkpoints=st.integers(0, 40))
def test_cancel_anywhere_http3(tls: TLSMaterial, phase: str, checkpoints: int) -> None:
    _run(phase, checkpoints, tls)


@settings(SETTINGS, max_examples=25)
@given(checkpoints=st.integers(0, 15))
def test_cancel_after_n_checkpoints_from_the_start_http3(
    tls: TLSMaterial, checkpoints: int
) -> None:
    """Cancelled ``checkpoints`` scheduler turns after the request starts, against a healthy
    server: lands in the handshake, the HEADERS, the head or body, or after the end."""
    _run("from-start", checkpoints, tls)


def test_from_start_cancels_in_some_examples_and_completes_in_others(tls: TLSMaterial) -> None:
    """0 checkpoints cancels before the handshake; enough lets the request finish."""
    outcomes.clear()
    _run("from-start", 0, tls)
    assert outcomes == {("from-start", True): 1}
    outcomes.clear()
    _run("from-start", 200, tls)
    assert outcomes == {("from-start", False): 1}
