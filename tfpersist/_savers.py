"""How a ``Saver`` names what it saves, and one saver per graph and list of variables.

Saving and restoring share these, so a graph saved and restored in a loop
gets one saver, and no new ops on each call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tfpersist._tf import tf

#: The attribute of a graph that keeps the savers tfpersist made for it, per
#: set of variables, so that saving or restoring in a loop adds no ops.
_SAVERS = "_tfpersist_savers"


def variable_names(var_list: Mapping[str, Any] | Sequence[Any]) -> dict[str, Any]:
    """Map checkpoint names to variables, as ``tf.compat.v1.train.Saver`` does.

    A dict is taken as it is; a list is keyed by each variable's op name. The
    parts of a partitioned variable (``name/part_0``, ...) hold slices of one
    checkpoint value: they are listed together under the full name. A
    saveable object (a lookup table's, in the graph's ``SAVEABLE_OBJECTS``
    collection) is listed under the names of its values, as ``Saver`` does,
    whatever key a dict gives it.

    >>> import tensorflow as tf
    >>> with tf.Graph().as_default():
    ...     v = tf.Variable(1.0, name="layer/w")
    ...     p = tf.compat.v1.get_variable(
    ...         "p", [6], partitioner=tf.compat.v1.fixed_size_partitioner(3))
    ...     names = variable_names([v, *p])
    ...     sorted(names), [part.op.name for part in names["p"]]
    (['layer/w', 'p'], ['p/part_0', 'p/part_1', 'p/part_2'])
    """
    names: dict[str, Any] = {}
    pairs = var_list.items() if isinstance(var_list, Mapping) else ((None, v) for v in var_list)
    for key, var in pairs:
        parts = parts_of(var)
        if is_saveable(var):
            names.update((spec.name, Saveable(var, spec)) for spec in var.specs)
        elif key is not None:
            names[key] = parts or var
        elif parts:
            names.setdefault(parts[0]._save_slice_info.full_name, []).extend(parts)
        else:
            names[var.op.name] = var
    return names


def is_saveable(obj: Any) -> bool:
    """Whether *obj* is a ``SaveableObject``: values a ``Saver`` saves and restores by its specs."""
    return hasattr(obj, "specs") and hasattr(obj, "restore") and not is_variable(obj)


def default_list(graph: tf.Graph) -> list[Any]:
    """What ``Saver()`` saves: the global variables and the ``SAVEABLE_OBJECTS`` collection."""
    keys = tf.compat.v1.GraphKeys
    return [
        *graph.get_collection(keys.GLOBAL_VARIABLES),
        *graph.get_collection(keys.SAVEABLE_OBJECTS),
    ]


def parts_of(var: Any) -> list[Any] | None:
    """The slices of a partitioned variable (a list, a ``PartitionedVariable``, a part), or None."""
    if isinstance(var, list | tuple):
        return list(var)
    if hasattr(var, "_get_variable_list"):  # PartitionedVariable has no public class
        return list(var._get_variable_list())
    if getattr(var, "_save_slice_info", None) is not None:
        return [var]
    return None


class Declared:
    """What a saver's restore op assigns a checkpoint value to: a shape and a dtype."""

    def __init__(self, shape: Any, dtype: Any) -> None:
        self.shape, self.dtype = tf.TensorShape(shape), tf.as_dtype(dtype)


class Saveable(Declared):
    """One value of a saveable object (a table's keys, say): TensorFlow's saver restores it."""

    def __init__(self, saveable: Any, spec: Any) -> None:
        super().__init__(spec_shape(spec.slice_spec), spec.dtype)
        self.saveable = saveable


def spec_shape(spec: str) -> list[int] | None:
    """The full shape a slice spec ("DIM0 DIM1 SLICE") gives; None for a whole value."""
    return [int(d) for d in spec.split()[:-1]] if spec else None


def saver_for(
    graph: tf.Graph,
    var_list: Mapping[str, Any] | Sequence[Any] | None = None,
    *,
    max_to_keep: int = 5,
) -> tf.compat.v1.train.Saver:
    """A saver over *var_list* (as ``Saver`` takes it), made once per graph.

    Each ``Saver`` adds save and restore ops to the graph, so one made on
    every call grows the graph in a loop; this returns the same saver for the
    same variables, however they are listed (``None`` means what ``Saver()``
    takes: every global variable and saveable object), partitioned variables
    included. Savers over other objects are made anew. The saver stores
    relative paths in the state file.

    >>> import tensorflow as tf
    >>> with tf.Graph().as_default() as graph:
    ...     v = tf.Variable(1.0, name="v")
    ...     saver_for(graph) is saver_for(graph, {"v": v}) is saver_for(graph, [v])
    True
    """
    variables = _saver_entries(graph, var_list)
    if variables is None:
        with graph.as_default():
            return tf.compat.v1.train.Saver(
                var_list=var_list, max_to_keep=max_to_keep, save_relative_paths=True
            )
    key = (max_to_keep, *sorted((name, _op_names(var)) for name, var in variables.items()))
    # Kept on the graph, so the savers die with it (a saver refers to its graph).
    savers = getattr(graph, _SAVERS, None)
    if savers is None:
        savers = {}
        setattr(graph, _SAVERS, savers)
    if key not in savers:
        with graph.as_default():
            savers[key] = tf.compat.v1.train.Saver(
                var_list=_saver_list(variables), max_to_keep=max_to_keep, save_relative_paths=True
            )
    return savers[key]


def _op_names(var: Any) -> tuple[str, ...]:
    if isinstance(var, Saveable):  # the saver keeps the object alive, so its id stays its own
        return (f"saveable {id(var.saveable)}",)
    return tuple(v.name for v in var) if isinstance(var, list) else (var.name,)


def _saver_entries(
    graph: tf.Graph, var_list: Mapping[str, Any] | Sequence[Any] | None
) -> dict[str, Any] | None:
    """*var_list* by checkpoint name, or None if it holds more than variables and saveables."""
    listed = default_list(graph) if var_list is None else var_list
    items = listed.values() if isinstance(listed, Mapping) else listed
    if all(
        isinstance(var, Saveable)
        or is_saveable(var)
        or all(isinstance(v, tf.Variable) for v in parts_of(var) or [var])
        for var in items
    ):
        return variable_names(listed)
    return None


def _saver_list(variables: Mapping[str, Any]) -> dict[str, Any]:
    """A ``Saver``'s var_list for :func:`variable_names`' map: each saveable object once."""
    out: dict[str, Any] = {}
    seen: set[int] = set()
    for name, var in variables.items():
        if not isinstance(var, Saveable):
            out[name] = var
        elif id(var.saveable) not in seen:
            seen.add(id(var.saveable))
            key = var.saveable.name  # Saver names its values by their specs, not by this key
            while key in variables or key in out:
                key += "'"
            out[key] = var.saveable
    return out


def is_variable(obj: Any) -> bool:
    return isinstance(obj, tf.Variable) or (
        hasattr(obj, "assign") and hasattr(obj, "shape") and hasattr(obj, "dtype")
    )
