"""A checkpoint's ``.index``, decoded without NumPy or TensorFlow.

The index is a table (see :mod:`tfpersist._sstable`) whose first entry, under
the empty key, is a ``BundleHeaderProto`` (number of shards, byte order,
format version), followed by one ``BundleEntryProto`` per tensor: dtype,
shape, shard, offset, size, crc32c and, for a partitioned tensor, its slices.
:func:`read_index` decodes the protobuf wire format directly. Listing a
checkpoint needs nothing more, which keeps ``tfpersist inspect`` fast.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import EllipsisType
from typing import Any, NamedTuple

from tfpersist import _fs
from tfpersist._protobuf import DecodeError, encode_field, fields, int64
from tfpersist._sstable import TableError, read_table
from tfpersist._suggest import did_you_mean
from tfpersist.errors import (
    CheckpointNotFoundError,
    CorruptCheckpointError,
    TensorNotFoundError,
    UnsupportedCheckpointError,
)

STRING, RESOURCE, VARIANT = 7, 20, 21
#: TensorFlow's DataType numbers that checkpoints hold, with their names.
DTYPE_NAMES = {
    1: "float32", 2: "float64", 3: "int32", 4: "uint8", 5: "int16", 6: "int8", 7: "string",
    8: "complex64", 9: "int64", 10: "bool", 11: "qint8", 12: "quint8", 13: "qint32",
    14: "bfloat16", 15: "qint16", 16: "quint16", 17: "uint16", 18: "complex128",
    19: "float16", 20: "resource", 21: "variant", 22: "uint32", 23: "uint64",
    24: "float8_e5m2", 25: "float8_e4m3fn", 26: "float8_e4m3fnuz", 27: "float8_e4m3b11fnuz",
    28: "float8_e5m2fnuz", 29: "int4", 30: "uint4",
}  # fmt: skip
#: Bytes per element of the fixed-size dtypes.
DTYPE_SIZES = {
    1: 4, 2: 8, 3: 4, 4: 1, 5: 2, 6: 1, 8: 8, 9: 8, 10: 1, 11: 1, 12: 1, 13: 4,
    14: 2, 15: 2, 16: 2, 17: 2, 18: 16, 19: 2, 22: 4, 23: 8,
    24: 1, 25: 1, 26: 1, 27: 1, 28: 1, 29: 1, 30: 1,  # int4 takes a byte per element
}  # fmt: skip
_MAX_RANK = 254  # TensorShape's limit
DAMAGED = "the checkpoint is damaged: restore it from a good copy"

Extent = tuple[int, "int | None"]  # (start, length); None is the whole dimension
#: One slice of a partitioned tensor for :meth:`Index.assemble`: extents, shape, values.
Piece = tuple[tuple[Extent, ...], tuple[int, ...], Callable[[], Any]]


class Entry(NamedTuple):
    """One record of a checkpoint's index: where a tensor's bytes are and what they hold.

    *dtype* is TensorFlow's DataType number. *slices* is empty unless the
    tensor was saved in parts (a partitioned variable); each part's extents
    are ``(start, length)`` per dimension.

    >>> e = Entry("v", dtype=1, shape=(2,), shard=0, offset=0, size=8, crc32c=0)
    >>> e.dtype_name
    'float32'
    """

    #: The tensor's name in the checkpoint.
    name: str
    #: TensorFlow's DataType number.
    dtype: int
    #: The tensor's shape.
    shape: tuple[int, ...]
    #: The number of the ``.data`` file that holds the bytes.
    shard: int
    #: Where the bytes start in that file.
    offset: int
    #: How many bytes there are.
    size: int
    #: The masked crc32c of the bytes.
    crc32c: int
    #: The extents of each slice, for a partitioned tensor.
    slices: tuple[tuple[Extent, ...], ...] = ()

    @property
    def dtype_name(self) -> str:
        """``float32``, ``bfloat16``, ``string``, ``variant``, ..."""
        return DTYPE_NAMES[self.dtype]


@functools.lru_cache(maxsize=4096)  # models repeat a few shapes many times
def _shape(data: bytes) -> tuple[int, ...]:
    dims = []
    for number, wire, value in fields(data):
        if number == 3 and value:
            raise TableError("a tensor's shape has unknown rank")
        if number == 2 and wire == 2:
            size = 0
            for n, w, v in fields(value):
                if n == 1 and w == 0:
                    size = int64(v)
            if size < 0:
                raise TableError(f"a tensor's shape has dimension {size}")
            dims.append(size)
    if len(dims) > _MAX_RANK:
        raise TableError(f"a tensor's shape has {len(dims)} dimensions")
    return tuple(dims)


def _slice(data: bytes | memoryview) -> tuple[Extent, ...]:
    extents = []
    for number, wire, value in fields(data):
        if number == 1 and wire == 2:
            start, length = 0, None
            for n, w, v in fields(value):
                if n == 1 and w == 0:
                    start = int64(v)
                elif n == 2 and w == 0:
                    length = int64(v)
            extents.append((start, length))
    return tuple(extents)


def _entry(name: str, data: bytes | memoryview) -> Entry:
    dtype = shard = offset = size = crc = 0
    shape: tuple[int, ...] = ()
    slices = []
    for number, wire, value in fields(data):
        if wire == 0:
            value = int64(value)
            if number == 1:
                dtype = value
            elif number == 3:
                shard = value
            elif number == 4:
                offset = value
            elif number == 5:
                size = value
        elif wire == 2 and number == 2:
            shape = _shape(value)
        elif wire == 2 and number == 7:
            slices.append(_slice(value))
        elif wire == 5 and number == 6:
            crc = value
    return Entry(name, dtype, shape, shard, offset, size, crc, tuple(slices))


def encode_header(num_shards: int = 1) -> bytes:
    """The ``BundleHeaderProto`` TensorFlow writes: *num_shards*, little-endian, format version 1.

    >>> encode_header()
    b'\\x08\\x01\\x1a\\x02\\x08\\x01'
    """
    return encode_field(1, num_shards) + encode_field(3, encode_field(1, 1))


def encode_entry(entry: Entry) -> bytes:
    """*entry* as the ``BundleEntryProto`` TensorFlow serializes: zero fields left out, the shape always there.

    >>> encode_entry(Entry("v", dtype=1, shape=(), shard=0, offset=0, size=4, crc32c=1))
    b'\\x08\\x01\\x12\\x00(\\x045\\x01\\x00\\x00\\x00'
    """
    dims = b"".join(encode_field(2, encode_field(1, d) if d else b"") for d in entry.shape)
    out = encode_field(1, entry.dtype) + encode_field(2, dims)
    for number, value in ((3, entry.shard), (4, entry.offset), (5, entry.size)):
        if value:
            out += encode_field(number, value)
    if entry.crc32c:
        out += encode_field(6, entry.crc32c, fixed32=True)
    for extents in entry.slices:
        body = b""
        for start, length in extents:
            extent = encode_field(1, start) if start else b""
            if length is not None:
                extent += encode_field(2, length)
            body += encode_field(1, extent)
        out += encode_field(7, body)
    return out


def _signed_increasing(value: int) -> bytes:
    """TensorFlow's OrderedCode encoding of a signed 64-bit number."""
    x = ~value if value < 0 else value
    if x < 64:
        return bytes([(0x80 ^ value) & 0xFF])
    length = x.bit_length() // 7 + 1
    raw = bytearray((value & ((1 << 80) - 1)).to_bytes(10, "big")[-length:])
    header = (0xFF << (8 - min(length, 8))) & 0xFF  # ``length`` one-bits, then a zero
    raw[0] ^= header
    if length > 8:
        raw[1] ^= (0xFF << (16 - length)) & 0xFF
    return bytes(raw)


_ESCAPES = {b"\x00": b"\x00\xff", b"\xff": b"\xff\x00"}


def slice_key(name: str, extents: Sequence[Extent]) -> bytes:
    """The index key under which TensorFlow stores one slice of a partitioned tensor.

    >>> slice_key("w", [(0, 2), (0, None)])
    b'\\x00w\\x00\\x01\\x01\\x02\\x80\\x82\\x80\\x7f'

    Bytes 0x00 and 0xFF of the name are escaped as TensorFlow's
    ``checkpoint::EncodeTensorNameSlice`` does (a name read from a checkpoint
    holds undecodable bytes as surrogates):

    >>> slice_key("a\\x00b\\udcff", [])
    b'\\x00a\\x00\\xffb\\xff\\x00\\x00\\x01\\x00'
    """
    raw = name.encode("utf-8", "surrogateescape")
    # OrderedCode::WriteString: 0x00 -> 00 FF and 0xFF -> FF 00 in one pass, then 00 01
    escaped = re.sub(rb"[\x00\xff]", lambda m: _ESCAPES[m.group()], raw)
    key = b"\x00" + escaped + b"\x00\x01"
    key += bytes([1, len(extents)]) if extents else b"\x00"
    for start, length in extents:
        key += _signed_increasing(start) + _signed_increasing(-1 if length is None else length)
    return key


@dataclass
class Index:
    """The decoded ``.index`` of the checkpoint at *prefix*.

    >>> import tensorflow as tf
    >>> _ = tf.train.Checkpoint(v=tf.Variable([1, 2])).write("m/ckpt")
    >>> index = read_index("m/ckpt")
    >>> index.num_shards, index.names
    (1, ['_CHECKPOINTABLE_OBJECT_GRAPH', 'v/.ATTRIBUTES/VARIABLE_VALUE'])
    """

    prefix: str
    num_shards: int = 1
    big_endian: bool = False
    entries: dict[str, Entry] = field(default_factory=dict)
    names: list[str] = field(default_factory=list)

    @property
    def path(self) -> str:
        """The ``.index`` file."""
        return self.prefix + ".index"

    def shard_path(self, shard: int) -> str:
        """The ``.data`` file of shard number *shard*."""
        return f"{self.prefix}.data-{shard:05d}-of-{self.num_shards:05d}"

    def corrupt(
        self, entry: Entry, problem: str, file: str | None = None
    ) -> CorruptCheckpointError:
        """The error for a fault in *entry*, found in *file* (its shard by default)."""
        file = file or self.shard_path(entry.shard)
        return CorruptCheckpointError(
            f"checkpoint {self.prefix!r}: tensor {entry.name!r} in {file!r}: {problem}; {DAMAGED}"
        )

    def open_shard(self, entry: Entry) -> _fs.Handle:
        """Open the ``.data`` file that holds *entry*, read-only (see ``_fs.open_read``)."""
        if not 0 <= entry.shard < self.num_shards:
            raise self.corrupt(
                entry, f"its shard number {entry.shard} is outside the {self.num_shards} shards"
            )
        path = self.shard_path(entry.shard)
        try:
            return _fs.open_read(path)
        except OSError as e:
            raise CorruptCheckpointError(
                f"checkpoint {self.prefix!r}: cannot open {path!r}, which holds tensor "
                f"{entry.name!r}: {e.strerror}; copy every .data file along with the .index"
            ) from e

    def check(self, entry: Entry, file_size: int) -> None:
        """Refuse *entry* if its size cannot hold its shape, or its bytes lie outside its shard.

        *file_size* is the size of the shard. Nothing is read, so a huge
        declared shape costs nothing.
        """
        count = math.prod(entry.shape)
        if entry.dtype == STRING and count > entry.size:
            raise self.corrupt(entry, f"it declares {count} strings in only {entry.size} bytes")
        needed = count * DTYPE_SIZES.get(entry.dtype, 0)
        if entry.dtype in DTYPE_SIZES and entry.size != needed:
            raise self.corrupt(
                entry,
                f"the index gives it {entry.size} bytes, but shape {list(entry.shape)} of "
                f"{entry.dtype_name} needs {needed}",
            )
        if entry.offset < 0 or entry.size < 0 or entry.offset + entry.size > file_size:
            raise self.corrupt(
                entry,
                f"its bytes {entry.offset}..{entry.offset + entry.size} lie outside "
                f"the file's {file_size} bytes",
            )

    def check_all(self) -> None:
        """:meth:`check` every entry against its shard on disk, reading no tensor.

        >>> import os, tensorflow as tf
        >>> _ = tf.train.Checkpoint(v=tf.Variable([1, 2])).write("m/ckpt")
        >>> os.truncate("m/ckpt.data-00000-of-00001", 4)
        >>> read_index("m/ckpt").check_all()
        Traceback (most recent call last):
        ...
        tfpersist.errors.CorruptCheckpointError: checkpoint 'm/ckpt': tensor ... lie outside the file's 4 bytes; ...
        """
        sizes: dict[int, int] = {}
        for entry in self.entries.values():
            if entry.slices:
                continue  # the slices are entries of their own
            if entry.shard not in sizes:
                file = self.open_shard(entry)
                sizes[entry.shard] = _fs.file_size(file)
                _fs.close(file)
            self.check(entry, sizes[entry.shard])

    def entry(self, name: str) -> Entry:
        """The record of tensor *name*."""
        try:
            return self.entries[name]
        except KeyError:
            raise TensorNotFoundError(
                f"checkpoint {self.prefix!r} has no tensor {name!r}"
                f"{did_you_mean(name, self.names)}; `tfpersist inspect` lists them"
            ) from None

    def part(self, entry: Entry, extents: tuple[Extent, ...]) -> Entry:
        """The record of one slice of a partitioned tensor, under the tensor's name."""
        part = self.entries.get(_key(slice_key(entry.name, extents)))
        if part is None:
            raise self.corrupt(entry, "a slice named in the index is missing", self.path)
        return Entry(
            entry.name, part.dtype, part.shape, part.shard, part.offset, part.size, part.crc32c
        )

    def assemble(self, entry: Entry, dtype: Any, parts: Sequence[Piece]) -> Any:
        """Put *entry* together from *parts*, as a NumPy array of *dtype*.

        Each part is ``(extents, shape, values)``: its extents in the tensor
        (checked to lie inside it), its shape, and a function that reads its
        values. The caller has bounded each part by the bytes that hold it, so
        once the parts are known to add up to the tensor, allocating it costs
        no more than the files hold. Slices that overlap are refused, as
        TensorFlow refuses them ("Overlapping slices"), and so are gaps.

        >>> import numpy as np
        >>> index, w = Index("m"), Entry("w", 1, (4,), 0, 0, 16, 0)
        >>> halves = [(((0, 2),), (2,), lambda: np.zeros(2)), (((2, 2),), (2,), np.ones(2).copy)]
        >>> index.assemble(w, np.dtype("float32"), halves)
        array([0., 0., 1., 1.], dtype=float32)
        >>> index.assemble(w, np.dtype("float32"), [halves[0], halves[0], halves[1]])
        Traceback (most recent call last):
        ...
        tfpersist.errors.CorruptCheckpointError: checkpoint 'm': tensor 'w' in 'm.index': its slices [(0, 2)] and [(0, 2)] overlap ...
        """
        import numpy as np  # only when values are read

        if sum(math.prod(shape) for _, shape, _ in parts) < math.prod(entry.shape):
            raise self.corrupt(entry, "its slices do not cover the whole tensor", self.path)
        value = np.empty(entry.shape, dtype=dtype)
        covered = np.zeros(entry.shape, dtype=bool)
        seen: set[tuple[Extent, ...]] = set()
        for extents, shape, values in parts:
            where: tuple[slice | EllipsisType, ...] = (  # ... keeps a 0-d object whole
                *(slice(start, start + n) for (start, _), n in zip(extents, shape, strict=True)),
                ...,
            )
            if extents in seen or covered[where].any():
                other = next(e for e in seen if e == extents or _overlap(e, extents, entry.shape))
                raise self.corrupt(
                    entry,
                    f"its slices {list(other)} and {list(extents)} overlap (TensorFlow refuses "
                    "them too: 'Overlapping slices')",
                    self.path,
                )
            seen.add(extents)
            value[where] = values().reshape(shape)
            covered[where] = True
        if not covered.all():
            raise self.corrupt(entry, "its slices do not cover the whole tensor", self.path)
        return value

    def nbytes(self, name: str) -> int:
        """How many bytes tensor *name* takes in the ``.data`` files."""
        entry = self.entry(name)
        if not entry.slices:
            return entry.size
        return sum(self.part(entry, s).size for s in entry.slices)


def _overlap(a: tuple[Extent, ...], b: tuple[Extent, ...], shape: tuple[int, ...]) -> bool:
    """Whether slices *a* and *b* of a tensor of *shape* share an element."""
    for (s, n), (t, m), dim in zip(a, b, shape, strict=True):
        if max(s, t) >= min(dim if n is None else s + n, dim if m is None else t + m):
            return False
    return True


def read_index(prefix: str) -> Index:
    """Read and check the ``.index`` of the V2 checkpoint at *prefix*.

    :func:`tfpersist._v1.read_checkpoint_index` also reads V1 checkpoints,
    which have no ``.index``.

    >>> read_index("nowhere/ckpt")
    Traceback (most recent call last):
    ...
    tfpersist.errors.CheckpointNotFoundError: no checkpoint at 'nowhere/ckpt': 'nowhere/ckpt.index' does not exist
    """
    index = Index(prefix)
    try:
        data = _fs.read_bytes(index.path)
    except FileNotFoundError as e:
        raise CheckpointNotFoundError(
            f"no checkpoint at {prefix!r}: {index.path!r} does not exist"
        ) from e
    except OSError as e:
        raise CorruptCheckpointError(
            f"checkpoint {prefix!r}: cannot read {index.path!r}: {e.strerror}"
        ) from e
    try:
        _read_entries(index, data)
    except DecodeError as e:
        raise CorruptCheckpointError(
            f"checkpoint {prefix!r}: {index.path!r} is not a readable index: {e}; {DAMAGED}"
        ) from e
    parts = {_key(slice_key(e.name, s)) for e in index.entries.values() for s in e.slices}
    index.names = sorted(n for n in index.entries if n not in parts)
    return index


def _read_entries(index: Index, data: bytes) -> None:
    rows = read_table(data)
    key, value = next(rows, (None, b""))
    if key != b"":
        raise TableError("its first entry is not the bundle header")
    for number, wire, content in fields(value):
        if number == 1 and wire == 0:
            index.num_shards = int64(content)
        elif number == 2 and wire == 0:
            index.big_endian = content == 1
        elif number == 3 and wire == 2:
            _check_version(index.prefix, content)
    if not 0 < index.num_shards < 100_000:
        raise TableError(f"the header declares {index.num_shards} shards")
    for key, value in rows:
        name = _key(key)
        try:
            entry = _entry(name, value)
        except DecodeError as e:
            raise TableError(f"the entry for tensor {name!r} is malformed: {e}") from None
        if entry.dtype not in DTYPE_NAMES:
            raise UnsupportedCheckpointError(
                f"checkpoint {index.prefix!r}: tensor {name!r} has TensorFlow dtype number "
                f"{entry.dtype}, which tfpersist cannot read; use tf.train.load_checkpoint"
            )
        index.entries[name] = entry


def _check_version(prefix: str, data: bytes | memoryview) -> None:
    for number, wire, value in fields(data):
        if (number == 2 and wire == 0 and value > 1) or (number == 3 and wire == 0 and value == 1):
            raise UnsupportedCheckpointError(
                f"checkpoint {prefix!r} was written in a newer bundle format "
                "than this reader knows; read it with the TensorFlow that wrote it"
            )


def _key(key: bytes) -> str:
    return key.decode("utf-8", "surrogateescape")
