"""Beyond one machine: sharded checkpoints, several workers, remote filesystems.

The article saves one process's variables to one local disk. Training that
outgrows a process spreads variables over devices and workers, and keeps
checkpoints on shared storage. The files stay the same bundle, an ``.index``
and its ``.data`` shards (分片), so every tfpersist tool reads them; what
changes is who writes them, and where.

.. rubric:: Sharded checkpoints, TF1 style

With ``sharded=True`` a ``Saver`` writes one ``.data`` shard per device that
holds variables, each written by its own device, and merges the indexes
into one. A machine with one CPU can be split into logical devices
(:func:`split_cpu`) before TensorFlow starts:

>>> import os
>>> import numpy as np, tensorflow as tf
>>> from tfpersist import bundle, distributed, inspecting, saving
>>> distributed.split_cpu(2)
['/device:CPU:0', '/device:CPU:1']
>>> with tf.Graph().as_default() as graph:
...     with tf.device("/device:CPU:0"):
...         v1 = tf.Variable(tf.constant(1.0, shape=[1]), name="v1")
...     with tf.device("/device:CPU:1"):
...         v2 = tf.Variable(tf.constant(2.0, shape=[1]), name="v2")
...     saver = tf.compat.v1.train.Saver(sharded=True)
...     with tf.compat.v1.Session(graph=graph) as sess:
...         sess.run(tf.compat.v1.global_variables_initializer())
...         print(saving.save_session(sess, "model/model.ckpt", saver=saver))
model/model.ckpt:
  model/checkpoint
  model/model.ckpt.data-00000-of-00002
  model/model.ckpt.data-00001-of-00002
  model/model.ckpt.index
  model/model.ckpt.meta

Each variable lives in the shard of its device, and the reader finds it
there:

>>> reader = bundle.load_checkpoint("model/model.ckpt")
>>> reader.num_shards, reader.get_tensor("v2")
(2, array([2.], dtype=float32))
>>> [v.name for v in inspecting.verify_checkpoint("model").variables]
['v1', 'v2']

.. rubric:: Sharded checkpoints, TF2 style

From TensorFlow 2.16, ``tf.train.CheckpointOptions`` takes a sharding
policy. :func:`checkpoint_options` builds the options, and says which
release is needed when this one has no policies.
``MaxShardSizePolicy`` keeps every shard under a size, cutting large
tensors into slices that readers put back together:

>>> ckpt = tf.train.Checkpoint(w=tf.Variable(np.arange(4096, dtype=np.float32)))
>>> if distributed.SHARDING:
...     options = distributed.checkpoint_options(max_shard_size=4096)
... else:  # TensorFlow 2.12-2.15 cannot shard on one device
...     options = None
>>> saved = saving.save_checkpoint(ckpt, "tf2/ckpt", options=options)
>>> reader = bundle.load_checkpoint(saved.prefix)
>>> reader.num_shards >= 4 if distributed.SHARDING else reader.num_shards == 1
True
>>> np.array_equal(reader.get_tensor("w/.ATTRIBUTES/VARIABLE_VALUE"), ckpt.w.numpy())
True

.. rubric:: Several workers

With ``tf.distribute.MultiWorkerMirroredStrategy`` every worker holds a copy
of every variable, and saving is a collective step: **all** workers must
call ``save``, or the chief waits for them forever. Only the chief's files
are wanted. The pattern TensorFlow documents is that the chief writes the
real checkpoint, and every other worker writes into a temporary directory
of its own and deletes it. The classic mistakes are every worker writing
the same prefix (they overwrite each other's files mid-write) and a worker
writing into the chief's directory (its state file then names a checkpoint
the chief never finished). :func:`save_on_workers` does the pattern:

.. code-block:: python

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    with strategy.scope():
        model = build_model()
        optimizer = tf.keras.optimizers.Adam()
    ckpt = tf.train.Checkpoint(model=model, optimizer=optimizer)
    ...  # train
    distributed.save_on_workers(ckpt, "shared/ckpt-dir", strategy)  # on every worker

The harness :func:`tfpersist.testing.run_workers` starts a cluster of worker processes on this machine,
on the loopback interface, which is how the pattern is tested here. The
worker program below trains a small Keras model for three steps with a
custom training loop (``model.fit`` under this strategy fails on some
releases), saves with :func:`save_on_workers`, and prints what it kept:

>>> from pathlib import Path
>>> _ = Path("train.py").write_text('''
... import sys
... import numpy as np
... import tensorflow as tf
... from tfpersist import distributed
...
... strategy = tf.distribute.MultiWorkerMirroredStrategy()
... tf.keras.utils.set_random_seed(0)
... with strategy.scope():
...     model = tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.Dense(1)])
...     optimizer = tf.keras.optimizers.SGD(0.1)
... x = np.linspace(0, 1, 48, dtype=np.float32).reshape(16, 3)
... data = tf.data.Dataset.from_tensor_slices((x, x.sum(1, keepdims=True))).repeat().batch(8)
... options = tf.data.Options()  # each worker reads its own share of every batch
... options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
... batches = iter(strategy.experimental_distribute_dataset(data.with_options(options)))
...
... @tf.function
... def train_step(batch):
...     def step(x, y):
...         with tf.GradientTape() as tape:
...             errors = tf.reduce_sum((model(x) - y) ** 2, axis=1)
...             loss = tf.nn.compute_average_loss(errors, global_batch_size=8)
...         grads = tape.gradient(loss, model.trainable_variables)
...         optimizer.apply_gradients(zip(grads, model.trainable_variables))
...     strategy.run(step, args=batch)
...
... for _ in range(3):
...     train_step(next(batches))
... ckpt = tf.train.Checkpoint(model=model)
... saved = distributed.save_on_workers(ckpt, sys.argv[1], strategy)
... print(distributed.task(strategy), saved.prefix if saved else "nothing kept")
... ''')
>>> from tfpersist.testing import run_workers
>>> for worker in run_workers("train.py", 2, args=["shared"]):
...     print(worker.stdout.strip())
worker 0 shared/ckpt-1
worker 1 nothing kept
>>> sorted(os.listdir("shared"))
['checkpoint', 'ckpt-1.data-00000-of-00001', 'ckpt-1.index']

The chief's checkpoint is an ordinary one: it restores into a single
process, or into another cluster of any size.

.. rubric:: Remote filesystems

Every function of tfpersist that takes a path also takes a TensorFlow
filesystem URL, and so does the ``tfpersist`` command: ``ram://`` (memory,
for tests), ``gs://`` (Google Cloud Storage, built into TensorFlow) and,
with TensorFlow I/O, ``s3://`` and ``hdfs://``.

>>> saved = saving.save_checkpoint(tf.train.Checkpoint(v=tf.Variable([1.0])), "ram://demo/ckpt")
>>> bundle.load_checkpoint("ram://demo").get_tensor("v/.ATTRIBUTES/VARIABLE_VALUE")
array([1.], dtype=float32)

``gs://`` needs nothing beyond TensorFlow and credentials: a service
account key, or your own login through the Google Cloud CLI.

.. code-block:: console

    $ pip install "tfpersist[tf]"
    $ export GOOGLE_APPLICATION_CREDENTIALS=$HOME/keys/training.json
    $ tfpersist inspect gs://my-bucket/runs/7

``s3://`` comes from the ``tensorflow-io`` package, which tfpersist imports
when it is installed. Its releases are built for one TensorFlow release
each; the last, 0.37.1, is built for TensorFlow 2.16, and no release is
built for 2.17 or later. On a release it was not built for, its library
does not load and ``s3://`` stays unknown; there, copy the checkpoint to a
local disk first (``aws s3 cp --recursive``).

.. code-block:: console

    $ pip install "tensorflow-cpu==2.16.2" "tensorflow-io==0.37.1" "tfpersist[tf]"
    $ export AWS_REGION=eu-west-1 AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=...
    $ tfpersist inspect s3://my-bucket/runs/7

Without ``tensorflow-io``, or on a release it does not support, an
``s3://`` path is an error of one line and exit code 2: "this TensorFlow
has no filesystem for s3:// URLs".

Three things differ from a local disk. No lock: two processes can save into
one remote directory at once, so keep to one writer per directory (the
chief, above). No atomic rename on object stores: a file replaced by
tfpersist is copied and then deleted, and an object appears whole or not at
all, so readers never see half a file, but a crash can leave a ``.tmp``
object behind, which :func:`~tfpersist.checkpoint_state.leftovers` lists.
And ``ram://`` has quirks of its own: any prefix of a file's name "exists"
and "is a directory" to ``tf.io.gfile`` (so ``tf.train.load_checkpoint``
fails on a ``ram://`` prefix, taking it for a directory), and writing a
file that exists appends to it. tfpersist works round both.

.. rubric:: Asynchronous saving

``CheckpointOptions(experimental_enable_async_checkpoint=True)`` copies the
values and returns, writing the files in a background thread, so training
goes on while the disk works. :func:`checkpoint_options` with
``async_save=True`` builds such options; :func:`wait_for_save` waits until
the files are written and turns a failed write into a
:class:`~tfpersist.errors.WriteError`:

>>> ckpt = tf.train.Checkpoint(v=tf.Variable([3.0]))
>>> options = distributed.checkpoint_options(async_save=True)
>>> prefix = saving.save_checkpoint(ckpt, "async/ckpt", options=options).prefix
>>> distributed.wait_for_save(ckpt)
>>> bundle.load_checkpoint(prefix).get_tensor("v/.ATTRIBUTES/VARIABLE_VALUE")
array([3.], dtype=float32)
"""

from __future__ import annotations

import os
from typing import Any

from tfpersist import _fs, _tf
from tfpersist._tf import RELEASE, sync_checkpoint, tf
from tfpersist.errors import (
    DevicePlacementError,
    UnsupportedReleaseError,
    WriteError,
)
from tfpersist.saving import SavedCheckpoint, save_checkpoint

__all__ = [
    "SHARDING",
    "checkpoint_options",
    "is_chief",
    "save_on_workers",
    "split_cpu",
    "task",
    "wait_for_save",
    "worker_directory",
]

#: Whether this TensorFlow (2.16 or later) has sharding policies in ``CheckpointOptions``.
SHARDING = _tf.SHARDING


def split_cpu(count: int) -> list[str]:
    """Split this machine's CPU into *count* logical devices; return their names.

    Sharded saving writes one shard per device, and this gives one machine
    several. It must run before TensorFlow starts its runtime (before the
    first op); calling it again with the same count is harmless.

    >>> split_cpu(2)
    ['/device:CPU:0', '/device:CPU:1']
    >>> split_cpu(3)
    Traceback (most recent call last):
    ...
    tfpersist.errors.DevicePlacementError: cannot split the CPU into 3 devices: TensorFlow has started with 2; call split_cpu first thing, before any op runs
    """
    if count < 1:
        raise DevicePlacementError(
            f"count={count}: split the CPU into one device or more; pass 1 or more"
        )
    cpu = tf.config.list_physical_devices("CPU")[0]
    current = tf.config.get_logical_device_configuration(cpu)
    if current is None or len(current) != count:
        try:
            tf.config.set_logical_device_configuration(
                cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(count)]
            )
        except RuntimeError as e:
            started = len(tf.config.list_logical_devices("CPU"))
            if started == count:  # already so, as TensorFlow started
                return [d.name for d in tf.config.list_logical_devices("CPU")]
            raise DevicePlacementError(
                f"cannot split the CPU into {count} devices: TensorFlow has started with "
                f"{started}; call split_cpu first thing, before any op runs"
            ) from e
    return [d.name for d in tf.config.list_logical_devices("CPU")]


def checkpoint_options(
    *, max_shard_size: int | None = None, by_task: bool = False, async_save: bool = False
) -> tf.train.CheckpointOptions:
    """Build ``tf.train.CheckpointOptions`` for sharded or asynchronous saving.

    *max_shard_size* (bytes) keeps each ``.data`` shard under that size
    (``MaxShardSizePolicy``); *by_task* writes one shard per worker task
    (``ShardByTaskPolicy``). Both need TensorFlow 2.16 or later (see
    :data:`SHARDING`); on older releases they raise
    :class:`~tfpersist.errors.UnsupportedReleaseError`. *async_save* writes
    in the background (every release); see :func:`wait_for_save`.

    >>> checkpoint_options(async_save=True).experimental_enable_async_checkpoint
    True
    >>> checkpoint_options(max_shard_size=0)
    Traceback (most recent call last):
    ...
    ValueError: max_shard_size=0: give a positive number of bytes
    """
    if max_shard_size is not None and max_shard_size <= 0:
        raise ValueError(f"max_shard_size={max_shard_size}: give a positive number of bytes")
    if max_shard_size is not None and by_task:
        raise ValueError("choose one sharding policy: max_shard_size or by_task")
    kwargs: dict[str, Any] = {"experimental_enable_async_checkpoint": async_save}
    if max_shard_size is not None or by_task:
        if not SHARDING:
            raise UnsupportedReleaseError(
                f"sharding policies need TensorFlow 2.16 or later; this is {RELEASE}; "
                "upgrade, or shard a TF1 Saver by device (sharded=True)"
            )
        policies = tf.train.experimental
        kwargs["experimental_sharding_callback"] = (
            policies.ShardByTaskPolicy()
            if by_task
            else policies.MaxShardSizePolicy(max_shard_size=max_shard_size)
        )
    return tf.train.CheckpointOptions(**kwargs)


def wait_for_save(checkpoint: tf.train.Checkpoint) -> None:
    """Wait until an asynchronous save of *checkpoint* has written its files.

    A save that failed in the background raises
    :class:`~tfpersist.errors.WriteError` here; its temporary files may be
    left, for :func:`~tfpersist.checkpoint_state.remove_leftovers`. The
    directory's lock covers the :func:`~tfpersist.saving.save_checkpoint`
    call, not the writing that goes on after it. Without a save in
    progress, this returns at once.

    >>> ckpt = tf.train.Checkpoint(v=tf.Variable(1.0))
    >>> wait_for_save(ckpt)  # nothing to wait for
    """
    try:
        sync_checkpoint(checkpoint)
    except (tf.errors.OpError, OSError) as e:
        from tfpersist._files import write_error_reason

        raise WriteError(
            f"an asynchronous save failed: {write_error_reason(e)}; the checkpoints saved "
            "before it are unchanged"
        ) from e


def task(strategy: tf.distribute.Strategy | None = None) -> str:
    """This process's task in the cluster, as ``"worker 1"``; ``"worker 0"`` outside one.

    >>> task(tf.distribute.get_strategy())
    'worker 0'
    """
    kind, index = _task(strategy)
    return f"{kind or 'worker'} {index or 0}"


def _task(strategy: tf.distribute.Strategy | None) -> tuple[str | None, int | None]:
    resolver = getattr(strategy or tf.distribute.get_strategy(), "cluster_resolver", None)
    if resolver is None:
        return None, None
    return resolver.task_type, resolver.task_id


def is_chief(strategy: tf.distribute.Strategy | None = None) -> bool:
    """Whether this process writes the real checkpoint: the ``chief``, else ``worker`` 0.

    Outside a cluster every process is its own chief.

    >>> is_chief()
    True
    """
    strategy = strategy or tf.distribute.get_strategy()
    kind, index = _task(strategy)
    if kind is None or kind == "chief":
        return True
    cluster = strategy.cluster_resolver.cluster_spec().as_dict()
    return kind == "worker" and index == 0 and "chief" not in cluster


def worker_directory(directory: str | os.PathLike[str], strategy: Any = None) -> str:
    """Where this process saves: *directory* on the chief, ``directory/workertemp_N`` elsewhere.

    >>> worker_directory("ckpts")
    'ckpts'
    """
    directory = os.fspath(directory)
    if is_chief(strategy):
        return directory
    return os.path.join(directory, f"workertemp_{_task(strategy)[1]}")


def save_on_workers(
    checkpoint: tf.train.Checkpoint,
    directory: str | os.PathLike[str],
    strategy: tf.distribute.Strategy | None = None,
    *,
    options: tf.train.CheckpointOptions | None = None,
) -> SavedCheckpoint | None:
    """Save *checkpoint* from every worker; keep the chief's copy only.

    Call it on every worker at the same step: saving a distributed variable
    is a collective operation. The chief saves ``DIRECTORY/ckpt-N`` (with the
    state file); each other worker saves into its own
    :func:`worker_directory`, which is then removed, and gets ``None``. A
    worker killed before removing it leaves ``workertemp_N`` behind, which
    :func:`~tfpersist.checkpoint_state.remove_leftovers` removes.

    >>> ckpt = tf.train.Checkpoint(v=tf.Variable(1.0))
    >>> save_on_workers(ckpt, "ckpts").prefix  # outside a cluster: the chief
    'ckpts/ckpt-1'
    """
    target = worker_directory(directory, strategy)
    saved = save_checkpoint(checkpoint, os.path.join(target, "ckpt"), options=options)
    if is_chief(strategy):
        return saved
    if options is not None and options.experimental_enable_async_checkpoint:
        wait_for_save(checkpoint)
    _fs.rmtree(target)
    return None
