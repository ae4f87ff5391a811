"""The client layer: URLs, headers, requests and responses, and the clients that send them."""

from ._auth import Auth, BasicAuth, DigestAuth, FunctionAuth, NetRCAuth
from ._client import DEFAULT_LIMITS, DEFAULT_TIMEOUT, USE_CLIENT_DEFAULT, AsyncClient
from ._config import (
    DEFAULT_TIMEOUT_SECONDS,
    CertTypes,
    Limits,
    PoolLimits,
    Timeout,
    TimeoutTypes,
    VerifyTypes,
    create_ssl_context,
)
from ._cookies import Cookies, CookieTypes
from ._headers import Headers, HeaderTypes
from ._models import DefaultEncoding, Request, Response
from ._options import AuthTypes, EventHook, EventHooks, Mounts, ProxyTypes
from ._queryparams import QueryParams, QueryParamTypes
from ._status_codes import codes
from ._transports import ASGITransport, MockTransport, WSGITransport
from ._urls import URL, Origin

__all__ = [
    "DEFAULT_LIMITS",
    "DEFAULT_TIMEOUT",
    "USE_CLIENT_DEFAULT",
    "AuthTypes",
    "CookieTypes",
    "DefaultEncoding",
    "EventHook",
    "EventHooks",
    "HeaderTypes",
    "Mounts",
    "ProxyTypes",
    "QueryParamTypes",
    "TimeoutTypes",
    "VerifyTypes",
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
