"""Keras 2 and Keras 3 weights: a checkpoint written under one, restored under the other.

TensorFlow 2.16 replaced Keras 2 with Keras 3, which names the objects in a
checkpoint differently: a model's first layer with weights is
``layer_with_weights-0/kernel`` under Keras 2 and ``_operations/1/_kernel``
under Keras 3. ``tf.train.Checkpoint.restore`` matches by those names, so a
checkpoint written on 2.15 restores nothing into the same model on 2.16,
and :func:`~tfpersist.restoring.restore_checkpoint` refuses it, listing
every unmatched variable. The weights are all there, in the same layer
order, so :func:`restore_keras_weights` maps them layer by layer, in either
direction:

>>> import numpy as np, tensorflow as tf
>>> from tfpersist import keras_weights
>>> def build():
...     return tf.keras.Sequential(
...         [tf.keras.Input((3,)), tf.keras.layers.Dense(2), tf.keras.layers.BatchNormalization()]
...     )
>>> tf.keras.utils.set_random_seed(0)
>>> trained = build()
>>> prefix = tf.train.Checkpoint(model=trained).write("keras/ckpt")
>>> fresh = build()
>>> pairs = keras_weights.restore_keras_weights(fresh, prefix)
>>> len(pairs)
6
>>> x = np.ones((1, 3), np.float32)
>>> np.array_equal(fresh(x).numpy(), trained(x).numpy())
True

Here writer and reader are the same release; the test matrix runs the same
call on a checkpoint written by TensorFlow 2.15 and read by 2.21.
"""

from __future__ import annotations

import os
import re
from typing import Any

from tfpersist._layout import VARIABLE_VALUE, resolve_prefix
from tfpersist.bundle import load_checkpoint
from tfpersist.errors import Mismatch, VariableMismatchError

__all__ = ["restore_keras_weights"]

# A layer in an object-based checkpoint: Keras 2 numbers the layers that have
# weights, Keras 3 numbers every operation (the input layer is 0), and keeps a
# Sequential model's layers in its inner functional model.
_LAYER = re.compile(
    r"^(?:_functional/)?(layer_with_weights-|_operations/|_layers/)(\d+)/([^/]+)"
    + re.escape(VARIABLE_VALUE)
    + "$"
)


def _canonical(name: str) -> str:
    """A weight's name as both Keras versions agree on it: ``_kernel`` and ``depthwise_kernel`` are ``kernel``."""
    name = name.split("/")[-1].split(":")[0].lstrip("_")
    return name.removeprefix("depthwise_") if name == "depthwise_kernel" else name


def _checkpoint_layers(names: list[str], root: str) -> list[dict[str, str]]:
    """The weighted layers under *root* in a checkpoint, in order: canonical name -> key."""
    layers: dict[int, dict[str, str]] = {}
    families = set()
    for key in names:
        if not key.startswith(root + "/"):
            continue
        found = _LAYER.match(key[len(root) + 1 :])
        if found:
            families.add(found.group(1))
            layers.setdefault(int(found.group(2)), {})[_canonical(found.group(3))] = key
    if len(families) > 1:
        raise ValueError(f"layers are numbered in more than one way: {sorted(families)}")
    return [layers[i] for i in sorted(layers)]


def restore_keras_weights(
    model: Any, path: str | os.PathLike[str], *, root: str = "model"
) -> list[tuple[str, str]]:
    """Restore *model*'s weights from a checkpoint written by either Keras version.

    The checkpoint is one written by ``tf.train.Checkpoint(model=...)``
    (*root* is the attribute the model was saved under), under Keras 2
    (TensorFlow 2.15 and earlier) or Keras 3 (2.16 and later). Layers are
    matched in order, the n-th layer with weights in the checkpoint to the
    n-th in the model, and their weights by name. Everything is checked
    before anything is assigned: a different number of layers, a weight
    missing on either side, or another shape raises
    :class:`~tfpersist.errors.VariableMismatchError` listing every problem.
    Nested models and optimizer state are not mapped. Returns the pairs
    (checkpoint key, weight path) assigned.

    >>> import tensorflow as tf
    >>> model = tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.Dense(2)])
    >>> prefix = tf.train.Checkpoint(model=model).write("m/ckpt")
    >>> wider = tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.Dense(4)])
    >>> restore_keras_weights(wider, prefix)
    Traceback (most recent call last):
    ...
    tfpersist.errors.VariableMismatchError: variables do not match checkpoint 'm/ckpt' (2 problems):
      ...dense.../bias: shape [4] expected, checkpoint has [2]
      ...dense.../kernel: shape [3, 4] expected, checkpoint has [3, 2]
    Fix the names or shapes, pass a name map, or ask for a partial restore.
    """
    prefix = resolve_prefix(path)
    with load_checkpoint(prefix) as reader:
        shapes = reader.get_variable_to_shape_map()
        try:
            saved = _checkpoint_layers(sorted(shapes), root)
        except ValueError as e:
            raise VariableMismatchError(
                prefix, [Mismatch("unexpected", root, hint=f": {e}")]
            ) from e
        layers = [layer for layer in model.layers if layer.weights]
        problems: list[Mismatch] = []
        for layer in layers[len(saved) :]:  # more layers in the model than in the checkpoint
            problems += [Mismatch("missing", _weight_path(w)) for w in layer.weights]
        for keys in saved[len(layers) :]:
            problems += [Mismatch("unexpected", key) for key in keys.values()]
        pairs: list[tuple[str, Any]] = []
        for layer, keys in zip(layers, saved, strict=False):
            weights = {_canonical(w.name): w for w in layer.weights}
            for name in sorted(weights.keys() - keys.keys()):
                problems.append(Mismatch("missing", _weight_path(weights[name])))
            for name in sorted(keys.keys() - weights.keys()):
                problems.append(Mismatch("unexpected", keys[name]))
            for name in sorted(weights.keys() & keys.keys()):
                want, have = list(weights[name].shape), shapes[keys[name]]
                if want != have:
                    problems.append(
                        Mismatch("shape", _weight_path(weights[name]), str(want), str(have))
                    )
                pairs.append((keys[name], weights[name]))
        if problems:
            raise VariableMismatchError(prefix, problems)
        for key, weight in pairs:
            weight.assign(reader.get_tensor(key, mapped=False))
    return [(key, _weight_path(weight)) for key, weight in pairs]


def _weight_path(weight: Any) -> str:
    """``dense/kernel``: Keras 3's ``path``, or Keras 2's name without ``:0``."""
    return getattr(weight, "path", weight.name.split(":")[0])
