"""Moving weights between frameworks: ``.safetensors`` and ``.npz``, both ways.

Frameworks share weights through files that each of them can read. Two
formats serve here: the ``.safetensors`` format of the Hugging Face
``safetensors`` package (a JSON header, then the raw bytes of each tensor),
which PyTorch, JAX and NumPy all read and write, and NumPy's ``.npz``.
:mod:`tfpersist.exporting` writes a checkpoint's tensors as one of these
files; :func:`import_weights` goes the other way and writes a checkpoint from
one. Neither needs TensorFlow.

.. rubric:: From TensorFlow

A checkpoint written by ``tf.compat.v1.train.Saver`` holds a ``Dense``
layer's kernel and bias; exported, they open with the ``safetensors``
package:

>>> import numpy as np, tensorflow as tf
>>> from safetensors.numpy import load_file, save_file
>>> from tfpersist import exporting, importing
>>> with tf.Graph().as_default() as graph:
...     kernel = tf.compat.v1.Variable([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], name="dense/kernel")
...     bias = tf.compat.v1.Variable([0.5, 0.5, 0.5], name="dense/bias")
...     with tf.compat.v1.Session(graph=graph) as sess:
...         sess.run(tf.compat.v1.global_variables_initializer())
...         _ = tf.compat.v1.train.Saver().save(sess, "model/model.ckpt")
>>> exporting.export_checkpoint("model/model.ckpt", "dense.safetensors")
['dense/bias', 'dense/kernel']
>>> weights = load_file("dense.safetensors")
>>> weights["dense/kernel"].shape, weights["dense/kernel"].dtype.name
((2, 3), 'float32')

As the weight of a PyTorch ``nn.Linear`` layer, this kernel must be
transposed (see below):

>>> weights["dense/kernel"].T.tolist()
[[1.0, 4.0], [2.0, 5.0], [3.0, 6.0]]

.. rubric:: Into TensorFlow

Some layers keep their weights in a different layout in each framework.
PyTorch's ``nn.Linear`` stores its ``weight`` as ``[out_features,
in_features]`` and computes ``x @ weight.T + bias``; Keras' ``Dense`` stores
its ``kernel`` the other way round, as ``[in_features, out_features]``, and
computes ``x @ kernel + bias``. So a ``Linear`` weight must be transposed to
become a ``Dense`` kernel, and :func:`import_weights` transposes only the
tensors that *transpose* names: it cannot tell a layout from a shape.
Convolution kernels differ too: PyTorch stores them as ``[out, in, height,
width]`` (OIHW), Keras as ``[height, width, in, out]`` (HWIO). *transpose*
handles 2-D tensors only; convert a tensor of another rank before you import
it, for example with ``numpy.transpose(w, (2, 3, 1, 0))`` from OIHW to HWIO,
and save it again.

The weights of a PyTorch ``Linear(2, 3)`` layer, as its ``state_dict`` names
them, written with ``safetensors``:

>>> weight = np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]], dtype=np.float32)  # [out, in]
>>> bias = np.array([0.5, -0.5, 1.0], dtype=np.float32)
>>> save_file({"fc.weight": weight, "fc.bias": bias}, "linear.safetensors")

*mapping* gives them the names of a ``Dense`` layer, and *transpose* turns
the weight into a kernel. With ``to="tf2"`` the checkpoint is object-based and
restores into a ``tf.train.Checkpoint`` that holds each name as an
attribute:

>>> importing.import_weights(
...     "linear.safetensors", "tf2/ckpt", to="tf2",
...     mapping={"fc.weight": "dense/kernel", "fc.bias": "dense/bias"},
...     transpose=["dense/kernel"])
['dense.Sbias/.ATTRIBUTES/VARIABLE_VALUE', 'dense.Skernel/.ATTRIBUTES/VARIABLE_VALUE']
>>> kernel, bias_ = tf.Variable(tf.zeros([2, 3])), tf.Variable(tf.zeros([3]))
>>> tf.train.Checkpoint(**{"dense/kernel": kernel, "dense/bias": bias_}).read(
...     "tf2/ckpt").assert_consumed()
<...>
>>> x = np.array([[1.0, 2.0]], dtype=np.float32)
>>> (x @ kernel.numpy() + bias_.numpy()).tolist()  # what Keras' Dense computes
[[2.5, 7.5, 15.0]]
>>> (x @ weight.T + bias).tolist()  # what PyTorch's Linear computes
[[2.5, 7.5, 15.0]]

With ``to="tf1"`` (the default) the checkpoint is name-based, and
``tf.compat.v1.train.Saver`` restores it into variables of those names:

>>> importing.import_weights(
...     "linear.safetensors", "tf1/model.ckpt",
...     mapping={"fc.weight": "dense/kernel", "fc.bias": "dense/bias"},
...     transpose=["dense/kernel"])
['dense/bias', 'dense/kernel']
>>> with tf.Graph().as_default() as graph:
...     kernel = tf.compat.v1.Variable(tf.zeros([2, 3]), name="dense/kernel")
...     bias_ = tf.compat.v1.Variable(tf.zeros([3]), name="dense/bias")
...     with tf.compat.v1.Session(graph=graph) as sess:
...         tf.compat.v1.train.Saver().restore(sess, "tf1/model.ckpt")
...         print(sess.run(kernel).tolist())
[[0.0, 2.0, 4.0], [1.0, 3.0, 5.0]]

The command does the same:

>>> from tfpersist.cli import run
>>> run("tfpersist import linear.safetensors cli/model.ckpt --map fc.weight=dense/kernel "
...     "--map fc.bias=dense/bias --transpose dense/kernel")
wrote 2 tensors to TF1 checkpoint cli/model.ckpt
0

.. rubric:: What is read, and what is refused

The format is told from the content, not the name: a ``.safetensors`` file
starts with the length of its header (8 bytes, little-endian) and the header's
``{``; an ``.npz`` file is a zip archive. Neither is read with pickle.

- In a ``.safetensors`` file every tensor must have a dtype that safetensors
  defines, a shape whose size matches its bytes, and byte offsets inside the
  file that neither overlap nor leave a gap, as the ``safetensors`` package
  itself requires; a name given twice is refused too, where the package
  keeps the last. Each tensor is mapped from the file as it is written, so
  memory holds one tensor at a time.
- In an ``.npz`` file each array is read as NumPy's ``numpy.load`` reads it
  with ``allow_pickle=False``. An array of Python objects, which only pickle
  could load, is refused without being unpickled. The pairs ``NAME:bytes``
  and ``NAME:lengths`` that :mod:`tfpersist.exporting` writes for a string
  tensor come back as the string tensor ``NAME``; NumPy's own byte and text
  arrays (``S`` and ``U``) become string tensors too, text as UTF-8.
  ``.npz`` has no ``bfloat16`` or ``float8``: exporting widens them to
  ``float32``, and they come back as ``float32``.

Each safetensors dtype becomes the TensorFlow dtype with the same bits:

- ``BOOL``, ``U8`` to ``U64`` and ``I8`` to ``I64``: ``bool``, ``uint8`` to
  ``uint64`` and ``int8`` to ``int64``;
- ``F16``, ``BF16``, ``F32``, ``F64`` and ``C64``: ``float16``,
  ``bfloat16``, ``float32``, ``float64`` and ``complex64``;
- ``F8_E5M2`` and ``F8_E4M3``: ``float8_e5m2`` and ``float8_e4m3fn``;
  ``F8_E5M2FNUZ`` and ``F8_E4M3FNUZ``: ``float8_e5m2fnuz`` and
  ``float8_e4m3fnuz``.

TensorFlow 2.12 reads ``float8_e5m2`` and ``float8_e4m3fn`` tensors from a
checkpoint but cannot restore them into variables; TensorFlow 2.15 and later
can. The two ``fnuz`` types are for TensorFlow 2.21, which reads them but
cannot restore them into variables: TensorFlow 2.12, 2.15 and 2.16 do not know
them, and stop the whole process with a fatal error when they read one.
``F8_E8M0``, ``F4`` and the ``F6`` types have no TensorFlow dtype, and are
refused.

When any of the errors below is raised, nothing is written at the prefix: the
file is checked before the checkpoint is begun, and damage found while the
tensors are copied (a zip member that fails its checksum) abandons the new
checkpoint and leaves what was at the prefix as it was (see
:class:`~tfpersist.bundle.BundleWriter`).

- :class:`~tfpersist.errors.CorruptCheckpointError`: the file is malformed
  (a truncated file, a header that is not JSON, offsets out of range, an
  unknown dtype, a damaged zip member).
- :class:`~tfpersist.errors.ExportError`: the file is sound, but a checkpoint
  cannot hold a tensor in it (an object array, a ``datetime64`` array, an
  ``F8_E8M0`` tensor), or a checkpoint is already at the prefix and
  *overwrite* is not set.
- :class:`~tfpersist.errors.RewriteError`: *mapping* or *transpose* cannot be
  done as asked.
"""

from __future__ import annotations

import contextlib
import errno
import fnmatch
import json
import lzma
import math
import os
import stat
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO

import ml_dtypes
import numpy as np

from tfpersist._layout import OBJECT_GRAPH_KEY, VARIABLE_VALUE, escape_key, root_variables_graph
from tfpersist._suggest import did_you_mean
from tfpersist.bundle import BundleWriter
from tfpersist.errors import (
    CheckpointNotFoundError,
    CorruptCheckpointError,
    ExportError,
    RewriteError,
)
from tfpersist.rewriting import plan_rename

__all__ = ["import_weights"]

#: The TensorFlow dtype of each safetensors dtype a checkpoint can hold.
_SAFETENSORS = {
    "BOOL": "bool", "U8": "uint8", "I8": "int8", "U16": "uint16", "I16": "int16",
    "U32": "uint32", "I32": "int32", "U64": "uint64", "I64": "int64", "F16": "float16",
    "BF16": "bfloat16", "F32": "float32", "F64": "float64", "C64": "complex64",
    "F8_E5M2": "float8_e5m2", "F8_E4M3": "float8_e4m3fn", "F8_E4M3FNUZ": "float8_e4m3fnuz",
    "F8_E5M2FNUZ": "float8_e5m2fnuz",
}  # fmt: skip
#: Safetensors dtypes with no TensorFlow dtype.
_UNHELD = ("F8_E8M0", "F4", "F6_E2M3", "F6_E3M2")
#: The largest header the ``safetensors`` package reads.
_MAX_HEADER = 100_000_000
#: The NumPy dtypes of ``.npz`` arrays that a checkpoint holds as they are.
_NPZ = {
    "bool", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64",
    "float16", "float32", "float64", "complex64", "complex128",
}  # fmt: skip


@dataclass(frozen=True)
class _Tensor:
    """A tensor of the source file: its TensorFlow dtype, its shape, and how to read it."""

    dtype: str
    shape: tuple[int, ...]
    read: Callable[[], np.ndarray]


def _numpy(dtype: str) -> np.dtype:
    """The little-endian NumPy dtype of TensorFlow dtype *dtype*."""
    if dtype == "bfloat16" or dtype.startswith("float8"):
        return np.dtype(getattr(ml_dtypes, dtype))
    return np.dtype(dtype).newbyteorder("<")


def _bad(path: str, what: str) -> CorruptCheckpointError:
    return CorruptCheckpointError(
        f"cannot import {path!r}: {what}; the file is damaged, or not what its name says"
    )


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object as a dict, refusing a key given twice (``json`` would keep the last)."""
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise ValueError(f"the key {key!r} appears twice")
        found[key] = value
    return found


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _safetensors(path: str, f: BinaryIO, size: int) -> dict[str, _Tensor]:
    """The tensors of safetensors file *f* (*size* bytes), its header checked as a whole."""
    (length,) = struct.unpack("<Q", f.read(8))
    if length > min(_MAX_HEADER, size - 8):
        raise _bad(
            path,
            f"its safetensors header would be {length} bytes, but the file has {size - 8} "
            f"after the length (and safetensors reads at most {_MAX_HEADER})",
        )
    try:
        header = json.loads(f.read(length).decode("utf-8"), object_pairs_hook=_unique)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise _bad(path, f"its safetensors header is not valid JSON: {e}") from e
    if not isinstance(header, dict):
        raise _bad(path, "its safetensors header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise _bad(path, "its __metadata__ is not an object of strings")
    start, end = 8 + length, size
    spans, tensors, unheld = [], {}, []
    for name, info in header.items():
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            raise _bad(path, f"the tensor name {name!r} is not UTF-8 text") from None
        if not isinstance(info, dict) or not {"dtype", "shape", "data_offsets"} <= set(info):
            raise _bad(path, f"tensor {name!r} lacks its dtype, shape or data_offsets")
        dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
        if not isinstance(shape, list) or not all(_is_int(d) and 0 <= d < 2**63 for d in shape):
            raise _bad(path, f"tensor {name!r} has the shape {shape!r}, not a list of sizes")
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(_is_int(o) for o in offsets)
            or not 0 <= offsets[0] <= offsets[1]
        ):
            raise _bad(path, f"tensor {name!r} has the data_offsets {offsets!r}, not [begin, end]")
        if offsets[1] > end - start:
            raise _bad(
                path,
                f"tensor {name!r} ends at byte {offsets[1]} of the data, which has "
                f"{end - start} bytes (is the file truncated?)",
            )
        spans.append((offsets[0], offsets[1], name))
        if dtype in _UNHELD:
            unheld.append(f"{name} ({dtype})")
            continue
        if not isinstance(dtype, str) or dtype not in _SAFETENSORS:
            raise _bad(
                path, f"tensor {name!r} has the dtype {dtype!r}, which safetensors does not define"
            )
        tf_dtype = _SAFETENSORS[dtype]
        numpy_dtype = _numpy(tf_dtype)
        nbytes = math.prod(shape) * numpy_dtype.itemsize
        if nbytes != offsets[1] - offsets[0]:
            raise _bad(
                path,
                f"tensor {name!r} is {dtype} of shape {shape}, which takes {nbytes} bytes, "
                f"but its data_offsets {offsets} hold {offsets[1] - offsets[0]}",
            )
        if not nbytes:
            try:  # NumPy refuses some shapes even without elements
                np.empty(shape, numpy_dtype)
            except ValueError as e:
                raise _bad(path, f"tensor {name!r} has the shape {shape}: {e}") from e
        tensors[name] = _Tensor(
            tf_dtype, tuple(shape), _mapper(path, f, numpy_dtype, shape, start + offsets[0])
        )
    position, previous = 0, None
    for begin, stop, name in sorted(spans):
        if begin < position:
            raise _bad(path, f"tensors {previous!r} and {name!r} overlap in the data")
        if begin > position:
            raise _bad(path, f"bytes {position} to {begin} of the data belong to no tensor")
        position, previous = stop, name
    if position != end - start:
        raise _bad(path, f"bytes {position} to {end - start} of the data belong to no tensor")
    if unheld:
        raise ExportError(
            f"cannot import {path!r}: TensorFlow has no dtype for these tensors: "
            f"{', '.join(unheld)}; convert them (to F32, say) and save the file again"
        )
    return tensors


def _mapper(
    path: str, f: BinaryIO, dtype: np.dtype, shape: list[int], offset: int
) -> Callable[[], np.ndarray]:
    """A function that maps a tensor's bytes from *f*, for as long as the array lives."""

    def read() -> np.ndarray:
        if not math.prod(shape):
            return np.empty(shape, dtype)
        try:
            return np.memmap(f, dtype=dtype, mode="r", offset=offset, shape=tuple(shape))
        except ValueError as e:  # the file shrank since its header was read
            raise _bad(path, f"its data cannot be mapped: {e}") from e

    return read


def _npz(path: str, archive: zipfile.ZipFile) -> dict[str, _Tensor]:
    """The tensors of ``.npz`` *archive*, every member's ``.npy`` header read and checked."""
    arrays: dict[str, tuple[zipfile.ZipInfo, np.dtype, tuple[int, ...], bool, int]] = {}
    for info in archive.infolist():
        member = info.filename
        if not member.endswith(".npy"):
            raise _bad(path, f"its member {member!r} is not a .npy array")
        name = member[: -len(".npy")]
        if name in arrays:
            raise _bad(path, f"it holds {member!r} twice")
        try:
            with archive.open(info) as file:
                version = np.lib.format.read_magic(file)
                header = {
                    (1, 0): np.lib.format.read_array_header_1_0,
                    (2, 0): np.lib.format.read_array_header_2_0,
                }.get(version)
                if header is not None:
                    shape, fortran, dtype = header(file)
                    offset = file.tell()
        except _MEMBER_ERRORS as e:
            raise _bad(path, f"its member {member!r} cannot be read: {e}") from e
        if header is None and version != (3, 0):
            raise _bad(path, f"its member {member!r} is in no .npy format NumPy writes")
        if header is None:
            raise ExportError(
                f"cannot import {path!r}: {member!r} is in .npy format {version[0]}.{version[1]}, "
                "which NumPy writes only for records; a checkpoint holds no records"
            )
        if dtype.hasobject:
            raise ExportError(
                f"cannot import {path!r}: {name!r} is an array of Python objects, which only "
                "pickle can load, and pickle can run code: it is refused, never unpickled. "
                "Save numbers, or strings as NAME:bytes and NAME:lengths (tfpersist.exporting)"
            )
        nbytes = math.prod(shape) * dtype.itemsize
        if info.file_size != offset + nbytes:
            raise _bad(
                path,
                f"{member!r} holds {info.file_size - offset} bytes of data, but its header says "
                f"{dtype} of shape {list(shape)}: {nbytes}",
            )
        arrays[name] = (info, dtype, shape, fortran, offset)

    def reader(name: str) -> Callable[[], np.ndarray]:
        info, dtype, shape, fortran, offset = arrays[name]

        def read() -> np.ndarray:
            count = math.prod(shape)
            if not count * dtype.itemsize:
                return np.empty(shape, dtype)
            try:
                data = memoryview(bytearray(info.file_size))  # the tensor's one copy in memory
            except MemoryError:
                raise ExportError(
                    f"cannot import {path!r}: {info.filename!r} holds {info.file_size} bytes "
                    "once decompressed, more than this process can hold in memory"
                ) from None
            try:
                with archive.open(info) as file:
                    done = 0
                    while done < len(data) and (chunk := file.read(min(1 << 16, len(data) - done))):
                        data[done : done + len(chunk)] = chunk  # in chunks: no second copy
                        done += len(chunk)
                    if done != info.file_size or file.read(1):  # which checks the CRC
                        raise ValueError(f"it holds other than {info.file_size} bytes")
            except _MEMBER_ERRORS as e:
                raise _bad(path, f"its member {info.filename!r} cannot be read: {e}") from e
            array = np.frombuffer(data, dtype, count, offset)
            return array.reshape(shape[::-1]).T if fortran else array.reshape(shape)

        return read

    tensors: dict[str, _Tensor] = {}
    for name, (_, dtype, shape, _, _) in arrays.items():
        base = name.rpartition(":")[0]
        if name.endswith(":bytes") and base + ":lengths" in arrays:
            lengths = arrays[base + ":lengths"]
            if dtype != np.uint8 or len(shape) != 1 or lengths[1] != np.int64:
                raise _bad(
                    path,
                    f"{name!r} and {base + ':lengths'!r} are not the uint8 bytes and int64 "
                    "lengths of a string tensor, as tfpersist.exporting writes them",
                )
            if base in arrays:
                raise _bad(path, f"it holds both the tensor {base!r} and strings of that name")
            tensors[base] = _Tensor(
                "string", lengths[2], _strings(path, base, reader(name), reader(base + ":lengths"))
            )
        elif not (name.endswith(":lengths") and base + ":bytes" in arrays):
            if dtype.kind in "SU":
                tf_dtype = "string"
            elif dtype.name in _NPZ and dtype.fields is None:
                tf_dtype = dtype.name
            else:
                raise ExportError(
                    f"cannot import {path!r}: TensorFlow has no dtype for {name!r}, a "
                    f"{dtype} array; convert it and save the file again"
                )
            tensors[name] = _Tensor(tf_dtype, tuple(shape), reader(name))
    return tensors


def _strings(
    path: str, name: str, data: Callable[[], np.ndarray], lengths: Callable[[], np.ndarray]
) -> Callable[[], np.ndarray]:
    """A function that reads string tensor *name* from its bytes and lengths."""

    def read() -> np.ndarray:
        sizes, raw = lengths(), data().data
        flat = sizes.reshape(-1).tolist()
        if any(n < 0 for n in flat) or sum(flat) != len(raw):
            raise _bad(path, f"the lengths of string tensor {name!r} do not add up to its bytes")
        out = np.empty(len(flat), dtype=object)
        start = 0
        for i, n in enumerate(flat):
            out[i], start = bytes(raw[start : start + n]), start + n
        return out.reshape(sizes.shape)

    return read


#: What reading a damaged zip member raises: zipfile's errors, and its decompressors'.
_MEMBER_ERRORS = (
    ValueError, EOFError, OSError, NotImplementedError, RuntimeError,
    zipfile.BadZipFile, zlib.error, lzma.LZMAError,
)  # fmt: skip


@contextlib.contextmanager
def _source(path: str) -> Iterator[dict[str, _Tensor]]:
    """The tensors of the ``.safetensors`` or ``.npz`` file *path*, told apart by content."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a FIFO must not block
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            os.close(fd)
            if stat.S_ISDIR(mode):
                raise IsADirectoryError(errno.EISDIR, "Is a directory")
            raise OSError(errno.EINVAL, "not a regular file (a FIFO or a device)")
        f = open(fd, "rb")  # noqa: SIM115 (closed below, after the tensors are written)
    except OSError as e:
        raise CheckpointNotFoundError(
            f"cannot import {path!r}: {e.strerror or e}; pass a .safetensors or .npz file"
        ) from e
    with f:
        size = os.fstat(f.fileno()).st_size
        head = f.read(9)
        f.seek(0)
        if len(head) == 9 and head[8:] == b"{":
            yield _safetensors(path, f, size)
            return
        if head[:4] not in (b"PK\x03\x04", b"PK\x05\x06"):
            suffix = os.path.splitext(path)[1].lower()
            what = {
                ".safetensors": "it does not start with a safetensors header (its length in "
                "8 bytes, then a JSON object)",
                ".npz": "it is not a zip archive",
            }.get(suffix, "it is neither a .safetensors file nor an .npz file (a zip archive)")
            raise _bad(path, what)
        try:
            archive = zipfile.ZipFile(f)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError) as e:
            raise _bad(path, f"it is not a readable zip archive: {e}") from e
        with archive:
            yield _npz(path, archive)


def _renamed(names: Iterable[str], mapping: Mapping[str, str], to: str) -> dict[str, str]:
    """Each of *names* → its new name, as :func:`~tfpersist.rewriting.plan_rename` maps it.

    A TF2 checkpoint also refuses ``save_counter``, which ``tf.train.Checkpoint``
    keeps for itself, and names that are not UTF-8 text.
    """
    names = list(names)
    if OBJECT_GRAPH_KEY in names:  # plan_rename sets it aside, as a checkpoint's own
        raise RewriteError(
            f"a tensor is named {OBJECT_GRAPH_KEY!r}, which TensorFlow keeps for a checkpoint's "
            "object graph; rename it in the file before importing it"
        )
    plan = plan_rename(names, mapping)
    renamed = {name: name for name in plan.kept} | dict(plan.renamed)
    for name, new in renamed.items():
        if to != "tf2":
            break
        if new == "save_counter":
            raise RewriteError(
                f"{name!r} would be named 'save_counter', which tf.train.Checkpoint keeps for "
                "its own counter; map it to another name"
            )
        try:
            new.encode("utf-8")
        except UnicodeEncodeError:
            raise RewriteError(
                f"{new!r} is not UTF-8 text, which a TF2 object graph cannot hold; "
                "map it to another name"
            ) from None
    return renamed


def _transposed(shapes: Mapping[str, tuple[int, ...]], patterns: Iterable[str]) -> set[str]:
    """The names of *shapes* that *patterns* (names or ``fnmatch`` patterns) pick; all 2-D."""
    chosen, problems = set(), []
    for pattern in patterns:
        hits = sorted(n for n in shapes if n == pattern or fnmatch.fnmatchcase(n, pattern))
        if not hits:
            problems.append(
                f"--transpose {pattern!r} matches no tensor{did_you_mean(pattern, shapes)}"
            )
        for name in hits:
            if len(shapes[name]) != 2:
                problems.append(
                    f"--transpose {pattern!r} matches {name!r} of shape {list(shapes[name])}, "
                    "but only 2-D tensors are transposed: convert it before importing"
                )
        chosen.update(hits)
    if problems:
        raise RewriteError("; ".join(problems))
    return chosen


def import_weights(
    source: str | os.PathLike[str],
    prefix: str | os.PathLike[str],
    *,
    to: str = "tf1",
    mapping: Mapping[str, str] | None = None,
    transpose: Iterable[str] = (),
    overwrite: bool = False,
) -> list[str]:
    """Write the tensors of *source*, a ``.safetensors`` or ``.npz`` file, as a checkpoint at *prefix*.

    *mapping* renames tensors: each key is a name, or a scope (``enc``
    matches ``enc/w`` but not ``enc_1/w``), and the first key that matches
    a name renames it. *transpose* lists the tensors to transpose, by their
    new names or ``fnmatch`` patterns (``*/kernel``); each pattern must
    match, and only 2-D tensors. With ``to="tf1"`` the checkpoint is
    name-based, restored by ``tf.compat.v1.train.Saver`` into variables of
    those names; with ``to="tf2"`` it is object-based, restored by
    ``tf.train.Checkpoint(**{name: variable})``, as
    :func:`tfpersist.rewriting.convert_checkpoint` writes it. A checkpoint
    already at *prefix* is refused unless *overwrite*. Tensors are read and
    written one at a time. Returns the keys written, sorted (without the
    TF2 object graph). The errors are listed above.

    >>> import numpy as np, tensorflow as tf
    >>> np.savez("w.npz", **{"layer/w": np.ones([2, 3], np.float16)})
    >>> import_weights("w.npz", "m/ckpt", mapping={"layer": "dense"}, transpose=["*/w"])
    ['dense/w']
    >>> tf.train.list_variables("m/ckpt")
    [('dense/w', [3, 2])]
    >>> import_weights("w.npz", "m/ckpt", transpose=["layer/b"], overwrite=True)
    Traceback (most recent call last):
    ...
    tfpersist.errors.RewriteError: --transpose 'layer/b' matches no tensor (did you mean 'layer/w'?)
    """
    if to not in ("tf1", "tf2"):
        raise RewriteError(f"to={to!r}: import to 'tf1' or 'tf2'")
    path = os.fspath(source)
    with _source(path) as tensors:
        renamed = _renamed(tensors, mapping or {}, to)
        new = {renamed[n]: t for n, t in tensors.items()}
        flipped = _transposed({n: t.shape for n, t in new.items()}, transpose)
        keys = {n: n if to == "tf1" else escape_key(n) + VARIABLE_VALUE for n in new}
        with BundleWriter(prefix, overwrite=overwrite) as writer:
            for name in sorted(new, key=keys.__getitem__):
                tensor = new[name]
                value = tensor.read()
                writer.add(keys[name], value.T if name in flipped else value, dtype=tensor.dtype)
                del value  # unmapped before the next tensor is read
            if to == "tf2":
                writer.add(OBJECT_GRAPH_KEY, root_variables_graph(sorted(new)), dtype="string")
    return sorted(keys.values())
