"""Reading checkpoints without TensorFlow.

A checkpoint (检查点) on disk is a *tensor bundle*: the ``.index`` file is a
sorted table that maps every tensor name to its dtype, shape, shard, offset,
size and crc32c, and the ``.data-00000-of-00001`` shards hold the bytes. That
is all a reader needs, so this module reads checkpoints with NumPy alone:
importing it does not import TensorFlow, and opening a checkpoint takes
milliseconds instead of the seconds TensorFlow needs to start.

The API mirrors TensorFlow's reader, so it is a drop-in for
``tf.train.load_checkpoint`` and ``tf.train.list_variables``:

>>> import tensorflow as tf
>>> from tfpersist import bundle
>>> ckpt = tf.train.Checkpoint(w=tf.Variable([[1.0, 2.0]]), step=tf.Variable(7))
>>> prefix = ckpt.write("model/ckpt")
>>> bundle.list_variables("model/ckpt") == tf.train.list_variables("model/ckpt")
True
>>> reader = bundle.load_checkpoint("model/ckpt")
>>> reader.get_tensor("w/.ATTRIBUTES/VARIABLE_VALUE")
array([[1., 2.]], dtype=float32)
>>> reader.get_variable_to_dtype_map()["step/.ATTRIBUTES/VARIABLE_VALUE"]
dtype('int32')

Every value is checked against the crc32c stored for it, and every block of
the index against its own, so a damaged file is an error that names the file
and the tensor, never a wrong number. Differences from TensorFlow's reader:

- ``get_tensor`` always returns a NumPy array: a 0-d array for a scalar, and
  an ``object`` array of ``bytes`` for strings, where TensorFlow returns
  ``numpy.float32`` or ``bytes`` for scalars.
- Large tensors are mapped from the file, not read into a buffer; each array
  has its own copy-on-write mapping, so it is writable and writing to it never
  changes the file.
- Dtypes are NumPy's (``bfloat16`` is ``ml_dtypes.bfloat16``). Tensors of the
  ``variant`` dtype, which only TensorFlow can decode, are listed but not read.
"""

from __future__ import annotations

import contextlib
import math
import mmap
import os
import struct
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import ml_dtypes
import numpy as np

from tfpersist._sstable import TableError, crc32c, mask, read_table, read_varint
from tfpersist.checkpoint_state import resolve_prefix
from tfpersist.errors import (
    CorruptCheckpointError,
    TensorNotFoundError,
    UnsupportedCheckpointError,
    did_you_mean,
)

__all__ = ["CheckpointReader", "Entry", "list_variables", "load_checkpoint", "slice_key"]

_STRING, _RESOURCE, _VARIANT = 7, 20, 21
DTYPES: dict[int, np.dtype] = {
    1: np.dtype("float32"),
    2: np.dtype("float64"),
    3: np.dtype("int32"),
    4: np.dtype("uint8"),
    5: np.dtype("int16"),
    6: np.dtype("int8"),
    7: np.dtype(object),
    8: np.dtype("complex64"),
    9: np.dtype("int64"),
    10: np.dtype("bool"),
    11: np.dtype("int8"),  # quantized types read as their integers, as TensorFlow's reader does
    12: np.dtype("uint8"),
    13: np.dtype("int32"),
    14: np.dtype(ml_dtypes.bfloat16),
    15: np.dtype("int16"),
    16: np.dtype("uint16"),
    17: np.dtype("uint16"),
    18: np.dtype("complex128"),
    19: np.dtype("float16"),
    20: np.dtype(object),
    21: np.dtype(object),
    22: np.dtype("uint32"),
    23: np.dtype("uint64"),
}
_NAMES = {_STRING: "string", _RESOURCE: "resource", _VARIANT: "variant", 11: "qint8", 12: "quint8"}
_NAMES.update({13: "qint32", 15: "qint16", 16: "quint16"})
_MAX_RANK = 254  # TensorShape's limit
_MAP_AT_LEAST = 1 << 20  # tensors this large are mapped, smaller ones read
_DAMAGED = "the checkpoint is damaged: restore it from a good copy"

Extent = tuple[int, "int | None"]  # (start, length); None is the whole dimension


@dataclass(frozen=True)
class Entry:
    """One record of a checkpoint's index: where a tensor's bytes are and what they hold.

    *dtype* is TensorFlow's DataType number. *slices* is empty unless the
    tensor was saved in parts (a partitioned variable); each part's extents
    are ``(start, length)`` per dimension.

    >>> e = Entry("v", dtype=1, shape=(2,), shard=0, offset=0, size=8, crc32c=0)
    >>> e.dtype_name, e.numpy_dtype
    ('float32', dtype('float32'))
    """

    name: str
    dtype: int
    shape: tuple[int, ...]
    shard: int
    offset: int
    size: int
    crc32c: int
    slices: tuple[tuple[Extent, ...], ...] = ()

    @property
    def numpy_dtype(self) -> np.dtype:
        """The NumPy dtype of the values; ``object`` for strings."""
        return DTYPES[self.dtype]

    @property
    def dtype_name(self) -> str:
        """``float32``, ``bfloat16``, ``string``, ``variant``, ..."""
        return _NAMES.get(self.dtype) or DTYPES[self.dtype].name


def _fields(data: bytes | memoryview) -> Iterator[tuple[int, int, Any]]:
    """Yield ``(field number, wire type, value)`` of a protobuf message."""
    pos, end = 0, len(data)
    while pos < end:
        tag, pos = read_varint(data, pos)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = read_varint(data, pos)
        elif wire == 1 or wire == 5:
            width = 8 if wire == 1 else 4
            if pos + width > end:
                raise TableError("a protobuf field runs past the end of its record")
            value = int.from_bytes(data[pos : pos + width], "little")
            pos += width
        elif wire == 2:
            size, pos = read_varint(data, pos)
            if pos + size > end:
                raise TableError("a protobuf field runs past the end of its record")
            value = data[pos : pos + size]
            pos += size
        else:
            raise TableError(
                f"a protobuf field has wire type {wire}, which TensorFlow never writes"
            )
        yield number, wire, value


def _int64(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _shape(data: bytes | memoryview) -> tuple[int, ...]:
    dims = []
    for number, wire, value in _fields(data):
        if number == 3 and value:
            raise TableError("a tensor's shape has unknown rank")
        if number == 2 and wire == 2:
            size = 0
            for n, w, v in _fields(value):
                if n == 1 and w == 0:
                    size = _int64(v)
            if size < 0:
                raise TableError(f"a tensor's shape has dimension {size}")
            dims.append(size)
    if len(dims) > _MAX_RANK:
        raise TableError(f"a tensor's shape has {len(dims)} dimensions")
    return tuple(dims)


def _slice(data: bytes | memoryview) -> tuple[Extent, ...]:
    extents = []
    for number, wire, value in _fields(data):
        if number == 1 and wire == 2:
            start, length = 0, None
            for n, w, v in _fields(value):
                if n == 1 and w == 0:
                    start = _int64(v)
                elif n == 2 and w == 0:
                    length = _int64(v)
            extents.append((start, length))
    return tuple(extents)


def _entry(name: str, data: bytes | memoryview) -> Entry:
    numbers = {1: 0, 3: 0, 4: 0, 5: 0}  # dtype, shard, offset, size
    shape: tuple[int, ...] = ()
    crc, slices = 0, []
    for number, wire, value in _fields(data):
        if wire == 0 and number in numbers:
            numbers[number] = _int64(value)
        elif wire == 2 and number == 2:
            shape = _shape(value)
        elif wire == 2 and number == 7:
            slices.append(_slice(value))
        elif wire == 5 and number == 6:
            crc = value
    dtype, shard, offset, size = numbers.values()
    return Entry(name, dtype, shape, shard, offset, size, crc, tuple(slices))


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


def slice_key(name: str, extents: Sequence[Extent]) -> bytes:
    """The index key under which TensorFlow stores one slice of a partitioned tensor.

    >>> slice_key("w", [(0, 2), (0, None)])
    b'\\x00w\\x00\\x01\\x01\\x02\\x80\\x82\\x80\\x7f'
    """
    escaped = name.encode("utf-8", "surrogateescape").replace(b"\xff", b"\xff\x00")
    key = b"\x00" + escaped.replace(b"\x00", b"\x00\xff") + b"\x00\x01"
    key += bytes([1, len(extents)]) if extents else b"\x00"
    for start, length in extents:
        key += _signed_increasing(start) + _signed_increasing(-1 if length is None else length)
    return key


class CheckpointReader:
    """A checkpoint opened for reading, without TensorFlow; see :func:`load_checkpoint`.

    Usable as a context manager; :meth:`close` releases the data files, while
    arrays already returned stay valid.

    >>> import tensorflow as tf
    >>> _ = tf.train.Checkpoint(v=tf.Variable([1, 2])).write("m/ckpt")
    >>> with CheckpointReader("m/ckpt") as reader:
    ...     reader.has_tensor("v/.ATTRIBUTES/VARIABLE_VALUE"), reader.num_shards
    (True, 1)
    """

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._index = prefix + ".index"
        self._fds: dict[int, int] = {}
        self._finalizer = weakref.finalize(self, _close_all, self._fds)
        try:
            with open(self._index, "rb") as f:
                data = f.read()
        except OSError as e:
            raise CorruptCheckpointError(
                f"checkpoint {prefix!r}: cannot read {self._index!r}: {e.strerror}"
            ) from e
        self._entries: dict[str, Entry] = {}
        try:
            self._read_index(data)
        except TableError as e:
            raise CorruptCheckpointError(
                f"checkpoint {prefix!r}: {self._index!r} is not a readable index: {e}; {_DAMAGED}"
            ) from e
        parts = {_key(slice_key(e.name, s)) for e in self._entries.values() for s in e.slices}
        self._names = sorted(n for n in self._entries if n not in parts)
        self._visible = set(self._names)

    def _read_index(self, data: bytes) -> None:
        rows = read_table(data)
        key, value = next(rows, (None, b""))
        if key != b"":
            raise TableError("its first entry is not the bundle header")
        self.num_shards, self._big_endian = 1, False
        for number, wire, field in _fields(value):
            if number == 1 and wire == 0:
                self.num_shards = _int64(field)
            elif number == 2 and wire == 0:
                self._big_endian = field == 1
            elif number == 3 and wire == 2:
                self._check_version(field)
        if not 0 < self.num_shards < 100_000:
            raise TableError(f"the header declares {self.num_shards} shards")
        for key, value in rows:
            name = _key(key)
            try:
                entry = _entry(name, value)
            except TableError as e:
                raise TableError(f"the entry for tensor {name!r} is malformed: {e}") from None
            if entry.dtype not in DTYPES:
                raise UnsupportedCheckpointError(
                    f"checkpoint {self.prefix!r}: tensor {name!r} has TensorFlow dtype number "
                    f"{entry.dtype}, which tfpersist cannot read; use tf.train.load_checkpoint"
                )
            self._entries[name] = entry

    def _check_version(self, data: bytes | memoryview) -> None:
        for number, wire, value in _fields(data):
            if (number == 2 and wire == 0 and value > 1) or (
                number == 3 and wire == 0 and value == 1
            ):
                raise UnsupportedCheckpointError(
                    f"checkpoint {self.prefix!r} was written in a newer bundle format "
                    "than this reader knows; read it with the TensorFlow that wrote it"
                )

    def __enter__(self) -> CheckpointReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the data files. Arrays already returned stay valid."""
        self._finalizer()

    def entry(self, name: str) -> Entry:
        """The index record of tensor *name*.

        >>> import tensorflow as tf
        >>> _ = tf.train.Checkpoint(v=tf.Variable([1, 2])).write("m/ckpt")
        >>> load_checkpoint("m/ckpt").entry("v/.ATTRIBUTES/VARIABLE_VALUE").size
        8
        """
        try:
            return self._entries[name]
        except KeyError:
            raise TensorNotFoundError(
                f"checkpoint {self.prefix!r} has no tensor {name!r}"
                f"{did_you_mean(name, self._names)}; `tfpersist inspect` lists them"
            ) from None

    def has_tensor(self, name: str) -> bool:
        """Whether the checkpoint holds a tensor called *name*.

        >>> import tensorflow as tf
        >>> _ = tf.train.Checkpoint(v=tf.Variable(1)).write("m/ckpt")
        >>> load_checkpoint("m/ckpt").has_tensor("v")
        False
        """
        return name in self._visible

    def get_variable_to_shape_map(self) -> dict[str, list[int]]:
        """Every tensor name with its shape, like TensorFlow's reader.

        >>> import tensorflow as tf
        >>> _ = tf.train.Checkpoint(v=tf.Variable([1, 2])).write("m/ckpt")
        >>> load_checkpoint("m/ckpt").get_variable_to_shape_map()["v/.ATTRIBUTES/VARIABLE_VALUE"]
        [2]
        """
        return {n: list(self._entries[n].shape) for n in self._names}

    def get_variable_to_dtype_map(self) -> dict[str, np.dtype]:
        """Every tensor name with its NumPy dtype (``object`` for strings).

        >>> import tensorflow as tf
        >>> _ = tf.train.Checkpoint(v=tf.Variable([1, 2])).write("m/ckpt")
        >>> load_checkpoint("m/ckpt").get_variable_to_dtype_map()["v/.ATTRIBUTES/VARIABLE_VALUE"]
        dtype('int32')
        """
        return {n: self._entries[n].numpy_dtype for n in self._names}

    def nbytes(self, name: str) -> int:
        """How many bytes tensor *name* takes in the ``.data`` files.

        >>> import tensorflow as tf
        >>> _ = tf.train.Checkpoint(v=tf.Variable(tf.zeros([10]))).write("m/ckpt")
        >>> load_checkpoint("m/ckpt").nbytes("v/.ATTRIBUTES/VARIABLE_VALUE")
        40
        """
        entry = self.entry(name)
        if not entry.slices:
            return entry.size
        return sum(self._part(entry, s).size for s in entry.slices)

    def get_tensor(self, name: str) -> np.ndarray:
        """The value of tensor *name*, its checksum checked.

        >>> import tensorflow as tf
        >>> _ = tf.train.Checkpoint(s=tf.Variable(["a", "中文"])).write("m/ckpt")
        >>> load_checkpoint("m/ckpt").get_tensor("s/.ATTRIBUTES/VARIABLE_VALUE")
        array([b'a', b'\\xe4\\xb8\\xad\\xe6\\x96\\x87'], dtype=object)
        """
        entry = self.entry(name)
        if entry.dtype in (_RESOURCE, _VARIANT):
            raise UnsupportedCheckpointError(
                f"checkpoint {self.prefix!r}: tensor {name!r} has dtype {entry.dtype_name}, "
                "which only TensorFlow can decode; read it with tf.train.load_checkpoint"
            )
        if entry.slices:
            return self._assemble(entry)
        return self._read(entry, entry.name)

    def _corrupt(
        self, entry: Entry, problem: str, file: str | None = None
    ) -> CorruptCheckpointError:
        file = file or self._shard_path(entry.shard)
        return CorruptCheckpointError(
            f"checkpoint {self.prefix!r}: tensor {entry.name!r} in {file!r}: {problem}; {_DAMAGED}"
        )

    def _shard_path(self, shard: int) -> str:
        return f"{self.prefix}.data-{shard:05d}-of-{self.num_shards:05d}"

    def _fd(self, entry: Entry) -> tuple[int, int]:
        if not 0 <= entry.shard < self.num_shards:
            raise self._corrupt(
                entry, f"its shard number {entry.shard} is outside the {self.num_shards} shards"
            )
        if entry.shard not in self._fds:
            path = self._shard_path(entry.shard)
            try:
                self._fds[entry.shard] = os.open(path, os.O_RDONLY)
            except OSError as e:
                raise CorruptCheckpointError(
                    f"checkpoint {self.prefix!r}: cannot open {path!r}, which holds tensor "
                    f"{entry.name!r}: {e.strerror}; copy every .data file along with the .index"
                ) from e
        fd = self._fds[entry.shard]
        return fd, os.fstat(fd).st_size

    def _bytes(self, entry: Entry) -> memoryview:
        """The bytes of *entry*, bounds-checked: mapped when large, read when small."""
        if entry.size == 0:
            return memoryview(b"")
        fd, file_size = self._fd(entry)
        if entry.offset < 0 or entry.size < 0 or entry.offset + entry.size > file_size:
            raise self._corrupt(
                entry,
                f"its bytes {entry.offset}..{entry.offset + entry.size} lie outside "
                f"the file's {file_size} bytes",
            )
        if entry.size < _MAP_AT_LEAST:
            data = os.pread(fd, entry.size, entry.offset)
            if len(data) != entry.size:
                raise self._corrupt(entry, "the file ended while it was being read")
            return memoryview(bytearray(data))
        start = entry.offset - entry.offset % mmap.ALLOCATIONGRANULARITY
        mapping = mmap.mmap(
            fd, entry.offset + entry.size - start, access=mmap.ACCESS_COPY, offset=start
        )
        return memoryview(mapping)[entry.offset - start :]

    def _read(self, entry: Entry, name: str) -> np.ndarray:
        count = math.prod(entry.shape)
        dtype = entry.numpy_dtype
        if entry.dtype == _STRING:
            return self._strings(entry, count).reshape(entry.shape)
        if entry.size != count * dtype.itemsize:
            raise self._corrupt(
                entry,
                f"the index gives it {entry.size} bytes, but shape {list(entry.shape)} of "
                f"{entry.dtype_name} needs {count * dtype.itemsize}",
            )
        data = self._bytes(entry)
        if mask(crc32c(data)) != entry.crc32c:
            raise self._corrupt(entry, "its bytes fail their checksum")
        value = np.frombuffer(data, dtype=dtype, count=count)
        if entry.offset % dtype.alignment:
            value = value.copy()  # NumPy is slow on unaligned data
        if self._big_endian and dtype.itemsize > 1:
            value = _swapped(value)
        return value.reshape(entry.shape)

    def _strings(self, entry: Entry, count: int) -> np.ndarray:
        if count > entry.size:
            raise self._corrupt(entry, f"it declares {count} strings in only {entry.size} bytes")
        data = self._bytes(entry)
        if count == 0 and entry.size == 0:
            return np.empty(0, dtype=object)
        pos, lengths = 0, []
        try:
            for _ in range(count):
                length, pos = read_varint(data, pos)
                lengths.append(length)
        except TableError as e:
            raise self._corrupt(entry, f"its string lengths are malformed: {e}") from None
        order = ">" if self._big_endian else "<"
        packed = b"".join(
            struct.pack(order + ("I" if n <= 0xFFFFFFFF else "Q"), n) for n in lengths
        )
        crc = crc32c(packed)
        if pos + 4 > len(data) or struct.unpack_from(order + "I", data, pos)[0] != mask(crc):
            raise self._corrupt(entry, "its string lengths fail their checksum")
        crc = crc32c(data[pos : pos + 4], crc)
        pos += 4
        if pos + sum(lengths) != len(data):
            raise self._corrupt(entry, "its string lengths do not add up to its size")
        if mask(crc32c(data[pos:], crc)) != entry.crc32c:
            raise self._corrupt(entry, "its bytes fail their checksum")
        value = np.empty(count, dtype=object)
        for i, length in enumerate(lengths):
            value[i] = bytes(data[pos : pos + length])
            pos += length
        return value

    def _part(self, entry: Entry, extents: tuple[Extent, ...]) -> Entry:
        part = self._entries.get(_key(slice_key(entry.name, extents)))
        if part is None:
            raise self._corrupt(entry, "a slice named in the index is missing", self._index)
        return Entry(
            entry.name, part.dtype, part.shape, part.shard, part.offset, part.size, part.crc32c
        )

    def _assemble(self, entry: Entry) -> np.ndarray:
        """Put a partitioned tensor together from its slices."""
        parts = []
        for extents in entry.slices:
            if len(extents) != len(entry.shape):
                raise self._corrupt(entry, f"a slice has {len(extents)} dimensions", self._index)
            where = []
            for (start, length), dim in zip(extents, entry.shape, strict=True):
                stop = dim if length is None else start + length
                if not 0 <= start <= stop <= dim:
                    raise self._corrupt(
                        entry, f"slice {extents} exceeds shape {list(entry.shape)}", self._index
                    )
                where.append(slice(start, stop))
            part = self._part(entry, extents)
            if part.dtype != entry.dtype or part.shape != tuple(w.stop - w.start for w in where):
                raise self._corrupt(
                    entry, f"slice {extents} has another dtype or shape", self._index
                )
            parts.append((tuple(where), part))
        smallest = 1 if entry.dtype == _STRING else entry.numpy_dtype.itemsize
        if math.prod(entry.shape) * smallest > sum(p.size for _, p in parts):
            raise self._corrupt(
                entry, "its slices hold fewer bytes than its shape needs", self._index
            )
        value = np.empty(entry.shape, dtype=entry.numpy_dtype)
        covered = np.zeros(entry.shape, dtype=bool)
        for where, part in parts:
            value[where] = self._read(part, entry.name)
            covered[where] = True
        if not covered.all():
            raise self._corrupt(entry, "its slices do not cover the whole tensor", self._index)
        return value


def _key(key: bytes) -> str:
    return key.decode("utf-8", "surrogateescape")


def _swapped(value: np.ndarray) -> np.ndarray:
    width = value.dtype.itemsize // (2 if value.dtype.kind == "c" else 1)
    return value.view(f"u{width}").byteswap().view(value.dtype)


def _close_all(fds: dict[int, int]) -> None:
    for fd in fds.values():
        with contextlib.suppress(OSError):
            os.close(fd)
    fds.clear()


def load_checkpoint(path: str | os.PathLike[str]) -> CheckpointReader:
    """Open a checkpoint for reading, like ``tf.train.load_checkpoint``, without TensorFlow.

    *path* is a checkpoint prefix, or a directory meaning its latest checkpoint.

    >>> import tensorflow as tf
    >>> with tf.Graph().as_default() as graph:
    ...     v = tf.Variable(tf.ones([2, 3], tf.bfloat16), name="v")
    ...     with tf.compat.v1.Session(graph=graph) as sess:
    ...         sess.run(v.initializer)
    ...         _ = tf.compat.v1.train.Saver().save(sess, "m/model.ckpt")
    >>> load_checkpoint("m").get_tensor("v")
    array([[1, 1, 1],
           [1, 1, 1]], dtype=bfloat16)
    """
    return CheckpointReader(resolve_prefix(path))


def list_variables(path: str | os.PathLike[str]) -> list[tuple[str, list[int]]]:
    """Every tensor name with its shape, sorted, like ``tf.train.list_variables``.

    >>> import tensorflow as tf
    >>> _ = tf.train.Checkpoint(v=tf.Variable([1.0])).write("m/ckpt")
    >>> list_variables("m/ckpt")
    [('_CHECKPOINTABLE_OBJECT_GRAPH', []), ('v/.ATTRIBUTES/VARIABLE_VALUE', [1])]
    """
    with load_checkpoint(path) as reader:
        return sorted(reader.get_variable_to_shape_map().items())
