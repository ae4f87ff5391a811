"""Received HTTP/2 frames for a client: h2's frame buffer, copying each DATA payload once.

:class:`FrameBuffer` replaces h2's ``incoming_buffer`` (when ``_h2compat.FRAME_BUFFER``
says h2's steps it reuses are there); a DATA payload that spans reads is a
:class:`Payload` of the pieces it came in, which h2 and hyperframe see as a
bytes-like of its length, and a run of DATA frames of one stream in one read
reaches h2 as one frame.
"""

from __future__ import annotations

import struct
from collections import deque
from typing import TYPE_CHECKING

import h2.exceptions
import h2.frame_buffer
import hyperframe.exceptions
import hyperframe.frame

from ._h2compat import update_header_buffer, validate_frame_length

if TYPE_CHECKING:
    from typing_extensions import Buffer

# A frame header (RFC 9113 section 4.1) as _take_data reads it: the length
# (24 bits) and type (8 bits) in one word, then the flags and the stream id.
_FRAME_HEADER = struct.Struct(">IBL")
_DATA = 0x0
_END_STREAM = 0x1
_PADDED = 0x8
_STREAM_ID_MASK = 0x7FFFFFFF

# A read of a DATA payload at least this large is handed on as it came (Payload);
# smaller ones (TLS gives 16 KiB records) are joined with their neighbours, a
# copy that costs less than handing on each as a chunk of its own.
UNCOPIED_READ_MIN = 64 * 1024


class Payload:
    """A DATA frame's payload as the pieces it arrived in: h2 sees a bytes-like of its length.

    A large frame comes in many reads (socket buffers, TLS records), and the
    reader reads it to its end and no further (:meth:`FrameBuffer.missing`):
    each large read after the first is handed on as the very ``bytes`` object
    the socket gave; only the first (which began with the frame header) and
    runs of small reads are copied. Joining them all would copy every byte
    again, into a fresh megabyte of memory each frame (page faults and all).
    h2 needs only the length (for content-length and flow control) and
    hyperframe a prefix (for its trace log); the connection hands the pieces
    on one by one (:meth:`HTTP2Connection._route`).
    """

    __slots__ = ("_size", "pieces")

    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = pieces
        self._size = sum(map(len, pieces))

    def __len__(self) -> int:
        return self._size

    def __getitem__(self, index: slice) -> bytes:
        """A slice; a prefix (``[:n]``) joins only the pieces it takes."""
        wanted = index.stop
        if index.start is None and index.step is None and wanted is not None and wanted >= 0:
            prefix: list[bytes] = []
            for piece in self.pieces:
                if wanted <= 0:
                    break
                prefix.append(piece[:wanted])
                wanted -= len(piece)
            return b"".join(prefix)
        return b"".join(self.pieces)[index]


class FrameBuffer(h2.frame_buffer.FrameBuffer):
    """h2's frame buffer for a client, copying each DATA payload once instead of thrice.

    h2's own buffer appends every read to one bytearray, slices each frame out
    of it and has hyperframe copy the payload again: three copies of every
    byte of a download besides the socket's, twice the CPU time of an
    HTTP/1.1 download. This one keeps the reads as they came and copies a DATA
    payload at most once, into the ``bytes`` the response stream hands out:
    sliced from its read, or, spanning reads, one piece per read, whole reads
    not copied at all (:class:`Payload`). Every other frame (and a
    padded DATA frame) is parsed by hyperframe as in h2, and header blocks are
    reassembled from CONTINUATION frames by h2.
    """

    def __init__(self) -> None:
        super().__init__(server=False)
        self._reads: deque[memoryview] = deque()
        self._buffered = 0
        # The next frame, once its header is buffered: parsed once, however
        # many reads its payload takes to arrive.
        self._next_header: tuple[hyperframe.frame.Frame, int] | None = None

    def add_data(self, data: Buffer) -> None:
        view = memoryview(data)
        if view:
            self._reads.append(view)
            self._buffered += len(view)

    def detach(self) -> None:
        """Copy what is left of the reads into ``bytes`` of their own: their buffer is reused.

        What is left is a frame under way: its payload's pieces are then
        ``bytes`` as large as the read left them (see :meth:`_take_payload`).
        """
        reads = self._reads
        for index, read in enumerate(reads):
            if type(read.obj) is not bytes:
                reads[index] = memoryview(bytes(read))

    def has_frame(self) -> bool:
        """Whether a whole frame is buffered, for h2 to take with ``receive_data``."""
        try:
            header = self._header()
        except h2.exceptions.ProtocolError:
            return True  # for h2 to meet, and end the connection as it does
        return header is not None and self._buffered >= 9 + header[1]

    def _header(self) -> tuple[hyperframe.frame.Frame, int] | None:
        """The next frame (its payload not parsed yet) and its length, once 9 bytes are here."""
        if self._next_header is None and self._buffered >= 9:
            try:
                self._next_header = hyperframe.frame.Frame.parse_frame_header(
                    memoryview(self._peek(9))
                )
            except (
                hyperframe.exceptions.InvalidFrameError,
                hyperframe.exceptions.InvalidDataError,  # a stream id its type forbids
            ) as err:
                raise h2.exceptions.ProtocolError(
                    f"Received frame with invalid header: {err}"
                ) from err
        return self._next_header

    def _peek(self, size: int) -> memoryview | bytes:
        """The first ``size`` buffered bytes (``size`` are buffered), left in the buffer."""
        first = self._reads[0]
        if len(first) >= size:
            return first[:size]
        parts = []
        for read in self._reads:  # only as far as needed: the next read may be megabytes
            parts.append(read[:size])
            size -= len(parts[-1])
            if not size:
                break
        return b"".join(parts)

    def missing(self) -> int:
        """How many bytes the frame under way still lacks (0 if its header is not in yet)."""
        if self._next_header is None:
            return 0
        return max(0, 9 + self._next_header[1] - self._buffered)

    def _take_data(self, frame: hyperframe.frame.DataFrame, length: int) -> bytes | Payload:
        """The payload of unpadded DATA ``frame``, and of the DATA frames after it on its stream.

        Frames that follow in the same read, unpadded, on the same stream, up
        to one with END_STREAM (which ``frame`` then carries), are taken with
        it: h2 handles them as the one frame, and the response stream hands
        their payloads on as one chunk, joined (one copy, as each alone would
        be). Flow control and content-length count the same bytes either way;
        a server sending small frames (nginx's are 8 KiB by default) costs
        one pass through h2 and one handoff per read, not per frame. The run
        may begin with the end of a frame begun in the read before. A frame
        that follows but is not whole in the read, or that h2 will refuse,
        is left for the next round.
        """
        reads = self._reads
        if not length:
            return b""
        first = len(reads[0])
        if first >= length:
            views = [self._take(length)]
        elif first < UNCOPIED_READ_MIN and len(reads) > 1 and first + len(reads[1]) >= length:
            # The end of a frame begun in the last read (what detach left),
            # which _take_payload would join anyway: joined with the run.
            views = [self._take(first), self._take(length - first)]
        else:
            return self._take_payload(length)
        stream_id = frame.stream_id
        ended = "END_STREAM" in frame.flags
        while not ended and reads:
            read = reads[0]
            if len(read) < 9:
                break
            # The next frame's header (RFC 9113 section 4.1), read here: a
            # hyperframe Frame for each would cost more than h2's handling.
            word, flags, following = _FRAME_HEADER.unpack_from(read)
            size, kind = word >> 8, word & 0xFF
            if (
                kind != _DATA
                or flags & _PADDED
                or following & _STREAM_ID_MASK != stream_id
                or size > self.max_frame_size  # for the next round to refuse
                or len(read) < 9 + size
            ):
                break
            self._buffered -= 9
            reads[0] = read[9:]
            views.append(self._take(size))
            ended = bool(flags & _END_STREAM)
        if ended:
            frame.flags.add("END_STREAM")
        return bytes(views[0]) if len(views) == 1 else b"".join(views)

    def _take_payload(self, size: int) -> bytes | Payload:
        """The first ``size`` buffered bytes as a DATA payload, removed from the buffer.

        ``bytes`` if they are in one read (sliced from it: one copy); else the
        pieces (:class:`Payload`): a whole read of at least
        ``UNCOPIED_READ_MIN`` bytes as it came, uncopied, the parts between
        them joined (one copy).
        """
        reads = self._reads
        if not size or len(reads[0]) >= size:
            return bytes(self._take(size))
        self._buffered -= size
        pieces: list[bytes] = []
        parts: list[memoryview] = []  # since the last whole read: to be joined
        while size:
            read = reads.popleft()
            if len(read) > size:
                reads.appendleft(read[size:])
                read = read[:size]
            size -= len(read)
            whole = read.obj
            if len(read) >= UNCOPIED_READ_MIN and type(whole) is bytes and len(whole) == len(read):
                if parts:
                    pieces.append(b"".join(parts))
                    parts.clear()
                pieces.append(whole)
            else:
                parts.append(read)
        if parts:
            pieces.append(b"".join(parts))
        return pieces[0] if len(pieces) == 1 else Payload(pieces)

    def _take(self, size: int) -> memoryview | bytes:
        """The first ``size`` buffered bytes (``size`` are buffered), removed from the buffer.

        A view into the read that holds them all, or else the reads joined:
        never more than one copy.
        """
        if not size:
            return b""
        self._buffered -= size
        reads = self._reads
        first = reads[0]
        if len(first) > size:
            reads[0] = first[size:]
            return first[:size]
        if len(first) == size:
            return reads.popleft()
        parts = []
        while size:
            read = reads.popleft()
            if len(read) > size:
                reads.appendleft(read[size:])
                read = read[:size]
            parts.append(read)
            size -= len(read)
        return b"".join(parts)

    def __next__(self) -> hyperframe.frame.Frame:
        # A HEADERS or CONTINUATION frame that leaves its block unfinished
        # yields nothing: go on to the next frame.
        while True:
            header = self._header()
            if header is None or self._buffered < 9 + header[1]:
                raise StopIteration
            frame, length = header
            self._next_header = None
            # Checked once the frame is complete, as h2 does (RFC 9113 section 4.2).
            validate_frame_length(self, length)
            self._take(9)
            if type(frame) is hyperframe.frame.DataFrame and "PADDED" not in frame.flags:
                # What hyperframe's parse_body sets for an unpadded frame, without its copy.
                frame.data = self._take_data(frame, length)  # type: ignore[assignment]
                frame.body_len = len(frame.data)
            else:
                try:
                    frame.parse_body(memoryview(self._take(length)))
                except hyperframe.exceptions.InvalidDataError as err:
                    raise h2.exceptions.ProtocolError(
                        "Received frame with non-compliant data"
                    ) from err
                except hyperframe.exceptions.InvalidFrameError as err:
                    raise h2.exceptions.FrameDataMissingError(
                        "Frame data missing or invalid"
                    ) from err
            complete = update_header_buffer(self, frame)
            if complete is not None:
                return complete
