"""``Headers``: header fields as a case-insensitive, order-keeping, mutable multi-dict.

Names compare case-insensitively and keep the case given; a name may occur more than once, and
``headers[name]`` joins the values (RFC 9110 section 5.3). Names and values are ``str`` or
``bytes``; anything else is a ``TypeError`` when the headers are built, not when they are sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, MutableMapping, Sequence

from .._types import RawHeaders

HeaderKey = str | bytes

# Field values to keep out of reprs, logs and tracebacks.
_SECRET_FIELDS = frozenset({b"authorization", b"proxy-authorization", b"cookie", b"set-cookie"})


def _to_bytes(value: str | bytes) -> bytes:
    """A field name or value as bytes: ``str`` is written as UTF-8 (RFC 9110 section 5.5).

    Anything else (``None``, a number) is refused here, when the headers are
    built, rather than deep inside a send.
    """
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bytes):
        return value
    raise TypeError(
        f"A header name or value must be str or bytes, not {type(value).__name__}: {value!r}."
    )


def _to_str(value: bytes) -> str:
    """A field name or value as ``str``: UTF-8 where valid, else ISO-8859-1 (RFC 9110 5.5)."""
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")


class Headers(MutableMapping[str, str]):
    """HTTP header fields (RFC 9110 section 5): names compare case-insensitively.

    The fields keep their order and the case of their names as given
    (:attr:`raw`). A name may occur more than once: ``headers[name]`` joins
    the values with ``", "`` (RFC 9110 section 5.3), :meth:`get_list` gives
    them one by one, :meth:`multi_items` gives every field. Assigning
    ``headers[name] = value`` replaces every field of that name, keeping the
    place of the first; :meth:`add` appends one more field.
    """

    __slots__ = ("_fields",)

    def __init__(self, headers: HeaderTypes | None = None) -> None:
        # (name as given, lower-cased name, value), all bytes.
        self._fields: list[tuple[bytes, bytes, bytes]] = []
        if isinstance(headers, Headers):
            self._fields = list(headers._fields)
        elif headers is not None:
            # A list (the transport's fields) is no Mapping: known without the ABC's check.
            pairs: Iterable[tuple[HeaderKey, HeaderKey]] = (
                headers
                if type(headers) is list or not isinstance(headers, Mapping)
                else headers.items()
            )
            # add() inlined, bytes passed as they are: every response's fields come
            # through here, as the transport's (bytes, bytes) pairs.
            append = self._fields.append
            for name, value in pairs:
                raw_name = name if type(name) is bytes else _to_bytes(name)
                append(
                    (
                        raw_name,
                        raw_name.lower(),
                        value if type(value) is bytes else _to_bytes(value),
                    )
                )

    @property
    def raw(self) -> RawHeaders:
        """Every field as ``(name, value)`` bytes, names in the case given, in order."""
        return [(name, value) for name, _, value in self._fields]

    @property
    def encoding(self) -> str:
        """How the fields' bytes read as ``str``: ``"ascii"``, else ``"utf-8"`` where that
        decodes, else ``"iso-8859-1"`` (httpx's rule; each value is read this way)."""
        data = b"".join(name + value for name, _, value in self._fields)
        if data.isascii():
            return "ascii"
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return "iso-8859-1"
        return "utf-8"

    def add(self, name: HeaderKey, value: HeaderKey) -> None:
        """Append one field, keeping any others of the same name."""
        raw_name = _to_bytes(name)
        self._fields.append((raw_name, raw_name.lower(), _to_bytes(value)))

    def _prepend(self, name: bytes, value: bytes) -> None:
        """Insert one field before all the others (``Host``, which HTTP/1.1 wants first)."""
        self._fields.insert(0, (name, name.lower(), value))

    def get_list(self, key: str, split_commas: bool = False) -> list[str]:
        """Every value of ``key``, in order; with ``split_commas``, list elements too.

        ``split_commas`` splits each value on commas (RFC 9110 section 5.6.1);
        don't use it for fields whose values hold commas, such as dates.
        """
        lowered = _to_bytes(key).lower()
        values = [_to_str(value) for _, name, value in self._fields if name == lowered]
        if not split_commas:
            return values
        return [item.strip() for value in values for item in value.split(",") if item.strip()]

    def multi_items(self) -> list[tuple[str, str]]:
        """Every field as ``(lower-cased name, value)``, repeated names included."""
        return [(_to_str(name), _to_str(value)) for _, name, value in self._fields]

    def copy(self) -> Headers:
        """An independent copy."""
        return Headers(self)

    def __getitem__(self, key: str) -> str:
        values = self.get_list(key)
        if not values:
            raise KeyError(key)
        return ", ".join(values)

    def __setitem__(self, key: str, value: str) -> None:
        raw_name = _to_bytes(key)
        lowered = raw_name.lower()
        field = (raw_name, lowered, _to_bytes(value))
        positions = [i for i, (_, name, _) in enumerate(self._fields) if name == lowered]
        if not positions:
            self._fields.append(field)
            return
        self._fields[positions[0]] = field
        for index in reversed(positions[1:]):
            del self._fields[index]

    def __delitem__(self, key: str) -> None:
        lowered = _to_bytes(key).lower()
        kept = [field for field in self._fields if field[1] != lowered]
        if len(kept) == len(self._fields):
            raise KeyError(key)
        self._fields = kept

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, (str, bytes)):
            return False
        lowered = _to_bytes(key).lower()
        # A plain loop: asked of every request and response, and any() over a
        # generator costs several times more for a handful of fields.
        for field in self._fields:  # noqa: SIM110
            if field[1] == lowered:
                return True
        return False

    def _has(self, lowered: bytes) -> bool:
        """Whether a field is named ``lowered`` (lower-case bytes): ``in`` without the
        conversion, for the names the client itself asks about on every message."""
        for field in self._fields:  # noqa: SIM110 (a loop, as in __contains__)
            if field[1] == lowered:
                return True
        return False

    def _has_any(self, lowered: frozenset[bytes]) -> bool:
        """Whether a field has one of the names ``lowered`` (lower-case bytes)."""
        for field in self._fields:  # noqa: SIM110 (a loop, as in __contains__)
            if field[1] in lowered:
                return True
        return False

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(_to_str(name) for _, name, _ in self._fields))

    def __len__(self) -> int:
        return len({name for _, name, _ in self._fields})

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Headers):
            try:
                other = Headers(other)  # type: ignore[arg-type]
            except (TypeError, ValueError, AttributeError):
                return NotImplemented
        return sorted(self.multi_items()) == sorted(other.multi_items())

    def __repr__(self) -> str:
        shown = [
            (_to_str(name), "[secure]" if lowered in _SECRET_FIELDS else _to_str(value))
            for name, lowered, value in self._fields
        ]
        return f"{type(self).__name__}({shown!r})"


HeaderTypes = (
    Headers
    | Mapping[str, str]
    | Mapping[bytes, bytes]
    | Sequence[tuple[str, str]]
    | Sequence[tuple[bytes, bytes]]
    | Sequence[tuple[HeaderKey, HeaderKey]]
)
