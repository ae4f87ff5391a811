"""The client layer: URLs, headers, requests and responses, and the clients that send them."""

from ._auth import Auth, BasicAuth, DigestAuth, FunctionAuth, NetRCAuth
from ._client import USE_CLIENT_DEFAULT, AsyncClient
from ._config import (
    DEFAULT_TIMEOUT_SECONDS,
    CertTypes,
    Limits,
    PoolLimits,
    Timeout,
    TimeoutTypes,
    create_ssl_context,
)
from ._cookies import Cookies, CookieTypes
from ._headers import Headers, HeaderTypes
from ._models import Request, Response
from ._options import (
    AuthTypes,
    BodyOptions,
    ClientOptions,
    EventHook,
    EventHooks,
    QueryOptions,
)
from ._queryparams import QueryParams, QueryParamTypes
from ._status_codes import codes
from ._transports import ASGITransport, MockTransport, WSGITransport
from ._urls import URL, Origin

__all__ = [
    "USE_CLIENT_DEFAULT",
    "AuthTypes",
    "BodyOptions",
    "ClientOptions",
    "CookieTypes",
    "EventHook",
    "EventHooks",
    "HeaderTypes",
    "QueryOptions",
    "QueryParamTypes",
    "TimeoutTypes",
    "DEFAULT_TIMEOUT_SECONDS",
    "CertTypes",
    "create_ssl_context",
    "URL",
    "ASGITransport",
    "AsyncClient",
    "Auth",
    "BasicAuth",
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
