"""Opening an HTTP/3 connection: a connected UDP socket, QUIC's TLS settings, the handshake.

TLS is verified by the rules of the pool's ``ssl.SSLContext``: its CA
certificates are handed to aioquic, certificate checking is off only where the
context's is. The whole of it (name resolution and the QUIC handshake) is the
connect phase, under the connect timeout; a failure is a ``ConnectError``.
"""

from __future__ import annotations

import socket
import ssl
import warnings
import weakref

import trio
from aioquic.h3.connection import H3_ALPN
from aioquic.quic.configuration import QuicConfiguration
from cryptography import x509

from .._exceptions import CONNECT_ERRORS, map_exceptions
from .._http import ConnectionListener
from .._types import fail_after
from ._connection import HTTP3Connection
from ._quiccompat import ClientQuicConnection

# Our receive windows: per stream (given back as the reader consumes it) and,
# to start with, for the whole connection (aioquic doubles it as data arrives).
STREAM_RECEIVE_WINDOW = 4 * 1024 * 1024
CONNECTION_RECEIVE_WINDOW = 4 * STREAM_RECEIVE_WINDOW
# How long the connection may be silent before QUIC closes it (RFC 9000
# section 10.1); the server's preference wins if shorter.
IDLE_TIMEOUT = 60.0
# The UDP receive buffer asked of the kernel: a window's worth of datagrams
# arriving between two reads is not dropped (the kernel may grant less).
RECEIVE_BUFFER = 4 * 1024 * 1024


def quic_configuration(ssl_context: ssl.SSLContext, server_name: str) -> QuicConfiguration:
    """aioquic's client configuration, trusting what ``ssl_context`` trusts.

    The CA certificates the context holds (certifi's by default, or a test
    CA loaded with ``load_verify_locations``) are passed as ``cadata``; a
    context whose CAs come from a directory OpenSSL reads lazily (its
    ``get_ca_certs()`` is empty) gives OpenSSL's default paths instead.
    ``CERT_NONE`` turns verification off, as it does for TCP. Client
    certificates and ``check_hostname=False`` are not carried over: aioquic
    always checks the name when it verifies.
    """
    configuration = QuicConfiguration(
        is_client=True,
        alpn_protocols=H3_ALPN,
        server_name=server_name,
        idle_timeout=IDLE_TIMEOUT,
        max_stream_data=STREAM_RECEIVE_WINDOW,
        max_data=CONNECTION_RECEIVE_WINDOW,
    )
    if ssl_context.verify_mode == ssl.CERT_NONE:
        configuration.verify_mode = ssl.CERT_NONE
        return configuration
    configuration.verify_mode = ssl.CERT_REQUIRED
    cadata = trusted_certificates(ssl_context)
    if cadata:
        configuration.cadata = cadata
    else:
        paths = ssl.get_default_verify_paths()
        configuration.cafile = paths.cafile
        configuration.capath = paths.capath
    return configuration


# Each context's CA certificates as PEM, worked out once per context.
_TRUSTED: weakref.WeakKeyDictionary[ssl.SSLContext, bytes] = weakref.WeakKeyDictionary()


def trusted_certificates(ssl_context: ssl.SSLContext) -> bytes:
    """The CA certificates ``ssl_context`` holds, as PEM, for aioquic's ``cadata``.

    A certificate that cryptography (which aioquic verifies with) refuses, or
    warns it will refuse (a root of certifi's has a serial number of zero),
    is left out: it would fail every handshake, not only those it signs.
    """
    cached = _TRUSTED.get(ssl_context)
    if cached is None:
        pems = []
        for der in ssl_context.get_ca_certs(binary_form=True):
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                try:
                    x509.load_der_x509_certificate(der)
                except Exception:
                    continue
            pems.append(ssl.DER_cert_to_PEM_cert(der))
        cached = _TRUSTED[ssl_context] = "".join(pems).encode("ascii")
    return cached


async def connect_http3(
    host: str,
    port: int,
    *,
    origin: str,
    ssl_context: ssl.SSLContext,
    server_name: str,
    listener: ConnectionListener,
    local_address: str | None = None,
    keepalive_expiry: float | None = None,
    timeout: float | None = None,
) -> HTTP3Connection:
    """A connection to ``host``:``port`` over QUIC, its handshake done, or ``ConnectError``.

    The caller starts :meth:`HTTP3Connection.serve` in its nursery. On any
    failure or cancellation the socket is closed.
    """
    with (
        map_exceptions(CONNECT_ERRORS, origin, "connecting (HTTP/3) to"),
        fail_after(timeout),
    ):
        family, _, _, _, address = (
            await trio.socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
        )[0]
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
            if local_address is not None:
                sock.bind((local_address, 0))
            sock.connect(address)
        except BaseException:
            sock.close()
            raise
        configuration = quic_configuration(ssl_context, server_name)
        connection = HTTP3Connection(
            sock, ClientQuicConnection(configuration), origin, listener, keepalive_expiry
        )
        await connection.handshake()
    return connection
