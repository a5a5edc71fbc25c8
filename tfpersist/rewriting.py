"""Writing a new checkpoint from an old one: renamed, pruned, or converted between TF1 and TF2.

Fine-tuning a pretrained network, moving a layer into a new scope, or
dropping an optimizer's state all come down to the same job: read every
tensor of a checkpoint, change some names, and write a new checkpoint. In
TF1 style that job is a throwaway script with a ``Saver`` and a name map (see
:mod:`tfpersist.partial`). :func:`rename_checkpoint` does it in one call. The
source is only read, and the new checkpoint appears whole or not at all.

A TF2 object-based checkpoint also carries an object graph
(``_CHECKPOINTABLE_OBJECT_GRAPH``) that records which key belongs to which
object. When keys are renamed or dropped, the object graph is updated to
match, so ``tf.train.Checkpoint`` can still restore the result.

>>> import tensorflow as tf
>>> from tfpersist import rewriting
>>> with tf.Graph().as_default() as graph:
...     w = tf.Variable(tf.ones([2, 2]), name="dense/kernel")
...     b = tf.Variable(tf.zeros([2]), name="dense/bias")
...     step = tf.Variable(100, name="global_step")
...     with tf.compat.v1.Session(graph=graph) as sess:
...         sess.run(tf.compat.v1.global_variables_initializer())
...         _ = tf.compat.v1.train.Saver().save(sess, "model/model.ckpt")
>>> plan = rewriting.rename_checkpoint(
...     "model/model.ckpt", "renamed/model.ckpt",
...     mapping={"dense": "encoder/dense"}, drop=["global_step"])
>>> print(plan)
model/model.ckpt -> renamed/model.ckpt
  dense/bias -> encoder/dense/bias
  dense/kernel -> encoder/dense/kernel
  dropped global_step
>>> tf.train.list_variables("renamed/model.ckpt")
[('encoder/dense/bias', [2]), ('encoder/dense/kernel', [2, 2])]

Without ``regex=True`` a mapping key matches a whole name, or a scope: ``dense``
matches ``dense/kernel`` but not ``dense_1/kernel``. With ``regex=True`` keys are
regular expressions, replaced with :func:`re.sub` (so ``\\1`` works).

.. rubric:: TF1 and TF2 checkpoints

TF1 saves each variable under its graph name; TF2 saves each object under its
attribute path, with ``/.ATTRIBUTES/VARIABLE_VALUE`` appended and any ``/`` in
a name escaped as ``.S``, next to the object graph. :func:`convert_checkpoint`
turns one kind into the other, following the scheme of TensorFlow's migration
guide: a TF2 checkpoint made from ``dense/kernel`` restores into
``tf.train.Checkpoint(**{"dense/kernel": variable})``.

>>> _ = rewriting.convert_checkpoint("renamed/model.ckpt", "tf2/ckpt", to="tf2")
>>> [name for name, _ in tf.train.list_variables("tf2/ckpt")]
['_CHECKPOINTABLE_OBJECT_GRAPH', 'encoder.Sdense.Sbias/.ATTRIBUTES/VARIABLE_VALUE', 'encoder.Sdense.Skernel/.ATTRIBUTES/VARIABLE_VALUE']
>>> kernel, bias = tf.Variable(tf.zeros([2, 2])), tf.Variable(tf.ones([2]))
>>> tf.train.Checkpoint(**{"encoder/dense/kernel": kernel, "encoder/dense/bias": bias}).read("tf2/ckpt").assert_consumed()
<...>
>>> kernel.numpy().tolist()
[[1.0, 1.0], [1.0, 1.0]]
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tfpersist import _fs
from tfpersist._files import write_error_reason
from tfpersist.checkpoint_state import checkpoint_files, resolve_prefix
from tfpersist.errors import RewriteError, TfPersistError, WriteError, did_you_mean
from tfpersist.inspecting import read_values

__all__ = [
    "RenamePlan",
    "convert_checkpoint",
    "plan_rename",
    "rename_checkpoint",
    "write_checkpoint",
]

_OBJECT_GRAPH = "_CHECKPOINTABLE_OBJECT_GRAPH"
_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"


@dataclass(frozen=True)
class RenamePlan:
    """What :func:`rename_checkpoint` does: *renamed* pairs, *dropped* and *kept* names.

    >>> print(RenamePlan("a/ckpt", "b/ckpt", (("v", "w"),), ("step",), ("bias",)))
    a/ckpt -> b/ckpt
      v -> w
      dropped step
    """

    source: str
    destination: str
    renamed: tuple[tuple[str, str], ...]
    dropped: tuple[str, ...]
    kept: tuple[str, ...]

    def __str__(self) -> str:
        lines = [f"{self.source} -> {self.destination}"]
        lines += [f"  {old} -> {new}" for old, new in self.renamed]
        lines += [f"  dropped {name}" for name in self.dropped]
        if not self.renamed and not self.dropped:
            lines.append("  (no name changes)")
        return "\n".join(lines)


def _matcher(pattern: str, regex: bool) -> Callable[[str], str | None]:
    """A function that returns the renamed name, or None when *pattern* does not match."""
    if regex:
        try:
            compiled = re.compile(pattern)
        except re.error as e:
            raise RewriteError(f"{pattern!r} is not a valid regular expression: {e}") from e
        return lambda name: name if compiled.search(name) else None
    return lambda name: name if name == pattern or name.startswith(pattern + "/") else None


def plan_rename(
    names: Iterable[str],
    mapping: Mapping[str, str],
    *,
    regex: bool = False,
    drop: Iterable[str] = (),
    source: str = "",
    destination: str = "",
) -> RenamePlan:
    """Work out which checkpoint *names* a rename changes, without reading any tensor.

    Every mapping key and drop pattern must match at least one name, and no two
    tensors may end up with the same name; otherwise
    :class:`~tfpersist.errors.RewriteError` explains which, with near names.

    >>> plan = plan_rename(["v1", "v2", "step"], {"v1": "other-v1"}, drop=["step"])
    >>> plan.renamed, plan.dropped, plan.kept
    ((('v1', 'other-v1'),), ('step',), ('v2',))
    >>> plan_rename(["v1", "v2"], {"v_1": "x"})
    Traceback (most recent call last):
    ...
    tfpersist.errors.RewriteError: --map 'v_1' matches no tensor (did you mean 'v1'?)
    """
    names = sorted(n for n in names if n != _OBJECT_GRAPH)
    problems = []
    drops = [(p, _matcher(p, regex)) for p in drop]
    dropped = [n for n in names if any(m(n) for _, m in drops)]
    for pattern, match in drops:
        if not any(match(n) for n in names):
            problems.append(f"--drop {pattern!r} matches no tensor{did_you_mean(pattern, names)}")
    result: dict[str, str] = {}
    for old, new in mapping.items():
        match = _matcher(old, regex)
        hits = [n for n in names if n not in dropped and match(n)]
        if not hits:
            problems.append(f"--map {old!r} matches no tensor{did_you_mean(old, names)}")
        for name in hits:
            if name in result:
                continue
            result[name] = re.sub(old, new, name, count=1) if regex else new + name[len(old) :]
    if problems:
        raise RewriteError("; ".join(problems))
    final: dict[str, str] = {}
    for name in names:
        if name in dropped:
            continue
        target = result.get(name, name)
        if target in final:
            raise RewriteError(
                f"{final[target]!r} and {name!r} would both be named {target!r}; "
                "change the mapping so every tensor keeps a name of its own"
            )
        final[target] = name
    return RenamePlan(
        source,
        destination,
        tuple((old, new) for old, new in sorted(result.items()) if old != new),
        tuple(dropped),
        tuple(n for n in names if n not in dropped and result.get(n, n) == n),
    )


@contextlib.contextmanager
def _staged(destination: str, overwrite: bool) -> Any:
    """Yield a temporary prefix next to *destination*, then move its files into place.

    The ``.index`` moves last, so a checkpoint that has one has all its data.
    """
    if not overwrite and checkpoint_files(destination):
        raise RewriteError(
            f"{destination!r} already holds a checkpoint; pick another prefix or pass overwrite=True"
        )
    parent = _fs.dirname(_fs.abspath(destination))
    _fs.makedirs(parent)
    staging = _fs.make_temp_dir(parent, ".tfpersist-")
    try:
        temp_prefix = os.path.join(staging, "ckpt")
        yield temp_prefix
        for old in checkpoint_files(destination):
            if old.endswith(".index"):
                _fs.remove(old)  # from here on the old checkpoint is gone, not half-replaced
        files = sorted(checkpoint_files(temp_prefix), key=lambda f: f.endswith(".index"))
        moved = {path: destination + path[len(temp_prefix) :] for path in files}
        for path, target in moved.items():
            _fs.replace(path, target)
        for stale in set(checkpoint_files(destination)) - set(moved.values()):
            _fs.remove(stale)
    finally:
        _fs.rmtree(staging)


def write_checkpoint(
    prefix: str | os.PathLike[str], tensors: Mapping[str, Any], *, overwrite: bool = False
) -> str:
    """Write *tensors* (name → array) as a name-based checkpoint at *prefix*, atomically.

    >>> import numpy as np, tensorflow as tf
    >>> write_checkpoint("m/ckpt", {"w": np.arange(3.0), "name": np.array(b"demo", dtype=object)})
    'm/ckpt'
    >>> tf.train.load_checkpoint("m/ckpt").get_tensor("w").tolist()
    [0.0, 1.0, 2.0]
    """
    from tfpersist._tf import tf

    prefix = os.fspath(prefix)
    names = sorted(tensors)
    try:
        with _staged(prefix, overwrite) as temp:
            tf.raw_ops.SaveV2(
                prefix=temp,
                tensor_names=names,
                shape_and_slices=[""] * len(names),
                tensors=[tf.constant(tensors[n]) for n in names],
            )
    except TfPersistError:
        raise
    except (tf.errors.OpError, OSError) as e:
        raise WriteError(
            f"cannot write checkpoint {prefix!r}: {write_error_reason(e)}; "
            "a checkpoint already there is unchanged"
        ) from e
    return prefix


def _rename_object_graph(serialized: bytes, renamed: Mapping[str, str], dropped: set[str]) -> bytes:
    from tfpersist._tf import TrackableObjectGraph

    graph = TrackableObjectGraph()
    graph.ParseFromString(serialized)
    for node in graph.nodes:
        keep = [a for a in node.attributes if a.checkpoint_key not in dropped]
        del node.attributes[:]
        node.attributes.extend(keep)
        for attr in node.attributes:
            attr.checkpoint_key = renamed.get(attr.checkpoint_key, attr.checkpoint_key)
    return graph.SerializeToString()


def rename_checkpoint(
    source: str | os.PathLike[str],
    destination: str | os.PathLike[str],
    mapping: Mapping[str, str],
    *,
    regex: bool = False,
    drop: Iterable[str] = (),
    dry_run: bool = False,
    overwrite: bool = False,
) -> RenamePlan:
    """Write a copy of checkpoint *source* at prefix *destination*, with names changed.

    *mapping* maps old names (or scopes, or with *regex* patterns) to new ones;
    names matching a *drop* pattern are left out. With *dry_run* nothing is
    written and the plan is returned. The source is never modified.

    The copy is written next to *destination* and moved into place with its
    ``.index`` last, so a checkpoint at *destination* is always whole. With
    *overwrite*, a crash during the final moves can leave no checkpoint
    there at all (never a mix of the old and the new): the source is intact,
    so run the rename again.

    >>> import numpy as np
    >>> _ = write_checkpoint("m/ckpt", {"layer_1/w": np.ones(2), "layer_2/w": np.zeros(2)})
    >>> print(rename_checkpoint("m/ckpt", "n/ckpt", {r"layer_(\\d)": r"block\\1"}, regex=True, dry_run=True))
    m/ckpt -> n/ckpt
      layer_1/w -> block1/w
      layer_2/w -> block2/w
    """
    prefix = resolve_prefix(source)
    destination = os.fspath(destination)
    if _fs.abspath(destination) == _fs.abspath(prefix):
        raise RewriteError(f"the destination {destination!r} is the source: write to a new prefix")
    from tfpersist.inspecting import list_checkpoint

    names = [v.name for v in list_checkpoint(prefix).variables]
    plan = plan_rename(
        names, mapping, regex=regex, drop=drop, source=prefix, destination=destination
    )
    if dry_run:
        return plan
    renamed = dict(plan.renamed)
    tensors = {}
    for name, value in read_values(prefix):
        if name == _OBJECT_GRAPH:
            value = _rename_object_graph(value.item(), renamed, set(plan.dropped))
        if name not in plan.dropped:
            tensors[renamed.get(name, name)] = value
    write_checkpoint(destination, tensors, overwrite=overwrite)
    return plan


def _unescape(name: str) -> str:
    return re.sub(r"\.(\.|S)", lambda m: "." if m.group(1) == "." else "/", name)


def convert_checkpoint(
    source: str | os.PathLike[str],
    destination: str | os.PathLike[str],
    *,
    to: str,
    overwrite: bool = False,
) -> str:
    """Convert a TF1 name-based checkpoint to a TF2 object-based one (``to="tf2"``), or back.

    TF1 → TF2 keeps each name as an attribute of the root
    :class:`tf.train.Checkpoint`. TF2 → TF1 keeps the variable values under
    their attribute paths, unescaped, and leaves out the object graph, the
    save counter and optimizer slots. Returns the destination prefix.

    >>> import tensorflow as tf
    >>> module = tf.Module(); module.w = tf.Variable([1.0, 2.0])
    >>> _ = tf.train.Checkpoint(model=module, save_counter_like=tf.Variable(1)).write("tf2/ckpt")
    >>> convert_checkpoint("tf2/ckpt", "tf1/model.ckpt", to="tf1")
    'tf1/model.ckpt'
    >>> tf.train.list_variables("tf1/model.ckpt")
    [('model/w', [2]), ('save_counter_like', [])]
    """
    if to not in ("tf1", "tf2"):
        raise RewriteError(f"to={to!r}: convert to 'tf1' or 'tf2'")
    prefix = resolve_prefix(source)
    destination = os.fspath(destination)
    values = dict(read_values(prefix))
    object_based = _OBJECT_GRAPH in values
    if to == "tf1":
        if not object_based:
            raise RewriteError(f"{prefix!r} is already a TF1 name-based checkpoint")
        tensors = {
            _unescape(name[: -len(_SUFFIX)]): value
            for name, value in values.items()
            if name.endswith(_SUFFIX)
            and not name.startswith("save_counter/")
            and ".OPTIMIZER_SLOT" not in name
        }
        return write_checkpoint(destination, tensors, overwrite=overwrite)
    if object_based:
        raise RewriteError(f"{prefix!r} is already a TF2 object-based checkpoint")
    from tfpersist._tf import tf

    if "save_counter" in values:
        raise RewriteError(
            "a TF1 variable named 'save_counter' clashes with tf.train.Checkpoint's own"
        )
    variables = {name: tf.Variable(value) for name, value in values.items()}
    with _staged(destination, overwrite) as temp:
        tf.train.Checkpoint(**variables).write(temp)
    return destination
