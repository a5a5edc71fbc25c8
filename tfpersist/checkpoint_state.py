"""The ``checkpoint`` state file: which checkpoints a directory holds, and which is the latest.

Every time TensorFlow saves a checkpoint (检查点) into a directory, it also
rewrites a small text file named ``checkpoint`` in that directory. The article
describes it in one line: it "lists all the model files of a directory". It
is a protocol buffer in text form, and it looks like this::

    model_checkpoint_path: "model.ckpt-3"
    all_model_checkpoint_paths: "model.ckpt-1"
    all_model_checkpoint_paths: "model.ckpt-2"
    all_model_checkpoint_paths: "model.ckpt-3"

``model_checkpoint_path`` is the latest checkpoint prefix, and
``all_model_checkpoint_paths`` lists every checkpoint still kept, oldest
first. A saver keeps at most ``max_to_keep`` of them (5 by default) and deletes
older files as it writes new ones.

The state file is the only thing that makes "restore the latest checkpoint
of this directory" possible, and it goes wrong in three common ways, which
this module handles:

* **Absolute paths.** By default ``tf.compat.v1.train.Saver`` writes absolute
  paths. When the directory is copied or moved, the file still points at the
  old place. tfpersist looks for the same checkpoint next to the state file,
  uses it, and warns with :class:`~tfpersist.errors.CheckpointStateWarning`.
* **Stale entries.** Entries whose files are gone are dropped, with a warning.
* **A missing, empty or corrupt state file.** tfpersist falls back to the newest
  *complete* checkpoint in the directory (its ``.index`` and every ``.data``
  shard present), and says so with a warning.

Checkpoints written before TensorFlow 0.12, or with
``write_version=SaverDef.V1``, are in the V1 format: one file ``model.ckpt``
(or the shards ``model.ckpt-00000-of-00002``, ..., which the state file names
``model.ckpt-?????-of-00002``) next to an optional ``model.ckpt.meta``, and no
``.index``. Every function here knows them too (see :func:`v1_files`). A V1
file is told by what it holds, not by its name: a table whose first record is
a V1 checkpoint's metadata. A backup copy of an ``.index`` is a table too, but
not a V1 checkpoint, so it never becomes the "latest" one.

Nothing here imports TensorFlow: reading the state file is plain text work.

.. rubric:: TF1 style: ``Saver`` and ``get_checkpoint_state``

A saver that is given a ``global_step`` numbers each checkpoint, and with
``max_to_keep=2`` only the last two survive:

>>> import tensorflow as tf
>>> from tfpersist import checkpoint_state
>>> with tf.Graph().as_default() as graph:
...     v = tf.Variable(1.0, name="v")
...     saver = tf.compat.v1.train.Saver(max_to_keep=2, save_relative_paths=True)
...     with tf.compat.v1.Session(graph=graph) as sess:
...         sess.run(tf.compat.v1.global_variables_initializer())
...         for step in (1, 2, 3):
...             _ = saver.save(sess, "model/model.ckpt", global_step=step)
>>> from pathlib import Path
>>> print(Path("model/checkpoint").read_text())
model_checkpoint_path: "model.ckpt-3"
all_model_checkpoint_paths: "model.ckpt-2"
all_model_checkpoint_paths: "model.ckpt-3"

:func:`read_state` reads the same file, and agrees with TensorFlow's own
reader:

>>> state = checkpoint_state.read_state("model")
>>> state.latest
'model/model.ckpt-3'
>>> state.checkpoints
('model/model.ckpt-2', 'model/model.ckpt-3')
>>> tf.train.get_checkpoint_state("model").model_checkpoint_path
'model/model.ckpt-3'

.. rubric:: TF2 style: ``CheckpointManager``

In TF2 a :class:`tf.train.CheckpointManager` does the numbering and the
``max_to_keep`` bookkeeping, and writes the same state file:

>>> ckpt = tf.train.Checkpoint(v=tf.Variable(1.0))
>>> manager = tf.train.CheckpointManager(ckpt, "tf2", max_to_keep=2)
>>> for _ in range(3):
...     _ = manager.save()
>>> manager.checkpoints
['tf2/ckpt-2', 'tf2/ckpt-3']
>>> checkpoint_state.read_state("tf2").checkpoints
('tf2/ckpt-2', 'tf2/ckpt-3')

.. rubric:: When the state file is wrong

If the state file is lost, the checkpoints are still there.
:func:`latest_checkpoint` finds the newest complete one and warns:

>>> import os, warnings
>>> os.remove("tf2/checkpoint")
>>> with warnings.catch_warnings(record=True) as caught:
...     warnings.simplefilter("always")
...     print(checkpoint_state.latest_checkpoint("tf2"))
tf2/ckpt-3
>>> print(caught[0].message)
tf2: no 'checkpoint' state file; using the newest complete checkpoint 'tf2/ckpt-3'
"""

from __future__ import annotations

from tfpersist import _layout
from tfpersist._files import leftovers, remove_leftovers
from tfpersist._layout import (
    CheckpointState,
    checkpoint_files,
    is_complete,
    latest_checkpoint,
    meta_path,
    read_state,
    resolve_prefix,
    v1_files,
)

__all__ = [
    "STATE_FILE",
    "CheckpointState",
    "checkpoint_files",
    "is_complete",
    "latest_checkpoint",
    "leftovers",
    "meta_path",
    "read_state",
    "remove_leftovers",
    "resolve_prefix",
    "v1_files",
]

#: The name TensorFlow gives the state file in every checkpoint directory.
STATE_FILE = _layout.STATE_FILE
