"""Looking inside a checkpoint: list, read, compare and verify.

A checkpoint (检查点) is a table of named tensors. The ``.index`` file lists
every name with its dtype and shape, and the ``.data`` shards hold the bytes.
TensorFlow's own answer to "what is in this checkpoint?" is
``tf.train.list_variables`` or the ``inspect_checkpoint`` script. This module
gives the answers a script would want: every variable with its dtype, shape
and size in bytes; the values; the differences between two checkpoints; and a
full read that checks every tensor's checksum. None of it needs TensorFlow:
checkpoints are read with :mod:`tfpersist.bundle`.

The same functions serve TF1 name-based checkpoints (``v1``, ``dense/kernel``)
and TF2 object-based ones (``model/layer/kernel/.ATTRIBUTES/VARIABLE_VALUE``).
Dtype names are NumPy's (``float32``, ``bfloat16``), and ``string`` for
string tensors.

>>> import tensorflow as tf
>>> from tfpersist import inspecting
>>> ckpt = tf.train.Checkpoint(w=tf.Variable(tf.ones([3, 4])), step=tf.Variable(7))
>>> prefix = ckpt.write("model/ckpt")
>>> listing = inspecting.list_checkpoint("model/ckpt")
>>> for var in listing.variables:
...     print(var.name, var.dtype, var.shape, var.bytes)
_CHECKPOINTABLE_OBJECT_GRAPH string () ...
step/.ATTRIBUTES/VARIABLE_VALUE int32 () 4
w/.ATTRIBUTES/VARIABLE_VALUE float32 (3, 4) 48

Comparing two checkpoints lists what is only in one of them, and what changed:

>>> ckpt.w.assign_add(tf.fill([3, 4], 0.5))
<...>
>>> _ = ckpt.write("later/ckpt")
>>> diff = inspecting.diff_checkpoints("model/ckpt", "later/ckpt")
>>> [(c.name, c.reason, c.max_abs_diff) for c in diff.changed]
[('w/.ATTRIBUTES/VARIABLE_VALUE', 'values differ', 0.5)]
>>> inspecting.diff_checkpoints("model/ckpt", "later/ckpt", atol=0.5).equal
True

Every function here also takes a Keras file: a ``.keras`` archive, a
``.weights.h5`` file or a Keras ``.h5`` file, told from a checkpoint by its
content (:func:`tfpersist.keras_files.is_keras_file`) and read with
:mod:`tfpersist.keras_files`, without TensorFlow. The listing's prefix is
the file's path, and each variable is named by its path in the file's HDF5
weights, so two saves of one model can be compared as two checkpoints are:

>>> model = tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.Dense(2)])
>>> model.save_weights("before.weights.h5")
>>> [(v.dtype, v.shape, v.bytes) for v in inspecting.list_checkpoint("before.weights.h5").variables]
[('float32', (3, 2), 24), ('float32', (2,), 8)]
>>> model.layers[-1].bias.assign([1.0, 1.0])
<...>
>>> model.save_weights("after.weights.h5")
>>> [(c.name.split("/")[-3:], c.max_abs_diff) for c in
...  inspecting.diff_checkpoints("before.weights.h5", "after.weights.h5").changed]
[(['dense', 'vars', '1'], 1.0)]
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tfpersist._layout import resolve_prefix
from tfpersist._progress import progress
from tfpersist._v1 import read_checkpoint_index
from tfpersist.keras_files import is_keras_file  # imports neither h5py nor NumPy

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "Change",
    "CheckpointDiff",
    "CheckpointListing",
    "VariableInfo",
    "diff_checkpoints",
    "format_value",
    "list_checkpoint",
    "read_values",
    "verify_checkpoint",
]


@dataclass(frozen=True)
class VariableInfo:
    """One tensor of a checkpoint: *name*, NumPy *dtype* name, *shape* and size in *bytes*.

    >>> VariableInfo("v1", "float32", (1,), 4).to_json()
    {'name': 'v1', 'dtype': 'float32', 'shape': [1], 'bytes': 4}
    """

    name: str
    dtype: str
    shape: tuple[int, ...]
    bytes: int

    def to_json(self) -> dict[str, Any]:
        """The JSON form used by ``tfpersist inspect --json``."""
        return {
            "name": self.name,
            "dtype": self.dtype,
            "shape": list(self.shape),
            "bytes": self.bytes,
        }


@dataclass(frozen=True)
class CheckpointListing:
    """Every tensor of the checkpoint at *prefix*, sorted by name.

    >>> listing = CheckpointListing("m/ckpt", (VariableInfo("v", "float32", (2,), 8),))
    >>> listing.total_bytes, listing.to_json()["total_bytes"]
    (8, 8)
    """

    prefix: str
    variables: tuple[VariableInfo, ...]

    @property
    def total_bytes(self) -> int:
        """The sum of the tensors' sizes."""
        return sum(v.bytes for v in self.variables)

    def to_json(self) -> dict[str, Any]:
        """The JSON form used by ``tfpersist inspect --json``."""
        return {
            "prefix": self.prefix,
            "variables": [v.to_json() for v in self.variables],
            "total_bytes": self.total_bytes,
        }


def _listing(path: str | os.PathLike[str]) -> CheckpointListing:
    """The listing of a checkpoint or a Keras file."""
    if is_keras_file(path):
        from tfpersist.keras_files import KerasFile

        with KerasFile(path) as keras:
            infos = [VariableInfo(*variable) for variable in keras.variables()]
        return CheckpointListing(os.fspath(path), tuple(infos))
    prefix = resolve_prefix(path)
    index = read_checkpoint_index(prefix)
    infos = [
        VariableInfo(
            name, index.entries[name].dtype_name, index.entries[name].shape, index.nbytes(name)
        )
        for name in index.names
    ]
    return CheckpointListing(prefix, tuple(infos))


@contextlib.contextmanager
def _reader(
    path: str | os.PathLike[str],
) -> Iterator[tuple[list[str], Callable[[str], np.ndarray]]]:
    """The sorted names and the tensor getter of a checkpoint or a Keras file.

    With :func:`_listing`, the one place that tells the two apart.
    """
    if is_keras_file(path):
        from tfpersist.keras_files import KerasFile

        with KerasFile(path) as keras:
            yield keras.names(), keras.get_tensor
        return
    from tfpersist.bundle import load_checkpoint  # NumPy: listing alone does without it

    with load_checkpoint(resolve_prefix(path)) as reader:
        yield sorted(reader.get_variable_to_shape_map()), reader.get_tensor


def list_checkpoint(path: str | os.PathLike[str]) -> CheckpointListing:
    """List every tensor of a checkpoint with its dtype, shape and size in bytes.

    *path* is a checkpoint prefix, or a directory meaning its latest checkpoint.
    The size is what the tensor takes in the ``.data`` files; for strings
    that includes their lengths and checksum. Only the ``.index`` is read.

    >>> import tensorflow as tf
    >>> with tf.Graph().as_default() as graph:
    ...     v = tf.Variable(tf.zeros([2, 2], tf.float64), name="v")
    ...     with tf.compat.v1.Session(graph=graph) as sess:
    ...         sess.run(v.initializer)
    ...         _ = tf.compat.v1.train.Saver().save(sess, "m/model.ckpt")
    >>> list_checkpoint("m/model.ckpt").to_json()
    {'prefix': 'm/model.ckpt', 'variables': [{'name': 'v', 'dtype': 'float64', 'shape': [2, 2], 'bytes': 32}], 'total_bytes': 32}

    *path* may also be a Keras file (``.keras``, ``.weights.h5``, ``.h5``):
    its prefix is then the path, and the sizes are those of the arrays.
    """
    return _listing(path)


def read_values(path: str | os.PathLike[str]) -> Iterator[tuple[str, np.ndarray]]:
    """Yield ``(name, value)`` for every tensor of a checkpoint, in name order.

    Each value is a NumPy array; string tensors are arrays of ``bytes``.
    Reading a value checks its checksum, so a damaged checkpoint raises
    :class:`~tfpersist.errors.CorruptCheckpointError` naming the tensor. A
    Keras file's values come from :meth:`tfpersist.keras_files.KerasFile.get_tensor`,
    after the CRC-32 of a ``.keras`` archive's weights is checked.

    >>> import tensorflow as tf
    >>> _ = tf.train.Checkpoint(w=tf.Variable([1.5, 2.5])).write("m/ckpt")
    >>> dict(read_values("m/ckpt"))["w/.ATTRIBUTES/VARIABLE_VALUE"].tolist()
    [1.5, 2.5]
    """
    with _reader(path) as (names, get_tensor):
        for name in progress(names, desc="reading"):
            yield name, get_tensor(name)


def format_value(value: np.ndarray, *, most: int = 6) -> str:
    """Render a tensor value on one line, shortened for large tensors.

    >>> import numpy as np
    >>> format_value(np.arange(3.0))
    '[0.0, 1.0, 2.0]'
    >>> format_value(np.arange(100))
    '[0, 1, 2, ..., 97, 98, 99] (100 values, min 0, max 99)'
    """
    flat = value.ravel()
    if value.ndim == 0:
        return repr(value.item())
    if flat.size <= most:
        return str(flat.tolist())
    half = most // 2
    head = ", ".join(repr(x) for x in flat[:half].tolist())
    tail = ", ".join(repr(x) for x in flat[-half:].tolist())
    summary = f"{flat.size} values"
    if value.dtype.kind in "iufb":
        summary += f", min {flat.min().item()!r}, max {flat.max().item()!r}"
    return f"[{head}, ..., {tail}] ({summary})"


@dataclass(frozen=True)
class Change:
    """A tensor present in both checkpoints whose dtype, shape or values differ.

    >>> Change("w", "values differ", 0.5).to_json()
    {'name': 'w', 'reason': 'values differ', 'max_abs_diff': 0.5}
    """

    name: str
    reason: str
    max_abs_diff: float | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON form used by ``tfpersist diff --json``."""
        return {"name": self.name, "reason": self.reason, "max_abs_diff": self.max_abs_diff}


@dataclass(frozen=True)
class CheckpointDiff:
    """What :func:`diff_checkpoints` found.

    >>> CheckpointDiff(only_in_a=("x",)).equal
    False
    """

    only_in_a: tuple[str, ...] = ()
    only_in_b: tuple[str, ...] = ()
    changed: tuple[Change, ...] = field(default=())

    @property
    def equal(self) -> bool:
        """True when the checkpoints hold the same names with equal values."""
        return not (self.only_in_a or self.only_in_b or self.changed)

    def to_json(self) -> dict[str, Any]:
        """The JSON form used by ``tfpersist diff --json``."""
        return {
            "only_in_a": list(self.only_in_a),
            "only_in_b": list(self.only_in_b),
            "changed": [c.to_json() for c in self.changed],
        }


def _numbers(value: np.ndarray) -> np.ndarray:
    """*value*, with ``bfloat16``, ``float8`` and ``int4`` as ``float32`` (exactly)."""
    import numpy as np

    return value.astype(np.float32) if value.dtype.kind == "V" else value


def _int_gap(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``|a - b|`` of two integer arrays, exactly, as ``uint64`` (it can exceed ``int64``)."""
    import numpy as np

    wide = np.int64 if a.dtype.kind == "i" else np.uint64
    a, b = a.astype(wide), b.astype(wide)
    ua, ub = a.view(np.uint64), b.view(np.uint64)
    with np.errstate(over="ignore"):  # modulo 2**64, which gives the exact gap
        return np.where(a >= b, ua - ub, ub - ua)


def _close(a: np.ndarray, b: np.ndarray, rtol: float, atol: float) -> np.ndarray:
    """Where *a* and *b* are equal within the tolerances, NaN matching NaN, part by part."""
    import numpy as np

    if a.dtype.kind == "c":
        return _close(a.real, b.real, rtol, atol) & _close(a.imag, b.imag, rtol, atol)
    if a.dtype.kind == "b":
        return a == b
    if a.dtype.kind in "iu":  # in float64, 2**62 and 2**62 + 1 would be one number
        gap = _int_gap(a, b)
        with np.errstate(invalid="ignore", over="ignore"):
            bound = atol + rtol * np.abs(b.astype(np.float64))
            huge = bound >= 2.0**64
            usable = (bound >= 0) & ~huge  # False for NaN
            limit = np.where(usable, np.floor(bound), 0.0).astype(np.uint64)
        return huge | (usable & (gap <= limit))
    if a.dtype.itemsize < 8:  # float16 and float32 in float64: no overflow, exact differences
        a, b = a.astype(np.float64), b.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        return np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=True)


def _compare(name: str, a: np.ndarray, b: np.ndarray, rtol: float, atol: float) -> Change | None:
    import numpy as np

    if a.dtype != b.dtype:
        return Change(name, f"dtype {a.dtype.name} != {b.dtype.name}")
    if a.shape != b.shape:
        return Change(name, f"shape {list(a.shape)} != {list(b.shape)}")
    if a.dtype.kind == "O":
        return None if np.array_equal(a, b) else Change(name, "values differ")
    flat_a, flat_b = np.ascontiguousarray(a).reshape(-1), np.ascontiguousarray(b).reshape(-1)
    if np.array_equal(flat_a.view(np.uint8), flat_b.view(np.uint8)):
        return None  # the same bytes, NaN payloads and all
    a, b = _numbers(a), _numbers(b)
    close = _close(a, b, rtol, atol)
    if close.all():
        return None
    if a.dtype.kind in "iu":
        return Change(name, "values differ", float(_int_gap(a[~close], b[~close]).max()))
    wide = np.complex128 if a.dtype.kind == "c" else np.float64
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(a[~close].astype(wide) - b[~close].astype(wide))
    diff = diff[~np.isnan(diff)]
    return Change(name, "values differ", float(diff.max()) if diff.size else None)


def diff_checkpoints(
    a: str | os.PathLike[str],
    b: str | os.PathLike[str],
    *,
    rtol: float = 0.0,
    atol: float = 0.0,
) -> CheckpointDiff:
    """Compare two checkpoints tensor by tensor.

    Values are equal when ``numpy.isclose(a, b, rtol, atol, equal_nan=True)``
    holds everywhere; with the default tolerances of 0 that means exactly
    equal. A NaN equals a NaN in the same place; complex values are compared
    part by part; ``bfloat16``, ``float8`` and ``int4`` values are compared as
    ``float32``, and smaller floats in ``float64``. Integers are compared
    exactly: ``|a - b|`` is never rounded, so ``2**62`` and ``2**62 + 1``
    differ (``numpy.isclose`` would call them equal). Tensors with the same
    bytes are always equal. The dtypes
    compared are TensorFlow's, so ``qint8`` differs from ``int8``.
    ``max_abs_diff`` is the largest difference among the values that differ,
    or None when each of them is a NaN against a number.

    >>> import tensorflow as tf
    >>> _ = tf.train.Checkpoint(w=tf.Variable([1.0, 2.0])).write("a/ckpt")
    >>> _ = tf.train.Checkpoint(w=tf.Variable([1.0, 2.5])).write("b/ckpt")
    >>> diff_checkpoints("a/ckpt", "b/ckpt").changed
    (Change(name='w/.ATTRIBUTES/VARIABLE_VALUE', reason='values differ', max_abs_diff=0.5),)
    >>> diff_checkpoints("a/ckpt", "b/ckpt", rtol=0.25).equal
    True
    >>> _ = tf.train.Checkpoint(w=tf.Variable([1.0, 2.0], dtype=tf.bfloat16)).write("c/ckpt")
    >>> _ = tf.train.Checkpoint(w=tf.Variable([1.0, 2.015625], dtype=tf.bfloat16)).write("d/ckpt")
    >>> diff_checkpoints("c/ckpt", "d/ckpt", atol=0.02).equal
    True
    >>> _ = tf.train.Checkpoint(i=tf.Variable(2**62, dtype=tf.int64)).write("e/ckpt")
    >>> _ = tf.train.Checkpoint(i=tf.Variable(2**62 + 1, dtype=tf.int64)).write("f/ckpt")
    >>> diff_checkpoints("e/ckpt", "f/ckpt").changed[0].max_abs_diff
    1.0
    """
    kinds_a = {v.name: v.dtype for v in list_checkpoint(a).variables}
    kinds_b = {v.name: v.dtype for v in list_checkpoint(b).variables}
    with _reader(a) as (listed_a, get_a), _reader(b) as (listed_b, get_b):
        names_a, names_b = set(listed_a), set(listed_b)
        changed = []
        for name in progress(sorted(names_a & names_b), desc="comparing"):
            if kinds_a[name] != kinds_b[name]:  # qint8 and int8 read alike
                changed.append(Change(name, f"dtype {kinds_a[name]} != {kinds_b[name]}"))
                continue
            change = _compare(name, get_a(name), get_b(name), rtol, atol)
            if change:
                changed.append(change)
    return CheckpointDiff(
        tuple(sorted(names_a - names_b)), tuple(sorted(names_b - names_a)), tuple(changed)
    )


def verify_checkpoint(path: str | os.PathLike[str]) -> CheckpointListing:
    """Read every tensor of a checkpoint, checking each checksum.

    Returns the listing when all is sound; raises
    :class:`~tfpersist.errors.CorruptCheckpointError` naming the file and the
    tensor otherwise.

    >>> import tensorflow as tf
    >>> _ = tf.train.Checkpoint(w=tf.Variable(tf.ones([1000]))).write("m/ckpt")
    >>> verify_checkpoint("m/ckpt").total_bytes > 4000
    True
    >>> data = "m/ckpt.data-00000-of-00001"
    >>> with open(data, "r+b") as f:
    ...     _ = f.seek(100)
    ...     _ = f.write(b"\\x00\\xff")
    >>> verify_checkpoint("m/ckpt")
    Traceback (most recent call last):
    ...
    tfpersist.errors.CorruptCheckpointError: checkpoint 'm/ckpt': tensor 'w/.ATTRIBUTES/VARIABLE_VALUE' in 'm/ckpt.data-00000-of-00001': its bytes fail their checksum; ...

    A Keras file has every tensor read, and the CRC-32 of a ``.keras``
    archive's weights checked (as every read of its values does); ``.h5``
    weights carry no checksums. A file named or made like a Keras file that
    cannot be read whole is corrupt too.
    """
    from tfpersist.errors import CorruptCheckpointError, KerasFileError

    try:
        listing = list_checkpoint(path)
        for _ in read_values(listing.prefix):
            pass
    except KerasFileError as e:  # a damaged Keras file, as a damaged .index is corrupt
        raise CorruptCheckpointError(str(e)) from e
    return listing
