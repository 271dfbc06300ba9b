"""Decoders of the composite types: lists, sets, maps, tuples, UDTs and vectors, built from their element
decoders, and :func:`build_decoder`, which picks the decoder of any type.

Use :func:`aiocql.types.codecs.decoder_for`; this module and :mod:`aiocql.types.decoders` (the native
types) are its implementation. A decoder takes exactly a value's bytes (no length prefix; null is the
caller's business) and raises only :class:`~aiocql.errors.ProtocolError` for malformed input.

In *hashable* mode (elements of a set, keys of a map) containers decode to hashable forms:
``list`` -> ``tuple``, ``set`` -> ``frozenset``, ``map`` -> :class:`~aiocql.types.values.FrozenMap`,
vector -> ``tuple``. Sets and map keys of types whose hashes a writer can choose are checked for hash
flooding and decode to :class:`~aiocql.types.values.UnhashedSet` / ``UnhashedMap`` when flooded.

Example:
    >>> from aiocql.protocol.cqltypes import INT, ListType
    >>> decode = build_decoder(ListType(INT), False, lambda t, hashable: build_decoder(t, hashable, None))
    >>> decode(bytes.fromhex("00000001" "00000004" "0000002a"))
    [42]
"""

from __future__ import annotations

import collections
import functools
import keyword
import operator
import struct
import unicodedata
from collections.abc import Callable
from typing import Any, Final

from aiocql.errors.base import InvalidValueError, ProtocolError
from aiocql.protocol.cqltypes import (
    CqlType,
    CustomType,
    ListType,
    MapType,
    NativeType,
    SetType,
    TupleType,
    UdtType,
    VectorType,
)
from aiocql.protocol.primitives import read_unsigned_vint
from aiocql.types.decoders import (
    _NATIVE_DECODERS,
    MAX_VALUE_BYTES,
    STRUCT_CODES,
    Decoder,
    _bad_size,
    _decode_blob,
    _int32_from,
)
from aiocql.types.udt_classes import ClassUdtType, require_hashable, udt_maker
from aiocql.types.values import EMPTY, FrozenMap, UnhashedMap, UnhashedSet

__all__ = ["FLOOD_MAX_BUCKET", "FLOOD_MIN_ELEMENTS", "build_decoder", "udt_class"]


def _truncated(what: str) -> ProtocolError:
    return ProtocolError(f"truncated {what} value")


def _count(data: bytes | memoryview, what: str) -> int:
    try:
        n: int = _int32_from(data)[0]
    except struct.error:
        raise _truncated(what) from None
    if n < 0:
        raise ProtocolError(f"{what} value has a negative element count {n}")
    return n


_PackedReader = Callable[[bytes | memoryview, int], tuple[Any, ...] | None]


def _packed_reader(unit: list[CqlType]) -> _PackedReader | None:
    """For collections whose elements (or key and value) are struct-coded natives: read all the
    ``[bytes]`` lengths and values of n elements with one precompiled struct, or return None when
    any length differs from the type's size (null, empty, malformed: the generic loop decides).
    """
    specs = [(STRUCT_CODES.get(t.name), struct.calcsize(">" + STRUCT_CODES[t.name])) if
             isinstance(t, NativeType) and t.name in STRUCT_CODES else (None, 0) for t in unit]  # fmt: skip
    if any(code is None for code, _ in specs):
        return None
    pattern = "".join(f"i{code}" for code, _ in specs)
    unit_bytes = sum(4 + size for _, size in specs)
    width = len(specs)
    sizes = [size for _, size in specs]
    same_size = len(set(sizes)) == 1
    cache: dict[int, Callable[[bytes | memoryview, int], tuple[Any, ...]]] = {}

    def read(data: bytes | memoryview, n: int) -> tuple[Any, ...] | None:
        if len(data) != 4 + n * unit_bytes:
            return None
        unpack = cache.get(n)
        if unpack is None:
            unpack = struct.Struct(">" + pattern * n).unpack_from
            if len(cache) < 64:
                cache[n] = unpack
        raw = unpack(data, 4)
        lengths = raw[0::2]
        if same_size:
            if lengths.count(sizes[0]) != n * width:
                return None
        elif any(lengths[i::width].count(sizes[i]) != n for i in range(width)):
            return None
        return raw[1::2]

    return read


# Hash flooding (issue 11 #4): the hashes of these types can be chosen by whoever writes the value
# (int-based or deterministic tuple hashes: UUID, varint, decimal, composites), so a set of them or a
# map keyed by them could be built in quadratic time. str, bytes, inet, date and timestamp hash with
# the randomised SipHash; bounded ints and floats can share a hash only a handful of times.
_FLOODABLE_NATIVES: Final = frozenset({"uuid", "timeuuid", "varint", "decimal"})
# Smaller sets are never checked: at most 16**2/2 comparisons, about what decoding them costs, so even
# a list of many small flooded sets stays within a small factor of an ordinary list.
FLOOD_MIN_ELEMENTS: Final = 16
FLOOD_MAX_BUCKET: Final = 8  # more elements than this sharing one hash: the unhashed fallback


def _floodable(t: CqlType) -> bool:
    if isinstance(t, NativeType):
        return t.name in _FLOODABLE_NATIVES
    return not isinstance(t, CustomType)


_uuid_int = operator.attrgetter("int")


def _colliding(items: list[object], uuids: bool = False) -> bool:
    """True if building a set of ``items`` would compare more than FLOOD_MAX_BUCKET elements that
    share a hash with each other (linear: hashes are ints, distinct hash values never collide).
    ``uuids``: the items should be UUIDs, whose hash is that of their int (read in C, 2x faster)."""
    try:
        hashes = list(map(hash, map(_uuid_int, items))) if uuids else list(map(hash, items))
    except AttributeError:  # None or EMPTY among them
        hashes = list(map(hash, items))
    if len(items) - len(set(hashes)) <= FLOOD_MAX_BUCKET:
        return False
    return collections.Counter(hashes).most_common(1)[0][1] > FLOOD_MAX_BUCKET


def _unique_by_bytes(items: list[Any], raw: list[bytes]) -> list[Any]:
    """``items`` without those whose serialized bytes repeat (what the server deduplicates by;
    bytes hash with SipHash, so this is safe from flooding)."""
    if len(set(raw)) == len(raw):
        return items
    seen: set[bytes] = set()
    out = []
    for item, key in zip(items, raw, strict=True):
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


def _element_slices(data: bytes | memoryview, n: int, per_item: int) -> list[bytes]:
    """The raw [bytes] of n elements, or of the keys when ``per_item`` is 2 (a map)."""
    out: list[bytes] = []
    append = out.append
    unpack_from = _int32_from
    pos = 4
    for _ in range(n):
        size = unpack_from(data, pos)[0]
        pos += 4
        if size < 0:
            append(b"null")  # not 4 bytes long: cannot equal a value's bytes... nor matter (rare)
        else:
            end = pos + size
            append(bytes(data[pos:end]))
            pos = end
        if per_item == 2:
            size = unpack_from(data, pos)[0]
            pos += 4 + max(size, 0)
    return out


def _sequence_decoder(t: ListType | SetType, elem: Decoder, hashable: bool) -> Decoder:
    what = t.cql_name
    is_set = isinstance(t, SetType)
    finish: Callable[[Any], object] = (frozenset if hashable else set) if is_set else (tuple if hashable else list)
    guard = is_set and _floodable(t.elem)
    uuids = isinstance(t.elem, NativeType) and t.elem.name in ("uuid", "timeuuid")
    packed = _packed_reader([t.elem])
    unpack_from = _int32_from

    def decode(data: bytes | memoryview) -> object:
        try:
            n = unpack_from(data)[0]
        except struct.error:
            if not data:
                return EMPTY
            raise _truncated(what) from None
        if n < 0:
            raise ProtocolError(f"{what} value has a negative element count {n}")
        if packed is not None:
            values = packed(data, n)
            if values is not None:
                return finish(values)
        items: list[object] = []
        append = items.append
        pos = 4
        length = len(data)
        try:
            for _ in range(n):
                size = unpack_from(data, pos)[0]
                pos += 4
                if size < 0:
                    append(None)
                    continue
                end = pos + size
                if end > length:
                    raise _truncated(what)
                append(elem(data[pos:end]))
                pos = end
        except struct.error:
            raise _truncated(what) from None
        if pos != length:
            raise ProtocolError(f"{what} value has {length - pos} trailing bytes")
        if guard and n > FLOOD_MIN_ELEMENTS and _colliding(items, uuids):
            return UnhashedSet(_unique_by_bytes(items, _element_slices(data, n, 1)))
        return finish(items)

    return decode


def _map_decoder(t: MapType, key: Decoder, value: Decoder, hashable: bool) -> Decoder:
    what = t.cql_name
    guard = _floodable(t.key)
    uuids = isinstance(t.key, NativeType) and t.key.name in ("uuid", "timeuuid")
    packed = _packed_reader([t.key, t.value])
    unpack_from = _int32_from

    def decode(data: bytes | memoryview) -> object:
        if not data:
            return EMPTY
        n = _count(data, what)
        if packed is not None:
            values = packed(data, n)
            if values is not None:
                pairs = dict(zip(values[0::2], values[1::2], strict=True))
                return FrozenMap(pairs) if hashable else pairs
        if guard and n > FLOOD_MIN_ELEMENTS:
            return decode_guarded(data, n)
        out: dict[object, object] = {}
        pos = 4
        length = len(data)
        try:
            for _ in range(n):
                size = unpack_from(data, pos)[0]
                pos += 4
                k = None
                if size >= 0:
                    end = pos + size
                    if end > length:
                        raise _truncated(what)
                    k = key(data[pos:end])
                    pos = end
                size = unpack_from(data, pos)[0]
                pos += 4
                v = None
                if size >= 0:
                    end = pos + size
                    if end > length:
                        raise _truncated(what)
                    v = value(data[pos:end])
                    pos = end
                out[k] = v
        except struct.error:
            raise _truncated(what) from None
        if pos != length:
            raise ProtocolError(f"{what} value has {length - pos} trailing bytes")
        return FrozenMap(out) if hashable else out

    def decode_guarded(data: bytes | memoryview, n: int) -> object:
        # Keys whose hashes may be chosen by the writer: decode first, check, then build the dict.
        keys: list[object] = []
        values: list[object] = []
        pos = 4
        length = len(data)
        try:
            for _ in range(n):
                for decoder, into in ((key, keys), (value, values)):
                    size = unpack_from(data, pos)[0]
                    pos += 4
                    if size < 0:
                        into.append(None)
                        continue
                    end = pos + size
                    if end > length:
                        raise _truncated(what)
                    into.append(decoder(data[pos:end]))
                    pos = end
        except struct.error:
            raise _truncated(what) from None
        if pos != length:
            raise ProtocolError(f"{what} value has {length - pos} trailing bytes")
        if _colliding(keys, uuids):
            pairs = list(zip(keys, values, strict=True))
            return UnhashedMap(_unique_by_bytes(pairs, _element_slices(data, n, 2)))
        out = dict(zip(keys, values, strict=True))
        return FrozenMap(out) if hashable else out

    return decode


def _fields_decoder(what: str, decoders: list[Decoder], make: Callable[[list[object]], object]) -> Decoder:
    # Tuples and UDTs: successive [bytes]; missing trailing fields decode as None (so zero bytes
    # is a value whose fields are all missing, not EMPTY).
    count = len(decoders)
    unpack_from = _int32_from

    def decode(data: bytes | memoryview) -> object:
        values: list[object] = [None] * count
        pos = 0
        length = len(data)
        try:
            for i, dec in enumerate(decoders):
                if pos == length:
                    break
                size = unpack_from(data, pos)[0]
                pos += 4
                if size >= 0:
                    end = pos + size
                    if end > length:
                        raise _truncated(what)
                    values[i] = dec(data[pos:end])
                    pos = end
        except struct.error:
            raise _truncated(what) from None
        if pos != length:
            raise ProtocolError(f"{what} value has {length - pos} bytes after its last field")
        return make(values)

    return decode


def _class_name(cql_name: str) -> str:
    """A Python identifier for a UDT's class: characters that cannot be in one become ``_``.

    ``str.isidentifier`` is stricter than ``\\w`` (``"x²"`` is all word characters but no
    identifier): a character is kept only if it may continue an identifier.
    """
    name = "".join(c if ("a" + c).isidentifier() else "_" for c in cql_name)
    if not name.isidentifier() or name.startswith("_") or keyword.iskeyword(name):
        name = "udt_" + name
    return name if name.isidentifier() else "udt"


def _field_names(cql_names: tuple[str, ...]) -> list[str]:
    """Field names namedtuple accepts: a name that is not an identifier, is a keyword, starts with
    ``_`` or repeats an earlier one once NFKC-normalised (Python normalises identifiers, so ``ﬁ`` is
    ``fi``) becomes ``_<index>``."""
    out: list[str] = []
    seen: set[str] = set()
    for i, raw in enumerate(cql_names):
        name = unicodedata.normalize("NFKC", raw)
        if not name.isidentifier() or keyword.iskeyword(name) or name.startswith("_") or name in seen:
            name = f"_{i}"
        seen.add(name)
        out.append(name)
    return out


@functools.lru_cache(maxsize=1024)
def udt_class(t: UdtType) -> type[Any]:
    """The namedtuple class a UDT decodes to, one per UDT type (fields that are not identifiers
    are renamed ``_<index>``; the class keeps the CQL names in ``_cql_fields``).

    Example:
        >>> from aiocql.protocol.cqltypes import INT, TEXT, UdtType
        >>> cls = udt_class(UdtType("ks", "address", ("street", "zip code"), (TEXT, INT)))
        >>> cls("Main St", 12345), cls._cql_fields
        (address(street='Main St', _1=12345), ('street', 'zip code'))
    """
    try:
        cls = collections.namedtuple(_class_name(t.name), _field_names(t.field_names), rename=True)  # type: ignore[misc]
    except (ValueError, SyntaxError):  # a name namedtuple still refuses: never a builtin error
        cls = collections.namedtuple("udt", [f"_{i}" for i in range(len(t.field_names))], rename=True)  # type: ignore[misc,no-redef]
    cls.__doc__ = f"Value of user type {t.keyspace}.{t.name}: fields {', '.join(t.field_names)}"
    cls._cql_fields = t.field_names  # type: ignore[attr-defined]
    result: type[Any] = cls
    return result


def _vector_decoder(t: VectorType, elem: Decoder, hashable: bool) -> Decoder:
    # Cassandra 5.0 VectorType: elements of a fixed-size type are concatenated without lengths;
    # other elements are each prefixed with an [unsigned vint] length. No nulls, no count.
    dim = t.dimension
    what = t.cql_name
    size = t.elem.serialized_size
    code = STRUCT_CODES.get(t.elem.name) if isinstance(t.elem, NativeType) else None
    finish: Callable[[Any], object] = tuple if hashable else list
    if size is not None and size * dim > MAX_VALUE_BYTES:
        # No [bytes] value can be that long (a hostile server's 2**61 dimension): any non-empty
        # value is an error, and no struct of that size is ever built (struct.error).
        def decode_impossible(data: bytes | memoryview) -> object:
            return _bad_size(data, size * dim, what)

        return decode_impossible
    if code is not None and size is not None:
        unpack_all = struct.Struct(f">{dim}{code}").unpack

        def decode_packed(data: bytes | memoryview) -> object:
            try:
                return finish(unpack_all(data))
            except struct.error:
                return _bad_size(data, size * dim, what)

        return decode_packed
    if size is not None:
        elem_size = size

        def decode_fixed(data: bytes | memoryview) -> object:
            if len(data) != elem_size * dim:
                return _bad_size(data, elem_size * dim, what)
            return finish([elem(data[i : i + elem_size]) for i in range(0, elem_size * dim, elem_size)])

        return decode_fixed

    def decode_variable(data: bytes | memoryview) -> object:
        if not data:
            return EMPTY
        items: list[object] = []
        pos = 0
        for _ in range(dim):
            n, pos = read_unsigned_vint(data, pos)
            if pos + n > len(data):
                raise _truncated(what)
            items.append(elem(data[pos : pos + n]))
            pos += n
        if pos != len(data):
            raise ProtocolError(f"{what} value has {len(data) - pos} trailing bytes")
        return finish(items)

    return decode_variable


def build_decoder(t: CqlType, hashable: bool, child: Callable[[CqlType, bool], Decoder]) -> Decoder:
    """Build the decoder of ``t``; ``child(type, hashable)`` supplies (cached) element decoders.

    Example:
        >>> from aiocql.protocol.cqltypes import INT, SetType
        >>> decode = build_decoder(SetType(INT), False, lambda t, hashable: build_decoder(t, hashable, None))
        >>> decode(bytes.fromhex("00000002" "00000004" "00000001" "00000004" "00000002"))
        {1, 2}
    """
    if isinstance(t, NativeType):
        return _NATIVE_DECODERS[t.name]
    if isinstance(t, (ListType, SetType)):
        return _sequence_decoder(t, child(t.elem, hashable or isinstance(t, SetType)), hashable)
    if isinstance(t, MapType):
        return _map_decoder(t, child(t.key, True), child(t.value, hashable), hashable)
    if isinstance(t, TupleType):
        return _fields_decoder(t.cql_name, [child(e, hashable) for e in t.elems], tuple)
    if isinstance(t, ClassUdtType):  # registered to the user's class: checked once, here
        if hashable:
            require_hashable(t, "a set element or map key")
        return _fields_decoder(t.cql_name, [child(f, hashable) for f in t.field_types], udt_maker(t))
    if isinstance(t, UdtType):
        cls = udt_class(t)
        return _fields_decoder(t.cql_name, [child(f, hashable) for f in t.field_types], cls._make)
    if isinstance(t, VectorType):
        return _vector_decoder(t, child(t.elem, hashable), hashable)
    if isinstance(t, CustomType):
        return _decode_blob
    raise InvalidValueError(f"no decoder for {t!r}")
