"""V1 checkpoints: the single-table format TensorFlow wrote before 0.12, read without TensorFlow.

A V1 checkpoint is one table file per shard (see :mod:`tfpersist._sstable`):
``PREFIX`` when unsharded, ``PREFIX-00000-of-00002`` ... when sharded, which
TensorFlow names by the pattern ``PREFIX-?????-of-00002``. The empty key of
each table holds a ``SavedTensorSliceMeta`` (every tensor's name, shape, dtype
and slices); every other key is the ordered code of a tensor name and slice
(:func:`~tfpersist._index.slice_key`), whose value is a ``SavedTensorSlices``
carrying that slice's ``TensorProto``. :func:`read_v1` gives the same
interface as :func:`~tfpersist._index.read_index`, so listing needs no NumPy;
:meth:`V1Index.tensor` decodes values.
"""

from __future__ import annotations

import math
import mmap
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from tfpersist import _fs
from tfpersist._index import (
    DAMAGED,
    DTYPE_NAMES,
    DTYPE_SIZES,
    STRING,
    Entry,
    Extent,
    Index,
    _key,
    _shape,
    _slice,
    read_index,
    slice_key,
)
from tfpersist._layout import v1_files
from tfpersist._protobuf import DecodeError, fields, int64
from tfpersist._sstable import Table, TableError
from tfpersist.errors import (
    CheckpointNotFoundError,
    CorruptCheckpointError,
    UnsupportedCheckpointError,
)

_CHECKPOINT_VERSION = 1  # TF_CHECKPOINT_VERSION; no newer V1 format exists
#: The TensorProto field that holds each dtype's values in a V1 checkpoint.
_VALUE_FIELD = {
    1: 5, 2: 6, 3: 7, 4: 7, 5: 7, 6: 7, 7: 8, 8: 9, 9: 10, 10: 11, 11: 7, 12: 7, 13: 7,
    14: 13, 15: 7, 16: 7, 17: 7, 18: 12, 19: 13, 22: 16, 23: 17,
}  # fmt: skip
_FIXED = {1: "<u4", 2: "<u8", 8: "<u4", 18: "<u8"}  # float32, float64, complex: raw bits
_TENSOR_CONTENT = 4


@dataclass
class V1Index(Index):
    """The tensors of the V1 checkpoint at *prefix*, from the metadata of its files.

    *files* are its table files in shard order; an entry's ``shard`` is the
    file of its first slice, its ``size`` the bytes of its values once decoded.

    >>> import os, tensorflow as tf
    >>> os.makedirs("m")  # a V1 saver makes no directory
    >>> with tf.Graph().as_default() as graph:
    ...     v = tf.compat.v1.Variable([1, 2], name="v")
    ...     saver = tf.compat.v1.train.Saver(write_version=tf.compat.v1.train.SaverDef.V1)
    ...     with tf.compat.v1.Session(graph=graph) as sess:
    ...         sess.run(v.initializer)
    ...         prefix = saver.save(sess, "m/model.ckpt", write_meta_graph=False)
    >>> index = read_v1(prefix)
    >>> index.files, index.names, index.entry("v").shape
    (['m/model.ckpt'], ['v'], (2,))
    """

    files: list[str] = field(default_factory=list)
    #: Per tensor, the file number of each of its slices.
    where: dict[str, dict[tuple[Extent, ...], int]] = field(default_factory=dict)
    _tables: dict[int, Table] = field(default_factory=dict, repr=False)

    @property
    def path(self) -> str:
        """The first table file."""
        return self.files[0]

    def shard_path(self, shard: int) -> str:
        """The table file number *shard*."""
        return self.files[shard]

    def table(self, shard: int) -> Table:
        """The table of file number *shard*, opened and checked once."""
        if shard not in self._tables:
            self._tables[shard] = _open_table(self.prefix, self.files[shard])
        return self._tables[shard]

    def close(self) -> None:
        """Let go of the open tables."""
        self._tables.clear()

    def check_all(self) -> None:
        """Check that every file is still there and still a table, reading no tensor."""
        for shard in range(len(self.files)):
            self._tables.pop(shard, None)
            self.table(shard)

    def nbytes(self, name: str) -> int:
        """The bytes of tensor *name* once decoded; for strings, the bytes of its records."""
        entry = self.entry(name)
        if entry.dtype != STRING:
            return entry.size
        return sum(len(self._record(entry, s)) for s in self.where[name])

    def part(self, entry: Entry, extents: tuple[Extent, ...]) -> Entry:
        """The record of one slice of *entry*, under the tensor's name."""
        shard = self.where[entry.name][extents]
        shape = tuple(
            dim if length is None else length
            for (_, length), dim in zip(extents, entry.shape, strict=True)
        )
        size = math.prod(shape) * DTYPE_SIZES.get(entry.dtype, 0)
        return Entry(entry.name, entry.dtype, shape, shard, 0, size, 0)

    def _record(self, entry: Entry, extents: tuple[Extent, ...]) -> bytes:
        shard = self.where[entry.name][extents]
        file = self.files[shard]
        try:
            value = self.table(shard).get(slice_key(entry.name, extents))
        except DecodeError as e:
            raise self.corrupt(entry, f"it is not a readable table: {e}", file) from None
        if value is None:
            raise self.corrupt(entry, f"its slice {list(extents)} is missing", file)
        return value

    def tensor(self, entry: Entry, dtype: Any) -> Any:
        """The value of *entry* as a NumPy array of *dtype*, put together from its slices.

        Every value takes at least one byte of its slice's record, so a slice
        that declares more values than its record has bytes is refused before
        anything is allocated: a huge declared shape costs nothing.
        """
        parts = []
        for extents, shard in self.where[entry.name].items():
            shape = self.part(entry, extents).shape
            record = self._record(entry, extents)
            count = math.prod(shape)
            if count > len(record):
                raise self.corrupt(
                    entry,
                    f"its slice {list(extents)} declares {count} values of shape {list(shape)}, "
                    f"but its record has only {len(record)} bytes",
                    self.files[shard],
                )
            values = partial(self._values, entry, extents, record, count, dtype)
            parts.append((extents, shape, values))
        return self.assemble(entry, dtype, parts)

    def _values(
        self, entry: Entry, extents: tuple[Extent, ...], record: bytes, count: int, dtype: Any
    ) -> Any:
        try:
            return _decode(_slice_data(record, entry.name, extents), entry.dtype, count, dtype)
        except DecodeError as e:
            file = self.files[self.where[entry.name][extents]]
            raise self.corrupt(entry, f"its slice {list(extents)}: {e}", file) from None


def _open_table(prefix: str, path: str) -> Table:
    try:
        handle = _fs.open_read(path)
    except FileNotFoundError as e:
        raise CheckpointNotFoundError(f"no checkpoint at {prefix!r}: {path!r} is gone") from e
    except OSError as e:
        raise CorruptCheckpointError(
            f"checkpoint {prefix!r}: cannot read {path!r}: {e.strerror}"
        ) from e
    try:
        size = _fs.file_size(handle)
        if isinstance(handle, int) and size:
            data: Any = mmap.mmap(handle, size, access=mmap.ACCESS_READ)
        else:
            data = bytearray(size)
            _fs.read_into(handle, memoryview(data), 0)
            data = bytes(data)
    finally:
        _fs.close(handle)
    try:
        return Table(data)
    except DecodeError as e:
        raise CorruptCheckpointError(
            f"checkpoint {prefix!r}: {path!r} is not a readable V1 checkpoint table: {e}; {DAMAGED}"
        ) from e


def read_checkpoint_index(prefix: str) -> Index:
    """Read the index of the checkpoint at *prefix*, a V2 ``.index`` or a V1 checkpoint's tables.

    Both give the same interface, so listing needs no NumPy.

    >>> read_checkpoint_index("nowhere/ckpt")
    Traceback (most recent call last):
    ...
    tfpersist.errors.CheckpointNotFoundError: no checkpoint at 'nowhere/ckpt': 'nowhere/ckpt.index' does not exist
    """
    try:
        return read_index(prefix)
    except CheckpointNotFoundError:
        if v1_files(prefix):
            return read_v1(prefix)
        raise


def read_v1(prefix: str) -> V1Index:
    """Read the metadata of the V1 checkpoint *prefix* (``PREFIX`` or ``PREFIX-?????-of-NNNNN``).

    >>> read_v1("nowhere/model.ckpt")
    Traceback (most recent call last):
    ...
    tfpersist.errors.CheckpointNotFoundError: no checkpoint at 'nowhere/model.ckpt': ...
    """
    files = v1_files(prefix)
    if not files:
        raise CheckpointNotFoundError(
            f"no checkpoint at {prefix!r}: neither {prefix + '.index'!r} nor a V1 checkpoint "
            "file (PREFIX, or every shard PREFIX-NNNNN-of-NNNNN) exists"
        )
    index = V1Index(prefix, num_shards=len(files), files=files)
    for shard, path in enumerate(files):
        try:
            meta = index.table(shard).get(b"")
            if meta is None:
                raise TableError("it has no metadata record (the empty key)")
            _read_meta(index, shard, meta)
        except DecodeError as e:
            raise CorruptCheckpointError(
                f"checkpoint {prefix!r}: {path!r} is not a readable V1 checkpoint: {e}; {DAMAGED}"
            ) from e
    index.names = sorted(index.entries)
    return index


def _read_meta(index: V1Index, shard: int, record: bytes) -> None:
    for number, wire, meta in fields(record):
        if number != 1 or wire != 2:
            continue  # SavedTensorSlices.meta; a data record here is no concern of ours
        for n, w, value in fields(meta):
            if n == 1 and w == 2:
                _add_tensor(index, shard, value)
            elif n == 2 and w == 2:
                _check_versions(index.prefix, value)


def _add_tensor(index: V1Index, shard: int, data: bytes) -> None:
    name, dtype = "", 0
    shape: tuple[int, ...] = ()
    slices: list[tuple[Extent, ...]] = []
    for number, wire, value in fields(data):
        if number == 1 and wire == 2:
            name = _key(value)
        elif number == 2 and wire == 2:
            shape = _shape(value)
        elif number == 3 and wire == 0:
            dtype = int64(value)
        elif number == 4 and wire == 2:
            slices.append(_full(_slice(value), len(shape)))
    if dtype not in _VALUE_FIELD:
        raise UnsupportedCheckpointError(
            f"checkpoint {index.prefix!r}: tensor {name!r} has dtype "
            f"{DTYPE_NAMES.get(dtype, dtype)}, which tfpersist cannot read from a V1 "
            "checkpoint; use tf.train.load_checkpoint"
        )
    old = index.entries.get(name)
    if old is not None and (old.dtype, old.shape) != (dtype, shape):
        raise TableError(
            f"tensor {name!r} is {DTYPE_NAMES[dtype]} {list(shape)} here, but "
            f"{old.dtype_name} {list(old.shape)} in {index.files[old.shard]!r}"
        )
    where = index.where.setdefault(name, {})
    for extents in slices:
        if len(extents) != len(shape) or any(
            not 0 <= start <= start + (dim - start if n is None else n) <= dim
            for (start, n), dim in zip(extents, shape, strict=False)
        ):
            raise TableError(f"tensor {name!r} has slice {list(extents)} outside {list(shape)}")
        if extents in where:
            raise TableError(
                f"tensor {name!r} has slice {list(extents)} twice (TensorFlow refuses it too: "
                "'Overlapping slices')"
            )
        where[extents] = shard
    whole = tuple((0, None) for _ in shape)
    parts = () if list(where) == [whole] else tuple(where)
    first = min(where.values(), default=shard)
    size = math.prod(shape) * DTYPE_SIZES.get(dtype, 0)
    index.entries[name] = Entry(name, dtype, shape, first, 0, size, 0, parts)


def _full(extents: tuple[Extent, ...], rank: int) -> tuple[Extent, ...]:
    """A slice of a scalar has no extents; TensorFlow writes the whole tensor as ``-``."""
    return extents if extents or not rank else tuple((0, None) for _ in range(rank))


def _check_versions(prefix: str, data: bytes) -> None:
    for number, wire, value in fields(data):
        if (number == 2 and wire == 0 and int64(value) > _CHECKPOINT_VERSION) or (
            number == 3 and wire == 0 and int64(value) == _CHECKPOINT_VERSION
        ):
            raise UnsupportedCheckpointError(
                f"checkpoint {prefix!r} was written in a newer V1 format than this reader "
                "knows; read it with the TensorFlow that wrote it"
            )


def _slice_data(record: bytes, name: str, extents: tuple[Extent, ...]) -> bytes:
    """The ``TensorProto`` of a ``SavedTensorSlices`` record, checked to be the slice asked for."""
    for number, wire, saved in fields(record):
        if number == 2 and wire == 2:
            found, proto = None, b""
            for n, w, value in fields(saved):
                if n == 1 and w == 2:
                    found = _key(value)
                elif n == 3 and w == 2:
                    proto = value
            if found is not None and found != name:
                raise DecodeError(f"its record is for tensor {found!r}")
            return proto
    raise DecodeError("its record holds no data")


def _decode(proto: bytes, dtype: int, count: int, numpy_dtype: Any) -> Any:
    """The *count* values of a slice's ``TensorProto``, as a flat NumPy array."""
    import numpy as np

    wanted = _VALUE_FIELD[dtype]
    chunks: list[bytes] = []
    singles: list[Any] = []
    content = None
    single = {"<u4": 5, "<u8": 1}.get(_FIXED.get(dtype, ""), 0)  # wire type of an unpacked value
    for number, wire, value in fields(proto):
        if number == _TENSOR_CONTENT and wire == 2:
            content = value
        elif number == wanted and wire == 2:
            chunks.append(value)
        elif number == wanted and wire == single and dtype != STRING:
            singles.append(value)
        elif number == wanted:
            raise DecodeError(f"its values are encoded as protobuf wire type {wire}")
    if content is not None and not chunks and not singles:
        if dtype == STRING or len(content) != count * numpy_dtype.itemsize:
            raise DecodeError(f"its tensor_content has {len(content)} bytes for {count} values")
        return np.frombuffer(content, dtype=numpy_dtype.newbyteorder("<")).astype(numpy_dtype)
    if dtype == STRING:
        values = np.empty(len(chunks), dtype=object)
        values[:] = chunks
    elif dtype in _FIXED:
        raw = np.dtype(_FIXED[dtype])
        packed = b"".join([*chunks, *(int(v).to_bytes(raw.itemsize, "little") for v in singles)])
        if len(packed) % numpy_dtype.itemsize:
            raise DecodeError(
                f"its {len(packed)} bytes of values are no whole number of {numpy_dtype.name}"
            )
        values = np.frombuffer(packed, dtype=numpy_dtype.newbyteorder("<"))
    else:
        ints = np.concatenate([*(_varints(c) for c in chunks), np.array(singles, np.uint64)])
        if dtype in (14, 19):  # bfloat16, float16: their bits, in half_val
            values = ints.astype(np.uint16).view(numpy_dtype)
        elif dtype == 10:
            values = ints != 0
        else:
            values = ints.astype(numpy_dtype)  # wraps as C's cast from int32 does
    if values.size != count:
        raise DecodeError(f"it holds {values.size} values where its shape needs {count}")
    return values.astype(numpy_dtype, copy=False)


def _varints(data: bytes) -> Any:
    """Decode packed varints, all at once, as unsigned 64-bit numbers."""
    import numpy as np

    raw = np.frombuffer(data, dtype=np.uint8)
    if raw.size and raw[-1] >= 0x80:
        raise DecodeError("a packed varint runs past the end of its field")
    ends = np.flatnonzero(raw < 0x80)
    starts = np.concatenate(([0], ends[:-1] + 1)).astype(np.int64)
    lengths = ends - starts + 1
    if lengths.size and lengths.max() > 10:
        raise DecodeError("a varint is longer than 10 bytes")
    values = np.zeros(ends.size, dtype=np.uint64)
    for k in range(int(lengths.max()) if lengths.size else 0):
        has = lengths > k
        byte = (raw[starts[has] + k] & 0x7F).astype(np.uint64)
        values[has] |= byte << np.uint64(7 * k)
    return values
