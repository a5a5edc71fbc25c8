"""Keras 2 and Keras 3 weights: a checkpoint or a Keras file written under one, restored under the other.

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

.. rubric:: Keras files

Keras also saves weights to files of its own, read here with
:mod:`tfpersist.keras_files` (no TensorFlow needed to read them):

``.weights.h5`` (``model.save_weights``)
    One HDF5 group per layer, named after the layer's class and its rank
    among the layers of that class (``layers/dense_1/vars/0``), holding the
    layer's own variables by number. Keras 2.13 and later, and Keras 3,
    agree on this layout. Keras 2.12 wrote the same groups under
    ``_layer_checkpoint_dependencies/``, numbering each layer with weights
    twice (its second ``Dense`` is ``dense_2``). Keras 2.15 does not read
    it, Keras 3 only while no two layers share a class, and 2.12 reads
    neither of theirs.
``.keras`` (``model.save``)
    A zip holding ``config.json`` and a ``model.weights.h5`` of the layout
    above. Keras 2.12 writes HDF5 under that name unless asked for
    ``save_format="keras_v3"``.
Legacy ``.h5`` (``model.save("m.h5")``, or Keras 2's ``save_weights("m.h5")``)
    Layers listed in order (``layer_names``), each with its weights' names
    (``weight_names``), a nested model's weights flattened into one list,
    trainable ones first.

Given such a file, :func:`restore_keras_weights` maps it the way Keras
itself would read that layout: a ``.weights.h5`` by the layers' group names
and each layer's weights by number, a legacy ``.h5`` by the order of the
layers with weights and their weights by name (by number where names
repeat), a checkpoint by the order of the layers with weights and their
weights by name. Nested Sequential and functional models are followed
layer by layer; the optimizer's and the metrics' variables that a file of
a compiled model holds (its ``optimizer`` and ``metrics`` groups, or a
checkpoint's ``optimizer`` and slot variables) are left out, as
``load_weights`` leaves them out of the model's weights. Every layer and
weight is checked first: a layer missing or left over, a weight missing or
left over, another shape or another dtype, and one
:class:`~tfpersist.errors.VariableMismatchError` lists them all before
anything is assigned. :func:`convert_keras_weights` then writes what was
read as a ``.weights.h5`` of the running Keras or as a checkpoint, so a
file of one Keras becomes a file of the other:

>>> trained.save_weights("trained.weights.h5")
>>> fresh = build()
>>> len(keras_weights.restore_keras_weights(fresh, "trained.weights.h5"))
6
>>> np.array_equal(fresh(x).numpy(), trained(x).numpy())
True
>>> keras_weights.convert_keras_weights(build(), "trained.weights.h5", "converted/ckpt")
'converted/ckpt'
>>> again = build()
>>> _ = tf.train.Checkpoint(model=again).read("converted/ckpt").assert_existing_objects_matched()
>>> np.array_equal(again(x).numpy(), trained(x).numpy())
True
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field
from typing import Any

from tfpersist._layout import OBJECT_GRAPH_KEY, VARIABLE_VALUE, resolve_prefix
from tfpersist.bundle import load_checkpoint
from tfpersist.errors import (
    CheckpointNotFoundError,
    ExportError,
    Mismatch,
    VariableMismatchError,
    WriteError,
)
from tfpersist.keras_files import KERAS_SUFFIXES

__all__ = ["convert_keras_weights", "restore_keras_weights"]

# One level of layers in an object-based checkpoint: Keras 2 numbers the
# layers that have weights, Keras 3 numbers every operation (the input layer
# is 0), and keeps a Sequential model's layers in its inner functional model.
_LEVEL = re.compile(r"(?:_functional/)?(layer_with_weights-|_operations/|_layers/)(\d+)/")

# The groups that hold a Sequential or functional model's layers in a
# ``.weights.h5``: Keras 2.13 and later, Keras 3; Keras 2.12.
_LAYERS = "layers"
_LAYERS_2_12 = "_layer_checkpoint_dependencies"


def _canonical(name: str) -> str:
    """A weight's name as both Keras versions agree on it: ``_kernel`` and ``depthwise_kernel`` are ``kernel``."""
    name = name.split("/")[-1].split(":")[0].lstrip("_")
    return name.removeprefix("depthwise_") if name == "depthwise_kernel" else name


def _weight_path(weight: Any) -> str:
    """``dense/kernel``: Keras 3's ``path``, or Keras 2's name without ``:0``."""
    return getattr(weight, "path", weight.name.split(":")[0])


def _dtype_name(dtype: Any) -> str:
    """``float32`` for a NumPy dtype, a ``tf.DType`` or Keras 3's dtype string."""
    return str(getattr(dtype, "name", dtype))


@dataclass
class _Saved:
    """One layer (or model) as a checkpoint or file stores it."""

    where: str
    weights: list[tuple[str | None, str]] = field(default_factory=list)  # (name or None, key)
    children: dict[Any, _Saved] = field(default_factory=dict)  # by number or group name
    stray: list[str] = field(default_factory=list)  # keys of inner objects no layer takes

    def all_keys(self) -> list[str]:
        """Every key under this layer, its inner layers' included."""
        found = [key for _, key in self.weights] + self.stray
        for child in self.children.values():
            found += child.all_keys()
        return found


@dataclass
class _Target:
    """One layer (or model) of the model restored into, as the source's layout sees it."""

    where: str
    weights: list[Any]
    # Each inner layer with the keys the source may store it under, the likeliest first.
    children: list[tuple[tuple[Hashable, ...], _Target]] = field(default_factory=list)
    # Weights of the layer's own inner layers, which the source's layout cannot place.
    inner: list[Any] = field(default_factory=list)

    def all_weights(self) -> list[Any]:
        found = self.weights + self.inner
        for _, child in self.children:
            found += child.all_weights()
        return found


@dataclass
class _Source:
    """What a restore reads: its layers, each key's shape and dtype, and how to read a value."""

    where: str
    layout: str  # "checkpoint", "h5" (legacy), _LAYERS or _LAYERS_2_12
    tree: _Saved
    shapes: dict[str, list[int]]
    dtypes: dict[str, str]
    read: Callable[[str], Any]


def _held_keys(reader: Any) -> dict[str, str]:
    """Each variable's key as the layer holding it would give it, mapped to its checkpoint key.

    TensorFlow keys a variable by the first path that reaches it. A trained
    Keras 3 model's optimizer lists the trainable variables, so its
    checkpoint keys a kernel ``model/optimizer/_trainable_variables/0`` rather
    than ``model/_operations/1/_kernel``; the object graph has both edges.
    """
    if OBJECT_GRAPH_KEY not in reader.get_variable_to_shape_map():
        return {}
    from tfpersist._tf import TrackableObjectGraph

    graph = TrackableObjectGraph()
    graph.ParseFromString(reader.get_tensor(OBJECT_GRAPH_KEY).item())
    paths, order = {0: ""}, [0]
    for i in order:  # breadth first, as TensorFlow names the objects
        for ref in graph.nodes[i].children:
            if ref.node_id not in paths and 0 <= ref.node_id < len(graph.nodes):
                paths[ref.node_id] = f"{paths[i]}/{ref.local_name}".lstrip("/")
                order.append(ref.node_id)
    held: dict[str, str] = {}
    for i in order:
        for ref in graph.nodes[i].children:
            if not 0 <= ref.node_id < len(graph.nodes):
                continue
            for attr in graph.nodes[ref.node_id].attributes:
                if attr.name == "VARIABLE_VALUE":
                    path = f"{paths[i]}/{ref.local_name}".lstrip("/") + VARIABLE_VALUE
                    held.setdefault(path, attr.checkpoint_key)
    return held


def _checkpoint_tree(names: list[str], root: str, held: dict[str, str] | None = None) -> _Saved:
    """The layers with weights under *root* in a checkpoint, numbered from 0 at each level.

    *held* adds the keys of :func:`_held_keys` for variables that TensorFlow
    keyed outside every layer.
    """
    tree = _Saved(root)
    families = set()
    outside = [p for p, key in (held or {}).items() if not _in_layer(key, root)]
    real = {p: (held or {})[p] for p in outside}
    for key in [*names, *sorted(outside)]:
        if key in real and key in names:
            continue
        if not key.startswith(root + "/") or not key.endswith(VARIABLE_VALUE):
            continue
        rest = key[len(root) + 1 : -len(VARIABLE_VALUE)]
        node, where = tree, root
        while found := _LEVEL.match(rest):
            families.add(found.group(1))
            where += "/" + found.group(0).rstrip("/")
            node = node.children.setdefault(int(found.group(2)), _Saved(where))
            rest = rest[found.end() :]
        if node is tree:
            continue  # not a layer's: the optimizer, a counter
        if "/" in rest:
            node.stray.append(real.get(key, key))  # a variable of an object inside the layer
        else:
            node.weights.append((_canonical(rest), real.get(key, key)))
    if len(families) > 1:
        raise ValueError(f"layers are numbered in more than one way: {sorted(families)}")
    return _renumbered(tree)


def _in_layer(key: str, root: str) -> bool:
    """Whether checkpoint *key* sits under a layer of *root*."""
    return key.startswith(root + "/") and _LEVEL.match(key[len(root) + 1 :]) is not None


def _renumbered(node: _Saved) -> _Saved:
    """*node* with its children numbered 0, 1, ... in the order of their numbers."""
    node.children = {
        i: _renumbered(node.children[number]) for i, number in enumerate(sorted(node.children))
    }
    return node


def _named_tree(names: list[str], container: str) -> _Saved:
    """The layers of a ``.weights.h5``: groups ``CONTAINER/NAME``, each with ``vars/0``, ``vars/1``, ..."""
    tree = _Saved("")
    for key in names:
        parts = key.split("/")
        node, i = tree, 0
        while len(parts) - i > 2 and parts[i] == container:
            node = node.children.setdefault(parts[i + 1], _Saved("/".join(parts[: i + 2])))
            i += 2
        if len(parts) - i == 2 and parts[i] == "vars" and parts[i + 1].isdigit():
            node.weights.append((None, key))
        elif node is not tree:
            node.stray.append(key)
        # else a group beside the layers: the optimizer's, the metrics'
    _sort_vars(tree)
    return tree


def _sort_vars(node: _Saved) -> None:
    node.weights.sort(key=lambda weight: int(weight[1].rsplit("/", 1)[1]))
    for child in node.children.values():
        _sort_vars(child)


def _legacy_tree(layers: list[tuple[str, list[str]]]) -> _Saved:
    """The layers of a legacy ``.h5`` that have weights, numbered in order, their weights named.

    The model's own weights (``top_level_model_weights``) are the root's;
    the optimizer's (``optimizer_weights``) are left out.
    """
    tree = _Saved("")
    for group, names in layers:
        weights: list[tuple[str | None, str]] = [(_canonical(name), name) for name in names]
        if group.split("/")[-1] == "top_level_model_weights":
            tree.weights = weights
        elif group != "optimizer_weights" and names:
            tree.children[len(tree.children)] = _Saved(group, weights)
    return tree


@contextlib.contextmanager
def _open(path: str | os.PathLike[str], root: str) -> Iterator[_Source]:
    """Read *path*, a Keras file or a checkpoint (prefix or directory)."""
    if os.path.isfile(path):
        from tfpersist import keras_files

        if keras_files.is_keras_file(path):
            with keras_files.KerasFile(path) as file:
                yield _file_source(file, os.fspath(path))
            return
    try:
        prefix = resolve_prefix(path)
    except CheckpointNotFoundError as e:
        if not (os.path.isfile(path) or os.fspath(path).lower().endswith(KERAS_SUFFIXES)):
            raise
        raise CheckpointNotFoundError(
            f"{os.fspath(path)!r} is no Keras file (.weights.h5, .keras, .h5) that tfpersist "
            f"can find and read, and no checkpoint: {e}"
        ) from e
    with load_checkpoint(prefix) as reader:
        shapes = reader.get_variable_to_shape_map()
        dtypes = {key: _dtype_name(d) for key, d in reader.get_variable_to_dtype_map().items()}
        try:
            tree = _checkpoint_tree(sorted(shapes), root, _held_keys(reader))
        except ValueError as e:
            raise VariableMismatchError(
                prefix, [Mismatch("unexpected", root, hint=f": {e}")]
            ) from e
        yield _Source(
            prefix, "checkpoint", tree, shapes, dtypes, lambda k: reader.get_tensor(k, mapped=False)
        )


def _file_source(file: Any, path: str) -> _Source:
    """*file*, a :class:`~tfpersist.keras_files.KerasFile`, as a source of weights."""
    variables = file.variables()
    shapes = {name: list(shape) for name, _, shape, _ in variables}
    dtypes = {name: _dtype_name(dtype) for name, dtype, _, _ in variables}
    if file.layout == "legacy":
        tree = _legacy_tree(file.layer_weights())
        return _Source(path, "h5", tree, shapes, dtypes, file.get_tensor)
    container = _LAYERS_2_12 if file.layout == "keras2.12" else _LAYERS
    tree = _named_tree(sorted(shapes), container)
    return _Source(path, container, tree, shapes, dtypes, file.get_tensor)


def _ordered_targets(model: Any, nested: bool) -> _Target:
    """The layers of *model* with weights, numbered in order, for a checkpoint or a legacy ``.h5``.

    A checkpoint (*nested*) keeps an inner Sequential or functional model's
    layers apart, each with its weights by name; a legacy ``.h5`` keeps each
    layer's weights in one list, trainable ones first, inner models' too.
    """
    from tfpersist._tf import is_keras_layer_graph, keras_own_weights

    own = [] if nested else keras_own_weights(model)  # a checkpoint's are not a layer's
    node = _Target(getattr(model, "name", ""), own)
    for i, layer in enumerate(layer for layer in model.layers if layer.weights):
        if nested and is_keras_layer_graph(layer):
            child = _ordered_targets(layer, nested)
        elif nested:
            child = _Target(layer.name, list(layer.weights))
        else:
            child = _Target(layer.name, [*layer.trainable_weights, *layer.non_trainable_weights])
        node.children.append(((i,), child))
    return node


def _snake_keras_3(name: str) -> str:
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _snake_keras_2(name: str) -> str:
    name = re.sub("(.)([A-Z][a-z0-9]+)", r"\1_\2", name)
    name = re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()
    return name if not name.startswith("_") else "private" + name


def _unique(name: str, used: dict[str, int]) -> str:
    """Keras's ``dense``, ``dense_1``, ``dense_2``: the rank among names of the same class."""
    if name in used:
        used[name] += 1
        return f"{name}_{used[name]}"
    used[name] = 0
    return name


def _named_targets(layer: Any, container: str, where: str) -> _Target:
    """*layer* as a ``.weights.h5`` stores it: its own weights, and its layers if it is a model."""
    from tfpersist._tf import is_keras_layer_graph, keras_own_weights

    own = keras_own_weights(layer)
    node = _Target(where, own)
    if is_keras_layer_graph(layer):
        used: tuple[dict[str, int], dict[str, int]] = ({}, {})  # Keras 3's names, Keras 2's
        for inner in layer.layers:
            keys = []
            for snake, names in zip((_snake_keras_3, _snake_keras_2), used, strict=True):
                keys.append(_unique(snake(type(inner).__name__), names))
                if container == _LAYERS_2_12 and inner.weights:
                    # 2.12 met it twice: as layer_with_weights-N, then as layer-M
                    _unique(snake(type(inner).__name__), names)
            if inner.weights:
                group = f"{where}/{container}/{keys[0]}".lstrip("/")
                node.children.append(
                    (tuple(dict.fromkeys(keys)), _named_targets(inner, container, group))
                )
    else:
        mine = {id(weight) for weight in own}
        node.inner = [weight for weight in layer.weights if id(weight) not in mine]
    return node


def _targets(model: Any, layout: str) -> _Target:
    if layout == "checkpoint":
        return _ordered_targets(model, nested=True)
    if layout == "h5":
        return _ordered_targets(model, nested=False)
    return _named_targets(model, layout, "")


def _distinct(names: list[Any]) -> bool:
    return None not in names and len(set(names)) == len(names)


def _plan(
    target: _Target, saved: _Saved, source: _Source, problems: list[Mismatch]
) -> list[tuple[str, Any]]:
    """Pair *target*'s weights with *saved*'s keys, layer by layer; add each problem to *problems*."""
    pairs: list[tuple[str, Any]] = []
    names = [_canonical(w.name) for w in target.weights]
    saved_names = [name for name, _ in saved.weights]
    if _distinct(saved_names) and _distinct(names):  # by name
        by_name = dict(saved.weights)
        keys: list[str | None] = [by_name.get(name) for name in names]
        left = [key for name, key in saved.weights if name not in set(names)]
    else:  # by number
        keys = [key for _, key in saved.weights[: len(names)]]
        keys += [None] * (len(names) - len(keys))
        left = [key for _, key in saved.weights[len(names) :]]
    for weight, key in zip(target.weights, keys, strict=True):
        path = _weight_path(weight)
        if key is None:
            problems.append(Mismatch("missing", path, hint=_where(saved)))
            continue
        want, have = [int(d) for d in weight.shape], source.shapes[key]
        if want != have:
            problems.append(Mismatch("shape", path, str(want), f"{have} at {key!r}"))
        dtype = _dtype_name(weight.dtype)
        if dtype != source.dtypes[key]:
            problems.append(Mismatch("dtype", path, dtype, f"{source.dtypes[key]} at {key!r}"))
        pairs.append((key, weight))
    problems += [Mismatch("unexpected", key) for key in left + saved.stray]
    problems += [
        Mismatch("missing", _weight_path(weight), hint=_INNER.format(target.where))
        for weight in target.inner
    ]
    counts = ""
    if source.layout in ("checkpoint", "h5") and len(target.children) != len(saved.children):
        at = f" in {saved.where!r}" if saved.where and saved.where != source.where else ""
        counts = (
            f" (the model has {len(target.children)} layers with weights{at}, "
            f"the source {len(saved.children)})"
        )
    claimed = set()
    for candidates, child in target.children:
        found = next((k for k in candidates if k in saved.children and k not in claimed), None)
        if found is None:
            group = "/".join(filter(None, [saved.where, source.layout, str(candidates[0])]))
            hint = counts or f" (no group {group!r})"
            problems += [
                Mismatch("missing", _weight_path(w), hint=hint) for w in child.all_weights()
            ]
            continue
        claimed.add(found)
        pairs += _plan(child, saved.children[found], source, problems)
    for name, node in saved.children.items():
        if name not in claimed:
            problems += [Mismatch("unexpected", key, hint=counts) for key in node.all_keys()]
    return pairs


_INNER = (
    " (held by an inner layer of {!r}; only Sequential and functional models are followed "
    "into their layers: restore this layer with Keras)"
)


def _where(saved: _Saved) -> str:
    return f" (not among the weights of {saved.where!r})" if saved.where else ""


def restore_keras_weights(
    model: Any, source: str | os.PathLike[str], *, root: str = "model"
) -> list[tuple[str, str]]:
    """Restore *model*'s weights from a checkpoint or Keras file written by any Keras version.

    *source* is one of:

    - a checkpoint written by ``tf.train.Checkpoint(model=...)`` (its
      prefix, or its directory for the latest one; *root* is the attribute
      the model was saved under), under Keras 2 (TensorFlow 2.15 and
      earlier) or Keras 3 (2.16 and later). Layers with weights are paired
      in order, the n-th in the checkpoint with the n-th in the model, and
      their weights by name;
    - a ``.weights.h5`` file, or a ``.keras`` zip, of Keras 2.12 to 3.x.
      Layers are paired by the group names Keras gives them, their weights
      by number;
    - a legacy ``.h5`` file (``model.save("m.h5")``, Keras 2's
      ``save_weights("m.h5")``). Layers with weights are paired in order,
      their weights by name, or by number where names repeat.

    Inner Sequential and functional models are followed layer by layer.
    Everything is checked before anything is assigned: a different number
    of layers, a weight missing on either side, another shape or another
    dtype raises :class:`~tfpersist.errors.VariableMismatchError` listing
    every problem, and the model is left as it was. The optimizer's
    variables are not restored. Returns the pairs (key in *source*, weight
    path) assigned.

    >>> import tensorflow as tf
    >>> model = tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.Dense(2)])
    >>> prefix = tf.train.Checkpoint(model=model).write("m/ckpt")
    >>> wider = tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.Dense(4)])
    >>> restore_keras_weights(wider, prefix)
    Traceback (most recent call last):
    ...
    tfpersist.errors.VariableMismatchError: variables do not match checkpoint 'm/ckpt' (2 problems):
      ...dense.../kernel: shape [3, 4] expected, checkpoint has [3, 2] at '...'
      ...dense.../bias: shape [4] expected, checkpoint has [2] at '...'
    Fix the names or shapes, pass a name map, or ask for a partial restore.
    >>> model.save_weights("m.weights.h5")
    >>> pairs = restore_keras_weights(model, "m.weights.h5")
    >>> [key.partition("/")[2] for key, _ in pairs]  # under layers/ (Keras 2.12: another name)
    ['dense/vars/0', 'dense/vars/1']
    """
    with _open(source, root) as opened:
        target = _targets(model, opened.layout)
        problems: list[Mismatch] = []
        pairs = _plan(target, opened.tree, opened, problems)
        if problems:
            raise VariableMismatchError(opened.where, problems)
        values = [(weight, opened.read(key)) for key, weight in pairs]  # every read can fail first
        for weight, value in values:
            weight.assign(value)
    return [(key, _weight_path(weight)) for key, weight in pairs]


def convert_keras_weights(
    model: Any, source: str | os.PathLike[str], out: str | os.PathLike[str], *, root: str = "model"
) -> str:
    """Restore *source* into *model* as :func:`restore_keras_weights` does, then write it to *out*.

    *out* ending in ``.weights.h5`` is written by the running Keras's
    ``model.save_weights``, in its own layout; any other *out* is a
    checkpoint prefix, written in the layout of
    ``tf.train.Checkpoint(model=model)`` (*root* names the attribute).
    So a file or checkpoint of one Keras becomes one of the running Keras.
    Either appears whole or not at all: Keras writes the file into a
    scratch directory beside *out*, from which it is copied to a temporary
    name, fsynced and renamed over *out*; the checkpoint's tensors, gathered
    by TensorFlow, are written by :class:`~tfpersist.bundle.BundleWriter`,
    which moves its ``.data`` and ``.index`` into place only once they are
    complete, under the directory's lock, as
    :func:`~tfpersist.saving.save_checkpoint` writes them. A process killed
    while writing a ``.weights.h5`` leaves its scratch directory
    (``.tfpersist-keras-*``) and temporary file beside *out*: delete them.
    A refused restore writes nothing. Returns *out*. A legacy ``.h5`` or a ``.keras`` file is
    not written: Keras 3 saves weights alone only as ``.weights.h5``.

    >>> import tensorflow as tf
    >>> model = tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.Dense(2)])
    >>> model.save_weights("old.weights.h5")
    >>> convert_keras_weights(model, "old.weights.h5", "new/ckpt")
    'new/ckpt'
    >>> convert_keras_weights(model, "new/ckpt", "new.weights.h5")
    'new.weights.h5'
    >>> convert_keras_weights(model, "new/ckpt", "new.h5")
    Traceback (most recent call last):
    ...
    tfpersist.errors.ExportError: cannot write 'new.h5': ...
    """
    out = os.fspath(out)
    if not out.endswith(".weights.h5") and out.lower().endswith(KERAS_SUFFIXES):
        raise ExportError(
            f"cannot write {out!r}: tfpersist writes weights as a .weights.h5 file or as a "
            "checkpoint prefix; name the file 'NAME.weights.h5', or give a prefix such as "
            "'model/ckpt'"
        )
    restore_keras_weights(model, source, root=root)
    if out.endswith(".weights.h5"):
        return _write_weights_file(model, out)
    return _write_checkpoint(model, out, root)


def _write_weights_file(model: Any, out: str) -> str:
    """``model.save_weights`` to a temporary directory, then copied into place atomically."""
    from tfpersist._files import atomic_write

    parent = os.path.dirname(os.path.abspath(out))
    try:
        os.makedirs(parent, exist_ok=True)
        scratch = tempfile.TemporaryDirectory(prefix=".tfpersist-keras-", dir=parent)
    except OSError as e:
        raise WriteError(f"cannot write {out!r}: {e.strerror or e}") from e
    with scratch as tmp:
        written = os.path.join(tmp, "model.weights.h5")
        try:
            model.save_weights(written)
        except WriteError:
            raise
        except OSError as e:
            raise WriteError(
                f"cannot write {out!r}: {e.strerror or e}; nothing was replaced"
            ) from e
        with open(written, "rb") as f:
            atomic_write(out, lambda g: shutil.copyfileobj(f, g, 1 << 20))
    return out


def _write_checkpoint(model: Any, prefix: str, root: str) -> str:
    """Write ``tf.train.Checkpoint(root=model)`` at *prefix*, through the writer saving uses."""
    from tfpersist._files import write_error_reason
    from tfpersist._lock import locked
    from tfpersist._tf import tf, writing_saves
    from tfpersist.saving import _write_tensors

    checkpoint = tf.train.Checkpoint(**{root: model})
    directory = os.path.dirname(prefix) or "."
    try:
        with locked(directory), writing_saves(checkpoint, _write_tensors):
            checkpoint.write(prefix)
    except WriteError:
        raise
    except (tf.errors.OpError, OSError) as e:
        raise WriteError(
            f"cannot write checkpoint {prefix!r}: {write_error_reason(e)}; nothing was replaced"
        ) from e
    return prefix
