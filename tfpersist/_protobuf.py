"""The protocol buffer wire format, decoded without TensorFlow or the protobuf package.

Two readers share the primitives here. :func:`fields` walks one message and
yields its raw fields: the checkpoint index (:mod:`tfpersist._index`) needs
nothing more. :func:`decode` walks a whole message against a schema, as
protobuf's own parser does: it checks every field of every nested message,
refuses a string that is not UTF-8, merges a message field that appears twice,
keeps the last of a repeated scalar, and lets a later map entry replace an
earlier one. It builds dictionaries only for the message types asked for and
checks the rest in passing. :mod:`tfpersist._graphfile` reads graph files
with it, and the tests hold it to TensorFlow's own parser on many inputs.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable, Iterator
from typing import Any

from tfpersist._installed import installed_release, protobuf_major, release_key
from tfpersist._proto_schema import SCHEMA, SINCE

__all__ = [
    "DecodeError",
    "check",
    "decode",
    "encode_field",
    "encode_varint",
    "fields",
    "int64",
    "map_entry",
    "read_size",
    "read_tag",
    "read_varint",
]

#: protobuf's parsers refuse messages nested deeper than this.
MAX_DEPTH = 100


#: protobuf 7's Python parser reads a length in at most 5 bytes, and skips an
#: unknown group without looking at the field numbers inside it; earlier
#: releases read a length in up to 10 bytes, and refuse field number 0 anywhere.
#: The decoder follows the protobuf installed, as the TensorFlow beside it does.
_PROTOBUF7 = (protobuf_major() or 7) >= 7
SIZE_BYTES = 5 if _PROTOBUF7 else 10


class DecodeError(ValueError):
    """The bytes are not a well-formed protocol buffer; the message says what is wrong."""


def read_varint(data: bytes | memoryview, pos: int, end: int | None = None) -> tuple[int, int]:
    """Decode an unsigned varint of at most 10 bytes at *pos*; return it and the next position.

    >>> read_varint(b"\\xac\\x02", 0)
    (300, 2)
    """
    end = len(data) if end is None else end
    result = shift = 0
    while shift < 70:
        if pos >= end:
            raise DecodeError("a varint runs past the end of its record")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result & 0xFFFFFFFFFFFFFFFF, pos
        shift += 7
    raise DecodeError("a varint is longer than 10 bytes")


def encode_varint(n: int) -> bytes:
    """Encode *n* as an unsigned varint; a negative *n* takes ten bytes, as an int64 does.

    >>> encode_varint(300), encode_varint(-1)[-1]
    (b'\\xac\\x02', 1)
    """
    n &= (1 << 64) - 1
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def encode_field(number: int, value: int | bytes, *, fixed32: bool = False) -> bytes:
    """Encode one field: bytes as length-delimited, an int as a varint or with *fixed32* as four bytes.

    >>> encode_field(1, 150), encode_field(2, b"ab"), encode_field(6, 1, fixed32=True)
    (b'\\x08\\x96\\x01', b'\\x12\\x02ab', b'5\\x01\\x00\\x00\\x00')
    """
    if isinstance(value, bytes):
        return encode_varint(number << 3 | 2) + encode_varint(len(value)) + value
    if fixed32:
        return encode_varint(number << 3 | 5) + struct.pack("<I", value)
    return encode_varint(number << 3) + encode_varint(value)


def read_tag(data: bytes | memoryview, pos: int, end: int) -> tuple[int, int]:
    """Decode a field tag at *pos*: a varint of at most 5 bytes that fits 32 bits.

    An overlong encoding (``0x92 0x00`` for ``0x12``) is a valid tag, as
    protobuf's parsers read it; a longer one, or one past 32 bits, is not.

    >>> read_tag(b"\\x92\\x00", 0, 2)
    (18, 2)
    """
    tag, after = read_varint(data, pos, end)
    if after - pos > 5:
        raise DecodeError("a field tag is longer than 5 bytes")
    if tag > 0xFFFFFFFF:
        raise DecodeError("a field tag does not fit 32 bits")
    return tag, after


def read_size(data: bytes | memoryview, pos: int, end: int) -> tuple[int, int]:
    """Decode the length of a length-delimited field, in at most :data:`SIZE_BYTES` bytes.

    >>> read_size(b"\\x81\\x80\\x00", 0, 3)
    (1, 3)
    """
    size, after = read_varint(data, pos, end)
    if after - pos > SIZE_BYTES:
        raise DecodeError(f"a length is longer than {SIZE_BYTES} bytes")
    return size, after


def int64(value: int) -> int:
    """Read an unsigned 64-bit varint as the signed ``int64`` it encodes.

    >>> int64(2**64 - 1)
    -1
    """
    return value if value < 1 << 63 else value - (1 << 64)


def fields(data: bytes | memoryview) -> Iterator[tuple[int, int, Any]]:
    """Yield ``(field number, wire type, value)`` of one protobuf message, without a schema.

    >>> list(fields(b"\\x08\\x96\\x01\\x12\\x02hi"))
    [(1, 0, 150), (2, 2, b'hi')]
    """
    data = bytes(data)
    pos, end = 0, len(data)
    value: int | bytes
    while pos < end:
        tag = data[pos]
        if tag < 0x80:  # one-byte varints are the rule: skip the general decoder
            pos += 1
        else:
            tag, pos = read_tag(data, pos, end)
        wire = tag & 7
        if wire == 0:
            if pos < end and data[pos] < 0x80:
                value, pos = data[pos], pos + 1
            else:
                value, pos = read_varint(data, pos)
        elif wire == 1 or wire == 5:
            width = 8 if wire == 1 else 4
            if pos + width > end:
                raise DecodeError("a protobuf field runs past the end of its record")
            value = int.from_bytes(data[pos : pos + width], "little")
            pos += width
        elif wire == 2:
            size, pos = read_varint(data, pos)
            if pos + size > end:
                raise DecodeError("a protobuf field runs past the end of its record")
            value = data[pos : pos + size]
            pos += size
        else:
            raise DecodeError(
                f"a protobuf field has wire type {wire}, which TensorFlow never writes"
            )
        yield tag >> 3, wire, value


# --- decoding against a schema -------------------------------------------------------------

_VARINT = {"int64", "uint64", "int32", "uint32", "bool", "enum", "sint64", "sint32"}
_FIXED32 = {"float", "fixed32", "sfixed32"}
_FIXED64 = {"double", "fixed64", "sfixed64"}
_LONG_VARINT = re.compile(rb"[\x80-\xff]{10}")
# What a tag's value is, once its wire type matched: the code of _Field.code.
SCALAR, STRING, BYTES, MESSAGE, PACKED = range(5)


class _Field:
    """One field of a message type, prepared for decoding."""

    __slots__ = ("kind", "map", "message", "name", "oneof", "repeated", "view", "wire")

    def __init__(self, spec: list[Any]) -> None:
        self.name, self.kind, self.repeated, self.oneof, message, self.map = spec
        #: Bytes kept as a view of the input, not copied: large, and read for their length.
        self.view = False
        self.message: Any = message  # the type's name, resolved to its _Message by _types
        if self.kind in ("string", "bytes", "message"):
            self.wire = 2
        else:
            self.wire = 0 if self.kind in _VARINT else 5 if self.kind in _FIXED32 else 1


class _Message:
    """A message type: its fields by tag, and how :func:`decode` treats it."""

    __slots__ = ("build", "cache", "decoder", "entry", "fields", "name", "seen", "tags")

    def __init__(self, name: str) -> None:
        self.name = name
        self.fields: dict[int, _Field] = {}
        #: Each tag (field number and wire type) a field accepts: ``(code, field, type)``.
        self.tags: dict[int, tuple[int, _Field, _Message | None]] = {}
        #: Whether :func:`decode` builds a value for it, or only checks it.
        self.build = False
        #: Whether it is the entry of a map field, which may hold nothing but key and value.
        self.entry = False
        #: Decoded values by their depth and bytes, for types that repeat a lot.
        self.cache: dict[tuple[int, bytes], Any] | None = None
        #: Bytes already checked, by depth, for unbuilt types that repeat a lot.
        self.seen: set[tuple[int, bytes]] | None = None
        #: A faster decoder with the same rules, for the types that dominate a file.
        self.decoder: Callable[[bytes, _Message, int, int, int], Any] | None = None


def _types(release: str) -> dict[str, _Message]:
    """The message types as *release* defines them: a field it lacks is an unknown field."""
    types = {name: _Message(name) for name in SCHEMA}
    for name, specs in SCHEMA.items():
        message = types[name]
        for number, spec in specs.items():
            since = SINCE.get(name, {}).get(number)
            if since and release_key(since) > release_key(release):
                continue
            field = _Field(spec)
            sub = types[field.message] if field.message else None
            field.message = sub
            if sub is not None and field.map:
                sub.entry = True
            message.fields[number] = field
            code = {"string": STRING, "bytes": BYTES, "message": MESSAGE}.get(field.kind, SCALAR)
            message.tags[number << 3 | field.wire] = (code, field, sub)
            if code == SCALAR and field.repeated:
                message.tags[number << 3 | 2] = (PACKED, field, None)
    for name in ("tensorflow.TensorShapeProto", "tensorflow.VersionDef"):
        types[name].seen = set()
    for name in ("tensorflow.ResourceHandleProto.DtypeAndShape", "tensorflow.FunctionDef.ArgAttrs"):
        types[name].seen = set()
    return types


#: The TensorFlow release whose graph protos the decoder reads: the one installed.
RELEASE = installed_release() or "99.0"
#: Every message type of a graph file, by its full name.
TYPES = _types(RELEASE)


def _scalar(field: _Field, wire: int, buf: bytes, pos: int, end: int) -> tuple[Any, int]:
    """Read one scalar of *field* at *pos*."""
    if wire == 0:
        value, pos = read_varint(buf, pos, end)
        kind = field.kind
        if kind == "bool":
            return value != 0, pos
        if kind in ("int64", "int32", "enum"):
            value = int64(value)
            return (value if kind == "int64" else ((value + 2**31) % 2**32) - 2**31), pos
        if kind in ("sint64", "sint32"):
            return (value >> 1) ^ -(value & 1), pos
        return (value & 0xFFFFFFFF if kind == "uint32" else value), pos
    width = 4 if wire == 5 else 8
    if pos + width > end:
        raise DecodeError(f"field {field.name!r} runs past the end of its message")
    code = {"float": "<f", "double": "<d", "sfixed32": "<i", "sfixed64": "<q"}.get(field.kind)
    raw = buf[pos : pos + width]
    return (struct.unpack(code, raw)[0] if code else int.from_bytes(raw, "little")), pos + width


def _packed(field: _Field, buf: bytes, start: int, end: int, values: bool) -> list[Any]:
    """Check a packed run of scalars, and read it if *values*."""
    if field.wire == 0:
        if start < end and (buf[end - 1] >= 0x80 or _LONG_VARINT.search(buf, start, end)):
            raise DecodeError(f"the packed field {field.name!r} holds a malformed varint")
    elif (end - start) % (4 if field.wire == 5 else 8):
        raise DecodeError(f"the packed field {field.name!r} has a partial value")
    out: list[Any] = []
    pos = start
    while values and pos < end:
        value, pos = _scalar(field, field.wire, buf, pos, end)
        out.append(value)
    return out


def _skip_group(buf: bytes, pos: int, end: int, number: int, depth: int) -> int:
    """Skip an unknown group (wire type 3) up to its end tag; protobuf parsers skip them too."""
    if depth >= MAX_DEPTH:
        raise DecodeError("messages are nested too deeply")
    while pos < end:
        tag, pos = read_tag(buf, pos, end)
        if tag & 7 == 4:
            if tag >> 3 != number:
                raise DecodeError("a group ends with the wrong field number")
            return pos
        if not _PROTOBUF7 and tag >> 3 == 0:
            raise DecodeError("a field has number 0")
        pos = _skip(buf, pos, end, tag & 7, tag >> 3, depth + 1, _PROTOBUF7)
    raise DecodeError("a group has no end")


def _skip(
    buf: bytes, pos: int, end: int, wire: int, number: int, depth: int, in_group: bool = False
) -> int:
    """Skip the value of a field the schema does not know (or knows with another wire type).

    *in_group*: inside an unknown group, where protobuf 7 takes any field number.
    """
    if not in_group and not 0 < number < 1 << 29:
        raise DecodeError(f"a field has number {number}")
    if wire == 0:
        return read_varint(buf, pos, end)[1]
    if wire == 2:
        size, pos = read_size(buf, pos, end)
        if pos + size > end:
            raise DecodeError("a field runs past the end of its message")
        return pos + size
    if wire == 1 or wire == 5:
        pos += 8 if wire == 1 else 4
        if pos > end:
            raise DecodeError("a field runs past the end of its message")
        return pos
    if wire == 3:
        return _skip_group(buf, pos, end, number, depth)
    raise DecodeError(f"a field has wire type {wire}")


def check(buf: bytes, pos: int, end: int, message: _Message, depth: int, keep: int = 0) -> str:
    """Check that ``buf[pos:end]`` is a well-formed *message*, as protobuf's parser would.

    Returns the last value of the string field whose tag is *keep*, or ``""``.
    """
    seen = message.seen
    if seen is not None:
        key = (depth, buf[pos:end])
        if key in seen:
            return ""
        seen.add(key)
    return _walk(buf, pos, end, message, depth, None, keep)


def decode(
    buf: bytes, message: _Message, start: int = 0, end: int | None = None, depth: int = 0
) -> dict[str, Any]:
    """Decode ``buf[start:end]`` as *message* into a dictionary of the fields that are set.

    Repeated fields become lists and maps dictionaries. A message field
    becomes a dictionary where its type is marked ``build``; otherwise it is
    checked and left out. As in protobuf, a message field that appears twice
    is the merge of both, a later scalar replaces an earlier one, and setting
    one member of a ``oneof`` clears the others.

    >>> decode(b"\\x0a\\x01a\\x12\\x05Const", TYPES["tensorflow.NodeDef"])
    {'name': 'a', 'op': 'Const'}
    """
    out: dict[str, Any] = {}
    _walk(buf, start, len(buf) if end is None else end, message, depth, out, 0)
    return out


def _walk(
    buf: bytes,
    pos: int,
    end: int,
    message: _Message,
    depth: int,
    out: dict[str, Any] | None,
    keep: int,
) -> str:
    """Walk one message: check every field, and fill *out* unless it is ``None``."""
    if depth > MAX_DEPTH:
        raise DecodeError("messages are nested too deeply")
    tags = message.tags
    spans: dict[_Field, list[tuple[int, int]]] = {}
    cases: dict[str, _Field] = {}
    kept = ""
    try:
        while pos < end:
            tag = buf[pos]
            pos += 1
            if tag >= 0x80:
                tag, pos = read_tag(buf, pos - 1, end)
            spec = tags.get(tag)
            if spec is None:
                if message.entry:
                    raise DecodeError(_MIXED_ENTRY.format(message.name))
                pos = _skip(buf, pos, end, tag & 7, tag >> 3, depth)
                continue
            code, field, sub = spec
            if out is not None and field.oneof is not None and cases.get(field.oneof) is not field:
                old = cases.get(field.oneof)
                if old is not None:  # setting one member of a oneof clears the others
                    out.pop(old.name, None)
                    for first, last in spans.pop(old, ()):  # parsed all the same
                        check(buf, first, last, old.message, depth + 1)
                cases[field.oneof] = field
            if code == SCALAR:
                if out is None:
                    wire = tag & 7
                    if wire == 0:
                        pos = pos + 1 if buf[pos] < 0x80 else read_varint(buf, pos, end)[1]
                    else:
                        pos += 4 if wire == 5 else 8
                    if pos > end:
                        raise DecodeError(f"field {field.name!r} runs past the end of its message")
                    continue
                value, pos = _scalar(field, tag & 7, buf, pos, end)
                if field.repeated:
                    out.setdefault(field.name, []).append(value)
                else:
                    out[field.name] = value
                continue
            size = buf[pos]
            pos += 1
            if size >= 0x80:
                size, pos = read_size(buf, pos - 1, end)
            start = pos
            pos += size
            if pos > end:
                raise DecodeError(f"field {field.name!r} runs past the end of its message")
            if sub is not None:  # exactly the MESSAGE fields carry their type
                if out is not None and sub.build:
                    spans.setdefault(field, []).append((start, pos))
                else:
                    check(buf, start, pos, sub, depth + 1)
            elif code == STRING:
                value = buf[start:pos].decode()
                if out is None:
                    if tag == keep:
                        kept = value
                elif field.repeated:
                    out.setdefault(field.name, []).append(value)
                else:
                    out[field.name] = value
            elif code == PACKED:
                values = _packed(field, buf, start, pos, out is not None)
                if out is not None:
                    out.setdefault(field.name, []).extend(values)
            elif out is not None:
                value = memoryview(buf)[start:pos] if field.view else buf[start:pos]
                if field.repeated:
                    out.setdefault(field.name, []).append(value)
                else:
                    out[field.name] = value
    except UnicodeDecodeError:
        raise DecodeError(f"a string field of {message.name} is not UTF-8") from None
    except IndexError:
        raise DecodeError(f"a {message.name} ends in the middle of a field") from None
    if out is not None:
        for field, places in spans.items():
            out[field.name] = _message_value(buf, field, places, depth + 1)
    return kept


def _message_value(buf: bytes, field: _Field, places: list[tuple[int, int]], depth: int) -> Any:
    sub = field.message
    if not field.repeated:  # set twice, a message field holds the merge of both
        if len(places) == 1:
            return _decode_cached(buf, sub, *places[0], depth)
        for a, b in places:  # each whole on its own: a field may not run on into the next
            check(buf, a, b, sub, depth)
        joined = b"".join(buf[a:b] for a, b in places)
        return _decode_cached(joined, sub, 0, len(joined), depth)
    if not field.map:
        return [_decode_cached(buf, sub, a, b, depth) for a, b in places]
    entries: dict[Any, Any] = {}
    for a, b in places:  # a later entry for the same key replaces the earlier one
        key, value = map_entry(buf, sub, a, b, depth)
        entries[key] = value
    return entries


_MIXED_ENTRY = (
    "a map entry of {} holds a field besides its key and value, which TensorFlow's Python "
    "and C++ parsers read differently"
)


def map_entry(buf: bytes, entry: _Message, start: int, end: int, depth: int) -> tuple[Any, Any]:
    """Decode one map entry into ``(key, value)``; a value message sent twice is their merge.

    An entry that holds any field besides its key and value (or either with
    the wrong wire type) is damage: TensorFlow's Python parser leaves it out
    of the map, and its C++ parser, which imports the graph, keeps it. What
    the audit would see is then not what runs.
    """
    key_field, value_field = entry.fields[1], entry.fields[2]
    key_tag, value_tag = 1 << 3 | key_field.wire, 2 << 3 | value_field.wire
    key, value, parts, pos = _default(key_field), _default(value_field), [], start
    try:
        while pos < end:
            tag = buf[pos]
            pos += 1
            if tag >= 0x80:
                tag, pos = read_tag(buf, pos - 1, end)
            if tag != key_tag and tag != value_tag:
                raise DecodeError(_MIXED_ENTRY.format(entry.name))
            field = key_field if tag == key_tag else value_field
            if field.wire != 2:
                found, pos = _scalar(field, tag & 7, buf, pos, end)
            else:
                size = buf[pos]
                pos += 1
                if size >= 0x80:
                    size, pos = read_size(buf, pos - 1, end)
                first, pos = pos, pos + size
                if pos > end:
                    raise DecodeError(f"a map entry of {entry.name} runs past its end")
                if field.kind == "message":
                    parts.append((first, pos))
                    continue
                found = buf[first:pos].decode() if field.kind == "string" else buf[first:pos]
            if tag == key_tag:
                key = found
            else:
                value = found
    except UnicodeDecodeError:
        raise DecodeError(f"a string in a map entry of {entry.name} is not UTF-8") from None
    except IndexError:
        raise DecodeError(f"a map entry of {entry.name} ends in the middle of a field") from None
    if parts:
        for a, b in parts if len(parts) > 1 else ():  # each whole on its own, as above
            check(buf, a, b, value_field.message, depth + 1)
        joined = b"".join(buf[a:b] for a, b in parts) if len(parts) > 1 else buf
        first, last = (0, len(joined)) if len(parts) > 1 else parts[0]
        value = _decode_cached(joined, value_field.message, first, last, depth + 1)
    elif value_field.kind == "message":
        value = {}
    return key, value


def _default(field: _Field) -> Any:
    return {"string": "", "bytes": b"", "bool": False, "float": 0.0, "double": 0.0}.get(
        field.kind, 0
    )


def _decode_cached(buf: bytes, message: _Message, start: int, end: int, depth: int) -> Any:
    decoder = message.decoder or decode
    cache = message.cache
    if cache is None or end - start > 512:  # a large message is unique, and costly to hash
        return decoder(buf, message, start, end, depth)
    key = (depth, buf[start:end])
    value = cache.get(key)
    if value is None:
        value = cache[key] = decoder(buf, message, start, end, depth)
    return value
