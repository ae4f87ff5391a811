"""The only module that names aioquic internals: receive credit as data is consumed, stream counts.

aioquic raises a stream's receive limit as data *arrives*; a request stream
here gets credit as its reader *consumes* the data instead, so a slow reader
back-pressures only its own stream (RFC 9000 section 4.1). Each internal used
is probed at import: if one is missing, stock aioquic behaviour is kept.
"""

from __future__ import annotations

import math
from typing import Any

from aioquic.quic import connection as _quic_connection
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection
from aioquic.quic.packet import QuicFrameType
from aioquic.quic.stream import QuicStream


def _probe() -> bool:
    """Whether this aioquic has the internals the consumption-based credit relies on."""
    stream = QuicStream(stream_id=0, max_stream_data_local=1, max_stream_data_remote=1)
    return (
        hasattr(QuicConnection, "_write_stream_limits")
        and hasattr(QuicConnection, "_on_max_stream_data_delivery")
        and hasattr(_quic_connection, "MAX_STREAM_DATA_FRAME_CAPACITY")
        and hasattr(stream, "max_stream_data_local_sent")
        and hasattr(stream.sender, "_buffer")
    )


CREDIT_ON_CONSUME = _probe()


class ClientQuicConnection(QuicConnection):
    """aioquic's connection, with per-stream receive credit given as the reader consumes.

    For a stream registered with :meth:`consumed`, the limit the peer may send
    up to (MAX_STREAM_DATA) is what the reader consumed plus one window, raised
    once half a window was consumed. Other streams (HTTP/3's control and QPACK
    streams), and the connection's limit (MAX_DATA), keep aioquic's rule.
    """

    def __init__(self, configuration: QuicConfiguration) -> None:
        super().__init__(configuration=configuration)
        self._window = configuration.max_stream_data
        self._consumed: dict[int, int] = {}

    def consumed(self, stream_id: int, offset: int) -> bool:
        """The reader consumed stream ``stream_id`` up to ``offset``; whether credit is due now."""
        if not CREDIT_ON_CONSUME:
            return False
        self._consumed[stream_id] = offset
        stream = self._streams.get(stream_id)
        return stream is not None and offset + self._window - stream.max_stream_data_local >= (
            self._window // 2
        )

    def forget(self, stream_id: int) -> None:
        """Stop tracking a stream whose reader is done with it."""
        self._consumed.pop(stream_id, None)

    def bidi_streams_left(self) -> float:
        """How many more request streams the peer lets us open now (RFC 9000 section 4.6)."""
        limit = getattr(self, "_remote_max_streams_bidi", None)
        if limit is None:
            return math.inf  # aioquic queues a stream over the limit until MAX_STREAMS
        return int(limit) - self.get_next_available_stream_id() // 4

    def unsent_bytes(self, stream_id: int) -> int:
        """Bytes queued on ``stream_id`` and not yet acknowledged by the peer."""
        stream = self._streams.get(stream_id)
        if stream is None or not CREDIT_ON_CONSUME:
            return 0
        return len(stream.sender._buffer)

    def _write_stream_limits(self, builder: Any, space: Any, stream: QuicStream) -> None:
        consumed = None if stream.stream_id is None else self._consumed.get(stream.stream_id)
        if consumed is None:
            super()._write_stream_limits(builder, space, stream)
            return
        target = consumed + self._window
        if target - stream.max_stream_data_local >= self._window // 2:
            stream.max_stream_data_local = target
        if stream.max_stream_data_local_sent != stream.max_stream_data_local:
            buf = builder.start_frame(
                QuicFrameType.MAX_STREAM_DATA,
                capacity=_quic_connection.MAX_STREAM_DATA_FRAME_CAPACITY,
                handler=self._on_max_stream_data_delivery,
                handler_args=(stream,),
            )
            buf.push_uint_var(stream.stream_id)
            buf.push_uint_var(stream.max_stream_data_local)
            stream.max_stream_data_local_sent = stream.max_stream_data_local
