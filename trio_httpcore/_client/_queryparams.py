"""``QueryParams``: the query string of a URL as an immutable, ordered multi-dict."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from urllib.parse import parse_qsl, urlencode

PrimitiveData = str | int | float | bool | None


def primitive_value_to_str(value: PrimitiveData) -> str:
    """How a form or query value is written: ``True`` is ``"true"``, ``None`` is ``""``."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return ""
    return str(value)


def flatten_items(
    data: Mapping[str, PrimitiveData | Sequence[PrimitiveData]]
    | Sequence[tuple[str, PrimitiveData]],
) -> list[tuple[str, str]]:
    """``(key, value)`` pairs of a mapping or pair list; a list value repeats its key."""
    pairs = data.items() if isinstance(data, Mapping) else data
    items: list[tuple[str, str]] = []
    for key, value in pairs:
        if isinstance(value, (list, tuple)):
            items.extend((str(key), primitive_value_to_str(item)) for item in value)
        else:
            items.append((str(key), primitive_value_to_str(value)))  # type: ignore[arg-type]
    return items


class QueryParams(Mapping[str, str]):
    """The parameters of a query: ``QueryParams("a=1&b=2&a=3")`` or from a dict or pairs.

    Keys may repeat; ``params["a"]`` is the first value, ``get_list("a")`` all
    of them. ``str(params)`` is the ``application/x-www-form-urlencoded``
    form (WHATWG URL, section 5). Instances are immutable: :meth:`set`,
    :meth:`add`, :meth:`remove` and :meth:`merge` return new ones.
    """

    __slots__ = ("_items",)

    def __init__(self, params: QueryParamTypes | None = None) -> None:
        if params is None:
            self._items: list[tuple[str, str]] = []
        elif isinstance(params, QueryParams):
            self._items = list(params._items)
        elif isinstance(params, (str, bytes)):
            text = params.decode("ascii") if isinstance(params, bytes) else params
            self._items = parse_qsl(text, keep_blank_values=True)
        else:
            self._items = flatten_items(params)

    def multi_items(self) -> list[tuple[str, str]]:
        """Every ``(key, value)`` pair, in order, repeated keys included."""
        return list(self._items)

    def get_list(self, key: str) -> list[str]:
        """Every value of ``key``, in order."""
        return [value for item_key, value in self._items if item_key == key]

    def set(self, key: str, value: PrimitiveData) -> QueryParams:
        """A copy where ``key`` has the single value ``value``, in its first place."""
        text = primitive_value_to_str(value)
        items: list[tuple[str, str]] = []
        placed = False
        for item_key, item_value in self._items:
            if item_key != key:
                items.append((item_key, item_value))
            elif not placed:
                items.append((key, text))
                placed = True
        if not placed:
            items.append((key, text))
        return self._from_items(items)

    def add(self, key: str, value: PrimitiveData) -> QueryParams:
        """A copy with one more value for ``key`` at the end."""
        return self._from_items([*self._items, (key, primitive_value_to_str(value))])

    def remove(self, key: str) -> QueryParams:
        """A copy without ``key``."""
        return self._from_items([item for item in self._items if item[0] != key])

    def merge(self, params: QueryParamTypes | None = None) -> QueryParams:
        """A copy where each key of ``params`` has the values ``params`` gives it.

        As in httpx: a key both have takes ``params``'s values in its first
        place; keys only ``params`` has come after the others.
        """
        given: dict[str, list[str]] = {}
        for key, value in QueryParams(params)._items:
            given.setdefault(key, []).append(value)
        items: list[tuple[str, str]] = []
        for key, value in self._items:
            if key not in given:
                items.append((key, value))
            elif given[key]:
                items.extend((key, replacement) for replacement in given[key])
                given[key] = []
        for key, values in given.items():
            items.extend((key, value) for value in values)
        return self._from_items(items)

    @classmethod
    def _from_items(cls, items: list[tuple[str, str]]) -> QueryParams:
        params = cls()
        params._items = items
        return params

    def __getitem__(self, key: str) -> str:
        for item_key, value in self._items:
            if item_key == key:
                return value
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(key for key, _ in self._items))

    def __len__(self) -> int:
        return len({key for key, _ in self._items})

    def __bool__(self) -> bool:
        return bool(self._items)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, QueryParams):
            try:
                other = QueryParams(other)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                return NotImplemented
        return sorted(self._items) == sorted(other._items)

    def __hash__(self) -> int:
        return hash(str(self))

    def __str__(self) -> str:
        return urlencode(self._items)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


QueryParamTypes = (
    QueryParams
    | Mapping[str, PrimitiveData | Sequence[PrimitiveData]]
    | Sequence[tuple[str, PrimitiveData]]
    | str
    | bytes
)
