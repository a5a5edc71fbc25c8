"""The table file format of a checkpoint's ``.index``, read without TensorFlow.

TensorFlow writes the index as a LevelDB-style sorted table: data blocks of
prefix-compressed key/value entries with restart points, an index block that
points at them, and a 48-byte footer ending in a magic number. Every block is
followed by a compression byte and a masked crc32c of the block and that byte.
:func:`read_table` checks all of it and returns the entries; every fault is a
:class:`TableError` saying what is wrong.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import mmap
import os
import struct
from collections.abc import Callable, Iterator

from tfpersist._protobuf import DecodeError, read_varint

MAGIC = 0xDB4775248B80FB57
FOOTER_SIZE = 48
TRAILER_SIZE = 5
NO_COMPRESSION, SNAPPY = 0, 1
_MASK_DELTA = 0xA282EAD8


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


def snappy_decompress(data: bytes | memoryview, limit: int) -> bytes:
    """Decompress a raw snappy block of at most *limit* bytes once expanded.

    >>> snappy_decompress(b"\\x0a\\x08abc\\x1a\\x03\\x00", 100)   # 'abc' then a copy of 7
    b'abcabcabca'
    """
    length, pos = read_varint(data, 0)
    if length > limit:
        raise TableError(f"a snappy block declares {length} bytes, more than the {limit} allowed")
    out = bytearray()
    end = len(data)
    while pos < end:
        tag = data[pos]
        pos += 1
        kind = tag & 3
        if kind == 0:  # literal
            size = tag >> 2
            if size >= 60:
                extra = size - 59
                size = int.from_bytes(data[pos : pos + extra], "little")
                pos += extra
            size += 1
            if pos + size > end:
                raise TableError("a snappy literal runs past the end of the block")
            out += data[pos : pos + size]
            pos += size
            continue
        if kind == 1:
            size, offset = 4 + ((tag >> 2) & 7), ((tag >> 5) << 8) | (data[pos] if pos < end else 0)
            pos += 1
        else:
            extra = 2 if kind == 2 else 4
            size, offset = (tag >> 2) + 1, int.from_bytes(data[pos : pos + extra], "little")
            pos += extra
        if pos > end or not 0 < offset <= len(out):
            raise TableError("a snappy copy points outside the data decoded so far")
        if len(out) + size > length:
            break
        start = len(out) - offset
        for i in range(size):  # copies may overlap their own output
            out.append(out[start + i])
    if len(out) != length:
        raise TableError(f"a snappy block decodes to {len(out)} bytes, not the {length} declared")
    return bytes(out)


def _block(data: bytes | mmap.mmap, offset: int, size: int, what: str) -> bytes | memoryview:
    end = offset + size + TRAILER_SIZE
    if offset < 0 or end > len(data) - FOOTER_SIZE:
        raise TableError(
            f"the {what} at bytes {offset}..{offset + size} lies outside the file's "
            f"{len(data)} bytes"
        )
    view = memoryview(data)[offset : offset + size + 1]
    (stored,) = struct.unpack_from("<I", data, offset + size + 1)
    if mask(crc32c(view)) != stored:
        raise TableError(f"the {what} at byte {offset} fails its checksum")
    kind = data[offset + size]
    if kind == NO_COMPRESSION:
        return view[:size]
    if kind == SNAPPY:
        return snappy_decompress(view[:size], limit=64 * size + 64)
    raise TableError(f"the {what} at byte {offset} has unknown compression type {kind}")


def _entries(block: bytes | memoryview, what: str) -> Iterator[tuple[bytes, bytes]]:
    block = bytes(block)
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


def _index_block(data: bytes | mmap.mmap) -> bytes | memoryview:
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
    """A table held in *data* (bytes or a read-only mapping), for looking keys up.

    Opening checks the footer and the index block; :meth:`get` reads and
    checks only the data block that can hold the key.

    >>> Table(b"not a table")
    Traceback (most recent call last):
    ...
    tfpersist._sstable.TableError: the file is 11 bytes, shorter than a table's 48-byte footer
    """

    def __init__(self, data: bytes | mmap.mmap) -> None:
        self.data = data
        self._blocks = [(k, read_handle(h)) for k, h in _entries(_index_block(data), "index block")]

    def get(self, key: bytes) -> bytes | None:
        """The value stored under *key*, or ``None``."""
        for last, (offset, size) in self._blocks:
            if last >= key:  # the first block whose separator is not below the key
                block = _block(self.data, offset, size, "data block")
                for found, value in _entries(block, "data block"):
                    if found >= key:
                        return value if found == key else None
                return None
        return None


def read_table(data: bytes) -> Iterator[tuple[bytes, bytes]]:
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
