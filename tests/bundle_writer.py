"""A small tensor-bundle writer, for checkpoints TensorFlow would never write.

The tests use it to craft lying sizes and offsets, huge shapes, big-endian
bundles and snappy-compressed indexes. Real checkpoints come from TensorFlow.
"""

from __future__ import annotations

import struct

import numpy as np

from tfpersist._sstable import MAGIC, crc32c, mask
from tfpersist.bundle import NUMPY_DTYPES

NUMBERS = {dtype: n for n, dtype in sorted(NUMPY_DTYPES.items(), reverse=True) if dtype.kind != "O"}


def varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def field(number: int, value: int | bytes, fixed32: bool = False) -> bytes:
    if isinstance(value, bytes):
        return varint(number << 3 | 2) + varint(len(value)) + value
    if fixed32:
        return varint(number << 3 | 5) + struct.pack("<I", value)
    return varint(number << 3) + varint(value)


def header(num_shards: int = 1, big_endian: bool = False, min_consumer: int = 0) -> bytes:
    version = field(1, 1) + field(2, min_consumer)
    return field(1, num_shards) + field(2, int(big_endian)) + field(3, version)


def entry(dtype: int, shape, shard=0, offset=0, size=0, crc=0, slices=()) -> bytes:
    dims = b"".join(field(2, field(1, d)) for d in shape)
    out = field(1, dtype) + field(2, dims) + field(3, shard) + field(4, offset) + field(5, size)
    out += field(6, crc, fixed32=True)
    for extents in slices:
        body = b""
        for start, length in extents:
            body += field(1, field(1, start) + (b"" if length is None else field(2, length)))
        out += field(7, body)
    return out


def _block(rows: list[tuple[bytes, bytes]], restart_every: int = 16) -> bytes:
    out, restarts, previous = bytearray(), [], b""
    for i, (key, value) in enumerate(rows):
        shared = 0
        if i % restart_every:
            while shared < min(len(key), len(previous)) and key[shared] == previous[shared]:
                shared += 1
        else:
            restarts.append(len(out))
        out += varint(shared) + varint(len(key) - shared) + varint(len(value))
        out += key[shared:] + value
        previous = key
    restarts = restarts or [0]
    out += b"".join(struct.pack("<I", r) for r in restarts) + struct.pack("<I", len(restarts))
    return bytes(out)


def table(rows: list[tuple[bytes, bytes]], compress=None) -> bytes:
    """A one-data-block table; *compress* (bytes -> bytes) makes it a snappy block."""
    out = bytearray()

    def put(block: bytes, kind: int = 0) -> bytes:
        offset = len(out)
        out.extend(block + bytes([kind]))
        out.extend(struct.pack("<I", mask(crc32c(block + bytes([kind])))))
        return varint(offset) + varint(len(block))

    data = _block(rows)
    handle = put(compress(data), 1) if compress else put(data)
    meta = put(_block([]))
    index = put(_block([(rows[-1][0] if rows else b"", handle)]))
    footer = (meta + index).ljust(40, b"\0") + struct.pack("<Q", MAGIC)
    return bytes(out) + footer


def tensor_bytes(value: np.ndarray, big_endian: bool = False) -> tuple[bytes, int]:
    """The bytes TensorFlow writes for *value*, and their unmasked crc32c."""
    if value.dtype.kind != "O":
        raw = value.tobytes()
        if big_endian:  # reverse the bytes of each number (each part of a complex)
            width = value.dtype.itemsize // (2 if value.dtype.kind == "c" else 1)
            raw = np.frombuffer(raw, np.uint8).reshape(-1, width)[:, ::-1].tobytes()
        return raw, crc32c(raw)
    order = ">" if big_endian else "<"
    strings = [bytes(s) for s in value.ravel()]
    lengths = b"".join(varint(len(s)) for s in strings)
    crc = crc32c(b"".join(struct.pack(order + "I", len(s)) for s in strings))
    checksum = struct.pack(order + "I", mask(crc))
    crc = crc32c(checksum, crc)
    body = b"".join(strings)
    return lengths + checksum + body, crc32c(body, crc)


def write_bundle(prefix: str, tensors: dict, big_endian: bool = False, compress=None) -> None:
    """Write *tensors* (name -> array) as a one-shard checkpoint at *prefix*."""
    data, rows = bytearray(), []
    for name in sorted(tensors, key=lambda n: n.encode()):
        value = np.asarray(tensors[name])
        raw, crc = tensor_bytes(value, big_endian)
        number = 7 if value.dtype.kind == "O" else NUMBERS[value.dtype]
        rows.append((name.encode(), entry(number, value.shape, 0, len(data), len(raw), mask(crc))))
        data += raw
    with open(prefix + ".data-00000-of-00001", "wb") as f:
        f.write(data)
    with open(prefix + ".index", "wb") as f:
        f.write(table([(b"", header(big_endian=big_endian)), *rows], compress))
