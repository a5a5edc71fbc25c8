"""Keras files: ``model.save``, ``load_model`` and the files they write.

The article saves a graph and a session. Most TensorFlow 2 code builds its
model with Keras instead, and Keras has its own files. ``model.save(path)``
writes the whole model to one file: its structure, its weights and
its training state. ``keras.models.load_model(path)`` builds it again. With
``model.save_weights(path)`` and ``model.load_weights(path)`` only the
weights are written, and the code must build the model again.

TensorFlow 2.16 replaced Keras 2 with Keras 3, and the files changed with
it. From 2.16 on, ``tf.keras`` is Keras 3; Keras 2 lives on as the separate
package ``tf_keras``. This page shows the files on every release that
tfpersist supports, and ``tfpersist._tf`` says which Keras is in use:

>>> import os
>>> import numpy as np, tensorflow as tf
>>> from tfpersist import _tf, keras_models
>>> _tf.KERAS_RELEASE.split(".")[0] == ("3" if _tf.KERAS_3 else "2")
True

What differs, as measured on each release:

.. list-table::
   :header-rows: 1

   * - what
     - TF 2.12 (Keras 2.12)
     - TF 2.15 (Keras 2.15)
     - TF 2.16, 2.21 (Keras 3)
   * - ``model.save("m.keras")`` writes
     - HDF5
     - the ``.keras`` zip
     - the ``.keras`` zip
   * - layer group in ``model.weights.h5``
     - ``_layer_checkpoint_dependencies``
     - ``layers``
     - ``layers``
   * - ``metrics`` group in it
     - yes
     - yes
     - no
   * - Adam variables of one ``Dense`` layer
     - 5
     - 5
     - 6
   * - ``save_weights("ckpt")``
     - a TF checkpoint
     - a TF checkpoint
     - ``ValueError``
   * - kernel in a legacy ``.h5``
     - ``dense/dense/kernel:0``
     - ``dense/dense/kernel:0``
     - ``dense/net/dense/kernel``
   * - a ``Lambda`` in a legacy ``.h5``
     - loads, runs its bytecode
     - loads, runs its bytecode
     - refused
   * - ``load_model`` of a damaged file raises
     - ``OSError``
     - ``OSError``
     - ``ValueError``
   * - SavedModel export
     - ``tf.saved_model.save``
     - ``tf.saved_model.save``
     - ``model.export``

.. rubric:: The ``.keras`` file

:func:`save_keras_model` writes the ``.keras`` zip on every release: on
Keras 2 it asks for ``save_format="keras_v3"``, because Keras 2.12 writes
HDF5 even to a name that ends in ``.keras``. It writes atomically, and
:func:`load_keras_model` checks the file before Keras reads it (see
*safe_mode* below). The names ``net`` and ``dense`` are given so that the
paths below do not depend on how many models the process built before.

>>> tf.keras.utils.set_random_seed(0)
>>> def build():
...     return tf.keras.Sequential(
...         [tf.keras.Input((3,)), tf.keras.layers.Dense(2, name="dense")], name="net"
...     )
>>> model = build()
>>> model.compile(optimizer="adam", loss="mse")
>>> _ = model.fit(np.ones((4, 3)), np.ones((4, 2)), verbose=0)
>>> keras_models.save_keras_model(model, "model.keras")
'model.keras'
>>> x = np.arange(6, dtype="float32").reshape(2, 3)
>>> loaded = keras_models.load_keras_model("model.keras")
>>> np.array_equal(loaded(x).numpy(), model(x).numpy())
True

The file is a zip archive with three members. ``config.json`` is
the structure: each object is written as ``module``, ``class_name``,
``config`` and ``registered_name``, and Keras imports ``module`` to find
the class again. ``metadata.json`` records the Keras release and the date.
``model.weights.h5`` holds the values.

>>> import json, zipfile
>>> with zipfile.ZipFile("model.keras") as z:
...     print(z.namelist())
...     config = json.loads(z.read("config.json"))
...     metadata = json.loads(z.read("metadata.json"))
...     weights = z.read("model.weights.h5")
['metadata.json', 'config.json', 'model.weights.h5']
>>> sorted(config)
['build_config', 'class_name', 'compile_config', 'config', 'module', 'registered_name']
>>> config["module"], config["class_name"], config["registered_name"]
('keras', 'Sequential', None)
>>> [layer["class_name"] for layer in config["config"]["layers"]]
['InputLayer', 'Dense']
>>> sorted(metadata), metadata["keras_version"] == _tf.KERAS_RELEASE
(['date_saved', 'keras_version'], True)

``model.weights.h5`` is an HDF5 file. Each layer has a group whose
``vars`` are numbered in the layer's own order: ``vars/0`` is the kernel
and ``vars/1`` the bias of a ``Dense`` layer. Keras 2.12 calls the layer
group ``_layer_checkpoint_dependencies``, later releases ``layers``. Keras
3 reads a 2.12 file only while no two layers share a class, and 2.15 reads
none; :mod:`tfpersist.keras_weights` reads them all. The optimizer's
state sits in ``optimizer/vars``: Keras 3 also keeps the learning rate
there, and only Keras 2 saves the ``metrics``.

>>> import io, h5py
>>> group = "_layer_checkpoint_dependencies" if _tf.VERSION == (2, 12) else "layers"
>>> with h5py.File(io.BytesIO(weights), "r") as h5:
...     kernel = h5[f"{group}/dense/vars/0"][()]
...     optimizer_vars = len(h5["optimizer/vars"])
...     has_metrics = "metrics" in h5
>>> np.array_equal(kernel, model.get_layer("dense").kernel.numpy())
True
>>> optimizer_vars == (6 if _tf.KERAS_3 else 5), has_metrics == (not _tf.KERAS_3)
(True, True)

:mod:`tfpersist.keras_files` reads these files without TensorFlow.

.. rubric:: Weights only: ``save_weights``

A name ending in ``.weights.h5`` gives the same HDF5 layout as
``model.weights.h5``, on every release. A bare prefix is where the releases
part: Keras 2 writes a TensorFlow checkpoint there (``.index`` and
``.data`` files, see :mod:`tfpersist.saving`), and Keras 3 refuses it.

>>> model.save_weights("net.weights.h5")
>>> fresh = build()
>>> fresh.load_weights("net.weights.h5")
>>> np.array_equal(fresh(x).numpy(), model(x).numpy())
True
>>> def bare_prefix():
...     try:
...         model.save_weights("weights/ckpt")
...     except ValueError as e:
...         return f"refused: {e}"
...     return "checkpoint: " + " ".join(sorted(os.listdir("weights")))
>>> keras_2 = "checkpoint: checkpoint ckpt.data-00000-of-00001 ckpt.index"
>>> keras_3 = "refused: The filename must end in `.weights.h5`. Received: filepath=weights/ckpt"
>>> bare_prefix() == (keras_3 if _tf.KERAS_3 else keras_2)
True

.. rubric:: The legacy ``.h5`` file

Before the ``.keras`` format, ``model.save("m.h5")`` wrote one HDF5 file.
Every release still writes it for a name ending in ``.h5``. The structure
is a JSON string in the attribute ``model_config``, the weights sit under
``model_weights``. Keras 2 names a weight ``dense/dense/kernel:0``; Keras 3
puts the model's name in the path and drops the ``:0``.

>>> import warnings
>>> with warnings.catch_warnings():  # Keras 2.15 warns that the format is legacy
...     warnings.simplefilter("ignore", UserWarning)
...     model.save("legacy.h5")
>>> with h5py.File("legacy.h5", "r") as h5:
...     print(sorted(h5.attrs))
...     legacy_config = json.loads(h5.attrs["model_config"])
...     names = []
...     h5["model_weights"].visit(names.append)
['backend', 'keras_version', 'model_config', 'training_config']
>>> legacy_config["class_name"]
'Sequential'
>>> keras_2, keras_3 = "dense/dense/kernel:0", "dense/net/dense/kernel"
>>> (keras_3 if _tf.KERAS_3 else keras_2) in names
True

.. rubric:: ``safe_mode``

Loading a model runs Python: Keras imports each ``module`` the config
names and builds each class. ``load_model(safe_mode=True)``, the default,
refuses one thing only: the Python bytecode that a ``Lambda`` layer stores.
It does not check which modules and classes the config names. A config
edited to name a function of any module ran it, even in safe mode, up to
Keras 3.8 (CVE-2025-1550). Keras before 2.13 did not check ``Lambda``
layers in the legacy formats at all (CVE-2024-3660); here, Keras 2.12 and
2.15 both load a ``Lambda`` from a legacy ``.h5`` file with
``safe_mode=True``. Custom and registered classes are built from whatever
the running process registered under their names.

So :func:`load_keras_model` first reads the config as data, without
Keras, and refuses everything that is not an object Keras ships
(:func:`tfpersist.keras_audit.audit_keras_file`). Only then does Keras load
the file, with ``safe_mode=True``:

>>> lambda_model = tf.keras.Sequential(
...     [tf.keras.Input((3,)), tf.keras.layers.Lambda(lambda t: t * 2.0, name="double")]
... )
>>> _ = keras_models.save_keras_model(lambda_model, "lambda.keras")
>>> keras_models.load_keras_model("lambda.keras")
Traceback (most recent call last):
...
tfpersist.errors.UnsafeKerasConfigError: 'lambda.keras' holds 1 object Keras would import or run that Keras does not ship: config.json at config.layers[...].config.function...: runs Python bytecode stored in the file (...); load only models you trust

To load your own classes, pass them in *custom_objects*, and their module
in *allow_modules*: only the caller can trust a module, never the file.

.. rubric:: Keras files and TensorFlow checkpoints

``tf.train.Checkpoint(model=model)`` saves the same weights in a TensorFlow
checkpoint. Its keys follow the attributes of the Keras objects, and these
changed in Keras 3: the first layer with weights is
``layer_with_weights-0`` in Keras 2, and ``_operations/1`` (the input is
operation 0) in Keras 3, inside ``_functional`` for a ``Sequential`` model.

>>> inputs = tf.keras.Input((3,))
>>> functional = tf.keras.Model(inputs, tf.keras.layers.Dense(2, name="dense")(inputs))
>>> prefix = tf.train.Checkpoint(model=functional).write("ckpt/model")
>>> keys = [name for name, _ in tf.train.list_variables(prefix)]
>>> keras_2 = "model/layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE"
>>> keras_3 = "model/_operations/1/_kernel/.ATTRIBUTES/VARIABLE_VALUE"
>>> (keras_3 if _tf.KERAS_3 else keras_2) in keys
True

A checkpoint written under one Keras therefore restores nothing under the
other. :mod:`tfpersist.keras_weights` maps the layers in order, in either
direction.

.. rubric:: Keras files and SavedModels

A SavedModel (see :mod:`tfpersist.meta_graph`) holds the traced serving
graph and the variables, but no Keras config: it serves the model, and
Keras cannot build the model from it again. Keras 3 writes one with
``model.export(path)``, and loads it back as a layer with
``keras.layers.TFSMLayer``. Keras 3's ``load_model`` refuses a SavedModel
directory. On Keras 2, ``tf.saved_model.save(model, path)`` writes it, and
``tf.saved_model.load`` reads it.

>>> if _tf.KERAS_3:
...     model.export("exported", verbose=False)
... else:
...     tf.saved_model.save(model, "exported")
>>> sorted(os.listdir("exported"))
['assets', 'fingerprint.pb', 'saved_model.pb', 'variables']
>>> def serve(inputs):
...     if _tf.KERAS_3:
...         return tf.keras.layers.TFSMLayer("exported", call_endpoint="serve")(inputs)
...     serving = tf.saved_model.load("exported").signatures["serving_default"]
...     [output] = serving(tf.constant(inputs)).values()
...     return output
>>> np.allclose(serve(x), model(x))
True
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable
from typing import Any

from tfpersist import _fs
from tfpersist._files import _keep_owner_and_mode, atomic_write, fsync_directory
from tfpersist._tf import is_keras_model, load_keras_zip, save_keras_zip
from tfpersist.errors import KerasFileError, UnsafeKerasConfigError, WriteError
from tfpersist.keras_audit import check_keras_file

__all__ = ["load_keras_model", "save_keras_model"]

#: What Keras's errors say when it cannot find a class the config names.
_UNKNOWN_CLASS = (
    "Unknown ",
    "Could not locate",
    "Cannot deserialize",
    "could not be deserialized",
    "custom_object_scope",
    "must be an instance of class",  # Keras 2.15: an unknown layer stays a string
)


def save_keras_model(model: Any, path: str | os.PathLike[str]) -> str:
    """Save a Keras model to *path*, a ``.keras`` file, atomically; return *path*.

    Every release writes the ``.keras`` zip (Keras 2 with
    ``save_format="keras_v3"``). Keras writes it into a temporary directory
    beside *path*; the file is fsynced and renamed over *path*, so a save
    that fails (a full disk, a layer that cannot be serialised) leaves the
    file that was there untouched, and nothing else behind. A process killed
    during the save leaves that file whole too, but its staging directory
    (``.tfpersist-*`` beside *path*) stays: delete it. A name that does
    not end in ``.keras`` is refused with
    :class:`~tfpersist.errors.KerasFileError`; a failed save raises
    :class:`~tfpersist.errors.WriteError`.

    >>> import tensorflow as tf
    >>> model = tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.Dense(2)])
    >>> save_keras_model(model, "models/dense.keras")
    'models/dense.keras'
    >>> import os
    >>> os.listdir("models")
    ['dense.keras']
    >>> save_keras_model(model, "models/dense.h5")
    Traceback (most recent call last):
    ...
    tfpersist.errors.KerasFileError: 'models/dense.h5' does not end in .keras: save_keras_model writes only the .keras zip; name the file 'models/dense.keras' (for the weights alone, call model.save_weights('NAME.weights.h5'); for serving, export a SavedModel)
    """
    text = os.fspath(path)
    if not text.endswith(".keras"):
        stem = os.path.splitext(text)[0]
        raise KerasFileError(
            f"{text!r} does not end in .keras: save_keras_model writes only the .keras zip; "
            f"name the file {stem + '.keras'!r} (for the weights alone, call "
            "model.save_weights('NAME.weights.h5'); for serving, export a SavedModel)"
        )
    if not is_keras_model(model):
        raise KerasFileError(
            f"cannot save a {type(model).__name__} to {text!r}: only a Keras model "
            "(tf.keras.Model) makes a .keras file; save other objects with "
            "tf.train.Checkpoint or tf.saved_model.save"
        )
    if _fs.is_url(text):  # Keras writes locally; TensorFlow's filesystem renames
        with tempfile.TemporaryDirectory(prefix="tfpersist-") as local:
            staged = os.path.join(local, "model.keras")
            _save(model, staged, text)
            with open(staged, "rb") as source:
                return atomic_write(text, lambda out: shutil.copyfileobj(source, out))
    real = os.path.realpath(text)  # through a symbolic link, as open() would write
    parent = os.path.dirname(real)
    try:
        os.makedirs(parent, exist_ok=True)
        staging = tempfile.mkdtemp(prefix=".tfpersist-", dir=parent)
    except OSError as e:
        raise WriteError(f"cannot write {text!r}: {e.strerror or e}") from e
    try:
        staged = os.path.join(staging, os.path.basename(real))
        _save(model, staged, text)
        try:
            with open(staged, "rb") as f:
                _keep_owner_and_mode(f.fileno(), real)
                os.fsync(f.fileno())
            os.replace(staged, real)
        except OSError as e:
            raise WriteError(
                f"cannot write {text!r}: {e.strerror or e}; the file there, if any, is unchanged"
            ) from e
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    fsync_directory(parent)
    return text


def _save(model: Any, staged: str, path: str) -> None:
    """Let Keras write *model* to *staged*; its errors become a :class:`WriteError` about *path*."""
    try:
        save_keras_zip(model, staged)
    except OSError as e:
        raise WriteError(
            f"cannot write {path!r}: {e.strerror or e}; the file there, if any, is unchanged"
        ) from e
    except Exception as e:
        raise WriteError(
            f"Keras could not save the model to {path!r} ({type(e).__name__}: {_first_line(e)}); "
            "the file there, if any, is unchanged; check that every custom layer and object "
            "has a working get_config"
        ) from e


def load_keras_model(
    path: str | os.PathLike[str],
    *,
    allow_modules: Iterable[str] = (),
    custom_objects: dict[str, Any] | None = None,
    compile: bool = True,
) -> Any:
    """Load a Keras model from a ``.keras`` or legacy ``.h5`` file, after auditing its config.

    The config is read as data and checked first
    (:func:`tfpersist.keras_audit.check_keras_file`): anything Keras would
    import or run that Keras does not ship raises
    :class:`~tfpersist.errors.UnsafeKerasConfigError`, listing every finding.
    *allow_modules* names the modules you trust (your own layers); pass
    their classes in *custom_objects*. Then Keras loads the file with
    ``safe_mode=True``. Both read one private copy of the file, so the file
    cannot change between the audit and the load. A file Keras cannot read (damaged, or naming a class
    it cannot find) raises :class:`~tfpersist.errors.KerasFileError` with
    what to do, the Keras error chained.

    >>> import numpy as np, tensorflow as tf
    >>> model = tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.Dense(2)])
    >>> _ = save_keras_model(model, "dense.keras")
    >>> loaded = load_keras_model("dense.keras")
    >>> x = np.ones((1, 3), np.float32)
    >>> np.array_equal(loaded(x).numpy(), model(x).numpy())
    True
    >>> with open("broken.keras", "wb") as f:
    ...     _ = f.write(b"not a zip")
    >>> load_keras_model("broken.keras")
    Traceback (most recent call last):
    ...
    tfpersist.errors.KerasFileError: ...broken.keras...
    """
    text = os.fspath(path)
    if not _fs.isfile(text):
        raise KerasFileError(f"{text!r}: no such file; pass a .keras or .h5 file")
    check_keras_file(text, allow_modules=allow_modules)  # before copying what is no model
    # Keras reads the very bytes audited: a private copy, so that nobody can
    # swap the file between the audit and the load.
    with tempfile.TemporaryDirectory(prefix="tfpersist-load-") as private:
        copy = os.path.join(private, os.path.basename(text.rstrip("/")) or "model.keras")
        try:
            _fs.copy(text, copy)
        except OSError as e:
            raise KerasFileError(f"{text!r} cannot be read ({e}); check the path") from e
        try:
            check_keras_file(copy, allow_modules=allow_modules)
        except UnsafeKerasConfigError as e:  # said of the caller's path, not the copy's
            raise UnsafeKerasConfigError(str(e).replace(copy, text), e.findings) from None
        except KerasFileError as e:
            raise KerasFileError(str(e).replace(copy, text)) from e.__cause__
        try:
            return load_keras_zip(copy, custom_objects, compile)
        except Exception as e:
            raise _load_error(text, e) from e


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _load_error(path: str, error: Exception) -> Exception:
    """The typed error for what Keras raised loading *path*."""
    said = _first_line(error)
    if "safe_mode" in str(error):
        return UnsafeKerasConfigError(
            f"Keras refused to load {path!r} in safe mode ({said}); tfpersist never turns "
            "safe mode off: build the model in code and load only its weights"
        )
    if "No model config" in str(error):
        return KerasFileError(
            f"{path!r} holds weights only, no model config: build the model in code and "
            "call model.load_weights on it"
        )
    if any(phrase in str(error) for phrase in _UNKNOWN_CLASS):
        return KerasFileError(
            f"Keras cannot build the model in {path!r} ({type(error).__name__}: {said}); "
            "pass each custom class in custom_objects, and its module in allow_modules"
        )
    return KerasFileError(
        f"Keras cannot load {path!r} ({type(error).__name__}: {said}); the file is damaged "
        "or not a Keras model file: save the model again (save_keras_model writes .keras "
        "files whole or not at all)"
    )
