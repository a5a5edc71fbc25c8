"""Loading the whole graph: ``import_meta_graph`` and the ``.meta`` file.

Restoring into a rebuilt graph (:mod:`tfpersist.restoring`) needs the code
that built it. The ``.meta`` file makes that code unnecessary: it holds the
meta graph (元图（MetaGraph）), the full graph structure with its saver. The
article's third program imports it with ``tf.train.import_meta_graph``,
restores the values, and fetches the sum by its name, ``add:0``: the first
output of the node ``add``.

Two things can go wrong that tfpersist takes care of:

* ``import_meta_graph`` refuses to run with eager execution on
  ("Exporting/importing meta graphs is not supported when eager execution
  is enabled").
  :func:`restore_meta_graph` always imports into the session's own graph, so
  it works in TensorFlow 2 without turning eager execution off.
* A graph saved on another machine can pin its ops to devices this machine
  lacks (``/device:GPU:0``, ``/job:ps``). ``clear_devices=True`` drops those
  placements on import.

As everywhere in tfpersist, the variables are checked against the checkpoint
before any value is assigned.

.. rubric:: TF1 style: ``import_meta_graph``

>>> import tensorflow as tf
>>> from tfpersist import meta_graph, saving
>>> with tf.Graph().as_default() as graph:
...     v1 = tf.Variable(tf.constant(1.0, shape=[1]), name="v1")
...     v2 = tf.Variable(tf.constant(2.0, shape=[1]), name="v2")
...     result = v1 + v2
...     with tf.compat.v1.Session(graph=graph) as sess:
...         sess.run(tf.compat.v1.global_variables_initializer())
...         _ = saving.save_session(sess, "model/model.ckpt")

A new, empty graph: no variable is defined in code this time.

>>> with tf.Graph().as_default() as graph:
...     with tf.compat.v1.Session(graph=graph) as sess:
...         saver = meta_graph.restore_meta_graph(sess, "model/model.ckpt")
...         print(sess.run(graph.get_tensor_by_name("add:0")).tolist())
[3.0]

A checkpoint saved without its ``.meta`` cannot be imported; the error says
what to do instead:

>>> with tf.Graph().as_default() as graph:
...     v = tf.Variable(1.0, name="v")
...     with tf.compat.v1.Session(graph=graph) as sess:
...         sess.run(v.initializer)
...         _ = saving.save_session(sess, "bare/model.ckpt", write_meta_graph=False)
>>> with tf.Graph().as_default() as graph:
...     with tf.compat.v1.Session(graph=graph) as sess:
...         meta_graph.restore_meta_graph(sess, "bare/model.ckpt")
Traceback (most recent call last):
...
tfpersist.errors.CheckpointNotFoundError: checkpoint 'bare/model.ckpt' has no .meta file ...

.. rubric:: TF2 style: SavedModel

TF2 has no ``.meta`` file. Its whole-model format is the SavedModel: a
directory with the graphs of the model's :func:`tf.function` methods
(``saved_model.pb``) and a checkpoint of its variables (``variables/``).
:func:`tf.saved_model.load` brings the functions back without the Python
class that defined them:

>>> class Adder(tf.Module):
...     def __init__(self):
...         self.v1 = tf.Variable([1.0], name="v1")
...         self.v2 = tf.Variable([2.0], name="v2")
...     @tf.function(input_signature=[])
...     def add(self):
...         return self.v1 + self.v2
>>> tf.saved_model.save(Adder(), "saved")
>>> import os
>>> sorted(os.listdir("saved/variables"))
['variables.data-00000-of-00001', 'variables.index']
>>> loaded = tf.saved_model.load("saved")
>>> loaded.add().numpy().tolist()
[3.0]
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import Any

from tfpersist import _fs
from tfpersist._layout import meta_path, resolve_prefix
from tfpersist._tf import tf
from tfpersist.errors import CheckpointNotFoundError, DevicePlacementError, GraphFormatError
from tfpersist.graphs import read_meta_graph
from tfpersist.restoring import restore_session
from tfpersist.safety import audit_graph

__all__ = ["readable_version", "restore_meta_graph"]


def restore_meta_graph(
    sess: tf.compat.v1.Session,
    path: str | os.PathLike[str],
    *,
    clear_devices: bool = False,
    allow_ops: Sequence[str] = (),
    run: Sequence[str] = (),
) -> tf.compat.v1.train.Saver:
    """Import the ``.meta`` graph of a checkpoint into *sess*'s graph and restore its values.

    *path* is a checkpoint prefix, or a directory meaning its latest
    checkpoint. With *clear_devices*, device placements saved in the graph are
    dropped, so a graph saved for a GPU or a cluster loads on this machine;
    without it, such a graph raises
    :class:`~tfpersist.errors.DevicePlacementError` before anything is imported.
    Returns the imported saver, ready to save again. The graph is audited
    before it is imported (:func:`tfpersist.safety.audit_graph`): the saver's
    own ops are allowed, and *allow_ops* names any other op to accept.
    *run* names the nodes the caller will run afterwards: the audit refuses
    the graph if any of them reaches a saver's op.

    >>> import tensorflow as tf
    >>> with tf.Graph().as_default() as graph:
    ...     with tf.device("/device:CPU:0"):
    ...         w = tf.Variable(5.0, name="w")
    ...     with tf.compat.v1.Session(graph=graph) as sess:
    ...         sess.run(w.initializer)
    ...         _ = tf.compat.v1.train.Saver().save(sess, "model/model.ckpt")
    >>> with tf.Graph().as_default() as graph:
    ...     with tf.compat.v1.Session(graph=graph) as sess:
    ...         _ = restore_meta_graph(sess, "model", clear_devices=True)
    ...         print(graph.get_operation_by_name("w").device or "(no device)")
    ...         [w] = tf.compat.v1.global_variables()
    ...         print(sess.run(w).item())
    (no device)
    5.0
    """
    prefix = resolve_prefix(path)
    meta = meta_path(prefix)
    if not _fs.isfile(meta):
        raise CheckpointNotFoundError(
            f"checkpoint {prefix!r} has no .meta file ({meta!r} is missing): it was saved with "
            "write_meta_graph=False; rebuild the graph in code and use "
            "tfpersist.restoring.restore_session instead"
        )
    meta_graph_def = read_meta_graph(meta)
    info = meta_graph_def.meta_info_def
    info.tensorflow_version = readable_version(info.tensorflow_version)
    if not clear_devices:
        _check_devices(meta_graph_def.graph_def, meta)
    audit_graph(meta_graph_def, allow_ops=allow_ops, run=run, where=repr(meta))
    with sess.graph.as_default():
        try:
            saver = tf.compat.v1.train.import_meta_graph(
                meta_graph_def, clear_devices=clear_devices
            )
        except ValueError as e:  # the importer's checks: shapes, dtypes, inputs
            raise GraphFormatError(
                f"TensorFlow cannot import {meta!r} ({e}); the file is damaged, or was written "
                "by a TensorFlow this one cannot read"
            ) from e
    restore_session(sess, prefix, saver=saver)  # a second saver is slow in an imported graph
    return saver


def readable_version(version: str) -> str:
    """The TensorFlow release that wrote a meta graph, in a form TensorFlow's importer can read.

    A ``.meta`` file records its writer's ``tensorflow_version``, which
    ``import_meta_graph`` compares with 1.9 (the first release to record
    whether a variable is trainable). Old releases wrote strings that
    comparison cannot parse, such as ``0.12.head``. Only the release's
    numbers count; a string without them becomes empty, which TensorFlow
    reads as a recent release.

    >>> [readable_version(v) for v in ["0.12.head", "1.0.0-rc1", "2.5.0-dev20201106", "2.15.0"]]
    ['0.12', '1.0.0', '2.5.0', '2.15.0']
    >>> readable_version("unknown"), readable_version("")
    ('', '')
    """
    match = re.match(r"\s*v?(\d+(?:\.\d+){0,2})", version)
    return match.group(1) if match else ""


def _check_devices(graph_def: Any, where: str) -> None:
    """Refuse a graph pinned to devices or cluster jobs this machine lacks."""
    local = {d.device_type.upper() for d in tf.config.list_logical_devices()}
    foreign = []
    for node in graph_def.node:
        if node.device:
            spec = tf.DeviceSpec.from_string(node.device)
            kind = (spec.device_type or "").upper()
            if spec.job not in (None, "localhost") or (kind and kind not in local):
                foreign.append((node.name, node.device))
    if foreign:
        name, device = foreign[0]
        more = f" (and {len(foreign) - 1} more nodes)" if len(foreign) > 1 else ""
        raise DevicePlacementError(
            f"{where!r} places node {name!r} on {device!r}{more}, which this machine does not "
            f"have (it has {', '.join(sorted(local))}); pass clear_devices=True to place the "
            "graph here"
        )
