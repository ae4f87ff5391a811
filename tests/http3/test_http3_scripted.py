"""HTTP/3 behaviours Hypercorn cannot show on cue, against the scripted aioquic server:
GOAWAY mid-flight, a stream rejected with H3_REQUEST_REJECTED, keep-alive expiry, a
cancelled upload, and the pool's exit saying CONNECTION_CLOSE."""

from __future__ import annotations

import pytest
import trio
import trio.testing

pytest.importorskip("aioquic", reason="HTTP/3 needs the http3 extra (aioquic)")

import trio_httpcore
from tests.support.pool import NO_TIMEOUTS, TIMEOUTS, GatedBody, read_all
from tests.support.tls import TLSMaterial
from trio_httpcore._streams import PlainByteStream

from .scripted import ServerStream, serve_scripted_h3

H3_NO_ERROR = 0x100
H3_REQUEST_REJECTED = 0x10B
H3_REQUEST_CANCELLED = 0x10C


async def test_goaway_retries_streams_above_its_id_and_drains_the_rest(
    make_pool, nursery: trio.Nursery, tls: TLSMaterial
) -> None:
    """GOAWAY(8) with streams 4, 8 and 12 open: 8 and 12 go to a new connection while
    stream 4, below the id, still completes on the old one, which then closes."""
    three_arrived = trio.Event()
    retried = trio.Event()
    held: list[ServerStream] = []

    async def handler(stream: ServerStream) -> None:
        await stream.read_body()
        if stream.path == "/warm-up":
            stream.respond(200, b"warm")
        elif stream.connection is not server.connections[0]:
            stream.respond(200, b"second connection")
            if len(server.requests) == 6:
                retried.set()
        else:
            held.append(stream)
            if len(held) < 3:
                return
            three_arrived.set()
            stream.connection.send_goaway(8)
            with trio.fail_after(10):
                await retried.wait()  # 8 and 12 were sent again while 4 is open
            held[0].respond(200, b"first connection")

    server = await serve_scripted_h3(nursery, tls, handler)
    async with make_pool(ssl_context=tls.client_context(), http3="only") as pool:
        # The connection is up before the three requests, so they share it.
        _, _, stream, _ = await pool.arequest(b"GET", server.url4("/warm-up"), ext=TIMEOUTS)
        assert await read_all(stream) == b"warm"
        bodies: dict[int, bytes] = {}

        async def one(i: int) -> None:
            _, _, stream, ext = await pool.arequest(b"GET", server.url4(f"/{i}"), ext=TIMEOUTS)
            assert ext["http_version"] == "HTTP/3"
            bodies[i] = await read_all(stream)

        with trio.fail_after(20):
            async with trio.open_nursery() as requests:
                for i in range(3):
                    requests.start_soon(one, i)
                    await trio.testing.wait_all_tasks_blocked()  # streams 4, 8, 12 in order
            old = server.connections[0]
            await old.terminated.wait()
        assert bodies == {0: b"first connection", 1: b"second connection", 2: b"second connection"}
        assert [r.stream_id for r in held] == [4, 8, 12]
        assert len(server.connections) == 2
        assert old.close_code == H3_NO_ERROR  # closed by the client once drained
        assert pool.statistics().idle == 1


async def test_goaway_fails_a_refused_request_whose_body_cannot_be_sent_again(
    make_pool, nursery: trio.Nursery, tls: TLSMaterial
) -> None:
    goaway_sent = trio.Event()

    async def handler(stream: ServerStream) -> None:
        await stream.wait_for_body(1)
        stream.connection.send_goaway(0)
        goaway_sent.set()

    async def body():  # type: ignore[no-untyped-def]
        yield b"once"
        await goaway_sent.wait()
        await trio.testing.wait_all_tasks_blocked()  # the client read the GOAWAY
        yield b"more"

    server = await serve_scripted_h3(nursery, tls, handler)
    async with make_pool(ssl_context=tls.client_context(), http3="only") as pool:
        with pytest.raises(trio_httpcore.RemoteProtocolError, match="GOAWAY"):
            await pool.arequest(b"POST", server.url4("/"), stream=body(), ext=TIMEOUTS)
        assert len(server.requests) == 1


async def test_a_stream_rejected_with_h3_request_rejected_is_sent_again(
    make_pool, nursery: trio.Nursery, tls: TLSMaterial
) -> None:
    """H3_REQUEST_REJECTED (RFC 9114 section 4.1.1): not processed, so retried."""

    async def handler(stream: ServerStream) -> None:
        body = await stream.read_body()
        if len(server.requests) == 1:
            stream.reset(H3_REQUEST_REJECTED)
        else:
            stream.respond(200, b"took " + body)

    server = await serve_scripted_h3(nursery, tls, handler)
    async with make_pool(ssl_context=tls.client_context(), http3="only") as pool:
        status, _, stream, ext = await pool.arequest(
            b"POST", server.url4("/"), stream=PlainByteStream(b"payload"), ext=TIMEOUTS
        )
        assert (status, await read_all(stream), ext["http_version"]) == (
            200,
            b"took payload",
            "HTTP/3",
        )
        assert [r.body for r in server.requests] == [b"payload", b"payload"]


async def test_a_stream_reset_otherwise_is_an_error_and_not_retried(
    make_pool, nursery: trio.Nursery, tls: TLSMaterial
) -> None:
    async def handler(stream: ServerStream) -> None:
        await stream.read_body()
        stream.reset(0x102)  # H3_INTERNAL_ERROR: maybe processed

    server = await serve_scripted_h3(nursery, tls, handler)
    async with make_pool(ssl_context=tls.client_context(), http3="only") as pool:
        with pytest.raises(trio_httpcore.RemoteProtocolError, match="H3_INTERNAL_ERROR"):
            await pool.arequest(b"GET", server.url4("/"), ext=TIMEOUTS)
        assert len(server.requests) == 1
        assert not server.connections[0].terminated.is_set()  # the connection goes on


async def test_keepalive_expiry_closes_an_idle_connection(
    make_pool, nursery: trio.Nursery, tls: TLSMaterial, autojump_clock: trio.testing.MockClock
) -> None:
    """Idle past ``keepalive_expiry``: CONNECTION_CLOSE (H3_NO_ERROR) before QUIC's idle
    timeout (60 s on both ends); the next request opens a new connection."""
    server = await serve_scripted_h3(nursery, tls)
    async with make_pool(
        ssl_context=tls.client_context(), http3="only", keepalive_expiry=5.0
    ) as pool:
        _, _, stream, _ = await pool.arequest(b"GET", server.url4("/"), ext=NO_TIMEOUTS)
        assert await read_all(stream) == b"hello"
        first = server.connections[0]
        await trio.sleep(4)
        assert pool.statistics().idle == 1 and not first.terminated.is_set()
        await trio.sleep(2)
        assert first.terminated.is_set() and first.close_code == H3_NO_ERROR
        assert pool.statistics().idle == 0
        _, _, stream, _ = await pool.arequest(b"GET", server.url4("/"), ext=NO_TIMEOUTS)
        assert await read_all(stream) == b"hello"
        assert len(server.connections) == 2


async def test_cancelled_mid_upload_resets_the_stream_and_the_connection_goes_on(
    make_pool, nursery: trio.Nursery, tls: TLSMaterial
) -> None:
    first_chunk = trio.Event()

    async def handler(stream: ServerStream) -> None:
        if stream.path == "/upload":
            await stream.wait_for_body(1)
            first_chunk.set()
            await stream.reset_received.wait()
        else:
            await stream.read_body()
            stream.respond(200, b"hello")

    server = await serve_scripted_h3(nursery, tls, handler)
    async with make_pool(ssl_context=tls.client_context(), http3="only") as pool:
        with trio.CancelScope() as scope:
            nursery.start_soon(lambda: _cancel_at(first_chunk, scope))
            await pool.arequest(
                b"POST", server.url4("/upload"), stream=GatedBody(trio.Event()), ext=TIMEOUTS
            )
        assert scope.cancelled_caught
        upload = server.requests[0]
        with trio.fail_after(10):
            await upload.reset_received.wait()
            await upload.stop_sending_received.wait()
        assert (upload.reset_code, upload.stop_code) == (H3_REQUEST_CANCELLED,) * 2
        assert bytes(upload.body) == b"first chunk"
        _, _, stream, _ = await pool.arequest(b"GET", server.url4("/"), ext=TIMEOUTS)
        assert await read_all(stream) == b"hello"
        assert len(server.connections) == 1 and not server.connections[0].terminated.is_set()


async def _cancel_at(event: trio.Event, scope: trio.CancelScope) -> None:
    await event.wait()
    scope.cancel()


async def test_leaving_the_pool_says_connection_close(
    nursery: trio.Nursery, tls: TLSMaterial
) -> None:
    """The server hears the connection end at once (H3_NO_ERROR), not after its idle timeout."""
    server = await serve_scripted_h3(nursery, tls)
    async with trio_httpcore.AsyncConnectionPool(
        ssl_context=tls.client_context(), http3="only"
    ) as pool:
        _, _, stream, _ = await pool.arequest(b"GET", server.url4("/"), ext=TIMEOUTS)
        assert await read_all(stream) == b"hello"
    with trio.fail_after(10):
        await server.connections[0].terminated.wait()
    assert server.connections[0].close_code == H3_NO_ERROR
