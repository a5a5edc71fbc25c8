"""The one place that imports TensorFlow and knows how its releases differ.

Every other module takes ``tf`` and any version-dependent helper from here.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import os
import re
import sys
from collections.abc import Callable, Iterator
from typing import Any

from tfpersist.errors import TensorFlowMissingError


@contextlib.contextmanager
def _quiet_stderr(enabled: bool) -> Iterator[None]:
    """Silence file descriptor 2 while TensorFlow loads.

    Before absl logging is initialised, TensorFlow's C++ code writes to stderr
    whatever TF_CPP_MIN_LOG_LEVEL says (seen on 2.21); with level 3 asked
    for, those lines are dropped too.
    """
    if not enabled:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


_QUIET = os.environ.get("TF_CPP_MIN_LOG_LEVEL") == "3"
try:
    with _quiet_stderr(_QUIET):
        import tensorflow as tf
except ImportError as e:  # pragma: no cover - exercised only without TensorFlow
    raise TensorFlowMissingError(
        "this part of tfpersist needs TensorFlow, which is not installed: "
        "pip install 'tfpersist[tf]' (or your own TensorFlow build)"
    ) from e
if _QUIET:  # the level that silences TensorFlow's C++ logs silences its Python logger too
    logging.getLogger("tensorflow").setLevel(logging.ERROR)

# No public export on any release 2.12-2.21.
from tensorflow.core.protobuf.saved_model_pb2 import SavedModel  # noqa: E402
from tensorflow.core.protobuf.trackable_object_graph_pb2 import TrackableObjectGraph  # noqa: E402
from tensorflow.python.distribute.sharded_variable import ShardedVariable  # noqa: E402
from tensorflow.python.framework import op_def_registry  # noqa: E402
from tensorflow.python.framework.convert_to_constants import (  # noqa: E402
    convert_variables_to_constants_v2,
)
from tensorflow.python.saved_model import loader_impl  # noqa: E402
from tensorflow.python.saved_model.nested_structure_coder import (  # noqa: E402
    NotEncodableError,
)

#: The installed release, as TensorFlow spells it (``2.21.0``).
RELEASE: str = tf.__version__
_NUMBERS = re.match(r"(\d+)\.(\d+)", RELEASE)
#: ``(major, minor)``; a build numbered otherwise counts as the newest, as in ``_protobuf``.
VERSION: tuple[int, int] = (int(_NUMBERS[1]), int(_NUMBERS[2])) if _NUMBERS else (99, 0)

#: Keras 3 (TF >= 2.16) names object-based keys ``_operations/1/_kernel``,
#: Keras 2 ``layer_with_weights-0/kernel``.
KERAS_3: bool = VERSION >= (2, 16)


#: ``CheckpointOptions(experimental_sharding_callback=...)`` and the policies
#: ``tf.train.experimental.MaxShardSizePolicy`` and ``ShardByTaskPolicy``
#: arrived in TF 2.16.
SHARDING: bool = VERSION >= (2, 16)

#: What ``tf.saved_model.load`` raises for a damaged SavedModel, or one
#: written by a newer release (2.12 cannot decode 2.14's signatures).
SAVED_MODEL_ERRORS: tuple[type[Exception], ...] = (
    ValueError,
    IndexError,
    KeyError,
    TypeError,
    NotEncodableError,
)

__all__ = [
    "KERAS_3",
    "KERAS_RELEASE",
    "RELEASE",
    "SAVED_MODEL_ERRORS",
    "SHARDING",
    "VERSION",
    "SavedModel",
    "ShardedVariable",
    "TrackableObjectGraph",
    "convert_variables_to_constants_v2",
    "host_array",
    "is_keras_layer_graph",
    "is_keras_model",
    "is_registered_op",
    "keras",
    "keras_own_weights",
    "load_filesystem_plugins",
    "load_keras_zip",
    "load_saved_model",
    "load_saved_model_v1",
    "registered_ops",
    "save_keras_zip",
    "sync_checkpoint",
    "tf",
    "trackable_children",
    "writing_saves",
]


@contextlib.contextmanager
def _audited_saved_model(path: str, model: Any) -> Iterator[None]:
    """While open, TensorFlow's loaders read *path*'s ``saved_model.pb`` from *model*.

    Every release from 2.12 to 2.21 reads the file through
    ``loader_impl.parse_saved_model``, for ``tf.saved_model.load`` and TF1's
    loader alike, which this stands in for.
    """
    original = loader_impl.parse_saved_model
    wanted = os.path.abspath(path)

    def parse(export_dir: Any) -> Any:
        if os.path.abspath(os.fsdecode(export_dir)) != wanted:
            return original(export_dir)
        copy = SavedModel()
        copy.CopyFrom(model)
        return copy

    loader_impl.parse_saved_model = parse
    try:
        yield
    finally:
        loader_impl.parse_saved_model = original


def load_saved_model(path: str, model: Any, tags: list[str] | None = None) -> Any:
    """``tf.saved_model.load(path, tags)``, its ``saved_model.pb`` taken from *model*.

    *model* is the ``SavedModel`` message already read and audited: the
    loader does not read the file again, so it cannot load other bytes than
    those the audit judged, whatever happens to the file meanwhile.
    """
    with _audited_saved_model(path, model):
        return tf.saved_model.load(path, tags=tags)


def load_saved_model_v1(sess: Any, path: str, model: Any, tags: list[str]) -> Any:
    """TF1's loader: import the meta graph tagged *tags* into *sess* and restore its variables.

    Like :func:`load_saved_model`, the ``saved_model.pb`` is taken from
    *model*, never read again. Device placements are cleared. This loader
    takes what TF2's cannot: reference variables (``float_ref``) and graphs
    that import only into a ``tf.Graph``.
    """
    with _audited_saved_model(path, model):
        return tf.compat.v1.saved_model.load(sess, tags, path, clear_devices=True)


def trackable_children(obj: Any) -> dict[str, Any]:
    """Return the named dependencies of a trackable object, as a checkpoint sees them."""
    return dict(tf.train.TrackableView(obj).children(obj))


def is_registered_op(name: str) -> bool:
    """Whether this TensorFlow knows an op called *name*."""
    return op_def_registry.get(name) is not None


def registered_ops() -> frozenset[str]:
    """Every op this TensorFlow's registry holds, kernels loaded since included."""
    from tensorflow.core.framework.op_def_pb2 import OpList
    from tensorflow.python.client import pywrap_tf_session

    ops = OpList()
    ops.ParseFromString(pywrap_tf_session.TF_GetBuffer(pywrap_tf_session.TF_GetAllOpList()))
    return frozenset(op.name for op in ops.op)


def host_array(tensor: Any) -> Any:
    """An eager tensor's value as ``tensor.numpy()`` gives it, but sharing its memory: read only.

    ``numpy()`` copies (``maybe_arr.copy()``, on every release 2.12-2.21); a
    save that only reads the value need not.
    """
    return tensor._numpy()


def _plain(options: Any) -> bool:
    """Whether *options* ask for nothing but TensorFlow's ordinary one-file save."""
    return options is None or not (
        options.experimental_enable_async_checkpoint
        or options.experimental_io_device
        or getattr(options, "experimental_sharding_callback", None)  # 2.16 and later
    )


def _flat_tensors(serialized: dict[Any, dict[str, Any]]) -> list[tuple[str, Any]] | None:
    """``(key, tensor)`` in the order TensorFlow's saver writes them, or None if it writes slices."""
    flat = []
    for tensors in serialized.values():
        for key, value in tensors.items():
            if isinstance(value, dict):
                if set(value) != {""}:
                    return None
                value = value[""]
            value = getattr(value, "tensor", value)  # a SaveSpec holds its tensor
            flat.append((key, value() if callable(value) else value))
    return flat


@contextlib.contextmanager
def writing_saves(
    checkpoint: Any, write: Callable[[str, list[tuple[str, Any]]], None]
) -> Iterator[None]:
    """Within the block, *checkpoint*'s eager saves call ``write(prefix, [(key, tensor), ...])``.

    The tensors are those TensorFlow's saver gathers (the object graph and
    save counter among them), in the order it writes them; *write* writes
    the files. TensorFlow writes them itself in graph mode, for options
    other than the plain save, for registered savers, for slices, for
    tensors on more than one device, values that are not eager tensors
    (distributed variables), and ``variant`` and ``resource`` tensors. Every release from 2.12 to 2.21 saves through
    ``TrackableSaver._save_cached_when_graph_building``, replaced here for
    this one object.
    """
    saver = getattr(checkpoint, "_saver", None)
    original = getattr(saver, "_save_cached_when_graph_building", None)
    gather = getattr(saver, "_gather_serialized_tensors", None)
    if saver is None or original is None or gather is None:
        yield
        return

    def save(file_prefix: Any, object_graph_tensor: Any, options: Any) -> Any:
        if not tf.executing_eagerly() or not _plain(options):
            return original(file_prefix, object_graph_tensor, options)
        serialized, feeds, registered, _ = gather(object_graph_tensor)
        flat = None if registered else _flat_tensors(serialized)
        if (
            flat is None
            or not all(isinstance(t, tf.Tensor) and hasattr(t, "_numpy") for _, t in flat)
            or len({t.device for _, t in flat}) > 1
            or any(t.dtype in (tf.variant, tf.resource) for _, t in flat)
        ):
            return original(file_prefix, object_graph_tensor, options)
        write(file_prefix.numpy().decode("utf-8"), flat)
        return file_prefix, feeds

    saver._save_cached_when_graph_building = save
    try:
        yield
    finally:
        del saver._save_cached_when_graph_building  # the class's method again


def sync_checkpoint(checkpoint: Any) -> None:
    """Wait for an asynchronous save of *checkpoint*; raise the error it failed with.

    ``Checkpoint.sync`` (from 2.15) waits, but keeps a failure for the next
    save to raise. On 2.12 a failure ends the saving thread, and its sync
    would wait forever.
    """
    helper = getattr(checkpoint, "_async_checkpointer_impl", None)
    if helper is None:
        return
    check = getattr(helper, "_check_async_thread_error", None)
    if check is not None:
        helper.sync()
        check()
        return
    while not helper._writer_sem.acquire(timeout=0.1):  # 2.12: the save holds it
        if not helper._async_save_thread.is_alive():
            helper._writer_sem.release()  # or the exit would wait an hour for it
            raise OSError("the thread writing it stopped with an error, printed above")
    helper._writer_sem.release()


@functools.cache
def load_filesystem_plugins() -> None:
    """Import ``tensorflow_io`` once, if installed: it registers ``s3://`` and ``hdfs://``.

    Its releases are built against one TensorFlow release each; on another,
    its library fails to load and the import only warns, which is silenced.
    """
    with contextlib.suppress(Exception), _quiet_stderr(True):
        import tensorflow_io  # noqa: F401


# Keras whole-model files (.keras, .h5), for tfpersist.keras_models.

#: ``tf.keras``: Keras 3 on TensorFlow 2.16 and later, Keras 2 before.
keras: Any = tf.keras


def _keras_release() -> str:
    package = sys.modules.get(keras.Model.__module__.partition(".")[0])
    return str(getattr(package, "__version__", "0"))


#: The release of the Keras that ``tf.keras`` is (``2.15.0``, ``3.5.0``),
#: as the ``metadata.json`` of a ``.keras`` file records it.
KERAS_RELEASE: str = _keras_release()

# load_model takes safe_mode on every supported release (2.12 included).
_LOAD_TAKES_SAFE_MODE = "safe_mode" in inspect.signature(keras.models.load_model).parameters


def is_keras_model(obj: Any) -> bool:
    """Whether *obj* is a Keras model (``keras.Model``) of the Keras that ``tf.keras`` is."""
    return isinstance(obj, keras.Model)


def save_keras_zip(model: Any, path: str) -> None:
    """Write *model* to *path*, a name ending in ``.keras``, as the ``.keras`` zip.

    Keras 2.12 writes HDF5 under a ``.keras`` name unless
    ``save_format="keras_v3"`` is given; Keras 3 has no ``save_format`` and
    always writes the zip.
    """
    if KERAS_3:
        model.save(path)
    else:
        model.save(path, save_format="keras_v3")


def load_keras_zip(path: str, custom_objects: dict[str, Any] | None, compile: bool) -> Any:
    """``keras.models.load_model(path, ...)`` with ``safe_mode=True`` wherever Keras takes it."""
    safe = {"safe_mode": True} if _LOAD_TAKES_SAFE_MODE else {}
    return keras.models.load_model(path, custom_objects=custom_objects, compile=compile, **safe)


# Keras layers and their weights, for tfpersist.keras_weights.


def keras_own_weights(layer: Any) -> list[Any]:
    """The variables *layer* holds itself, not through inner layers, in the order Keras saves them.

    Trainable ones first, then the others, each in the order they were
    created: the ``vars/0``, ``vars/1``, ... of a ``.weights.h5`` file.
    Keras 3 keeps them in ``_trainable_variables``, Keras 2 in
    ``_trainable_weights``.
    """
    if hasattr(layer, "_trainable_variables"):
        return [*layer._trainable_variables, *layer._non_trainable_variables]
    return [*layer._trainable_weights, *layer._non_trainable_weights]


def is_keras_layer_graph(layer: Any) -> bool:
    """Whether *layer* is a Sequential or functional model, whose ``layers`` Keras saves in turn."""
    return any(
        cls.__name__ in ("Sequential", "Functional")
        and cls.__module__.partition(".")[0] in ("keras", "tf_keras")
        for cls in type(layer).__mro__
    )
