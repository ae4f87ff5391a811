"""The client layer: URLs, headers, requests and responses, and the clients that send them."""

from ._auth import Auth, BasicAuth, DigestAuth, FunctionAuth, NetRCAuth
from ._client import AsyncClient
from ._config import (
    DEFAULT_TIMEOUT_SECONDS,
    CertTypes,
    Limits,
    PoolLimits,
    Timeout,
    create_ssl_context,
)
from ._cookies import Cookies
from ._headers import Headers
from ._models import Request, Response
from ._queryparams import QueryParams
from ._status_codes import codes
from ._sync_client import Client
from ._transports import ASGITransport, MockTransport, WSGITransport
from ._urls import URL, Origin

__all__ = [
    "DEFAULT_TIMEOUT_SECONDS",
    "CertTypes",
    "create_ssl_context",
    "URL",
    "ASGITransport",
    "AsyncClient",
    "Auth",
    "BasicAuth",
    "Client",
    "Cookies",
    "DigestAuth",
    "FunctionAuth",
    "Headers",
    "Limits",
    "MockTransport",
    "NetRCAuth",
    "Origin",
    "PoolLimits",
    "QueryParams",
    "Request",
    "Response",
    "Timeout",
    "WSGITransport",
    "codes",
]
