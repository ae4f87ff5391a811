"""Client configuration: ``Timeout``, ``Limits`` and the TLS context from ``verify``/``cert``.

``Timeout`` is per phase (connect, read, write, pool, and the optional whole-head limit), each in
seconds or ``None`` for no limit; it becomes the request's ``ext["timeout"]``. The TLS context
verifies by default with certifi's CA bundle; ``verify=False`` is an explicit choice.
"""

from __future__ import annotations

import os
import ssl
from typing import Any

from .._tls import default_ssl_context

CertTypes = str | tuple[str, str] | tuple[str, str, str]
VerifyTypes = bool | str | ssl.SSLContext

DEFAULT_TIMEOUT_SECONDS = 5.0


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


class Timeout:
    """How long each phase of a request may take, in seconds; ``None`` means no limit.

    ``Timeout(5.0)`` sets every phase; ``Timeout(10.0, connect=2.0)`` one
    differently; ``Timeout(connect=2.0)`` leaves the others at 5 s. The phases:
    ``connect`` (TCP, proxy step and TLS handshake), ``read`` (each wait for
    data), ``write`` (each send) and ``pool`` (waiting for a free connection).
    A ``Timeout`` or a 4-tuple ``(connect, read, write, pool)`` is taken as is.

    ``head`` bounds the whole wait for the response head, from the end of the
    request on, however it trickles in (``read`` bounds each piece only): off
    (``None``) unless given, whatever ``timeout`` says; a ``Timeout`` given as
    ``timeout`` passes its own on. Exceeding it raises ``ReadTimeout``.
    """

    __slots__ = ("connect", "head", "pool", "read", "write")

    def __init__(
        self,
        timeout: TimeoutTypes = DEFAULT_TIMEOUT_SECONDS,
        *,
        connect: float | None = UNSET,
        read: float | None = UNSET,
        write: float | None = UNSET,
        pool: float | None = UNSET,
        head: float | None = UNSET,
    ) -> None:
        default_head: float | None = None
        if isinstance(timeout, Timeout):
            default: tuple[float | None, ...] = timeout.as_tuple()
            default_head = timeout.head
        elif isinstance(timeout, tuple):
            if len(timeout) != 4:
                raise ValueError("A timeout tuple is (connect, read, write, pool).")
            default = timeout
        else:
            default = (timeout,) * 4
        given = (connect, read, write, pool, head)
        values = [
            d if g is UNSET else g for d, g in zip((*default, default_head), given, strict=True)
        ]
        for value in values:
            if value is not None and (not isinstance(value, (int, float)) or value < 0):
                raise ValueError(f"A timeout is a number of seconds >= 0 or None, not {value!r}.")
        self.connect: float | None = values[0]
        self.read: float | None = values[1]
        self.write: float | None = values[2]
        self.pool: float | None = values[3]
        self.head: float | None = values[4]

    def as_tuple(self) -> tuple[float | None, float | None, float | None, float | None]:
        """``(connect, read, write, pool)``."""
        return (self.connect, self.read, self.write, self.pool)

    def as_dict(self) -> dict[str, float | None]:
        """The ``ext["timeout"]`` dictionary the transport takes (``head`` only when set)."""
        timeouts = {
            "connect": self.connect,
            "read": self.read,
            "write": self.write,
            "pool": self.pool,
        }
        if self.head is not None:
            timeouts["head"] = self.head
        return timeouts

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Timeout)
            and self.as_tuple() == other.as_tuple()
            and self.head == other.head
        )

    def __hash__(self) -> int:
        return hash((*self.as_tuple(), self.head))

    def __repr__(self) -> str:
        head = "" if self.head is None else f", head={self.head!r}"
        if len(set(self.as_tuple())) == 1:
            return f"Timeout({self.connect!r}{head})"
        return (
            f"Timeout(connect={self.connect!r}, read={self.read!r}, "
            f"write={self.write!r}, pool={self.pool!r}{head})"
        )


TimeoutTypes = float | None | tuple[float | None, ...] | Timeout


class Limits:
    """How many connections a client's pool keeps (``None`` means no limit).

    ``max_connections`` caps connections open at once across all origins;
    ``max_keepalive_connections`` caps idle ones kept for reuse, and
    ``keepalive_expiry`` is how many seconds an idle one is kept.
    """

    __slots__ = ("keepalive_expiry", "max_connections", "max_keepalive_connections")

    def __init__(
        self,
        max_connections: int | None = 100,
        max_keepalive_connections: int | None = 20,
        keepalive_expiry: float | None = 5.0,
    ) -> None:
        self.max_connections = max_connections
        self.max_keepalive_connections = max_keepalive_connections
        self.keepalive_expiry = keepalive_expiry

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Limits) and (
            self.max_connections,
            self.max_keepalive_connections,
            self.keepalive_expiry,
        ) == (other.max_connections, other.max_keepalive_connections, other.keepalive_expiry)

    def __hash__(self) -> int:
        return hash((self.max_connections, self.max_keepalive_connections, self.keepalive_expiry))

    def __repr__(self) -> str:
        return (
            f"Limits(max_connections={self.max_connections!r}, "
            f"max_keepalive_connections={self.max_keepalive_connections!r}, "
            f"keepalive_expiry={self.keepalive_expiry!r})"
        )


PoolLimits = Limits
"""The seed name of :class:`Limits`."""


def create_ssl_context(
    verify: VerifyTypes = True, cert: CertTypes | None = None, trust_env: bool = True
) -> ssl.SSLContext:
    """The TLS context for ``verify`` and ``cert``, as the client's arguments describe them.

    ``verify=True`` verifies against certifi's CA bundle (or the file or
    directory named by ``SSL_CERT_FILE``/``SSL_CERT_DIR`` when ``trust_env``),
    a path verifies against that bundle only, ``False`` verifies nothing and
    an ``SSLContext`` is used as it is. ``cert`` is a PEM file holding the
    client certificate and key, or ``(cert, key)``, or ``(cert, key, password)``.
    """
    if isinstance(verify, ssl.SSLContext):
        context = verify
    elif verify is False:
        context = default_ssl_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        bundle = verify if isinstance(verify, str) else None
        if trust_env and bundle is None:
            bundle = os.environ.get("SSL_CERT_FILE") or os.environ.get("SSL_CERT_DIR")
        context = default_ssl_context() if bundle is None else _context_trusting(bundle)
    if cert is not None:
        if isinstance(cert, str):
            context.load_cert_chain(cert)
        else:
            context.load_cert_chain(*cert)
    return context


def _context_trusting(path: str) -> ssl.SSLContext:
    """A verifying context that trusts only the CA file or directory at ``path``."""
    if not os.path.exists(path):
        raise OSError(f"Could not find a CA bundle at {path!r}.")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if os.path.isdir(path):
        context.load_verify_locations(capath=path)
    else:
        context.load_verify_locations(cafile=path)
    return context
