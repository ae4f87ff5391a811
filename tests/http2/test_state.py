"""H2State without sockets: a server's h2 and the client's state hand bytes to each other.

Each test drives the state as the driver does (reserve, open a stream, feed
what the peer sent, route h2's events) and checks the bookkeeping and the
flags that tell the driver what to do (RFC 9113 sections 5.1, 6.4, 6.8, 6.9).
Each runs twice: with _h2compat's shortcuts, and with its stock-h2 fallbacks.
"""

from __future__ import annotations

import h2.config
import h2.connection
import h2.events
import h2.settings
import pytest
from h2.errors import ErrorCodes
from hyperframe.frame import GoAwayFrame, RstStreamFrame

from trio_httpcore import RemoteProtocolError
from trio_httpcore._http import RetryOnNewConnection, StreamFailure
from trio_httpcore._http2 import _h2compat
from trio_httpcore._http2._state import (
    CLOSED,
    CONNECTION_RECEIVE_WINDOW,
    FREED,
    MAX_STREAM_ID,
    RELEASED,
    H2State,
)
from trio_httpcore._http2._stream import Stream

URL = (b"http", b"test", 80, b"/")
SHORTCUTS = [
    "FRAME_BUFFER",
    "OPEN_STREAM_COUNT",
    "MACHINE_TRANSITIONS",
    "FRAME_HOOKS",
    "HPACK_CACHES",
]


@pytest.fixture(autouse=True, params=["shortcuts", "stock"])
def h2_internals(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run with _h2compat's shortcuts as found at import, or with every one off."""
    if request.param == "stock":
        for name in SHORTCUTS:
            monkeypatch.setattr(_h2compat, name, False)
    return str(request.param)


MAX_STREAMS = h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS


class Peers:
    """The client's :class:`H2State` and a server's h2, connected by hand."""

    def __init__(self, **settings: int) -> None:
        self.state = H2State("http://test")
        self.server = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=False, header_encoding=None)
        )
        self.server.local_settings = h2.settings.Settings(
            client=False,
            initial_values={getattr(h2.settings.SettingCodes, k): v for k, v in settings.items()},
        )
        self.server.initiate_connection()
        self.server_events: list[h2.events.Event] = []

    def to_server(self) -> None:
        """What the client queued reaches the server."""
        self.server_events += self.server.receive_data(self.state.h2.data_to_send())

    def to_client(self, data: bytes | None = None) -> int:
        """What the server queued (or ``data``) reaches the client; the flags of routing it."""
        received = self.server.data_to_send() if data is None else data
        return self.state.receive(self.state.h2.receive_data(received))

    def request(self) -> Stream:
        """A reservation, then a GET on it, received by the server."""
        assert self.state.try_reserve()
        stream = self.state.open_stream(b"GET", URL, [], end_stream=True)
        self.to_server()
        return stream

    def respond(self, stream: Stream, body: bytes = b"", end: bool = True) -> int:
        headers = [(b":status", b"200"), (b"content-length", str(len(body)).encode())]
        self.server.send_headers(stream.stream_id, headers, end_stream=not body and end)
        if body:
            self.server.send_data(stream.stream_id, body, end_stream=end)
        return self.to_client()


def connected(**settings: int) -> Peers:
    """Peers past the preface: the server's SETTINGS are in, no reservation held."""
    peers = Peers(**settings)
    peers.to_server()
    peers.to_client()
    assert peers.state.unreserve() == FREED  # the connection's first, not used here
    return peers


def test_the_first_request_goes_before_the_peers_settings() -> None:
    peers = Peers(MAX_CONCURRENT_STREAMS=1)
    state = peers.state
    assert (state.reserved, state.settings_received.is_set()) == (1, False)
    assert state.try_reserve()  # the limit is unknown: granted, to wait for SETTINGS
    stream = state.open_stream(b"GET", URL, [], end_stream=True)
    assert (stream.stream_id, state.opened_any, state.reserved) == (1, True, 1)
    peers.to_server()
    assert peers.to_client() & RELEASED  # the limit is known: the pool looks again
    assert state.settings_received.is_set()
    assert state.stream_limit == 1
    with pytest.raises(RetryOnNewConnection):
        state.open_stream(b"GET", URL, [], end_stream=True)
    assert state.reserved == 0  # the reservation is gone either way
    assert state.freed() == FREED


def test_a_response_is_routed_to_its_stream_and_the_ended_stream_forgotten() -> None:
    peers = connected()
    state = peers.state
    first, second = peers.request(), peers.request()
    assert len(state.streams) == 2
    assert peers.respond(second, b"hello") == FREED
    assert [type(e).__name__ for e in second.events] == [
        "ResponseReceived",
        "DataReceived",
        "StreamEnded",
    ]
    assert (second.ended, second.remote_ended, second.failure) == (True, True, None)
    assert list(state.streams) == [first.stream_id]
    assert not first.events
    assert peers.respond(first) == FREED
    assert state.is_idle()
    assert state.h2_open_streams() == 0


def test_credit_is_returned_as_data_is_consumed_not_as_it_arrives() -> None:
    peers = connected()
    state = peers.state
    stream = peers.request()
    peers.respond(stream, b"x" * 1000)
    left, consumed, size = _h2compat.receive_window(state.h2)
    assert (size - left, consumed) == (1000, 0)  # arrived, not yet read
    state.credit(stream.stream_id, 600)
    left, consumed, size = _h2compat.receive_window(state.h2)
    assert (size - left, consumed) == (1000, 600)
    assert size == CONNECTION_RECEIVE_WINDOW


def test_a_released_stream_credits_what_it_left_unread_and_resets() -> None:
    peers = connected()
    state = peers.state
    stream = peers.request()
    peers.respond(stream, b"x" * 1000, end=False)
    assert state.release_stream(stream) == FREED
    assert stream.reset and not state.streams
    left, consumed, size = _h2compat.receive_window(state.h2)
    assert size - left == consumed == 1000
    peers.to_server()
    (reset,) = [e for e in peers.server_events if isinstance(e, h2.events.StreamReset)]
    assert reset.error_code == ErrorCodes.CANCEL


def test_goaway_fails_the_streams_it_did_not_process_and_drains_the_others() -> None:
    peers = connected()
    state = peers.state
    one, three, five = (peers.request() for _ in range(3))
    goaway = GoAwayFrame(0, last_stream_id=3, error_code=ErrorCodes.NO_ERROR).serialize()
    assert peers.to_client(goaway) == FREED
    assert state.draining and not state.try_reserve()
    assert five.failure is not None and five.failure.unprocessed  # may go elsewhere
    assert (one.failure, three.failure) == (None, None)
    assert peers.respond(one) == FREED  # still answered after the GOAWAY
    assert one.failure is None and not state.closed
    assert peers.respond(three) == FREED | CLOSED  # the last one closes the connection
    assert state.closed and state.close_failure is state.goaway_failure


def test_goaway_on_an_idle_connection_closes_it() -> None:
    peers = connected()
    goaway = GoAwayFrame(0, last_stream_id=0).serialize()
    assert peers.to_client(goaway) & CLOSED
    assert peers.state.closed


@pytest.mark.parametrize("code", [ErrorCodes.REFUSED_STREAM, ErrorCodes.INTERNAL_ERROR])
def test_rst_stream_fails_its_stream_only(code: ErrorCodes) -> None:
    peers = connected()
    state = peers.state
    one, three = peers.request(), peers.request()
    assert peers.to_client(RstStreamFrame(3, error_code=code).serialize()) == FREED
    assert three.failure is not None and three.reset
    assert three.failure.error is RemoteProtocolError
    assert three.failure.unprocessed == (code == ErrorCodes.REFUSED_STREAM)
    assert one.failure is None and list(state.streams) == [1]


def test_a_lower_stream_limit_bounds_reservations() -> None:
    peers = connected()
    state = peers.state
    peers.request()
    assert state.try_reserve() and state.try_reserve()
    peers.server.update_settings({MAX_STREAMS: 2})
    assert peers.to_client() == RELEASED
    assert not state.try_reserve()  # one open and two reserved: over the new limit
    state.open_stream(b"GET", URL, [], end_stream=True)
    with pytest.raises(RetryOnNewConnection):
        state.open_stream(b"GET", URL, [], end_stream=True)
    assert state.reserved == 0 and len(state.streams) == 2


def test_no_reservation_once_stream_ids_run_out() -> None:
    peers = connected()
    state = peers.state
    state.h2.highest_outbound_stream_id = MAX_STREAM_ID - 2
    assert state.try_reserve()  # the last id there is
    assert not state.try_reserve()
    assert state.open_stream(b"GET", URL, [], end_stream=True).stream_id == MAX_STREAM_ID


def test_window_updates_wake_the_senders() -> None:
    peers = connected(INITIAL_WINDOW_SIZE=10)
    state = peers.state
    assert state.try_reserve()
    stream = state.open_stream(b"POST", URL, [], end_stream=False)
    peers.to_server()
    assert state.send_window(stream) == 10
    state.queue_data(stream, memoryview(b"x" * 10))
    assert state.send_window(stream) == 0
    peers.to_server()
    peers.server.increment_flow_control_window(5, stream.stream_id)
    peers.server.increment_flow_control_window(5)
    assert not stream.window_open.is_set()
    peers.to_client()
    assert stream.window_open.is_set() and state.send_window(stream) == 5
    assert state.end_request(stream) == 0  # still open: the response is to come


def test_close_fails_every_stream_once() -> None:
    peers = connected()
    state = peers.state
    streams = [peers.request() for _ in range(3)]
    failure = StreamFailure(RemoteProtocolError, "gone")
    assert state.close(failure) == CLOSED
    assert state.close(StreamFailure(RemoteProtocolError, "again")) == 0
    assert all(s.failure is failure and s.ended for s in streams)
    assert not state.streams and state.draining
    assert state.settings_received.is_set()


def test_a_body_longer_than_its_content_length_fails_only_its_stream() -> None:
    if not _h2compat.FRAME_HOOKS:
        pytest.skip("stock h2 fails the connection")
    peers = connected()
    state = peers.state
    one, three = peers.request(), peers.request()
    peers.server.send_headers(3, [(b":status", b"200"), (b"content-length", b"2")])
    # h2 checks what it sends too: the frame is built by hand.
    peers.to_client()
    actions = peers.to_client(_data_frame(3, b"too long"))
    assert actions == FREED
    assert three.failure is not None and "malformed" in three.failure.message
    assert one.failure is None and not state.closed
    peers.to_server()
    (reset,) = [e for e in peers.server_events if isinstance(e, h2.events.StreamReset)]
    assert (reset.stream_id, reset.error_code) == (3, ErrorCodes.PROTOCOL_ERROR)


def _data_frame(stream_id: int, data: bytes) -> bytes:
    from hyperframe.frame import DataFrame

    return DataFrame(stream_id, data).serialize()
