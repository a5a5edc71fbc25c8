"""Taking weights out of TensorFlow: a checkpoint as ``.npz`` or ``.safetensors``.

A checkpoint can only be read by TensorFlow's own reader (or by
:mod:`tfpersist`). To hand the weights to NumPy, PyTorch, JAX or any other
framework, write them in a neutral format:

``.npz``
    NumPy's zip of arrays, read with :func:`numpy.load`.
``.safetensors``
    The format of the Hugging Face ``safetensors`` package: a JSON header and
    raw bytes, safe to load (no pickle), and memory-mappable. Needs the
    ``safetensors`` extra: ``pip install 'tfpersist[safetensors]'``.

Tensor names stay as they are in the checkpoint. The object graph of a TF2
checkpoint (``_CHECKPOINTABLE_OBJECT_GRAPH``) is structure, not weights, and is
left out. The file is written atomically.

>>> import numpy as np, tensorflow as tf
>>> from tfpersist import exporting
>>> _ = tf.train.Checkpoint(w=tf.Variable([[1.0, 2.0]]), step=tf.Variable(3)).write("m/ckpt")
>>> exporting.export_checkpoint("m/ckpt", "weights.npz")
['step/.ATTRIBUTES/VARIABLE_VALUE', 'w/.ATTRIBUTES/VARIABLE_VALUE']
>>> with np.load("weights.npz") as weights:
...     weights["w/.ATTRIBUTES/VARIABLE_VALUE"].tolist()
[[1.0, 2.0]]
"""

from __future__ import annotations

import io
import os

import numpy as np

from tfpersist._files import atomic_write
from tfpersist.errors import ExportError
from tfpersist.inspecting import read_values

__all__ = ["FORMATS", "export_checkpoint"]

#: File suffixes :func:`export_checkpoint` writes.
FORMATS = (".npz", ".safetensors")


def _npz(tensors: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **tensors)
    return buffer.getvalue()


def _safetensors(tensors: dict[str, np.ndarray]) -> bytes:
    try:
        from safetensors.numpy import save
    except ImportError as e:
        raise ExportError(
            "writing .safetensors needs the safetensors package: pip install 'tfpersist[safetensors]'"
        ) from e
    strings = [name for name, value in tensors.items() if value.dtype.kind in "OSU"]
    if strings:
        raise ExportError(
            f"safetensors holds numbers only; these tensors are strings: {', '.join(strings)}; "
            "export to .npz instead"
        )
    return save({name: np.ascontiguousarray(value) for name, value in tensors.items()})


def export_checkpoint(source: str | os.PathLike[str], out: str | os.PathLike[str]) -> list[str]:
    """Write every tensor of checkpoint *source* to *out*, a ``.npz`` or ``.safetensors`` file.

    ``bfloat16`` tensors are widened to ``float32`` in ``.npz``, which has no
    bfloat16 type (the widening is exact). String tensors become byte-string
    arrays. Returns the names written.

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
    tensors = {}
    for name, value in read_values(source):
        if name == "_CHECKPOINTABLE_OBJECT_GRAPH":
            continue
        if value.dtype.kind == "O":  # strings come back as arrays of bytes objects
            value = value.astype(bytes)
        elif suffix == ".npz" and value.dtype.name == "bfloat16":
            value = value.astype(np.float32)
        tensors[name] = value
    data = _npz(tensors) if suffix == ".npz" else _safetensors(tensors)
    atomic_write(out, data)
    return sorted(tensors)
