"""Taking weights out of TensorFlow: a checkpoint as ``.npz`` or ``.safetensors``.

A checkpoint can only be read by TensorFlow's own reader (or by
tfpersist's, :mod:`tfpersist.bundle`). To hand the weights to NumPy, PyTorch, JAX or any other
framework, write them in a neutral format:

``.npz``
    NumPy's zip of arrays, read with :func:`numpy.load`, without pickle.
``.safetensors``
    The format of the Hugging Face ``safetensors`` package: a JSON header and
    raw bytes, safe to load (no pickle), and memory-mappable. tfpersist writes
    it itself; reading it needs the ``safetensors`` package
    (``pip install 'tfpersist[safetensors]'``).

Tensor names stay as they are in the checkpoint. The object graph of a TF2
checkpoint (``_CHECKPOINTABLE_OBJECT_GRAPH``) is structure, not weights, and is
left out. The tensors are streamed into the file one by one, so memory holds
about one tensor at a time, not the checkpoint; the file is written
atomically.

>>> import numpy as np, tensorflow as tf
>>> from tfpersist import exporting
>>> _ = tf.train.Checkpoint(w=tf.Variable([[1.0, 2.0]]), step=tf.Variable(3)).write("m/ckpt")
>>> exporting.export_checkpoint("m/ckpt", "weights.npz")
['step/.ATTRIBUTES/VARIABLE_VALUE', 'w/.ATTRIBUTES/VARIABLE_VALUE']
>>> with np.load("weights.npz") as weights:
...     weights["w/.ATTRIBUTES/VARIABLE_VALUE"].tolist()
[[1.0, 2.0]]

.. rubric:: Strings

NumPy's byte-string type (``S``) drops trailing NUL bytes and pads every
string to the longest, and its object arrays load only with
``allow_pickle=True``, which lets a file run code. So a string tensor
``NAME`` goes into ``.npz`` as two arrays: ``NAME:bytes``, every string's
bytes one after the other (``uint8``), and ``NAME:lengths``, each string's
length (``int64``, in the tensor's shape). The file is no bigger than the
strings, and every byte is kept. To read the strings back:

>>> _ = tf.train.Checkpoint(s=tf.Variable([b"a\\0", b"", b"\\xff\\0b"])).write("s/ckpt")
>>> exporting.export_checkpoint("s/ckpt", "s.npz")
['s/.ATTRIBUTES/VARIABLE_VALUE']
>>> with np.load("s.npz") as weights:  # allow_pickle stays False
...     data = weights["s/.ATTRIBUTES/VARIABLE_VALUE:bytes"]
...     lengths = weights["s/.ATTRIBUTES/VARIABLE_VALUE:lengths"]
>>> ends = np.cumsum(lengths.ravel())
>>> [data[end - n : end].tobytes() for end, n in zip(ends, lengths.ravel())]
[b'a\\x00', b'', b'\\xff\\x00b']

``.safetensors`` holds numbers only, and refuses string tensors by name.

.. rubric:: Keras files

*source* may also be a Keras file: a ``.keras`` archive, a ``.weights.h5``
or a Keras ``.h5`` file, read without TensorFlow by
:mod:`tfpersist.keras_files`. The tensors keep their paths in the file's
HDF5 weights as names, and Keras 3's ``bfloat16`` weights are widened to
``float32`` in ``.npz`` as a checkpoint's are:

>>> model = tf.keras.Sequential([tf.keras.Input((2,)), tf.keras.layers.Dense(1)])
>>> model.save_weights("dense.weights.h5")
>>> [name.split("/", 1)[1] for name in exporting.export_checkpoint("dense.weights.h5", "dense.npz")]
['dense/vars/0', 'dense/vars/1']
"""

from __future__ import annotations

import json
import math
import os
import struct
from collections.abc import Iterable, Iterator
from typing import BinaryIO

import numpy as np

from tfpersist._files import atomic_write
from tfpersist._layout import OBJECT_GRAPH_KEY
from tfpersist.errors import ExportError
from tfpersist.inspecting import list_checkpoint, read_values

__all__ = ["FORMATS", "export_checkpoint"]

#: File suffixes :func:`export_checkpoint` writes.
FORMATS = (".npz", ".safetensors")


#: The safetensors dtype, and its size in bytes, of each checkpoint dtype it holds as it is.
_SAFETENSORS = {
    "bool": ("BOOL", 1), "uint8": ("U8", 1), "int8": ("I8", 1), "uint16": ("U16", 2),
    "int16": ("I16", 2), "uint32": ("U32", 4), "int32": ("I32", 4), "uint64": ("U64", 8),
    "int64": ("I64", 8), "float16": ("F16", 2), "bfloat16": ("BF16", 2), "float32": ("F32", 4),
    "float64": ("F64", 8), "complex64": ("C64", 8), "float8_e5m2": ("F8_E5M2", 1),
    "float8_e4m3fn": ("F8_E4M3", 1), "qint8": ("I8", 1), "quint8": ("U8", 1),
    "qint16": ("I16", 2), "quint16": ("U16", 2), "qint32": ("I32", 4),
}  # fmt: skip


def _widened(value: np.ndarray) -> np.ndarray:
    """Values of a type NumPy lacks (``bfloat16``, ``float8``, ``int4``...) as one it has.

    Those types come from ``ml_dtypes``; ``float32`` (``complex64`` for the
    complex ones) holds each of their values exactly.
    """
    if value.dtype.type.__module__ == "numpy":  # NumPy's own: np.load reads it
        return value
    return value.astype(np.complex64 if "complex" in value.dtype.name else np.float32)


def _strings(value: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A string tensor (an object array of bytes) as its bytes, end to end, and its lengths."""
    lengths = np.array([len(b) for b in value.flat], dtype=np.int64).reshape(value.shape)
    return np.frombuffer(b"".join(value.flat), dtype=np.uint8), lengths


def _write_npz(f: BinaryIO, tensors: Iterable[tuple[str, np.ndarray]]) -> None:
    import zipfile

    written: set[str] = set()
    with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, value in tensors:
            if value.dtype.kind == "O":
                data, lengths = _strings(value)
                arrays = {f"{name}:bytes": data, f"{name}:lengths": lengths}
            else:
                arrays = {name: _widened(value)}
            for member_name, array in arrays.items():
                if member_name in written:
                    raise ExportError(
                        f"cannot export to .npz: a string tensor and the tensor {member_name!r} "
                        "would share that name; export to .safetensors, or rename one first"
                    )
                written.add(member_name)
                if len((member_name + ".npy").encode("utf-8", "surrogateescape")) > 0xFFFF:
                    raise ExportError(
                        f"cannot export to .npz: the name of tensor {member_name[:80]!r}... is "
                        "longer than a zip member's name can be (65,535 bytes); export to "
                        ".safetensors, or rename it first"
                    )
                with archive.open(member_name + ".npy", "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, array, allow_pickle=False)


def _safetensors_plan(source: str | os.PathLike[str]) -> dict[str, dict]:
    """The safetensors header for *source*, from its index alone; what it cannot hold is refused."""
    header: dict[str, dict] = {}
    refused, offset = [], 0
    for v in list_checkpoint(source).variables:
        if v.name == OBJECT_GRAPH_KEY:
            continue
        dtype, width = _SAFETENSORS.get(v.dtype, (None, 0))
        if dtype is None and v.dtype.startswith(("float8", "int4", "uint4")):
            dtype, width = "F32", 4  # widened, exactly
        if dtype is None:
            refused.append(f"{v.name} ({v.dtype})")
            continue
        size = math.prod(v.shape) * width
        header[v.name] = {
            "dtype": dtype,
            "shape": list(v.shape),
            "data_offsets": [offset, offset + size],
        }
        offset += size
    if refused:
        raise ExportError(
            f"safetensors cannot hold these tensors: {', '.join(refused)}; it holds numbers "
            "(no strings, no complex128): export to .npz instead"
        )
    return header


def _write_safetensors(
    f: BinaryIO, header: dict[str, dict], tensors: Iterable[tuple[str, np.ndarray]]
) -> None:
    text = json.dumps({"__metadata__": {"format": "np"}, **header}, separators=(",", ":"))
    text += " " * (-len(text) % 8)  # the data starts 8-byte aligned
    f.write(struct.pack("<Q", len(text)) + text.encode("utf-8"))
    for name, value in tensors:
        if header[name]["dtype"] == "F32":
            value = _widened(value)  # float8 and int4 types safetensors lacks
        data = np.ascontiguousarray(value).reshape(-1).view(np.uint8)
        begin, end = header[name]["data_offsets"]
        if data.size != end - begin:
            raise ExportError(
                f"tensor {name!r} has {data.size} bytes, its index says {end - begin}"
            )
        f.write(data.data)  # its buffer, uncopied


def export_checkpoint(source: str | os.PathLike[str], out: str | os.PathLike[str]) -> list[str]:
    """Write every tensor of checkpoint *source* to *out*, a ``.npz`` or ``.safetensors`` file.

    *source* is a checkpoint prefix or directory, or a Keras file
    (``.keras``, ``.weights.h5``, ``.h5``).

    ``bfloat16``, ``float8`` and ``int4`` tensors are widened to ``float32`` in
    ``.npz``, which has no such types (the widening is exact); ``.safetensors``
    keeps ``bfloat16`` and its two float8 types as they are. A string tensor
    ``NAME`` becomes ``NAME:bytes`` and ``NAME:lengths`` in ``.npz``, every
    byte kept (see above). Quantized types (``qint8``...)
    are written as their integers. What a format cannot hold is an
    :class:`~tfpersist.errors.ExportError` naming the tensors, raised before
    anything is written. Returns the names of the tensors written.

    >>> import numpy as np, tensorflow as tf
    >>> _ = tf.train.Checkpoint(e=tf.Variable(tf.ones([2], tf.bfloat16))).write("m/ckpt")
    >>> export_checkpoint("m/ckpt", "m.npz")
    ['e/.ATTRIBUTES/VARIABLE_VALUE']
    >>> with np.load("m.npz") as weights:
    ...     weights["e/.ATTRIBUTES/VARIABLE_VALUE"].dtype.name
    'float32'
    >>> export_checkpoint("m/ckpt", "m.pt")
    Traceback (most recent call last):
    ...
    tfpersist.errors.ExportError: cannot export to 'm.pt': name the output file .npz or .safetensors
    """
    out = os.fspath(out)
    suffix = os.path.splitext(out)[1].lower()
    if suffix not in FORMATS:
        raise ExportError(f"cannot export to {out!r}: name the output file .npz or .safetensors")
    names: list[str] = []

    def tensors() -> Iterator[tuple[str, np.ndarray]]:
        for name, value in read_values(source):
            if name != OBJECT_GRAPH_KEY:
                names.append(name)
                yield name, value

    if suffix == ".npz":
        atomic_write(out, lambda f: _write_npz(f, tensors()))
    else:
        header = _safetensors_plan(source)
        atomic_write(out, lambda f: _write_safetensors(f, header, tensors()))
    return names
