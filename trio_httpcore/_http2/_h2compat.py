"""The one module that names private internals of h2, hyperframe and hpack.

Each shortcut below replaces a piece of h2's pipeline for speed or for a rule
of RFC 9113 that h2 has no option for. At import, each checks that the
internals it relies on are there; where one is missing (or with
``TRIO_HTTPCORE_H2_STOCK=1`` in the environment, as the test suite's stock
run sets it) stock h2 does that job instead: slower, same results.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import h2.config
import h2.connection
import h2.exceptions
import h2.frame_buffer
import hpack.table
import hyperframe.frame
from h2.connection import ConnectionInputs, ConnectionState, H2ConnectionStateMachine
from h2.events import Event

# Set (to "1") to run on stock h2 only, as if every internal were missing.
STOCK_ENV = "TRIO_HTTPCORE_H2_STOCK"
STOCK = os.environ.get(STOCK_ENV) == "1"


def _has(obj: object, *names: str) -> bool:
    return not STOCK and all(hasattr(obj, name) for name in names)


def _probe() -> h2.connection.H2Connection:
    return h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))


_PROBE = _probe()

# -- hyperframe's trace-log formatting of DATA frames.


def hex_preview(data: bytes | memoryview | None) -> str:
    """hyperframe's ``_raw_data_repr``, with the same output, hexlifying only what it shows.

    h2 formats every frame it receives for its trace log whether anyone logs
    or not (``repr(frame)`` in ``H2Connection._receive_frame``), and hyperframe
    hexlifies a DATA frame's whole payload to keep 20 hex digits of it: a
    third of the CPU time of a download.
    """
    if not data:
        return "None"
    shown = bytes(data[:11]).hex()
    return f"<hex:{shown[:20]}...>" if len(shown) > 20 else f"<hex:{shown}>"


def _data_frame_body_repr(self: hyperframe.frame.DataFrame) -> str:
    """hyperframe's ``DataFrame._body_repr``, with the same output, serializing only what it shows.

    hyperframe's serializes the whole frame body (a copy of the payload) to
    show its first bytes, for the same trace log as above; and a payload in
    pieces (``_frames.Payload``) cannot be joined into it.
    """
    head = self.serialize_padding_data() + bytes(self.data[:11]) + b"\0" * min(self.pad_length, 11)
    return hex_preview(head[:11])


# Whether DATA frames are formatted by the functions above (installed here).
TRACE_REPR = _has(hyperframe.frame, "_raw_data_repr") and _has(
    hyperframe.frame.DataFrame, "_body_repr"
)
if TRACE_REPR:
    hyperframe.frame._raw_data_repr = hex_preview
    hyperframe.frame.DataFrame._body_repr = _data_frame_body_repr  # type: ignore[method-assign, assignment]

# -- h2's frame buffer: _frames.FrameBuffer subclasses it and uses these two
# steps of h2's own. Its payloads in pieces need the trace formatting above.
FRAME_BUFFER = TRACE_REPR and _has(
    h2.frame_buffer.FrameBuffer, "_validate_frame_length", "_update_header_buffer"
)
_STOCK_BUFFER = h2.frame_buffer.FrameBuffer


def validate_frame_length(buffer: h2.frame_buffer.FrameBuffer, length: int) -> None:
    """h2's check of a received frame's length against SETTINGS_MAX_FRAME_SIZE."""
    _STOCK_BUFFER._validate_frame_length(buffer, length)


def update_header_buffer(
    buffer: h2.frame_buffer.FrameBuffer, frame: hyperframe.frame.Frame
) -> hyperframe.frame.Frame | None:
    """h2's reassembly of a header block from HEADERS and CONTINUATION frames."""
    return _STOCK_BUFFER._update_header_buffer(buffer, frame)


# -- HPACK: _hpack's caches compare the dynamic table's state (these attributes).
HPACK_CACHES = _has(hpack.table.HeaderTable(), "dynamic_entries", "maxsize", "resized")

# -- h2's count of open streams, and its table of closed ones.
OPEN_STREAM_COUNT = _has(_PROBE, "_closed_streams", "streams")


class _CountingH2Connection(h2.connection.H2Connection):
    """h2's connection for a client that knows how many of its streams are open.

    h2 counts open streams with a scan of every stream it holds, on each new
    stream (``send_headers``), dropping closed ones as it goes: with 100
    streams in flight, 100 state look-ups per request. Here the count is the
    size of the caller's table of open streams, which never lets it exceed the
    peer's limit (RFC 9113 section 5.1.2), and closed streams are dropped as
    the caller forgets them (:func:`drop_closed`).
    """

    def __init__(self, config: h2.config.H2Configuration, open_streams: dict[int, Any]) -> None:
        super().__init__(config=config)
        self._open = open_streams

    @property
    def open_outbound_streams(self) -> int:
        return len(self._open)


def new_connection(
    config: h2.config.H2Configuration, open_streams: dict[int, Any]
) -> h2.connection.H2Connection:
    """An h2 client connection; ``open_streams``: the caller's table of streams open on the wire."""
    if OPEN_STREAM_COUNT:
        return _CountingH2Connection(config, open_streams)
    return h2.connection.H2Connection(config=config)


def drop_closed(conn: h2.connection.H2Connection, stream_id: int) -> None:
    """Drop stream ``stream_id`` from h2's table if it is closed, as h2's scan would have done.

    It is remembered among the closed streams (with who closed it), so that
    frames still arriving for it are treated as h2 treats them. With stock h2
    its own scan does this, on the next new stream.
    """
    if OPEN_STREAM_COUNT:
        stream = conn.streams.get(stream_id)
        if stream is not None and stream.closed:
            del conn.streams[stream_id]
            conn._closed_streams[stream_id] = stream.closed_by


def h2_open_outbound_streams(conn: h2.connection.H2Connection) -> int:
    """h2's own view of how many client streams are open (its streams' states)."""
    return sum(1 for stream_id, stream in conn.streams.items() if stream_id % 2 and stream.open)


def receive_window(conn: h2.connection.H2Connection) -> tuple[int, int, int]:
    """Our connection receive window as h2 manages it: (left, consumed not yet credited, size)."""
    manager = conn._inbound_flow_control_window_manager
    return manager.current_window_size, manager._bytes_processed, manager.max_window_size


# -- GOAWAY: h2 closes its state machine when it receives one, and then
# refuses every frame, even for the streams RFC 9113 section 6.8 lets finish;
# a frame in the same read as the GOAWAY would lose the GOAWAY's event too.
_GOAWAY_KEEPS_OPEN = {
    (ConnectionState.CLIENT_OPEN, ConnectionInputs.RECV_GOAWAY): (None, ConnectionState.CLIENT_OPEN)
}
MACHINE_TRANSITIONS = _has(_PROBE.state_machine, "_transitions")


class _OpenAfterGoaway(H2ConnectionStateMachine):
    """h2's connection state machine, staying open when a GOAWAY arrives (slower than a table)."""

    def process_input(self, input_: ConnectionInputs) -> list[Event]:
        if input_ is ConnectionInputs.RECV_GOAWAY and self.state is ConnectionState.CLIENT_OPEN:
            return []
        return super().process_input(input_)


def stay_open_after_goaway(conn: h2.connection.H2Connection) -> None:
    """Keep ``conn``'s state machine open after a GOAWAY: the caller stops new streams itself."""
    machine = conn.state_machine
    if MACHINE_TRANSITIONS:
        # The table is the class's: this machine gets a copy with one entry more.
        machine._transitions = {**machine._transitions, **_GOAWAY_KEEPS_OPEN}
    else:
        replacement = _OpenAfterGoaway()
        replacement.state = machine.state
        conn.state_machine = replacement


# -- Received frames: h2 hands each to a handler from its dispatch table.
FRAME_HOOKS = _has(_PROBE, "_frame_dispatch_table")

FrameHandler = Callable[[Any], tuple[list[Any], list[Event]]]


def hook_frames(
    conn: h2.connection.H2Connection,
    frame_type: type[hyperframe.frame.Frame],
    wrap: Callable[[FrameHandler], FrameHandler],
) -> None:
    """Have ``wrap(h2's handler)`` handle the ``frame_type`` frames ``conn`` receives.

    Only when :data:`FRAME_HOOKS`: the callers choose stock h2's behaviour otherwise.
    """
    table = conn._frame_dispatch_table
    table[frame_type] = wrap(table[frame_type])


def is_content_length_error(exc: h2.exceptions.ProtocolError) -> bool:
    """Whether h2 raised ``exc`` for a response's invalid or conflicting content-length.

    Told by h2's messages (``H2Stream._initialize_content_length``): should
    they change, such a response fails its connection, as in stock h2.
    """
    return type(exc) is h2.exceptions.ProtocolError and str(exc).startswith(
        ("Invalid content-length header", "Conflicting content-length headers")
    )


del _PROBE
