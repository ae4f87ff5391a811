"""The server's HTTP/3 control stream, read for GOAWAY (RFC 9114 sections 5.2 and 7.2.6).

aioquic parses the control stream but drops GOAWAY's payload, so this reader
looks at the same bytes beside it: the stream type, then frames; a GOAWAY's
stream id is reported, every other frame skipped as it arrives. I/O-free.
"""

from __future__ import annotations

CONTROL_STREAM_TYPE = 0x00
GOAWAY_FRAME_TYPE = 0x07


def read_varint(data: bytes, offset: int) -> tuple[int, int] | None:
    """The variable-length integer at ``offset`` and the offset after it (RFC 9000 section 16).

    ``None`` if ``data`` ends before the integer does.
    """
    if offset >= len(data):
        return None
    length = 1 << (data[offset] >> 6)
    if offset + length > len(data):
        return None
    value = data[offset] & 0x3F
    for byte in data[offset + 1 : offset + length]:
        value = (value << 8) | byte
    return value, offset + length


class ControlStreamReader:
    """Reads one server-initiated unidirectional stream; ignores it unless it is the control one."""

    def __init__(self) -> None:
        self._buffer = b""
        self._is_control: bool | None = None  # unknown until the stream type is read
        self._skip = 0  # payload bytes still to come of a frame we do not read

    def feed(self, data: bytes) -> list[int]:
        """Take the next bytes of the stream; the stream ids of the GOAWAY frames completed."""
        if self._is_control is False:
            return []
        skipped = min(self._skip, len(data))
        self._skip -= skipped
        buffer = self._buffer + data[skipped:]
        offset = 0
        if self._is_control is None:
            stream_type = read_varint(buffer, 0)
            if stream_type is None:
                self._buffer = buffer
                return []
            self._is_control = stream_type[0] == CONTROL_STREAM_TYPE
            if not self._is_control:
                self._buffer = b""
                return []
            offset = stream_type[1]
        goaways: list[int] = []
        while True:
            frame_type = read_varint(buffer, offset)
            length = frame_type and read_varint(buffer, frame_type[1])
            if frame_type is None or not length:
                break
            payload_start, payload_end = length[1], length[1] + length[0]
            if frame_type[0] == GOAWAY_FRAME_TYPE:
                if payload_end > len(buffer):
                    break  # wait for the whole GOAWAY
                stream_id = read_varint(buffer[payload_start:payload_end], 0)
                if stream_id is not None:
                    goaways.append(stream_id[0])
            elif payload_end > len(buffer):
                self._skip = payload_end - len(buffer)
                offset = len(buffer)
                break
            offset = payload_end
        self._buffer = buffer[offset:]
        return goaways
