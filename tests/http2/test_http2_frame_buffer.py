"""The client's frame buffer (``FrameBuffer``) against h2's own, read by read.

Whatever the reads are cut into, h2 fed through our buffer must report the
same events, with the same payloads, as h2 fed the whole byte stream through
its own: frames split anywhere (inside the 9-byte header too), several frames
in one read, padded and unpadded DATA, empty frames, and header blocks
continued over CONTINUATION frames.
"""

from __future__ import annotations

import itertools
import random
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import hyperframe.frame
import pytest

from trio_httpcore._http2._frames import FrameBuffer, Payload

REQUEST = [(":method", "GET"), (":path", "/"), (":scheme", "http"), (":authority", "x")]


def _client(buffer: bool) -> h2.connection.H2Connection:
    """A client with streams 1, 3 and 5 open; h2's frame buffer or ours."""
    conn = h2.connection.H2Connection(
        h2.config.H2Configuration(client_side=True, header_encoding=None)
    )
    if buffer:
        conn.incoming_buffer = FrameBuffer()
    conn.initiate_connection()
    for stream_id in (1, 3, 5):
        conn.send_headers(stream_id, REQUEST, end_stream=True)
    return conn


def _server_bytes() -> bytes:
    """What a server sends for three requests: every kind of frame a response uses."""
    server = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    server.initiate_connection()
    server.receive_data(_client(buffer=False).data_to_send())
    # A header block larger than a frame: HEADERS then CONTINUATION frames.
    server.send_headers(1, [(":status", "200"), ("x-big", "b" * 40_000)])
    server.send_data(1, b"unpadded " * 100)
    server.send_data(1, b"padded", pad_length=17)
    server.send_data(1, b"")
    server.send_headers(3, [(":status", "204")], end_stream=True)
    server.send_headers(5, [(":status", "200"), ("content-length", "3")])
    server.ping(b"12345678")
    server.send_data(1, b"last", end_stream=True)
    server.send_data(5, b"abc", end_stream=True)
    return server.data_to_send()


def _summary(events: list[h2.events.Event]) -> list[tuple[Any, ...]]:
    """Each event's type and what it carries (DATA payloads in full, as bytes).

    A payload that spans reads comes as its pieces (``Payload``), each ``bytes``.
    """
    summary: list[tuple[Any, ...]] = []
    for event in events:
        if isinstance(event, h2.events.DataReceived):
            data: Any = event.data
            if isinstance(data, Payload):
                assert all(type(piece) is bytes for piece in data.pieces)
                assert len(data) == sum(map(len, data.pieces))
                data = b"".join(data.pieces)
            assert type(data) is bytes
            summary.append((type(event), event.stream_id, data, event.flow_controlled_length))
        else:
            summary.append((type(event), repr(event)))
    return summary


def _cuts(size: int, seed: int) -> list[int]:
    rng = random.Random(seed)
    cuts = [0]
    while cuts[-1] < size:
        cuts.append(min(size, cuts[-1] + rng.choice([1, 2, 8, 9, 10, 100, 5000, 70_000])))
    return cuts


@pytest.mark.parametrize("seed", range(8))
def test_same_events_as_h2_for_any_cut_of_the_reads(seed: int) -> None:
    data = _server_bytes()
    expected = _summary(_client(buffer=False).receive_data(data))
    ours = _client(buffer=True)
    cuts = _cuts(len(data), seed)
    events: list[h2.events.Event] = []
    for start, end in itertools.pairwise(cuts):
        events += ours.receive_data(data[start:end])
    assert _summary(events) == expected


def test_one_byte_reads() -> None:
    data = _server_bytes()
    ours = _client(buffer=True)
    events: list[h2.events.Event] = []
    for i in range(len(data)):
        events += ours.receive_data(data[i : i + 1])
    assert _summary(events) == _summary(_client(buffer=False).receive_data(data))


def test_overlong_frame_is_refused() -> None:
    """A frame above our SETTINGS_MAX_FRAME_SIZE is a connection error (RFC 9113 section 4.2)."""
    client = _client(buffer=True)
    header = (20_000).to_bytes(3, "big") + b"\x00\x00\x00\x00\x00\x01"
    with pytest.raises(h2.exceptions.FrameTooLargeError):
        client.receive_data(header + b"x" * 20_000)


def test_a_large_data_frame_is_handed_on_in_the_reads_it_came_in() -> None:
    """The reader reads a frame to its end (``missing``); the large reads after the
    first (which held the frame header) become the payload's pieces themselves,
    uncopied, and the small ones between are joined into one piece."""
    buffer = FrameBuffer()
    buffer.max_frame_size = 2**20
    payload = bytes(range(256)) * 1000
    frame = hyperframe.frame.DataFrame(1, payload).serialize()
    cuts = [0, 1000, 11_000, 21_000, 121_000, len(frame)]
    reads = [frame[start:end] for start, end in itertools.pairwise(cuts)]
    assert buffer.missing() == 0  # no frame header yet
    for read in reads[:-1]:
        buffer.add_data(read)
        assert not buffer.has_frame()
        assert buffer.missing() == len(frame) - len(b"".join(reads[: reads.index(read) + 1]))
    buffer.add_data(reads[-1])
    assert buffer.has_frame()
    (parsed,) = list(buffer)
    assert isinstance(parsed, hyperframe.frame.DataFrame)
    data: object = parsed.data  # a Payload, which hyperframe types as bytes
    assert isinstance(data, Payload)
    joined, middle, last = data.pieces
    assert joined == frame[9:21_000]
    assert middle is reads[3]
    assert last is reads[4]
    assert b"".join(data.pieces) == payload
    assert len(data) == len(payload)
    assert data[:11] == payload[:11]
    assert data[5:20] == payload[5:20]
    assert data[:-3] == payload[:-3]
    assert data[:0] == b""
    assert parsed.flow_controlled_length == len(payload)
    assert buffer.missing() == 0


def _data_frames(*frames: tuple[int, bytes, set[str]]) -> bytes:
    return b"".join(
        hyperframe.frame.DataFrame(stream_id, data, flags=flags).serialize()
        for stream_id, data, flags in frames
    )


def test_data_frames_of_a_stream_in_one_read_go_to_h2_as_one() -> None:
    """Consecutive unpadded DATA frames on one stream, whole in one read, are one
    DataReceived: their payloads joined, END_STREAM from the last taken. Another
    stream's frame, a padded one, or one not whole in the read ends the run."""
    client = _client(buffer=True)
    server = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    server.initiate_connection()
    server.receive_data(client.data_to_send())
    for stream_id in (1, 3):
        server.send_headers(stream_id, [(":status", "200")])
    client.receive_data(server.data_to_send())
    padded = hyperframe.frame.DataFrame(1, b"pad", flags={"PADDED"})
    padded.pad_length = 4
    read = (
        _data_frames((1, b"a" * 100, set()), (1, b"b" * 200, set()), (1, b"", set()))
        + _data_frames((3, b"c" * 10, set()), (3, b"d" * 20, {"END_STREAM"}))
        + padded.serialize()
        + _data_frames((1, b"e" * 5, set()), (1, b"f", set()), (1, b"g", {"END_STREAM"}))
    )
    events = client.receive_data(read[:-1])  # the last frame not whole
    assert _summary(events) == [
        (h2.events.DataReceived, 1, b"a" * 100 + b"b" * 200, 300),
        (h2.events.DataReceived, 3, b"c" * 10 + b"d" * 20, 30),
        (h2.events.StreamEnded, repr(events[2])),
        (h2.events.DataReceived, 1, b"pad", 8),
        (h2.events.DataReceived, 1, b"e" * 5 + b"f", 6),
    ]
    events = client.receive_data(read[-1:])
    assert _summary(events) == [
        (h2.events.DataReceived, 1, b"g", 1),
        (h2.events.StreamEnded, repr(events[1])),
    ]


def _client_with_response_head_in(buffer: bool) -> h2.connection.H2Connection:
    """A client whose stream 1 has its response head from a server-side h2, DATA to come."""
    client = _client(buffer=buffer)
    server = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    server.initiate_connection()
    server.receive_data(client.data_to_send())
    server.send_headers(1, [(":status", "200")])
    client.receive_data(server.data_to_send())
    return client


def test_a_run_of_small_data_frames_past_the_window_is_a_flow_control_error() -> None:
    """A peer that overruns the stream window in many small frames, all in one
    read, is refused as if each came alone (RFC 9113 section 6.9.1)."""
    client = _client_with_response_head_in(buffer=True)
    run = _data_frames(*[(1, b"x" * 16_000, set())] * 5)  # 80,000 > 65,535
    with pytest.raises(h2.exceptions.FlowControlError):
        client.receive_data(run)


def test_a_frame_under_way_survives_its_read_buffer_being_reused() -> None:
    """``detach`` copies what is left of the reads: the reader reuses its buffer."""
    buffer = FrameBuffer()
    buffer.max_frame_size = 2**20
    payload = bytes(range(256)) * 400
    frame = hyperframe.frame.DataFrame(1, payload, flags={"END_STREAM"}).serialize()
    reused = bytearray(len(frame))
    for start, end in itertools.pairwise([0, 5, 70_000, len(frame)]):
        reused[: end - start] = frame[start:end]
        buffer.add_data(memoryview(reused)[: end - start])
        frames = list(buffer)
        buffer.detach()
        reused[:] = b"\xff" * len(reused)
    (parsed,) = frames
    assert isinstance(parsed, hyperframe.frame.DataFrame)
    data: object = parsed.data
    pieces = data.pieces if isinstance(data, Payload) else [data]
    assert all(type(piece) is bytes for piece in pieces)
    assert b"".join(pieces) == payload  # type: ignore[arg-type]


def test_a_frame_ending_in_a_read_starts_the_run_of_that_read() -> None:
    """A DATA frame begun in one read and ended in the next is joined with the
    frames whole in that read: one chunk per read, not two."""
    client = _client_with_response_head_in(buffer=True)
    frames = _data_frames((1, b"a" * 100, set()), (1, b"b" * 50, set()), (1, b"c", {"END_STREAM"}))
    assert client.receive_data(frames[:60]) == []
    events = client.receive_data(frames[60:])
    assert _summary(events) == [
        (h2.events.DataReceived, 1, b"a" * 100 + b"b" * 50 + b"c", 151),
        (h2.events.StreamEnded, repr(events[1])),
    ]
