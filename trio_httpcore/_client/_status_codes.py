"""``codes``: HTTP status codes by name (RFC 9110 section 15), like ``requests.codes``."""

from __future__ import annotations

import http
import sys
from enum import IntEnum

# Looked up for every response: a dict is many times cheaper than calling the enum.
_KNOWN_STATUSES: dict[int, http.HTTPStatus] = {status.value: status for status in http.HTTPStatus}


class codes(IntEnum):
    """Status codes by name: ``codes.NOT_FOUND == 404``; lower-case names work too.

    A status code's class is its first digit (RFC 9110 section 15): the
    ``is_*`` helpers test it for any integer, known code or not.
    """

    CONTINUE = 100
    SWITCHING_PROTOCOLS = 101
    PROCESSING = 102
    EARLY_HINTS = 103
    OK = 200
    CREATED = 201
    ACCEPTED = 202
    NON_AUTHORITATIVE_INFORMATION = 203
    NO_CONTENT = 204
    RESET_CONTENT = 205
    PARTIAL_CONTENT = 206
    MULTI_STATUS = 207
    ALREADY_REPORTED = 208
    IM_USED = 226
    MULTIPLE_CHOICES = 300
    MOVED_PERMANENTLY = 301
    FOUND = 302
    SEE_OTHER = 303
    NOT_MODIFIED = 304
    USE_PROXY = 305
    TEMPORARY_REDIRECT = 307
    PERMANENT_REDIRECT = 308
    BAD_REQUEST = 400
    UNAUTHORIZED = 401
    PAYMENT_REQUIRED = 402
    FORBIDDEN = 403
    NOT_FOUND = 404
    METHOD_NOT_ALLOWED = 405
    NOT_ACCEPTABLE = 406
    PROXY_AUTHENTICATION_REQUIRED = 407
    REQUEST_TIMEOUT = 408
    CONFLICT = 409
    GONE = 410
    LENGTH_REQUIRED = 411
    PRECONDITION_FAILED = 412
    REQUEST_ENTITY_TOO_LARGE = 413
    REQUEST_URI_TOO_LONG = 414
    UNSUPPORTED_MEDIA_TYPE = 415
    REQUESTED_RANGE_NOT_SATISFIABLE = 416
    EXPECTATION_FAILED = 417
    IM_A_TEAPOT = 418
    MISDIRECTED_REQUEST = 421
    UNPROCESSABLE_ENTITY = 422
    LOCKED = 423
    FAILED_DEPENDENCY = 424
    TOO_EARLY = 425
    UPGRADE_REQUIRED = 426
    PRECONDITION_REQUIRED = 428
    TOO_MANY_REQUESTS = 429
    REQUEST_HEADER_FIELDS_TOO_LARGE = 431
    UNAVAILABLE_FOR_LEGAL_REASONS = 451
    INTERNAL_SERVER_ERROR = 500
    NOT_IMPLEMENTED = 501
    BAD_GATEWAY = 502
    SERVICE_UNAVAILABLE = 503
    GATEWAY_TIMEOUT = 504
    HTTP_VERSION_NOT_SUPPORTED = 505
    VARIANT_ALSO_NEGOTIATES = 506
    INSUFFICIENT_STORAGE = 507
    LOOP_DETECTED = 508
    NOT_EXTENDED = 510
    NETWORK_AUTHENTICATION_REQUIRED = 511

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, format_spec: str) -> str:
        return format(self.value, format_spec)

    @classmethod
    def get_reason_phrase(cls, value: int) -> str:
        """The standard reason phrase of ``value``, or ``""`` for an unknown code."""
        status = _KNOWN_STATUSES.get(value)
        return "" if status is None else status.phrase

    @staticmethod
    def is_informational(value: int) -> bool:
        """1xx: the request was received and goes on being processed."""
        return 100 <= value <= 199

    @staticmethod
    def is_success(value: int) -> bool:
        """2xx: the request was received, understood and accepted."""
        return 200 <= value <= 299

    @staticmethod
    def is_redirect(value: int) -> bool:
        """3xx: further action is needed, usually another request."""
        return 300 <= value <= 399

    @staticmethod
    def is_client_error(value: int) -> bool:
        """4xx: the request is at fault."""
        return 400 <= value <= 499

    @staticmethod
    def is_server_error(value: int) -> bool:
        """5xx: the server failed to fulfil a valid request."""
        return 500 <= value <= 599

    @staticmethod
    def is_error(value: int) -> bool:
        """4xx or 5xx."""
        return 400 <= value <= 599


# requests spells them in lower case: ``codes.ok``, ``codes.not_found``.
for _code in codes:
    setattr(codes, _code.name.lower(), _code)
del _code


if sys.version_info < (3, 11):  # pragma: no cover - run by the 3.10 session
    # Python 3.11 made str() of an IntEnum its number; 3.10 prints "HTTPStatus.OK".
    # A status code prints as a number on every version, as 3.11 prints it.
    http.HTTPStatus.__str__ = int.__repr__  # type: ignore[method-assign]
    http.HTTPStatus.__format__ = int.__format__  # type: ignore[method-assign]


def status_of(value: int) -> http.HTTPStatus | int:
    """``value`` as an ``http.HTTPStatus`` when the code is a known one, else the ``int``."""
    return _KNOWN_STATUSES.get(value, value)
