"""Writing a new checkpoint from an old one: renamed, pruned, or converted between TF1 and TF2.

Fine-tuning a pretrained network, moving a layer into a new scope, or
dropping an optimizer's state all come down to the same job: read every
tensor of a checkpoint, change some names, and write a new checkpoint. In
TF1 style that job is a throwaway script with a ``Saver`` and a name map (see
:mod:`tfpersist.partial`). :func:`rename_checkpoint` does it in one call. The
source is only read, and the new checkpoint appears whole or not at all.

Every tensor keeps its TensorFlow dtype and its bytes (``qint8`` stays
``qint8``, a NaN keeps its payload), and no two tensors may end up with the
same name: that is an error naming both and the name they would share.

The new checkpoint is written by :class:`tfpersist.bundle.BundleWriter`,
without TensorFlow, except where a TF2 object graph must be edited (a rename
of a TF2 checkpoint), which needs TensorFlow's protocol buffers. When every
tensor is kept, no byte is copied: the new checkpoint's ``.data`` files are
hard links to the source's (copies where the filesystem has no hard links),
and only its ``.index`` is new, with any new value (the edited object graph)
in a ``.data`` file of its own. TensorFlow replaces a checkpoint's files by
renaming new ones over them, never by writing into them, so the two
checkpoints stay independent. When tensors are dropped, the kept ones are
copied in chunks of 8 MiB, their checksums checked on the way, so memory
stays small whatever the checkpoint's size.

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

.. rubric:: Renaming objects in a TF2 checkpoint

A TF2 object-based checkpoint also carries an object graph
(``_CHECKPOINTABLE_OBJECT_GRAPH``): ``tf.train.Checkpoint`` restores by
walking it from the root, attribute name by attribute name, and the keys are
only where the values lie. So a rename there moves *objects*: the key
``layer/kernel/.ATTRIBUTES/VARIABLE_VALUE`` renamed to
``dense/kernel/.ATTRIBUTES/VARIABLE_VALUE`` puts that variable at ``dense.kernel``,
and the renamed checkpoint restores into ``tf.train.Checkpoint(dense=...)``.

>>> layer = tf.Module()
>>> layer.kernel, layer.bias = tf.Variable([1.0, 2.0]), tf.Variable([3.0])
>>> _ = tf.train.Checkpoint(layer=layer).write("objects/ckpt")
>>> _ = rewriting.rename_checkpoint("objects/ckpt", "moved/ckpt", {"layer/kernel": "head/dense/kernel"})
>>> head, dense, rest = tf.Module(), tf.Module(), tf.Module()
>>> dense.kernel, rest.bias = tf.Variable([0.0, 0.0]), tf.Variable([0.0])
>>> head.dense = dense
>>> tf.train.Checkpoint(head=head, layer=rest).read("moved/ckpt").assert_consumed()
<...>
>>> dense.kernel.numpy().tolist()
[1.0, 2.0]

What rename does there:

- An object with values goes where its new keys say; each ``/`` is a step
  from an object to its attribute, and a ``/`` within one attribute name is
  written ``.S`` (``.`` is ``..``). Objects missing on the new path are created.
- An object without values of its own (a module, a layer) moves along when
  everything under it moved the same way (``layer`` → ``encoder`` renames the
  attribute); otherwise it stays, and what moved out of it is re-attached
  where its new keys say.
- The variable names the object graph records for TF1 savers (``full_name``)
  follow: a name equal to the object's old path becomes its new path, and any
  other name the mapping matches is renamed too.

What it refuses, with :class:`~tfpersist.errors.RewriteError` (nothing is written):

- a new key that changes or loses the ending after the object path
  (``/.ATTRIBUTES/VARIABLE_VALUE``), or names the root itself;
- splitting one object: its values (a table's ``-keys`` and ``-values``)
  mapped to two paths, or only some of them dropped;
- two objects on one path: rename never merges objects.

Other references to a moved object (Keras 2 also lists each layer as
``layer-N`` beside ``layer_with_weights-N``) are left as they are.

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

import bisect
import contextlib
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tfpersist import _fs
from tfpersist._index import slice_key
from tfpersist._layout import (
    ATTRIBUTES,
    OBJECT_GRAPH_KEY,
    VARIABLE_VALUE,
    escape_key,
    resolve_prefix,
    root_variables_graph,
    unescape_key,
)
from tfpersist._suggest import did_you_mean
from tfpersist.bundle import BundleWriter, load_checkpoint, write_checkpoint
from tfpersist.errors import CorruptCheckpointError, RewriteError
from tfpersist.inspecting import list_checkpoint

__all__ = [
    "RenamePlan",
    "convert_checkpoint",
    "plan_rename",
    "rename_checkpoint",
    "write_checkpoint",
]


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


def _renamer(mapping: Mapping[str, str], regex: bool) -> Callable[[str], str | None]:
    """A function that returns a name renamed by the first key of *mapping* it matches, or None."""
    rules = [(old, new, _matcher(old, regex)) for old, new in mapping.items()]

    def rename(name: str) -> str | None:
        for old, new, match in rules:
            if not match(name):
                continue
            if not regex:
                return new + name[len(old) :]
            try:
                return re.sub(old, new, name, count=1)
            except re.error as e:
                raise RewriteError(f"--map {old!r}={new!r}: bad replacement: {e}") from e
        return None

    return rename


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
    tensors may end up with the same name (nor take the object graph's key, nor
    the empty name, which TensorFlow keeps for the checkpoint's header);
    otherwise :class:`~tfpersist.errors.RewriteError` explains which, with near names.

    >>> plan = plan_rename(["v1", "v2", "step"], {"v1": "other-v1"}, drop=["step"])
    >>> plan.renamed, plan.dropped, plan.kept
    ((('v1', 'other-v1'),), ('step',), ('v2',))
    >>> plan_rename(["v1", "v2"], {"v_1": "x"})
    Traceback (most recent call last):
    ...
    tfpersist.errors.RewriteError: --map 'v_1' matches no tensor (did you mean 'v1'?)
    >>> plan_rename(["v1", "v2"], {"v1": "v2"})
    Traceback (most recent call last):
    ...
    tfpersist.errors.RewriteError: 'v1' and 'v2' would both be named 'v2'; ...
    """
    names = sorted(n for n in names if n != OBJECT_GRAPH_KEY)
    problems = []
    drops = [(p, _matcher(p, regex)) for p in drop]
    dropped = [n for n in names if any(m(n) for _, m in drops)]
    for pattern, match in drops:
        if not any(match(n) for n in names):
            problems.append(f"--drop {pattern!r} matches no tensor{did_you_mean(pattern, names)}")
    rename = _renamer(mapping, regex)
    left = [n for n in names if n not in dropped]
    for old in mapping:
        match = _matcher(old, regex)
        if not any(match(n) for n in left):
            problems.append(f"--map {old!r} matches no tensor{did_you_mean(old, names)}")
    if problems:
        raise RewriteError("; ".join(problems))
    result = {n: new for n in left if (new := rename(n)) is not None}
    final: dict[str, str] = {}
    for name in left:
        target = result.get(name, name)
        if not target:
            raise RewriteError(
                f"{name!r} would be renamed to '' (an empty name, which TensorFlow keeps for "
                "the checkpoint's header); map it to a name of its own"
            )
        if target == OBJECT_GRAPH_KEY:
            raise RewriteError(
                f"{name!r} would be named {target!r}, the key of the object graph; "
                "pick another name"
            )
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
        tuple(n for n in left if result.get(n, n) == n),
    )


def _refuse_source(source: str, destination: str) -> None:
    """Refuse a *destination* that is checkpoint *source* itself, however the path spells it."""
    same = _fs.abspath(source) == _fs.abspath(destination)
    if not same and not (_fs.is_url(source) or _fs.is_url(destination)):
        (dir_a, name_a), (dir_b, name_b) = (
            os.path.split(os.path.abspath(p)) for p in (source, destination)
        )
        with contextlib.suppress(OSError):  # a missing directory holds no source
            same = os.path.samefile(dir_a, dir_b) and (
                name_a == name_b or os.path.samefile(source + ".index", destination + ".index")
            )
    if same:
        raise RewriteError(
            f"the destination {destination!r} is the source {source!r}: write to a new prefix"
        )


def _split_key(key: str) -> tuple[tuple[str, ...], str] | None:
    """``a/b.Sc/.ATTRIBUTES/X`` → ``(("a", "b/c"), "/.ATTRIBUTES/X")``; None for other keys."""
    at = key.find(ATTRIBUTES)
    if at < 0:
        return None
    head = key[:at]
    return (tuple(unescape_key(c) for c in head.split("/")) if head else ()), key[at:]


def _graph_bytes(prefix: str, value: Any, dtype: str) -> bytes:
    """The serialized object graph: tensor *value* (of dtype *dtype*), which must be one string."""
    if dtype == "string" and value.shape == () and isinstance(value.item(), bytes):
        return value.item()
    raise CorruptCheckpointError(
        f"checkpoint {prefix!r}: its object graph ({OBJECT_GRAPH_KEY}) should be one string, "
        f"but is a {dtype} tensor of shape {list(value.shape)}; "
        "convert the checkpoint to TF1 (tfpersist convert --to tf1) to use its values"
    )


def _parse_graph(prefix: str, serialized: bytes) -> Any:
    from google.protobuf.message import DecodeError

    from tfpersist._tf import TrackableObjectGraph

    graph = TrackableObjectGraph()
    try:
        graph.ParseFromString(serialized)
    except DecodeError as e:
        raise CorruptCheckpointError(
            f"checkpoint {prefix!r}: its object graph ({OBJECT_GRAPH_KEY}) cannot be parsed: {e}"
        ) from e
    count = len(graph.nodes)
    if not count:
        raise CorruptCheckpointError(
            f"checkpoint {prefix!r}: its object graph ({OBJECT_GRAPH_KEY}) holds no objects, "
            "not even the root; convert the checkpoint to TF1 (tfpersist convert --to tf1) "
            "to use its values"
        )
    for node in graph.nodes:
        refs = [c.node_id for c in node.children]
        refs += [
            i
            for s in node.slot_variables
            for i in (s.original_variable_node_id, s.slot_variable_node_id)
        ]
        if any(not 0 <= i < count for i in refs):
            raise CorruptCheckpointError(
                f"checkpoint {prefix!r}: its object graph refers to objects it does not hold"
            )
    return graph


def _tree(graph: Any) -> tuple[dict[int, tuple[str, ...]], dict[int, tuple[int, int]]]:
    """Each object's path from the root, breadth first as TensorFlow names keys, and the
    ``(parent, index among its children)`` of the reference that path ends with."""
    paths: dict[int, tuple[str, ...]] = {0: ()}
    parents: dict[int, tuple[int, int]] = {}
    order = [0]
    for node_id in order:
        for i, ref in enumerate(graph.nodes[node_id].children):
            if ref.node_id not in paths:
                paths[ref.node_id] = paths[node_id] + (ref.local_name,)
                parents[ref.node_id] = (node_id, i)
                order.append(ref.node_id)
    return paths, parents


_MIXED = ("mixed",)  # an object whose descendants moved different ways


def _new_paths(
    graph: Any, paths: dict[int, tuple[str, ...]], renamed: Mapping[str, str]
) -> dict[int, tuple[str, ...]]:
    """Where each object that holds tensors goes, read from its renamed keys."""
    moves: dict[int, tuple[str, ...]] = {}
    for node_id, node in enumerate(graph.nodes):
        where: dict[tuple[str, ...], tuple[str, str]] = {}
        for attr in node.attributes:
            old = attr.checkpoint_key
            new = renamed.get(old, old)
            if node_id not in paths or old == new:
                where.setdefault(paths.get(node_id, ()), (old, new))
                continue
            split_old, split_new = _split_key(old), _split_key(new)
            if split_old is None:
                continue  # not TensorFlow's scheme: only the key changes
            if node_id == 0 or split_new is None or split_new[1] != split_old[1]:
                raise RewriteError(
                    f"{old!r} -> {new!r}: in an object-based checkpoint, rename moves whole "
                    f"objects, so a new key must keep its ending {split_old[1]!r} and name "
                    "an object below the root; change only the object path before it"
                )
            if "" in split_new[0]:
                raise RewriteError(f"{old!r} -> {new!r}: the new key has an empty object name")
            where.setdefault(split_new[0], (old, new))
        if len(where) > 1:
            (a, a_new), (b, b_new) = list(where.values())[:2]
            raise RewriteError(
                f"{a!r} -> {a_new!r} and {b!r} -> {b_new!r} are values of one object, which "
                "rename can move but not split: map every key of an object to the same path"
            )
        if where and node_id in paths and node_id != 0:
            moves[node_id] = next(iter(where))
    return moves


def _inferred(
    paths: dict[int, tuple[str, ...]],
    parents: dict[int, tuple[int, int]],
    moves: dict[int, tuple[str, ...]],
) -> dict[int, tuple[str, ...]]:
    """Where an object without tensors goes: where all its descendants with tensors say."""
    found: dict[int, tuple[str, ...]] = {}
    for node_id, new in moves.items():
        up = node_id
        while up in parents:
            up = parents[up][0]
            if up == 0:
                break
            if up in moves:
                continue
            rest = paths[node_id][len(paths[up]) :]
            fits = len(new) > len(rest) and new[len(new) - len(rest) :] == rest
            guess = new[: len(new) - len(rest)] if fits else _MIXED
            found[up] = guess if found.get(up, guess) == guess else _MIXED
    return {n: p for n, p in found.items() if p is not _MIXED}


def _attribute_keys(
    graph: Any, names: Iterable[str], renamed: Mapping[str, str], dropped: set[str]
) -> dict[str, str | None]:
    """The new ``checkpoint_key`` of each attribute, None when dropped.

    An attribute's key names its tensor, or is the start of the keys of its
    tensors (a table saves ``<key>-keys`` and ``<key>-values``).
    """
    keys = {a.checkpoint_key for node in graph.nodes for a in node.attributes}
    names = sorted(names)
    owner: dict[str, str] = {}
    for key in sorted(keys, key=len):  # the longest key that starts a name owns it
        i = bisect.bisect_left(names, key)
        while i < len(names) and names[i].startswith(key):
            if names[i] == key or names[i] not in keys:
                owner[names[i]] = key
            i += 1
    owned: dict[str, list[str]] = {}
    for name, key in owner.items():
        owned.setdefault(key, []).append(name)
    result: dict[str, str | None] = {}
    for key in keys:
        tensors = owned.get(key, [])
        gone = [t for t in tensors if t in dropped]
        if gone and len(gone) < len(tensors):
            raise RewriteError(
                f"--drop takes {gone[0]!r} but not {next(t for t in tensors if t not in gone)!r}, "
                "values of one object: drop all of them or none"
            )
        if gone:
            result[key] = None
            continue
        targets = set()
        for t in tensors:
            new, tail = renamed.get(t, t), t[len(key) :]
            targets.add(new[: len(new) - len(tail)] if new.endswith(tail) else None)
        if len(targets) > 1 or None in targets:
            moves = ", ".join(f"{t!r} -> {renamed.get(t, t)!r}" for t in tensors)
            raise RewriteError(
                f"{moves}: these are the values of one object, which rename can move but "
                "not split: give them the same new path and keep the end of each key"
            )
        result[key] = targets.pop() if targets else key
    return result


def _rename_object_graph(
    prefix: str,
    serialized: bytes,
    names: Iterable[str],
    renamed: Mapping[str, str],
    dropped: set[str],
    rename_name: Callable[[str], str | None],
) -> bytes:
    """The object graph of checkpoint *prefix* (tensors *names*) after a rename.

    Each object with tensors moves to the path its new keys name; an object
    without tensors moves with its descendants when they all moved alike, and
    stays otherwise. Missing objects on a new path are created empty.
    """
    graph = _parse_graph(prefix, serialized)
    new_keys = _attribute_keys(graph, names, renamed, dropped)
    renamed = {k: v for k, v in new_keys.items() if v is not None}
    for node in graph.nodes:
        keep = [a for a in node.attributes if new_keys[a.checkpoint_key] is not None]
        del node.attributes[:]
        node.attributes.extend(keep)
    paths, parents = _tree(graph)
    moves = _new_paths(graph, paths, renamed)
    guesses = _inferred(paths, parents, moves)

    placed: dict[int, tuple[str, ...]] = {0: ()}
    at: dict[tuple[str, ...], int] = {(): 0}

    def place(node_id: int, path: tuple[str, ...]) -> bool:
        if path in at:
            return False
        placed[node_id], at[path] = path, node_id
        return True

    for node_id, path in moves.items():
        if not place(node_id, path):
            raise RewriteError(
                f"two objects would be at {'/'.join(map(escape_key, path))!r}: "
                "rename cannot merge objects; map them to different paths"
            )
    order = sorted(parents, key=lambda n: (len(paths[n]), paths[n]))
    rest = [n for n in order if n not in moves]
    for n in rest:  # objects that stay where they are first, then those that move
        if guesses.get(n) == paths[n]:
            place(n, paths[n])
    for n in rest:
        if n not in placed and n in guesses:
            place(n, guesses[n])
    for n in rest:
        parent, i = parents[n]
        if n not in placed and parent in placed:
            place(n, placed[parent] + (graph.nodes[parent].children[i].local_name,))

    removed: set[tuple[int, int]] = set()
    added: list[tuple[int, str, int]] = []
    for path in sorted(at, key=len):  # create the objects a new path needs
        for depth in range(1, len(path)):
            if path[:depth] not in at:
                graph.nodes.add()
                node_id = len(graph.nodes) - 1
                at[path[:depth]], placed[node_id] = node_id, path[:depth]
                added.append((at[path[: depth - 1]], path[depth - 1], node_id))
    for n, (parent, i) in parents.items():
        name = graph.nodes[parent].children[i].local_name
        if n not in placed:
            if parent in placed:
                removed.add((parent, i))  # left behind empty where another object now is
            continue
        if parent in placed and placed[n] == placed[parent] + (name,):
            continue
        new_parent = at[placed[n][:-1]]
        if new_parent == parent:
            graph.nodes[parent].children[i].local_name = placed[n][-1]
        else:
            removed.add((parent, i))
            added.append((new_parent, placed[n][-1], n))
    for node_id in {p for p, _ in removed}:
        node = graph.nodes[node_id]
        keep = [c for i, c in enumerate(node.children) if (node_id, i) not in removed]
        del node.children[:]
        node.children.extend(keep)
    for parent, name, n in added:
        ref = graph.nodes[parent].children.add()
        ref.node_id, ref.local_name = n, name
    for node_id, node in enumerate(graph.nodes):
        seen: dict[str, int] = {}
        for ref in node.children:
            if seen.setdefault(ref.local_name, ref.node_id) != ref.node_id:
                path = (*placed.get(node_id, ()), ref.local_name)
                raise RewriteError(
                    f"two objects would be at {'/'.join(map(escape_key, path))!r}: "
                    "rename cannot merge objects; map them to different paths"
                )
        if len(seen) < len(node.children):  # one object named twice: keep one reference
            keep, names = [], set()
            for ref in node.children:
                if ref.local_name not in names:
                    names.add(ref.local_name)
                    keep.append(ref)
            del node.children[:]
            node.children.extend(keep)

    for node_id, node in enumerate(graph.nodes):
        for attr in node.attributes:
            attr.checkpoint_key = renamed.get(attr.checkpoint_key, attr.checkpoint_key)
            if node_id in moves and attr.full_name == "/".join(paths[node_id]):
                attr.full_name = "/".join(moves[node_id])
            elif attr.full_name:
                attr.full_name = rename_name(attr.full_name) or attr.full_name
    _mark_values(graph)
    return graph.SerializeToString()


def _mark_values(graph: Any) -> None:
    """Set ``has_checkpoint_values`` as TensorFlow does, when the graph uses it."""
    if not any(node.HasField("has_checkpoint_values") for node in graph.nodes):
        return
    parents: dict[int, set[int]] = {}
    for node_id, node in enumerate(graph.nodes):
        for ref in node.children:
            parents.setdefault(ref.node_id, set()).add(node_id)
    todo = [
        n
        for n, node in enumerate(graph.nodes)
        if node.attributes or node.slot_variables or node.HasField("registered_saver")
    ]
    marked = set(todo)
    while todo:
        for parent in parents.get(todo.pop(), ()):
            if parent not in marked:
                marked.add(parent)
                todo.append(parent)
    for node_id, node in enumerate(graph.nodes):
        node.has_checkpoint_values.value = node_id in marked


def _rewrite(
    source: str,
    destination: str,
    names: Mapping[str, str],
    new: Mapping[str, tuple[Any, str]],
    overwrite: bool,
) -> None:
    """Write at *destination* the tensors of *source* in *names* (old → new), and *new* (name → value, dtype).

    When every tensor of a V2 *source* is kept, its ``.data`` files are
    linked into the new checkpoint (copied where links cannot be made) and
    only a new index is written, with *new* in a shard of its own. Otherwise
    each kept tensor's bytes are copied in 8 MiB chunks, their checksums
    checked on the way. Memory never holds more than a chunk, or for a V1
    or partitioned tensor, that tensor.
    """
    with (
        load_checkpoint(source) as reader,
        BundleWriter(destination, overwrite=overwrite) as writer,
    ):
        if reader.version == 2 and set(names) == set(reader.get_variable_to_shape_map()):
            reader.check_files()
            base = writer.adopt(source, reader.num_shards)
            for old, name in names.items():
                if name in new:
                    continue
                entry = reader.entry(old)
                writer.add_entry(entry._replace(name=name, shard=entry.shard + base))
                for extents in entry.slices:
                    part = reader.part(old, extents)
                    key = slice_key(name, extents).decode("utf-8", "surrogateescape")
                    writer.add_entry(part._replace(name=key, shard=part.shard + base))
        else:
            for old, name in names.items():
                entry = reader.entry(old)
                if name in new:
                    continue
                if reader.version == 2 and not entry.slices and entry.dtype_name != "string":
                    writer.copy_from(name, entry, reader.shard_file(old))
                else:
                    writer.add(name, reader.get_tensor(old), dtype=entry.dtype_name)
        for name, (value, dtype) in new.items():
            writer.add(name, value, dtype=dtype)


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
    names matching a *drop* pattern are left out. Every tensor keeps its
    TensorFlow dtype and its bytes. With *dry_run* nothing is written and the
    plan is returned (after the same checks). The source is never modified:
    a *destination* that is the source, however spelled (through a symbolic
    link, say), is refused. A malformed object graph is a
    :class:`~tfpersist.errors.CorruptCheckpointError`.

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
    _refuse_source(prefix, destination)
    dtypes = {v.name: v.dtype for v in list_checkpoint(prefix).variables}
    plan = plan_rename(
        dtypes, mapping, regex=regex, drop=drop, source=prefix, destination=destination
    )
    renamed = dict(plan.renamed)
    graph = None
    if OBJECT_GRAPH_KEY in dtypes:
        with load_checkpoint(prefix) as reader:
            value = reader.get_tensor(OBJECT_GRAPH_KEY)
        serialized = _graph_bytes(prefix, value, dtypes[OBJECT_GRAPH_KEY])
        graph = _rename_object_graph(
            prefix, serialized, dtypes, renamed, set(plan.dropped), _renamer(mapping, regex)
        )
    if dry_run:
        return plan
    dropped = set(plan.dropped)
    names = {n: renamed.get(n, n) for n in dtypes if n not in dropped}
    new = {} if graph is None else {OBJECT_GRAPH_KEY: (graph, "string")}
    _rewrite(prefix, destination, names, new, overwrite)
    return plan


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
    save counter, optimizer slots and values other than variables. Two keys
    that would get the same TF1 name are an error, and so is a *destination*
    that is the source. Every tensor keeps its TensorFlow dtype and its bytes.
    Returns the destination prefix.

    >>> import tensorflow as tf
    >>> module = tf.Module(); module.w = tf.Variable([1.0, 2.0])
    >>> _ = tf.train.Checkpoint(model=module, save_counter_like=tf.Variable(1)).write("tf2/ckpt")
    >>> convert_checkpoint("tf2/ckpt", "tf1/model.ckpt", to="tf1")
    'tf1/model.ckpt'
    >>> tf.train.list_variables("tf1/model.ckpt")
    [('model/w', [2]), ('save_counter_like', [])]
    >>> _ = tf.train.Checkpoint(model=module, **{"model/w": tf.Variable([3.0, 4.0])}).write("both/ckpt")
    >>> convert_checkpoint("both/ckpt", "tf1/both.ckpt", to="tf1")
    Traceback (most recent call last):
    ...
    tfpersist.errors.RewriteError: 'model.Sw/.ATTRIBUTES/VARIABLE_VALUE' and 'model/w/.ATTRIBUTES/VARIABLE_VALUE' would both be named 'model/w' in a TF1 checkpoint; ...
    """
    if to not in ("tf1", "tf2"):
        raise RewriteError(f"to={to!r}: convert to 'tf1' or 'tf2'")
    prefix = resolve_prefix(source)
    destination = os.fspath(destination)
    _refuse_source(prefix, destination)
    values = {v.name: v.dtype for v in list_checkpoint(prefix).variables}
    object_based = OBJECT_GRAPH_KEY in values
    if to == "tf1":
        if not object_based:
            raise RewriteError(f"{prefix!r} is already a TF1 name-based checkpoint")
        names: dict[str, str] = {}
        for key in sorted(values):
            if (
                not key.endswith(VARIABLE_VALUE)
                or key.startswith("save_counter/")
                or ".OPTIMIZER_SLOT" in key
            ):
                continue
            name = unescape_key(key[: -len(VARIABLE_VALUE)])
            if not name:
                raise RewriteError(
                    f"{key!r} would get the empty name in a TF1 checkpoint, which TensorFlow "
                    "keeps for the header; rename it first (tfpersist rename), then convert"
                )
            if name in names or name == OBJECT_GRAPH_KEY:
                first = names.get(name, OBJECT_GRAPH_KEY)
                raise RewriteError(
                    f"{first!r} and {key!r} would both be named {name!r} in a TF1 checkpoint; "
                    "rename one of them first (tfpersist rename), then convert"
                )
            names[name] = key
        _rewrite(prefix, destination, {key: name for name, key in names.items()}, {}, overwrite)
        return destination
    if object_based:
        raise RewriteError(f"{prefix!r} is already a TF2 object-based checkpoint")
    if "save_counter" in values:
        raise RewriteError(
            "a TF1 variable named 'save_counter' clashes with tf.train.Checkpoint's own"
        )
    ordered = sorted(values)
    try:
        graph = root_variables_graph(ordered)
    except UnicodeEncodeError as e:
        raise RewriteError(
            f"{prefix!r} holds a name that is not UTF-8 text ({e.object!r}), which a TF2 "
            "object graph cannot hold; rename it first (tfpersist rename), then convert"
        ) from None
    names = {n: escape_key(n) + VARIABLE_VALUE for n in ordered}
    _rewrite(prefix, destination, names, {OBJECT_GRAPH_KEY: (graph, "string")}, overwrite)
    return destination
