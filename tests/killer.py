"""A writer that saves in a loop until it is killed; the kill tests drive it.

Run as ``python killer.py WRITER DIRECTORY``. The process imports
TensorFlow once, says ``ready``, and then, for each ``fork N`` line on
stdin, forks a child that writes version N, N+1, ... through tfpersist,
printing ``committed N`` after each write returns. The test kills the child with
SIGKILL; this process reaps it and prints ``reaped``. Forking saves the two
seconds TensorFlow takes to import in every round. Nothing in this process
starts TensorFlow's runtime, so the children start from a clean state.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import tensorflow as tf

from tfpersist import exporting, freezing, rewriting, saving

SIZE = 4096  # floats per variable: big enough that a write takes a while
START = 1  # the first version a child writes; each ``fork N`` line sets it


def tf1_saver(directory: str) -> None:
    with tf.Graph().as_default() as graph:
        v = tf.Variable(tf.zeros([SIZE]), name="v")
        w = tf.Variable(tf.zeros([SIZE]), name="w")
        value = tf.compat.v1.placeholder(tf.float32, [])
        assign = tf.group(v.assign(tf.fill([SIZE], value)), w.assign(tf.fill([SIZE], value)))
        with tf.compat.v1.Session(graph=graph) as sess:
            for n in _versions():
                sess.run(assign, {value: float(n)})
                saving.save_session(sess, os.path.join(directory, "model.ckpt"), global_step=n)
                _committed(n)


def tf2_checkpoint(directory: str) -> None:
    ckpt = tf.train.Checkpoint(v=tf.Variable(tf.zeros([SIZE])), w=tf.Variable(tf.zeros([SIZE])))
    manager = tf.train.CheckpointManager(ckpt, directory, max_to_keep=3)
    for n in _versions():
        ckpt.v.assign(tf.fill([SIZE], float(n)))
        ckpt.w.assign(tf.fill([SIZE], float(n)))
        saving.save_checkpoint(manager)
        _committed(n)


def freeze(directory: str) -> None:
    with tf.Graph().as_default() as graph:
        v = tf.Variable(tf.zeros([SIZE]), name="v")
        out = tf.identity(v * 2.0, name="out")
        value = tf.compat.v1.placeholder(tf.float32, [])
        assign = v.assign(tf.fill([SIZE], value))
        with tf.compat.v1.Session(graph=graph) as sess:
            for n in _versions():
                sess.run(assign, {value: float(n)})
                frozen = freezing.freeze_session(sess, [out.op.name])
                freezing.write_graph_def(frozen, os.path.join(directory, "frozen.pb"))
                _committed(n)


def _sources(directory: str) -> list[str]:
    """Checkpoints of versions 1, 2 and 3 that the test wrote, for rename and export to read."""
    return [os.path.join(directory, "sources", f"ckpt{n}") for n in (1, 2, 3)]


def rename(directory: str) -> None:
    sources = _sources(directory)
    for n in _versions():
        source = sources[(n - 1) % 3]
        rewriting.rename_checkpoint(
            source,
            os.path.join(directory, "renamed", "ckpt"),
            {"v/.ATTRIBUTES/VARIABLE_VALUE": "renamed_v"},
            overwrite=True,
        )
        _committed(n)


def export(directory: str) -> None:
    sources = _sources(directory)
    for n in _versions():
        exporting.export_checkpoint(sources[(n - 1) % 3], os.path.join(directory, "weights.npz"))
        _committed(n)


WRITERS = {f.__name__: f for f in (tf1_saver, tf2_checkpoint, freeze, rename, export)}


def _versions():
    n = START
    while True:
        yield n
        n += 1


def _committed(n: int) -> None:
    os.write(1, f"committed {n}\n".encode())


def main() -> None:
    writer, directory = WRITERS[sys.argv[1]], sys.argv[2]
    np.zeros(1)  # imports done; nothing of TensorFlow's runtime has started
    print("ready", flush=True)
    global START
    for line in sys.stdin:
        words = line.split()
        if not words or words[0] != "fork":
            break
        START = int(words[1])
        pid = os.fork()
        if pid == 0:
            try:
                writer(directory)
            except BaseException as e:  # reported to the test, never hidden
                os.write(1, f"error {type(e).__name__}: {e}\n".encode())
            finally:
                os._exit(1)
        print(f"pid {pid}", flush=True)
        os.waitpid(pid, 0)
        print("reaped", flush=True)


if __name__ == "__main__":
    main()
