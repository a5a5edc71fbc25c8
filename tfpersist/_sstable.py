"""The table file format of a checkpoint's ``.index``, read without TensorFlow.

TensorFlow writes the index as a LevelDB-style sorted table: data blocks of
prefix-compressed key/value entries with restart points, an index block that
points at them, and a 48-byte footer ending in a magic number. Every block is
followed by a compression byte and a masked crc32c of the block and that byte.
:func:`read_table` checks all of it and returns the entries; every fault is a
:class:`TableError` saying what is wrong. :class:`TableBuilder` writes a table
byte for byte as TensorFlow's ``table::TableBuilder`` does, uncompressed, as
checkpoints use it.
"""

from __future__ import annotations

import bisect
import importlib.machinery
import importlib.util
import os
import struct
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any

from tfpersist._protobuf import DecodeError, encode_varint, read_varint

MAGIC = 0xDB4775248B80FB57
FOOTER_SIZE = 48
TRAILER_SIZE = 5
NO_COMPRESSION, SNAPPY = 0, 1
_MASK_DELTA = 0xA282EAD8
#: How many bytes of decoded data blocks a :class:`Table` keeps for further lookups.
CACHE_BYTES = 64 << 20
#: TensorFlow's ``table::Options``: a data block is closed at this estimated size,
#: and every this many keys starts afresh (a restart point).
BLOCK_SIZE, RESTART_INTERVAL = 262144, 16


class TableError(DecodeError):
    """The bytes are not a well-formed table; the message says what is wrong."""


def _load_crc32c() -> Callable[[bytes | memoryview, int], int]:
    """The C function of the ``crc32c`` package.

    Loaded from the extension file directly: the package's ``__init__`` reads
    its own version from package metadata, which triples the start-up time of
    ``tfpersist inspect``.
    """
    spec = importlib.util.find_spec("crc32c")
    for directory in (spec and spec.submodule_search_locations) or []:
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = os.path.join(directory, "_crc32c" + suffix)
            extension = importlib.util.spec_from_file_location("crc32c._crc32c", path)
            if os.path.exists(path) and extension and extension.loader:
                module = importlib.util.module_from_spec(extension)
                extension.loader.exec_module(module)
                return module.crc32c
    import crc32c as package  # a layout we do not know: the slow, sure way

    return package.crc32c


_crc32c = _load_crc32c()


def crc32c(data: bytes | memoryview, crc: int = 0) -> int:
    """The crc32c of *data*, extending *crc*.

    >>> hex(crc32c(b"123456789"))
    '0xe3069283'
    """
    return _crc32c(data, crc)


def mask(crc: int) -> int:
    """Mask a crc32c the way TensorFlow and LevelDB store it.

    >>> hex(mask(crc32c(b"")))
    '0xa282ead8'
    """
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def snappy_decompress(data: bytes | memoryview, limit: int, upto: int | None = None) -> bytes:
    """Decompress a raw snappy block of at most *limit* bytes once expanded.

    With *upto*, stop after the first *upto* bytes and return those.

    >>> snappy_decompress(b"\\x0a\\x08abc\\x1a\\x03\\x00", 100)   # 'abc' then a copy of 7
    b'abcabcabca'
    >>> snappy_decompress(b"\\x0a\\x08abc\\x1a\\x03\\x00", 100, upto=2)
    b'ab'
    """
    length, pos = read_varint(data, 0)
    if length > limit:
        raise TableError(f"a snappy block declares {length} bytes, more than the {limit} allowed")
    data = bytes(data)
    out = bytearray()
    n, end = 0, len(data)  # n: the bytes decoded so far
    while pos < end and (upto is None or n < upto):
        tag = data[pos]
        kind = tag & 3
        if kind == 0:  # literal
            size = (tag >> 2) + 1
            pos += 1
            if size > 60:
                extra = size - 60
                size = int.from_bytes(data[pos : pos + extra], "little") + 1
                pos += extra
            if pos + size > end:
                raise TableError("a snappy literal runs past the end of the block")
            out += data[pos : pos + size]
            pos += size
            n += size
            continue
        if kind == 2 and pos + 3 <= end:  # the usual copy: up to 64 bytes, a 2-byte offset
            size, offset = (tag >> 2) + 1, data[pos + 1] | data[pos + 2] << 8
            pos += 3
        elif kind == 1 and pos + 2 <= end:
            size, offset = 4 + ((tag >> 2) & 7), (tag >> 5) << 8 | data[pos + 1]
            pos += 2
        elif kind == 3 and pos + 5 <= end:
            size, offset = (tag >> 2) + 1, int.from_bytes(data[pos + 1 : pos + 5], "little")
            pos += 5
        else:
            raise TableError("a snappy copy runs past the end of the block")
        if not 0 < offset <= n:
            raise TableError("a snappy copy points outside the data decoded so far")
        if n + size > length:
            break
        start = n - offset
        if offset >= size:
            out += out[start : start + size]
        else:  # the copy overlaps its own output: the last *offset* bytes, repeated
            out += (out[start:] * (size // offset + 1))[:size]
        n += size
    if upto is not None and n >= min(upto, length):
        return bytes(out[:upto])
    if n != length:
        raise TableError(f"a snappy block decodes to {n} bytes, not the {length} declared")
    return bytes(out)


def _block(data: Any, offset: int, size: int, what: str) -> bytes:
    end = offset + size + TRAILER_SIZE
    if offset < 0 or end > len(data) - FOOTER_SIZE:
        raise TableError(
            f"the {what} at bytes {offset}..{offset + size} lies outside the file's "
            f"{len(data)} bytes"
        )
    block, trailer = data[offset : offset + size], data[offset + size : end]  # bytes, read once
    (stored,) = struct.unpack_from("<I", trailer, 1)
    if mask(crc32c(trailer[:1], crc32c(block))) != stored:
        raise TableError(f"the {what} at byte {offset} fails its checksum")
    kind = trailer[0]
    if kind == NO_COMPRESSION:
        return block
    if kind == SNAPPY:
        return snappy_decompress(block, limit=64 * size + 64)
    raise TableError(f"the {what} at byte {offset} has unknown compression type {kind}")


def _entries(block: bytes, what: str) -> Iterator[tuple[bytes, bytes]]:
    if len(block) < 4:
        raise TableError(f"the {what} is {len(block)} bytes, too short for its restart count")
    (restarts,) = struct.unpack_from("<I", block, len(block) - 4)
    limit = len(block) - 4 - 4 * restarts
    if restarts == 0 or limit < 0:
        raise TableError(f"the {what} declares {restarts} restart points, which do not fit")
    pos, key = 0, b""
    while pos < limit:
        if pos + 3 <= limit and block[pos] | block[pos + 1] | block[pos + 2] < 0x80:
            shared, unshared, size = block[pos], block[pos + 1], block[pos + 2]
            pos += 3  # three one-byte lengths, the usual case
        else:
            shared, pos = read_varint(block, pos, limit)
            unshared, pos = read_varint(block, pos, limit)
            size, pos = read_varint(block, pos, limit)
        if shared > len(key) or pos + unshared + size > limit:
            raise TableError(f"an entry of the {what} at byte {pos} has impossible lengths")
        key = key[:shared] + block[pos : pos + unshared]
        pos += unshared
        yield key, block[pos : pos + size]
        pos += size


def read_handle(value: bytes | memoryview) -> tuple[int, int]:
    """Decode a block handle: a varint offset and a varint size.

    >>> read_handle(b"\\x00\\x10")
    (0, 16)
    """
    offset, pos = read_varint(value, 0)
    size, _ = read_varint(value, pos)
    return offset, size


def _index_block(data: Any) -> bytes:
    """Check the footer and the metaindex block; return the index block."""
    if len(data) < FOOTER_SIZE:
        raise TableError(
            f"the file is {len(data)} bytes, shorter than a table's {FOOTER_SIZE}-byte footer"
        )
    footer = data[-FOOTER_SIZE:]
    if int.from_bytes(footer[-8:], "little") != MAGIC:
        raise TableError("the file does not end in a table's magic number")
    meta_offset, pos = read_varint(footer, 0)
    meta_size, pos = read_varint(footer, pos)
    index_offset, pos = read_varint(footer, pos)
    index_size, _ = read_varint(footer, pos)
    _block(data, meta_offset, meta_size, "metaindex block")  # empty, but checked all the same
    return _block(data, index_offset, index_size, "index block")


class Table:
    """A table held in *data*, for looking keys up.

    *data* is anything with a length that slices into bytes: ``bytes``, a
    read-only mapping, or a view that reads a file on demand. Opening checks
    the footer and the index block; :meth:`get` reads and checks only the data
    block that can hold the key, decoding each block once (the last few are
    kept, up to :data:`CACHE_BYTES`).

    >>> Table(b"not a table")
    Traceback (most recent call last):
    ...
    tfpersist._sstable.TableError: the file is 11 bytes, shorter than a table's 48-byte footer
    """

    def __init__(self, data: Any) -> None:
        self.data = data
        index = [(k, read_handle(h)) for k, h in _entries(_index_block(data), "index block")]
        self._lasts = [k for k, _ in index]
        self._handles = [h for _, h in index]
        self._cache: OrderedDict[int, tuple[list[bytes], list[bytes], int]] = OrderedDict()
        self._cached = 0

    def get(self, key: bytes) -> bytes | None:
        """The value stored under *key*, or ``None``."""
        block = bisect.bisect_left(self._lasts, key)  # the first whose separator is not below
        if block == len(self._lasts):
            return None
        keys, values = self._rows(block)
        i = bisect.bisect_left(keys, key)
        return values[i] if i < len(keys) and keys[i] == key else None

    def _rows(self, block: int) -> tuple[list[bytes], list[bytes]]:
        """The keys and values of data block number *block*, decoded once."""
        if block in self._cache:
            self._cache.move_to_end(block)
            return self._cache[block][:2]
        offset, size = self._handles[block]
        keys: list[bytes] = []
        values: list[bytes] = []
        for key, value in _entries(_block(self.data, offset, size, "data block"), "data block"):
            if keys and key <= keys[-1]:
                raise TableError(f"key {key!r} is out of order in the data block at byte {offset}")
            keys.append(key)
            values.append(value)
        cost = sum(map(len, keys)) + sum(map(len, values)) + 100 * len(keys)
        while self._cache and self._cached + cost > CACHE_BYTES:
            self._cached -= self._cache.popitem(last=False)[1][2]
        self._cache[block] = (keys, values, cost)
        self._cached += cost
        return keys, values


def first_record(data: Any) -> tuple[bytes, bytes] | None:
    """The first key and value of the table in *data* (see :class:`Table`), or ``None``.

    Only the footer, the index block and the first entry are read (and
    decompressed), so a file that opens with a small record before a huge one
    is cheap to tell apart. The first data block's checksum is left to
    :class:`Table`.

    >>> first_record(b"not a table")
    Traceback (most recent call last):
    ...
    tfpersist._sstable.TableError: the file is 11 bytes, shorter than a table's 48-byte footer
    """
    first = next(_entries(_index_block(data), "index block"), None)
    if first is None:
        return None
    offset, size = read_handle(first[1])
    if offset < 0 or offset + size + TRAILER_SIZE > len(data) - FOOTER_SIZE:
        raise TableError(f"the first data block at byte {offset} lies outside the file")
    kind = data[offset + size : offset + size + 1]
    if kind == bytes([SNAPPY]):
        packed = data[offset : offset + size]

        def read(n: int) -> bytes:
            return snappy_decompress(packed, 64 * size + 64, upto=n)

    elif kind == bytes([NO_COMPRESSION]):

        def read(n: int) -> bytes:
            return data[offset : offset + min(n, size)]

    else:
        raise TableError(f"the data block at byte {offset} has unknown compression type {kind!r}")
    head = read(30)  # three varints at most
    shared, pos = read_varint(head, 0)
    unshared, pos = read_varint(head, pos)
    length, pos = read_varint(head, pos)
    body = read(pos + unshared + length)[pos:]
    if shared or len(body) != unshared + length:
        raise TableError(f"the first entry of the data block at byte {offset} is malformed")
    return body[:unshared], body[unshared:]


def read_table(data: Any) -> Iterator[tuple[bytes, bytes]]:
    """Yield every ``(key, value)`` of the table held in *data*, in key order.

    >>> list(read_table(b"not a table"))
    Traceback (most recent call last):
    ...
    tfpersist._sstable.TableError: the file is 11 bytes, shorter than a table's 48-byte footer
    """
    index = _index_block(data)
    previous = None
    for _, handle in _entries(index, "index block"):
        offset, size = read_handle(handle)
        for key, value in _entries(_block(data, offset, size, "data block"), "data block"):
            if previous is not None and key <= previous:
                raise TableError(f"key {key!r} is out of order in the data block at byte {offset}")
            previous = key
            yield key, value


class _BlockBuilder:
    """LevelDB's block builder: prefix-compressed keys, a restart point every *interval* keys."""

    def __init__(self, interval: int) -> None:
        self.interval = interval
        self.buffer = bytearray()
        self.restarts = [0]
        self.counter = 0
        self.last = b""

    def add(self, key: bytes, value: bytes) -> None:
        shared = 0
        if self.counter < self.interval:
            most = min(len(key), len(self.last))
            while shared < most and key[shared] == self.last[shared]:
                shared += 1
        else:
            self.restarts.append(len(self.buffer))
            self.counter = 0
        self.buffer += encode_varint(shared) + encode_varint(len(key) - shared)
        self.buffer += encode_varint(len(value)) + key[shared:] + value
        self.last = key
        self.counter += 1

    def size_estimate(self) -> int:
        return len(self.buffer) + 4 * len(self.restarts) + 4

    def finish(self) -> bytes:
        return bytes(self.buffer) + struct.pack(
            f"<{len(self.restarts) + 1}I", *self.restarts, len(self.restarts)
        )


def _separator(start: bytes, limit: bytes) -> bytes:
    """TensorFlow's ``FindShortestSeparator``: a short key in [*start*, *limit*)."""
    n = 0
    while n < min(len(start), len(limit)) and start[n] == limit[n]:
        n += 1
    if n < min(len(start), len(limit)) and start[n] < 0xFF and start[n] + 1 < limit[n]:
        return start[:n] + bytes([start[n] + 1])
    return start


def _successor(key: bytes) -> bytes:
    """TensorFlow's ``FindShortSuccessor``: a short key not below *key*."""
    for n, byte in enumerate(key):
        if byte != 0xFF:
            return key[:n] + bytes([byte + 1])
    return key


class TableBuilder:
    """Write a table to the binary file *out* (anything with ``write``), key by key, in key order.

    Memory holds one data block (256 KiB) and the index.

    >>> import io
    >>> out = io.BytesIO()
    >>> builder = TableBuilder(out)
    >>> builder.add(b"a", b"1"); builder.add(b"b", b"2")
    >>> builder.finish()
    >>> list(read_table(out.getvalue()))
    [(b'a', b'1'), (b'b', b'2')]
    >>> builder = TableBuilder(io.BytesIO()); builder.add(b"b", b""); builder.add(b"a", b"")
    Traceback (most recent call last):
    ...
    tfpersist._sstable.TableError: key b'a' is added after b'b': a table's keys must increase
    """

    def __init__(self, out: Any) -> None:
        self.out = out
        self.offset = 0
        self.data = _BlockBuilder(RESTART_INTERVAL)
        self.index = _BlockBuilder(1)
        self.last: bytes | None = None
        self.pending: bytes | None = None  # the handle of a data block not yet indexed

    def add(self, key: bytes, value: bytes) -> None:
        """Add *key* with *value*; keys must come in increasing byte order."""
        if self.last is not None and key <= self.last:
            raise TableError(
                f"key {key!r} is added after {self.last!r}: a table's keys must increase"
            )
        if self.last is not None and len(key) + len(value) >= 2 * BLOCK_SIZE:
            self._flush()  # an overly large entry starts a block of its own, as in TensorFlow
        if self.pending is not None:
            self.index.add(_separator(self.last or b"", key), self.pending)
            self.pending = None
        self.last = key
        self.data.add(key, value)
        if self.data.size_estimate() >= BLOCK_SIZE:
            self._flush()

    def _flush(self) -> None:
        if self.data.buffer:
            self.pending = self._write_block(self.data)
            self.data = _BlockBuilder(RESTART_INTERVAL)

    def _write_block(self, block: _BlockBuilder) -> bytes:
        """Write *block* with its trailer; return its handle."""
        contents = block.finish() + bytes([NO_COMPRESSION])
        handle = encode_varint(self.offset) + encode_varint(len(contents) - 1)
        self.out.write(contents + struct.pack("<I", mask(crc32c(contents))))
        self.offset += len(contents) + 4
        return handle

    def finish(self) -> None:
        """Write the last data block, the empty metaindex block, the index block and the footer."""
        self._flush()
        meta = self._write_block(_BlockBuilder(RESTART_INTERVAL))
        if self.pending is not None:
            self.index.add(_successor(self.last or b""), self.pending)
            self.pending = None
        index = self._write_block(self.index)
        self.out.write((meta + index).ljust(FOOTER_SIZE - 8, b"\0") + struct.pack("<Q", MAGIC))
