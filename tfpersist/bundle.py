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

Older checkpoints are in the V1 format, which ``tf.compat.v1.train.Saver``
wrote by default until TensorFlow 0.12 made V2 the default (its release
notes: "New checkpoint format becomes the default in ``tf.train.Saver``"),
and still writes when given ``write_version=SaverDef.V1``. A V1 checkpoint has
no ``.index``: it is one table file, ``PREFIX``, or when sharded the files
``PREFIX-00000-of-00002``, ... (TensorFlow names them ``PREFIX-?????-of-00002``),
each holding the names, shapes and dtypes of its tensors followed by their
values. :func:`load_checkpoint` reads both formats the same way:

>>> import os
>>> os.makedirs("v1")
>>> with tf.Graph().as_default() as graph:
...     v = tf.compat.v1.Variable([1.5, 2.5], name="v")
...     saver = tf.compat.v1.train.Saver(write_version=tf.compat.v1.train.SaverDef.V1)
...     with tf.compat.v1.Session(graph=graph) as sess:
...         sess.run(v.initializer)
...         saver.save(sess, "v1/model.ckpt")
'v1/model.ckpt'
>>> sorted(os.listdir("v1"))
['checkpoint', 'model.ckpt', 'model.ckpt.meta']
>>> bundle.load_checkpoint("v1").get_tensor("v")
array([1.5, 2.5], dtype=float32)

Every value is checked against the crc32c stored for it, and every block of
the index against its own, so a damaged file is an error that names the file
and the tensor, never a wrong number. Sizes are checked against the files
before anything is allocated: a shape that claims more than the files hold is
an error, not a gigabyte allocation. Slices of a partitioned tensor that
overlap are refused, as TensorFlow refuses them. Differences from TensorFlow's
reader:

- ``get_tensor`` always returns a NumPy array: a 0-d array for a scalar, and
  an ``object`` array of ``bytes`` for strings, where TensorFlow returns
  ``numpy.float32`` or ``bytes`` for scalars.
- Large tensors are mapped from the file, not read into a buffer; each array
  has its own copy-on-write mapping, so it is writable and writing to it never
  changes the file. A mapped array keeps the file's disk space in use until
  the array is gone, even after the file is deleted; ``mapped=False`` reads
  into memory of the array's own, for values that live long.
- Dtypes are NumPy's (``bfloat16``, the ``float8`` types and ``int4`` are
  ``ml_dtypes``'). Tensors of the ``variant`` dtype, which only TensorFlow can
  decode, are listed but not read.
- In a V1 checkpoint each value lives in its table's blocks, so it is read,
  never mapped, and checked by its block's crc32c; ``nbytes`` is its size
  once decoded (for strings, the size of its records). Unlike TensorFlow's
  reader, it reads partitioned V1 tensors and every dtype the V1 saver writes.
- A tensor with no elements but a dimension of 2**62 or more is listed, but
  reading it raises :class:`~tfpersist.errors.UnsupportedCheckpointError`:
  NumPy cannot shape such an array (TensorFlow's reader fails on it too).
- A TensorFlow filesystem URL (``gs://...``, ``ram://...``) is read through
  TensorFlow's filesystems, so it needs TensorFlow, and its tensors are read,
  never mapped.

.. rubric:: Writing without TensorFlow

:func:`write_checkpoint` and :class:`BundleWriter` write the other half: a
V2 checkpoint, byte for byte the files ``tf.raw_ops.SaveV2`` writes for the
same tensors in the same order, every dtype a checkpoint holds but
``resource`` and ``variant``. The tests compare the bytes with TensorFlow's
own on every release from 2.12 to 2.21. :mod:`tfpersist.rewriting` renames
and converts checkpoints with it, :mod:`tfpersist.importing` imports weights
with it, and :func:`tfpersist.saving.save_checkpoint` saves with it.

>>> import numpy as np
>>> bundle.write_checkpoint("written/ckpt", {"w": np.ones([2, 2], np.float32), "step": np.int64(3)})
'written/ckpt'
>>> int(tf.train.load_checkpoint("written/ckpt").get_tensor("step"))
3
"""

from __future__ import annotations

import contextlib
import math
import mmap
import os
import struct
import weakref
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import ml_dtypes
import numpy as np

from tfpersist import _fs
from tfpersist._files import fsync_directory, write_error_reason
from tfpersist._index import (
    DTYPE_NAMES,
    RESOURCE,
    STRING,
    VARIANT,
    Entry,
    encode_entry,
    encode_header,
    slice_key,
)
from tfpersist._layout import DATA, checkpoint_files, resolve_prefix
from tfpersist._lock import locked
from tfpersist._protobuf import DecodeError, encode_varint, read_varint
from tfpersist._sstable import TableBuilder, crc32c, mask
from tfpersist._v1 import V1Index, read_checkpoint_index
from tfpersist.errors import (
    CorruptCheckpointError,
    ExportError,
    TfPersistError,
    UnsupportedCheckpointError,
    WriteError,
)

__all__ = [
    "BundleWriter",
    "CheckpointReader",
    "Entry",
    "list_variables",
    "load_checkpoint",
    "slice_key",
    "write_checkpoint",
]

_QUANTIZED = {"qint8": "int8", "quint8": "uint8", "qint16": "int16", "quint16": "uint16"}
_QUANTIZED["qint32"] = "int32"  # read as their integers, as TensorFlow's reader does


def _numpy(name: str) -> np.dtype:
    if name in ("string", "resource", "variant"):
        return np.dtype(object)
    if name == "bfloat16" or name.startswith(("float8", "int4", "uint4")):
        return np.dtype(getattr(ml_dtypes, name))
    return np.dtype(_QUANTIZED.get(name, name))


#: The NumPy dtype each TensorFlow DataType number is read as.
NUMPY_DTYPES = {number: _numpy(name) for number, name in DTYPE_NAMES.items()}
_MAP_AT_LEAST = 1 << 20  # tensors this large are mapped, smaller ones read


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
        self._index = read_checkpoint_index(prefix)
        self.num_shards = self._index.num_shards
        self._visible = set(self._index.names)
        self._files: dict[int, _fs.Handle] = {}
        self._finalizer = weakref.finalize(self, _close_all, self._files)

    def __enter__(self) -> CheckpointReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the data files. Arrays already returned stay valid."""
        self._finalizer()
        if isinstance(self._index, V1Index):
            self._index.close()

    def check_files(self) -> None:
        """Check every entry against its shard on disk, reading no tensor data.

        A missing shard, a size that cannot hold its shape or bytes past the
        end of a file raise :class:`~tfpersist.errors.CorruptCheckpointError`.

        >>> import os, tensorflow as tf
        >>> _ = tf.train.Checkpoint(v=tf.Variable([1, 2])).write("m/ckpt")
        >>> load_checkpoint("m/ckpt").check_files()
        >>> os.remove("m/ckpt.data-00000-of-00001")
        >>> load_checkpoint("m/ckpt").check_files()
        Traceback (most recent call last):
        ...
        tfpersist.errors.CorruptCheckpointError: checkpoint 'm/ckpt': cannot open 'm/ckpt.data-00000-of-00001', ...
        """
        self._index.check_all()

    def verify(self) -> None:
        """Read every tensor, checking each checksum; a damaged one raises.

        The :class:`~tfpersist.errors.CorruptCheckpointError` names the tensor
        and the file.

        >>> import tensorflow as tf
        >>> _ = tf.train.Checkpoint(v=tf.Variable([1, 2])).write("m/ckpt")
        >>> with open("m/ckpt.data-00000-of-00001", "r+b") as f:
        ...     _ = f.write(b"\\xff")
        >>> load_checkpoint("m/ckpt").verify()
        Traceback (most recent call last):
        ...
        tfpersist.errors.CorruptCheckpointError: checkpoint 'm/ckpt': tensor 'v/.ATTRIBUTES/VARIABLE_VALUE' in 'm/ckpt.data-00000-of-00001': its bytes fail their checksum; ...
        """
        for name in sorted(self._visible):
            self.get_tensor(name)

    def entry(self, name: str) -> Entry:
        """The index record of tensor *name*.

        >>> import tensorflow as tf
        >>> _ = tf.train.Checkpoint(v=tf.Variable([1, 2])).write("m/ckpt")
        >>> load_checkpoint("m/ckpt").entry("v/.ATTRIBUTES/VARIABLE_VALUE").size
        8
        """
        return self._index.entry(name)

    @property
    def version(self) -> int:
        """The checkpoint format: 2, or 1 for a V1 checkpoint (no ``.index``, values in tables).

        >>> import tensorflow as tf
        >>> _ = tf.train.Checkpoint(v=tf.Variable([1, 2])).write("m/ckpt")
        >>> load_checkpoint("m/ckpt").version
        2
        """
        return 1 if isinstance(self._index, V1Index) else 2

    def part(self, name: str, extents: tuple[tuple[int, int | None], ...]) -> Entry:
        """The index record of one slice (its *extents*) of partitioned tensor *name*.

        >>> import tensorflow as tf
        >>> with tf.Graph().as_default() as graph:
        ...     v = tf.compat.v1.get_variable("v", [4], partitioner=tf.compat.v1.fixed_size_partitioner(2))
        ...     with tf.compat.v1.Session(graph=graph) as sess:
        ...         sess.run(tf.compat.v1.global_variables_initializer())
        ...         _ = tf.compat.v1.train.Saver().save(sess, "p/model.ckpt")
        >>> reader = load_checkpoint("p/model.ckpt")
        >>> [reader.part("v", s).shape for s in reader.entry("v").slices]
        [(2,), (2,)]
        """
        return self._index.part(self.entry(name), extents)

    def shard_file(self, name: str) -> _fs.Handle:
        """The open ``.data`` file that holds tensor *name*, checked against its index record.

        Not for a partitioned tensor, whose slices may lie in several files.

        >>> import tensorflow as tf
        >>> _ = tf.train.Checkpoint(v=tf.Variable([1, 2])).write("m/ckpt")
        >>> reader = load_checkpoint("m/ckpt")
        >>> from tfpersist import _fs
        >>> _fs.file_size(reader.shard_file("v/.ATTRIBUTES/VARIABLE_VALUE")) >= 8
        True
        """
        return self._file(self.entry(name))

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
        return {n: list(self._index.entries[n].shape) for n in self._index.names}

    def get_variable_to_dtype_map(self) -> dict[str, np.dtype]:
        """Every tensor name with its NumPy dtype (``object`` for strings).

        >>> import tensorflow as tf
        >>> _ = tf.train.Checkpoint(v=tf.Variable([1, 2])).write("m/ckpt")
        >>> load_checkpoint("m/ckpt").get_variable_to_dtype_map()["v/.ATTRIBUTES/VARIABLE_VALUE"]
        dtype('int32')
        """
        return {n: NUMPY_DTYPES[self._index.entries[n].dtype] for n in self._index.names}

    def nbytes(self, name: str) -> int:
        """How many bytes tensor *name* takes in the ``.data`` files.

        >>> import tensorflow as tf
        >>> _ = tf.train.Checkpoint(v=tf.Variable(tf.zeros([10]))).write("m/ckpt")
        >>> load_checkpoint("m/ckpt").nbytes("v/.ATTRIBUTES/VARIABLE_VALUE")
        40
        """
        return self._index.nbytes(name)

    def get_tensor(self, name: str, *, mapped: bool = True) -> np.ndarray:
        """The value of tensor *name*, its checksum checked.

        Tensors of 1 MiB or more are mapped from the file (copy-on-write)
        unless *mapped* is false; then they are read into memory of their own.

        >>> import tensorflow as tf
        >>> _ = tf.train.Checkpoint(s=tf.Variable(["a", "中文"])).write("m/ckpt")
        >>> load_checkpoint("m/ckpt").get_tensor("s/.ATTRIBUTES/VARIABLE_VALUE")
        array([b'a', b'\\xe4\\xb8\\xad\\xe6\\x96\\x87'], dtype=object)
        """
        entry = self.entry(name)
        if entry.dtype in (RESOURCE, VARIANT):
            raise UnsupportedCheckpointError(
                f"checkpoint {self.prefix!r}: tensor {name!r} has dtype {entry.dtype_name}, "
                "which only TensorFlow can decode; read it with tf.train.load_checkpoint"
            )
        if not math.prod(entry.shape):
            self._check_empty(entry)
        if isinstance(self._index, V1Index):
            return self._index.tensor(entry, NUMPY_DTYPES[entry.dtype])
        if entry.slices:
            return self._assemble(entry)
        return self._read(entry, entry.name, mapped)

    def _check_empty(self, entry: Entry) -> None:
        """Refuse a tensor with no elements whose shape NumPy cannot make (a dimension of 2**62)."""
        try:
            np.empty(entry.shape, dtype=NUMPY_DTYPES[entry.dtype])
        except ValueError as e:
            raise UnsupportedCheckpointError(
                f"checkpoint {self.prefix!r}: tensor {entry.name!r} has no elements but shape "
                f"{list(entry.shape)}, which no NumPy array can have ({e}); TensorFlow's "
                "reader fails to make a NumPy array of it too. Its name, dtype and shape are "
                "listed as usual (`tfpersist inspect`)"
            ) from e

    def _file(self, entry: Entry) -> _fs.Handle:
        """The open shard of *entry*, after checking *entry* against the shard's size."""
        if not self._finalizer.alive:
            raise ValueError(f"checkpoint reader for {self.prefix!r} is closed")
        if entry.shard not in self._files:
            self._files[entry.shard] = self._index.open_shard(entry)
        file = self._files[entry.shard]
        self._index.check(entry, _fs.file_size(file))
        return file

    def _bytes(self, entry: Entry, mapped: bool = True) -> memoryview:
        """The bytes of *entry*, checked against the index: mapped when large, read when small."""
        file = self._file(entry)
        if entry.size == 0:
            return memoryview(b"")
        if entry.size < _MAP_AT_LEAST or not mapped or not isinstance(file, int):
            data = memoryview(bytearray(entry.size))
            if _fs.read_into(file, data, entry.offset) != entry.size:
                raise self._index.corrupt(entry, "the file ended while it was being read")
            return data
        start = entry.offset - entry.offset % mmap.ALLOCATIONGRANULARITY
        mapping = mmap.mmap(
            file, entry.offset + entry.size - start, access=mmap.ACCESS_COPY, offset=start
        )
        return memoryview(mapping)[entry.offset - start :]

    def _read(self, entry: Entry, name: str, mapped: bool = True) -> np.ndarray:
        count = math.prod(entry.shape)
        dtype = NUMPY_DTYPES[entry.dtype]
        if entry.dtype == STRING:
            return self._strings(entry, count).reshape(entry.shape)
        data = self._bytes(entry, mapped)
        if mask(crc32c(data)) != entry.crc32c:
            raise self._index.corrupt(entry, "its bytes fail their checksum")
        value = np.frombuffer(data, dtype=dtype, count=count)
        if entry.offset % dtype.alignment:
            value = value.copy()  # NumPy is slow on unaligned data
        if self._index.big_endian and dtype.itemsize > 1:
            value = _swapped(value)
        return value.reshape(entry.shape)

    def _strings(self, entry: Entry, count: int) -> np.ndarray:
        data = self._bytes(entry)
        if count == 0 and entry.size == 0:
            return np.empty(0, dtype=object)
        pos, lengths = 0, []
        try:
            for _ in range(count):
                length, pos = read_varint(data, pos)
                lengths.append(length)
        except DecodeError as e:
            raise self._index.corrupt(entry, f"its string lengths are malformed: {e}") from None
        order = ">" if self._index.big_endian else "<"
        packed = b"".join(
            struct.pack(order + ("I" if n <= 0xFFFFFFFF else "Q"), n) for n in lengths
        )
        crc = crc32c(packed)
        if pos + 4 > len(data) or struct.unpack_from(order + "I", data, pos)[0] != mask(crc):
            raise self._index.corrupt(entry, "its string lengths fail their checksum")
        crc = crc32c(data[pos : pos + 4], crc)
        pos += 4
        if pos + sum(lengths) != len(data):
            raise self._index.corrupt(entry, "its string lengths do not add up to its size")
        if mask(crc32c(data[pos:], crc)) != entry.crc32c:
            raise self._index.corrupt(entry, "its bytes fail their checksum")
        value = np.empty(count, dtype=object)
        for i, length in enumerate(lengths):
            value[i] = bytes(data[pos : pos + length])
            pos += length
        return value

    def _assemble(self, entry: Entry) -> np.ndarray:
        """Put a partitioned tensor together from its slices."""
        parts = []
        for extents in entry.slices:
            if len(extents) != len(entry.shape):
                raise self._index.corrupt(
                    entry, f"a slice has {len(extents)} dimensions", self._index.path
                )
            where = []
            for (start, length), dim in zip(extents, entry.shape, strict=True):
                stop = dim if length is None else start + length
                if not 0 <= start <= stop <= dim:
                    raise self._index.corrupt(
                        entry,
                        f"slice {extents} exceeds shape {list(entry.shape)}",
                        self._index.path,
                    )
                where.append(slice(start, stop))
            part = self._index.part(entry, extents)
            if part.dtype != entry.dtype or part.shape != tuple(w.stop - w.start for w in where):
                raise self._index.corrupt(
                    entry, f"slice {extents} has another dtype or shape", self._index.path
                )
            parts.append((tuple(where), part))
        claimed: dict[int, int] = {}  # bytes each shard's slices take, which the shard must hold
        for _, part in parts:
            size = _fs.file_size(self._file(part))
            claimed[part.shard] = claimed.get(part.shard, 0) + part.size
            if claimed[part.shard] > size:
                raise self._index.corrupt(
                    entry,
                    f"its slices take {claimed[part.shard]} bytes of a file of {size} bytes",
                    self._index.shard_path(part.shard),
                )
        return self._index.assemble(
            entry,
            NUMPY_DTYPES[entry.dtype],
            [
                (tuple((w.start, w.stop - w.start) for w in where), part.shape,
                 partial(self._read, part, entry.name))
                for where, part in parts
            ],
        )  # fmt: skip


def _swapped(value: np.ndarray) -> np.ndarray:
    width = value.dtype.itemsize // (2 if value.dtype.kind == "c" else 1)
    return value.view(f"u{width}").byteswap().view(value.dtype)


def _close_all(files: dict[int, _fs.Handle]) -> None:
    for file in files.values():
        _fs.close(file)
    files.clear()


def load_checkpoint(path: str | os.PathLike[str]) -> CheckpointReader:
    """Open a checkpoint for reading, like ``tf.train.load_checkpoint``, without TensorFlow.

    *path* is a checkpoint prefix, or a directory meaning its latest checkpoint.

    >>> import tensorflow as tf
    >>> with tf.Graph().as_default() as graph:
    ...     v = tf.Variable(tf.ones([2, 3], tf.bfloat16), name="v")
    ...     with tf.compat.v1.Session(graph=graph) as sess:
    ...         sess.run(v.initializer)
    ...         _ = tf.compat.v1.train.Saver().save(sess, "m/model.ckpt")
    >>> value = load_checkpoint("m").get_tensor("v")
    >>> value.dtype.name, value.tolist()
    ('bfloat16', [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]])
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


#: The DataType number written for each NumPy dtype when none is given (not the quantized ones).
_NUMBERS = {
    NUMPY_DTYPES[number]: number
    for number, name in DTYPE_NAMES.items()
    if name not in ("string", "resource", "variant") and not name.startswith(("qint", "quint"))
}
_DTYPE_NUMBERS = {name: number for number, name in DTYPE_NAMES.items()}
#: NumPy's own number types: a value is cast to them, never reinterpreted.
_NATIVE = {
    np.dtype(n)
    for n in (
        "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
        "float16", "float32", "float64", "complex64", "complex128",
    )
}  # fmt: skip
_CHUNK = 8 << 20  # bytes copied at a time from another checkpoint
_PARALLEL_AT = 1 << 20  # tensors this large are written while their checksum is computed
_PIECE = 16 << 20  # and in pieces this large, by two threads


def _key_bytes(name: str | bytes) -> bytes:
    return name if isinstance(name, bytes) else name.encode("utf-8", "surrogateescape")


def _string_bytes(value: np.ndarray) -> list[bytes]:
    out = []
    for item in value.ravel():
        if isinstance(item, str):
            item = item.encode("utf-8", "surrogateescape")
        if not isinstance(item, (bytes, bytearray, memoryview, np.bytes_)):
            raise TypeError(
                f"a string tensor holds {type(item).__name__} {item!r}, not bytes or str"
            )
        out.append(bytes(item))
    return out


def _as_written(value: Any, dtype: str | None) -> tuple[int, np.ndarray]:
    """*value*'s DataType number and its array as written: contiguous and little-endian.

    An integer or record value of the width of a quantized or ``ml_dtypes``
    type (``int8`` for ``qint8``, ``uint16`` for ``bfloat16``) is taken bit
    for bit; otherwise it is cast if no value
    changes (a float may round to a narrower float; a float never becomes an
    integer).
    """
    if isinstance(value, (bytes, str)):
        value = np.array(value, dtype=object)
    array = np.asarray(value)
    if dtype is None:
        if array.dtype.kind in "OSU":
            return STRING, array
        if array.dtype.newbyteorder("=") in _NUMBERS:
            number = _NUMBERS[array.dtype.newbyteorder("=")]
        else:
            raise TypeError(f"NumPy dtype {array.dtype} has no TensorFlow dtype; pass dtype=")
    else:
        if dtype not in _DTYPE_NUMBERS or dtype in ("resource", "variant"):
            raise TypeError(f"dtype {dtype!r} is not a TensorFlow dtype this writer can write")
        number = _DTYPE_NUMBERS[dtype]
        if number == STRING:
            if array.dtype.kind not in "OSU":
                raise TypeError(f"a {array.dtype} value cannot be written as a string tensor")
            return STRING, array
    wanted = NUMPY_DTYPES[number]
    if array.dtype.kind in "OSU":
        raise TypeError(f"a string value cannot be written as {DTYPE_NAMES[number]}")
    if array.dtype.newbyteorder("=") != wanted:
        same_bits = (  # an integer or record holding the bits of a quantized or ml_dtypes type
            array.dtype.itemsize == wanted.itemsize
            and array.dtype.kind in "iuV"
            and (wanted not in _NATIVE or DTYPE_NAMES[number].startswith(("qint", "quint")))
        )
        if same_bits:
            array = _contiguous(array).view(wanted.newbyteorder(array.dtype.byteorder))
        else:
            array = _cast(array, wanted, DTYPE_NAMES[number])
    if array.dtype.byteorder == ">":
        array = array.astype(array.dtype.newbyteorder("<"))
    return number, _contiguous(array)


def _cast(array: np.ndarray, wanted: np.dtype, name: str) -> np.ndarray:
    """*array* as *wanted*, refused if a value would change (a float may round, never overflow)."""
    source, target = array.dtype.kind, wanted.kind
    if source in "fc" and target not in "fc":
        raise TypeError(f"a {array.dtype} value is not written as {name}: convert it yourself")
    with np.errstate(all="ignore"):
        cast = array.astype(wanted)
        if source in "fc" or not array.size:
            kept = np.array_equal(np.isfinite(array), np.isfinite(cast))
        elif target in "iu":
            info = np.iinfo(wanted)
            kept = info.min <= array.min() and array.max() <= info.max
        else:  # an integer or bool as a float or bool: every value exactly
            kept = bool(np.array_equal(cast, array))
    if not kept:
        raise TypeError(
            f"a {array.dtype} value cannot be written as {name} without changing a value "
            "(an integer out of range, a float overflowing); convert it yourself first"
        )
    return cast


def _contiguous(array: np.ndarray) -> np.ndarray:
    """*array* in C order, copied only if it is not (``numpy.ascontiguousarray`` makes a 0-d array 1-d)."""
    return array if array.flags.c_contiguous else array.copy(order="C")


class BundleWriter:
    """Write a checkpoint without TensorFlow, one tensor at a time, as ``SaveV2`` writes it.

    Each :meth:`add` writes a tensor's bytes at once, so memory holds one
    tensor, never the checkpoint. The files are staged in a new directory
    beside *prefix* (``.tfpersist-XXXXXXXX``); :meth:`close` writes the
    ``.index``, fsyncs every file (unless *sync* is false), and moves the
    ``.data`` files into place, then the ``.index``, so a checkpoint at
    *prefix* is always whole. Leaving the ``with`` block through an error
    removes the staged files and keeps what was at *prefix*. A checkpoint
    already at *prefix* is refused unless *overwrite*; with it, a crash
    during the final moves can leave no checkpoint there (never a mix). A
    ``.meta`` file at *prefix* is left as it is. *staging* names the
    staging directory instead (in *prefix*'s directory), for a caller that
    must find it after a crash.

    With *num_shards* above 1, each tensor goes to the shard that holds the
    fewest bytes so far. The files are byte for byte those of TensorFlow's
    ``SaveV2`` given the same tensors in the same order (for shards, of one
    ``SaveV2`` per shard merged by ``MergeV2Checkpoints``, as TensorFlow's
    sharded savers do).

    >>> import numpy as np, tensorflow as tf
    >>> with BundleWriter("m/ckpt") as writer:
    ...     _ = writer.add("w", np.arange(4, dtype=np.float32).reshape(2, 2))
    ...     _ = writer.add("q", np.int8([-1, 1]), dtype="qint8")
    ...     _ = writer.add("name", "中文")
    >>> tf.train.load_checkpoint("m/ckpt").get_tensor("name").decode()
    '中文'
    >>> tf.train.list_variables("m/ckpt")
    [('name', []), ('q', [2]), ('w', [2, 2])]
    """

    def __init__(
        self,
        prefix: str | os.PathLike[str],
        *,
        num_shards: int = 1,
        overwrite: bool = False,
        sync: bool = True,
        staging: str | None = None,
        lock: bool = True,
    ) -> None:
        self.prefix = os.fspath(prefix)
        if not 1 <= num_shards < 100_000:
            raise ExportError(f"num_shards={num_shards}: a checkpoint has 1 to 99999 shards")
        if not os.path.basename(self.prefix):
            raise ExportError(
                f"cannot write checkpoint {self.prefix!r}: a prefix names files, not a "
                "directory; add a name such as 'model.ckpt'"
            )
        if not overwrite and checkpoint_files(self.prefix):
            raise ExportError(
                f"{self.prefix!r} already holds a checkpoint; pick another prefix or pass "
                "overwrite=True"
            )
        self.sync, self._lock = sync, lock
        self._held = contextlib.ExitStack()  # the staging directory's lock
        self._entries: dict[bytes, Entry] = {}
        self._sizes = [0] * num_shards
        self._adopted: list[str] = []  # staged links to another checkpoint's shards
        self._pool: ThreadPoolExecutor | None = None
        self._files: list[Any] = []
        self._closed = False
        with self._io("cannot stage"):
            parent = _fs.dirname(_fs.abspath(self.prefix))
            _fs.makedirs(parent)
            if staging is None:
                self._staging = _fs.make_temp_dir(parent, ".tfpersist-")
            else:  # a name the caller can find again; what a write cut short left there goes
                _fs.rmtree(staging)
                _fs.makedirs(staging)
                self._staging = staging
        try:
            self._held.enter_context(locked(self._staging))  # remove_leftovers leaves it alone
            with self._io("cannot create a data file in"):
                for shard in range(num_shards):
                    self._files.append(
                        _fs.open_write(self._staged(f"ckpt.data-{shard:05d}-of-{num_shards:05d}"))
                    )
        except BaseException:
            self.abort()
            raise

    def _staged(self, name: str) -> str:
        return os.path.join(self._staging, name)

    @contextlib.contextmanager
    def _io(self, what: str) -> Any:
        try:
            yield
        except OSError as e:
            if isinstance(e, TfPersistError):
                raise
            raise WriteError(
                f"{what} checkpoint {self.prefix!r}: {write_error_reason(e)}; "
                "a checkpoint already there is unchanged"
            ) from e

    def __enter__(self) -> BundleWriter:
        return self

    def __exit__(self, kind: object, *exc: object) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()

    def _new_entry(self, name: str | bytes, dtype: int, shape: tuple[int, ...], size: int) -> Entry:
        if self._closed:
            raise ExportError(f"the writer of {self.prefix!r} is closed: make a new one")
        if not isinstance(name, (str, bytes)):
            raise ExportError(f"tensor name {name!r} is a {type(name).__name__}, not str or bytes")
        key = _key_bytes(name)
        if not key:
            raise ExportError(
                f"cannot write checkpoint {self.prefix!r}: a tensor has the empty name, which "
                "TensorFlow keeps for the checkpoint's header; give every tensor a name"
            )
        if key in self._entries:
            raise ExportError(
                f"cannot write checkpoint {self.prefix!r}: tensor {name!r} is added twice"
            )
        shard = self._sizes.index(min(self._sizes))
        return Entry(
            key.decode("utf-8", "surrogateescape"), dtype, shape, shard, self._sizes[shard], size, 0
        )

    def add(self, name: str | bytes, value: Any, *, dtype: str | None = None) -> Entry:
        """Write tensor *name* with *value* (an array, or anything ``numpy.asarray`` takes).

        *dtype* is a TensorFlow dtype name, for a value whose NumPy dtype
        does not say (``qint8`` arrives as ``int8``, ``bfloat16`` as
        ``ml_dtypes.bfloat16`` or ``uint16``); for those, an integer or record
        value of the same width is taken bit for bit. Any other value is cast
        if that changes no value (``float64`` may round to ``float32``, but an
        integer out of range or a float that would overflow is refused).
        Strings are ``bytes`` or ``str`` (written as UTF-8). Returns the index record written.

        >>> import numpy as np
        >>> with BundleWriter("m/ckpt") as writer:
        ...     writer.add("b", np.uint16([0x3F80]), dtype="bfloat16").size
        2
        >>> value = load_checkpoint("m/ckpt").get_tensor("b")
        >>> value.dtype.name, value.tolist()
        ('bfloat16', [1.0])
        """
        try:
            number, array = _as_written(value, dtype)
            strings = _string_bytes(array) if number == STRING else None
        except (TypeError, ValueError) as e:
            raise ExportError(
                f"cannot write tensor {name!r} of checkpoint {self.prefix!r}: {e}"
            ) from e
        if strings is not None:
            lengths = b"".join(encode_varint(len(s)) for s in strings)
            packed = b"".join(
                struct.pack("<I" if len(s) <= 0xFFFFFFFF else "<Q", len(s)) for s in strings
            )
            check = struct.pack("<I", mask(crc32c(packed)))
            parts = [lengths + check, *strings]
            crc = crc32c(check, crc32c(packed))
            for s in strings:
                crc = crc32c(s, crc)
            entry = self._new_entry(name, number, array.shape, sum(map(len, parts)))
            with self._io("cannot write"):
                self._files[entry.shard].write(b"".join(parts))
        else:
            data = array.reshape(-1).view(np.uint8)
            entry = self._new_entry(name, number, array.shape, data.size)
            crc = self._write(entry.shard, data.data)
        return self._record(entry._replace(crc32c=mask(crc)))

    def _write(self, shard: int, data: memoryview) -> int:
        """Write *data* at the end of *shard*; return its crc32c.

        A large tensor is written in pieces by two threads, with ``pwrite``
        on a local file, while this one computes its checksum.
        """
        file = self._files[shard]
        with self._io("cannot write"):
            if len(data) < _PARALLEL_AT:
                file.write(data)
                return crc32c(data)
            if self._pool is None:
                self._pool = ThreadPoolExecutor(2, thread_name_prefix="tfpersist-writer")
            if hasattr(file, "fileno"):
                file.flush()
                start, end = self._sizes[shard], self._sizes[shard] + len(data)
                pieces = [
                    self._pool.submit(
                        _fs.pwrite_all, file.fileno(), data[i : i + _PIECE], start + i
                    )
                    for i in range(0, len(data), _PIECE)
                ]
            else:  # a URL's file writes in order
                pieces = [self._pool.submit(file.write, data)]
            try:
                return crc32c(data)
            finally:
                for piece in pieces:
                    piece.result()
                if hasattr(file, "fileno"):
                    file.seek(end)

    def _record(self, entry: Entry) -> Entry:
        self._entries[_key_bytes(entry.name)] = entry
        if entry.shard < len(self._sizes):
            self._sizes[entry.shard] += entry.size
        return entry

    def copy_from(self, name: str | bytes, entry: Entry, source: _fs.Handle) -> Entry:
        """Write tensor *name* with the bytes *entry* locates in the open file *source*.

        The bytes are copied in chunks of 8 MiB, whatever the tensor's size,
        and checked against *entry*'s crc32c on the way: a mismatch is a
        :class:`~tfpersist.errors.CorruptCheckpointError`. *entry* is the
        record from another checkpoint's index (see :meth:`CheckpointReader.entry`),
        of any dtype but ``string``, whose checksum covers its lengths as
        TensorFlow counts them, not its bytes: add strings with :meth:`add`.

        >>> import numpy as np
        >>> _ = write_checkpoint("a/ckpt", {"w": np.ones(3)})
        >>> with load_checkpoint("a/ckpt") as reader, BundleWriter("b/ckpt") as writer:
        ...     _ = writer.copy_from("renamed", reader.entry("w"), reader.shard_file("w"))
        >>> load_checkpoint("b/ckpt").get_tensor("renamed")
        array([1., 1., 1.])
        """
        if entry.dtype == STRING:
            raise ExportError(f"tensor {entry.name!r} holds strings: add it with add()")
        if entry.dtype == VARIANT:
            return self._copy_variant(name, entry, source)
        new = self._new_entry(name, entry.dtype, entry.shape, entry.size)
        buffer = memoryview(bytearray(min(entry.size, _CHUNK)))
        crc, done = 0, 0
        while done < entry.size:
            part = buffer[: min(_CHUNK, entry.size - done)]
            if _fs.read_into(source, part, entry.offset + done) != len(part):
                raise CorruptCheckpointError(
                    f"tensor {entry.name!r}: its file ended before its {entry.size} bytes"
                )
            crc = crc32c(part, crc)
            with self._io("cannot write"):
                self._files[new.shard].write(part)
            done += len(part)
        if mask(crc) != entry.crc32c:
            raise CorruptCheckpointError(f"tensor {entry.name!r}: its bytes fail their checksum")
        return self._record(new._replace(crc32c=entry.crc32c))

    def _copy_variant(self, name: str | bytes, entry: Entry, source: _fs.Handle) -> Entry:
        """Copy a ``variant`` tensor, whose checksum counts each element's length as 8 bytes.

        TensorFlow writes each element as a varint length, the serialized
        element and its own crc32c, and checksums the length as a uint64.
        """
        data = memoryview(bytearray(entry.size))
        if _fs.read_into(source, data, entry.offset) != entry.size:
            raise CorruptCheckpointError(f"tensor {entry.name!r}: its file ended before its bytes")
        crc, pos = 0, 0
        try:
            for _ in range(math.prod(entry.shape)):
                length, pos = read_varint(data, pos)
                crc = crc32c(struct.pack("<Q", length), crc)
                crc = crc32c(data[pos : pos + length + 4], crc)
                pos += length + 4
        except DecodeError:
            pos = -1
        if pos != entry.size or mask(crc) != entry.crc32c:
            raise CorruptCheckpointError(f"tensor {entry.name!r}: its bytes fail their checksum")
        new = self._new_entry(name, entry.dtype, entry.shape, entry.size)
        with self._io("cannot write"):
            self._files[new.shard].write(data)
        return self._record(new._replace(crc32c=entry.crc32c))

    def adopt(self, prefix: str, num_shards: int) -> int:
        """Take the *num_shards* ``.data`` files of checkpoint *prefix* as shards of this one.

        They are hard-linked where the filesystem allows, copied otherwise;
        no byte is read. Returns the shard number the first one gets here:
        entries pointing into them are added with :meth:`add_entry`, their
        shard numbers raised by it.

        >>> import numpy as np
        >>> _ = write_checkpoint("a/ckpt", {"w": np.ones(3)})
        >>> entry = load_checkpoint("a/ckpt").entry("w")
        >>> with BundleWriter("b/ckpt") as writer:
        ...     base = writer.adopt("a/ckpt", 1)
        ...     _ = writer.add_entry(entry._replace(name="v", shard=entry.shard + base))
        >>> load_checkpoint("b/ckpt").get_tensor("v")
        array([1., 1., 1.])
        """
        base = len(self._sizes) + len(self._adopted)
        for shard in range(num_shards):
            source = f"{prefix}.data-{shard:05d}-of-{num_shards:05d}"
            staged = self._staged(f"adopted-{len(self._adopted)}.data-00000-of-00001")
            with self._io("cannot link the data of"):
                try:
                    if _fs.is_url(source) or _fs.is_url(staged):
                        raise OSError("no hard links on a URL")
                    os.link(source, staged)
                except OSError:
                    _fs.copy(source, staged)
            self._adopted.append(staged)
        return base

    def add_entry(self, entry: Entry) -> Entry:
        """Add the index record *entry*, whose bytes are in a shard taken with :meth:`adopt`."""
        key = _key_bytes(entry.name)
        if not key or key in self._entries:
            raise ExportError(
                f"cannot write checkpoint {self.prefix!r}: tensor {entry.name!r} is empty or added twice"
            )
        if (
            not len(self._sizes) <= entry.shard < len(self._sizes) + len(self._adopted)
            and not entry.slices
        ):
            raise ExportError(f"tensor {entry.name!r}: shard {entry.shard} was not adopted")
        return self._record(entry)

    def close(self) -> str:
        """Finish the checkpoint and move it into place; return its prefix."""
        if self._closed:
            return self.prefix
        try:
            with self._io("cannot finish"):
                for file in self._files:
                    _fs.finish_write(file, self.sync)
                self._files = []
                own = len(self._sizes)
                shards = [self._staged(f"ckpt.data-{i:05d}-of-{own:05d}") for i in range(own)]
                entries = self._entries
                if self._adopted:  # keep only the shards an entry points into
                    shards += self._adopted
                    used = sorted({e.shard for e in entries.values() if not e.slices}) or [0]
                    number = {old: new for new, old in enumerate(used)}
                    entries = {
                        k: e if e.slices else e._replace(shard=number[e.shard])
                        for k, e in entries.items()
                    }
                    shards = [shards[i] for i in used]
                index = _fs.open_write(self._staged("ckpt.index"))
                builder = TableBuilder(index)
                builder.add(b"", encode_header(len(shards)))
                for key in sorted(entries):
                    builder.add(key, encode_entry(entries[key]))
                builder.finish()
                _fs.finish_write(index, self.sync)
            parent = _fs.dirname(_fs.abspath(self.prefix))
            with locked(parent) if self._lock else contextlib.nullcontext():
                self._move_into_place(shards)
        except BaseException:
            self.abort()
            raise
        self._closed = True
        self._shutdown()
        _fs.rmtree(self._staging)
        self._held.close()
        return self.prefix

    def _move_into_place(self, data: list[str]) -> None:
        """Move the staged files to the prefix: the old ``.index`` goes first, the new one last."""
        replaced = False
        try:
            for old in checkpoint_files(self.prefix):
                if old.endswith(".index"):
                    _fs.remove(old)  # from here on the old checkpoint is gone, not half-replaced
                    replaced = True
            total = len(data)
            moved = {f"{self.prefix}.data-{i:05d}-of-{total:05d}": p for i, p in enumerate(data)}
            moved[self.prefix + ".index"] = self._staged("ckpt.index")
            for target, path in moved.items():
                _fs.replace(path, target)
            for stale in set(checkpoint_files(self.prefix)) - set(moved):
                if DATA.search(stale):  # an old shard; a .meta stays
                    _fs.remove(stale)
        except OSError as e:
            if isinstance(e, TfPersistError) or not replaced:
                raise
            raise WriteError(
                f"cannot move checkpoint {self.prefix!r} into place: {write_error_reason(e)}; "
                "the old checkpoint's .index was removed first, so no checkpoint is there "
                "now (never a mix of the old and the new): write it again"
            ) from e
        if self.sync and not _fs.is_url(self.prefix):
            fsync_directory(os.path.dirname(os.path.abspath(self.prefix)))

    def abort(self) -> None:
        """Remove the staged files; what was at the prefix stays as it was."""
        for file in self._files:
            _fs.close(file)
        self._files = []
        self._closed = True
        self._shutdown()
        _fs.rmtree(self._staging)
        self._held.close()

    def _shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None


def write_checkpoint(
    prefix: str | os.PathLike[str],
    tensors: Mapping[str, Any],
    *,
    dtypes: Mapping[str, str] | None = None,
    num_shards: int = 1,
    overwrite: bool = False,
    sync: bool = True,
) -> str:
    """Write *tensors* (name → array) as a checkpoint at *prefix*, atomically, without TensorFlow.

    The tensors are written in the mapping's order, through a
    :class:`~tfpersist.bundle.BundleWriter`, so the files are those ``tf.raw_ops.SaveV2``
    writes given the same names and values in that order. *dtypes* maps
    names to TensorFlow dtype names for values whose NumPy dtype does not
    say (``qint8``, say); such a value is taken bit for bit. Returns *prefix*.

    >>> import numpy as np, tensorflow as tf
    >>> write_checkpoint("m/ckpt", {"w": np.arange(3.0), "name": np.array(b"demo", dtype=object)})
    'm/ckpt'
    >>> tf.train.load_checkpoint("m/ckpt").get_tensor("w").tolist()
    [0.0, 1.0, 2.0]
    >>> _ = write_checkpoint("q/ckpt", {"q": np.int8([-1, 1])}, dtypes={"q": "qint8"})
    >>> tf.train.load_checkpoint("q/ckpt").get_variable_to_dtype_map()
    {'q': tf.qint8}
    """
    dtypes = dtypes or {}
    writer = BundleWriter(prefix, num_shards=num_shards, overwrite=overwrite, sync=sync)
    with writer:
        for name, value in tensors.items():
            writer.add(name, value, dtype=dtypes.get(name))
    return writer.prefix
