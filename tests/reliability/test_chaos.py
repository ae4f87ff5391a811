"""Chaos: many requests at once, each meeting a random fault or a random cancel.

A raw HTTP/1.1 server answers each request with a behaviour chosen from the
request's path: a good response, a stall, a reset mid-head or mid-body, an
early close, garbage, a slow body, a close-delimited body. Clients cancel a
share of their requests after a random number of checkpoints. The pool is
small, so requests also wait for slots. Hypothesis picks the seed of each run.

Each request ends in a response, one of the library's exceptions, or the
cancel; a request whose server behaves and that nobody cancels must end in its
response. Afterwards the pool counts nothing connecting, active or waiting, the
next request succeeds, and no socket or task is left.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
import trio
import trio.testing
from h2.errors import ErrorCodes
from h2.settings import SettingCodes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import trio_httpcore
from tests.support.h2server import H2ServerStream, serve_h2
from tests.support.leaks import socket_fds
from tests.support.pool import read_all
from tests.support.raw import RawConn, serve_raw
from tests.support.servers import pattern

BEHAVIOURS = [
    "ok",
    "ok-chunked",
    "stall",
    "reset-head",
    "reset-body",
    "close-body",
    "garbage",
    "slow",
    "close-delimited",
]
SUCCEED = {"ok", "ok-chunked", "slow", "close-delimited"}
"""The behaviours of a server that answers well: an uncancelled request gets the response."""


async def _serve(conn: RawConn) -> None:
    while True:
        head = await conn.read_request_head()
        if not head:
            return
        behaviour = head.split(b" ")[1].decode().strip("/").split("/")[0]
        if behaviour == "ok":
            await conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
        elif behaviour == "ok-chunked":
            await conn.send(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"2\r\nhe\r\n3\r\nllo\r\n0\r\n\r\n"
            )
        elif behaviour == "stall":
            await conn.wait_closed_by_peer()
            return
        elif behaviour == "reset-head":
            await conn.send(b"HTTP/1.1 200 OK\r\nContent-")
            conn.reset()
            return
        elif behaviour == "reset-body":
            await conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 70000\r\n\r\n" + pattern(3000))
            conn.reset()
            return
        elif behaviour == "close-body":
            await conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhel")
            return
        elif behaviour == "garbage":
            await conn.send(b"HTTP/1.1 2x0 What\r\n\r\n")
            return
        elif behaviour == "slow":
            await conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n")
            for byte in b"hello":
                await trio.lowlevel.checkpoint()
                await conn.send(bytes([byte]))
        else:  # close-delimited
            await conn.send(b"HTTP/1.1 200 OK\r\n\r\nhello")
            return


def _tally() -> dict[str, Any]:
    """Outcomes by kind, and the requests meant to succeed that did not (with what they got)."""
    return {"ok": 0, "error": 0, "cancelled": 0, "should_have_succeeded": []}


REQUESTS = 60
"""Requests per run, all started at once."""

TIMEOUTS: dict[str, Any] = {"timeout": {"connect": 5, "read": 0.5, "write": 5, "pool": None}}


async def _storm(
    pool: trio_httpcore.AsyncConnectionPool,
    url4: Any,
    rng: random.Random,
    behaviours: list[str],
    succeed: set[str],
    max_cancel: int,
) -> dict[str, Any]:
    """Start ``REQUESTS`` requests at once, each for a random behaviour, 30% of them cancelled
    after up to ``max_cancel`` checkpoints; wait for all, then return the tally. A behaviour
    in ``succeed`` answers ``b"hello"``, or ``pattern(200_000)`` when it is ``"big"``."""
    tally = _tally()

    async def one(behaviour: str, cancel_after: int | None) -> None:
        with trio.CancelScope() as scope:
            async with trio.open_nursery() as inner:
                if cancel_after is not None:

                    async def cancel() -> None:
                        for _ in range(cancel_after):
                            await trio.lowlevel.checkpoint()
                        scope.cancel()

                    inner.start_soon(cancel)
                try:
                    _, _, stream, _ = await pool.arequest(
                        b"GET", url4(f"/{behaviour}"), ext=TIMEOUTS
                    )
                    body = await read_all(stream)
                    expected = pattern(200_000) if behaviour == "big" else b"hello"
                    assert body == expected, (behaviour, body[:20])
                    tally["ok"] += 1
                except trio_httpcore.HTTPError as exc:
                    tally["error"] += 1
                    if behaviour in succeed and cancel_after is None:
                        tally["should_have_succeeded"].append((behaviour, repr(exc)))
                inner.cancel_scope.cancel()
        if scope.cancelled_caught:
            tally["cancelled"] += 1

    async with trio.open_nursery() as clients:
        for _ in range(REQUESTS):
            behaviour = rng.choice(behaviours)
            cancel_after = rng.randint(0, max_cancel) if rng.random() < 0.3 else None
            clients.start_soon(one, behaviour, cancel_after)
    return tally


async def _run(seed: int) -> dict[str, Any]:
    async with trio.open_nursery() as servers:
        server = await serve_raw(servers, _serve)
        async with trio_httpcore.AsyncConnectionPool(max_connections=4) as pool:
            tally = await _storm(
                pool, server.url4, random.Random(seed), BEHAVIOURS, SUCCEED, max_cancel=30
            )
            await trio.testing.wait_all_tasks_blocked()
            stats = pool.statistics()
            assert (stats.connecting, stats.active, stats.waiting) == (0, 0, 0), stats
            _, _, stream, _ = await pool.arequest(b"GET", server.url4("/ok"), ext=TIMEOUTS)
            assert await read_all(stream) == b"hello"
        servers.cancel_scope.cancel()
    return tally


@pytest.mark.timeout(180)  # a long test: see pyproject's timeout
@settings(max_examples=30, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
@given(seed=st.integers(0, 2**32 - 1))
def test_chaos(seed: int) -> None:
    before = set(socket_fds())
    clock = trio.testing.MockClock(autojump_threshold=0)  # stalls time out at once
    tally = trio.run(_run, seed, clock=clock)
    assert tally["should_have_succeeded"] == []
    assert tally["ok"] + tally["error"] + tally["cancelled"] == REQUESTS
    assert set(socket_fds()) <= before


def test_chaos_meets_every_outcome() -> None:
    """A run has responses, errors and cancels: the test exercises all three."""
    tally = trio.run(_run, 12345, clock=trio.testing.MockClock(autojump_threshold=0))
    assert all(tally[k] > 0 for k in ("ok", "error", "cancelled")), tally


# -- HTTP/2: stream-level chaos on shared connections

H2_BEHAVIOURS = ["ok", "big", "stall", "rst-head", "rst-body", "refused", "slow", "trailers"]
H2_SUCCEED = {"ok", "big", "slow", "trailers"}


async def _h2_handler(stream: H2ServerStream) -> None:
    behaviour = stream.path.strip("/").split("/")[0]
    await stream.read_body()
    if behaviour == "ok":
        await stream.respond(200, b"hello")
    elif behaviour == "big":
        await stream.respond(200, pattern(200_000))
    elif behaviour == "stall":
        await stream.reset_received.wait()
    elif behaviour == "rst-head":
        await stream.reset(ErrorCodes.INTERNAL_ERROR)
    elif behaviour == "rst-body":
        await stream.send_headers(200, [(b"content-length", b"10")])
        await stream.send_data(b"hel")
        await stream.reset(ErrorCodes.INTERNAL_ERROR)
    elif behaviour == "refused":
        await stream.reset(ErrorCodes.REFUSED_STREAM)
    elif behaviour == "slow":
        await stream.send_headers(200, [(b"content-length", b"5")])
        for byte in b"hell":
            await trio.lowlevel.checkpoint()
            await stream.send_data(bytes([byte]))
        await stream.send_data(b"o", end=True)
    else:  # trailers
        await stream.send_headers(200)
        await stream.send_data(b"hello")
        await stream.send_trailers([(b"x-done", b"1")])


async def _run_h2(seed: int) -> dict[str, Any]:
    async with trio.open_nursery() as servers:
        server = await serve_h2(
            servers, _h2_handler, settings={SettingCodes.MAX_CONCURRENT_STREAMS: 8}
        )
        async with trio_httpcore.AsyncConnectionPool(
            http1=False, http2=True, max_connections=2
        ) as pool:
            tally = await _storm(
                pool, server.url4, random.Random(seed), H2_BEHAVIOURS, H2_SUCCEED, max_cancel=40
            )
            await trio.testing.wait_all_tasks_blocked()
            stats = pool.statistics()
            assert (stats.connecting, stats.active, stats.waiting, stats.http2_streams) == (
                0,
                0,
                0,
                0,
            ), stats
            _, _, stream, _ = await pool.arequest(b"GET", server.url4("/ok"), ext=TIMEOUTS)
            assert await read_all(stream) == b"hello"
            await trio.testing.wait_all_tasks_blocked()
            assert all(conn.open_now == 0 for conn in server.connections)
        assert server.errors == []
        servers.cancel_scope.cancel()
    return tally


@pytest.mark.timeout(180)  # a long test: see pyproject's timeout
@settings(max_examples=20, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
@given(seed=st.integers(0, 2**32 - 1))
def test_chaos_http2(seed: int) -> None:
    before = set(socket_fds())
    tally = trio.run(_run_h2, seed, clock=trio.testing.MockClock(autojump_threshold=0))
    assert tally["should_have_succeeded"] == []
    assert tally["ok"] + tally["error"] + tally["cancelled"] == REQUESTS
    assert set(socket_fds()) <= before


def test_chaos_http2_meets_every_outcome() -> None:
    tally = trio.run(_run_h2, 54321, clock=trio.testing.MockClock(autojump_threshold=0))
    assert all(tally[k] > 0 for k in ("ok", "error", "cancelled")), tally
