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
"""

from __future__ import annotations

import math
import mmap
import os
import struct
import weakref
from functools import partial

import ml_dtypes
import numpy as np

from tfpersist import _fs
from tfpersist._index import (
    DTYPE_NAMES,
    RESOURCE,
    STRING,
    VARIANT,
    Entry,
    slice_key,
)
from tfpersist._layout import resolve_prefix
from tfpersist._protobuf import DecodeError, read_varint
from tfpersist._sstable import crc32c, mask
from tfpersist._v1 import V1Index, read_checkpoint_index
from tfpersist.errors import UnsupportedCheckpointError

__all__ = ["CheckpointReader", "Entry", "list_variables", "load_checkpoint", "slice_key"]

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
