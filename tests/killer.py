"""A writer that saves in a loop until it is killed; the kill tests drive it.

Run as ``python killer.py WRITER DIRECTORY``. The process imports
TensorFlow once, says ``ready``, and then, for each ``fork N`` line on
stdin, forks a child that writes version N, N+1, ... through tfpersist,
printing ``committed N`` after each write returns. The test kills the child with
SIGKILL; this process reaps it and prints ``reaped``. Forking saves the two
seconds TensorFlow takes to import in every round. Nothing in this process
starts TensorFlow's runtime, so the children start from a clean state.

The step writers (:data:`STEP_WRITERS`) take ``step K NAME DIRECTORY``
lines instead, whatever the command line named: the child of writer NAME
saves a new checkpoint over those the test put into DIRECTORY,
with every filesystem step counted (each file created, linked, renamed or
removed, and each file TensorFlow's save puts in place), and exits at once,
as a kill would leave it, right before step K. A child that reaches
the end prints ``steps N``.
"""

from __future__ import annotations

import functools
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
            {"v/.ATTRIBUTES/VARIABLE_VALUE": "renamed_v/.ATTRIBUTES/VARIABLE_VALUE"},
            overwrite=True,
        )
        _committed(n)


def export(directory: str) -> None:
    sources = _sources(directory)
    for n in _versions():
        exporting.export_checkpoint(sources[(n - 1) % 3], os.path.join(directory, "weights.npz"))
        _committed(n)


WRITERS = {f.__name__: f for f in (tf1_saver, tf2_checkpoint, freeze, rename, export)}

OLD, NEW = 1.0, 2.0  # the values of the checkpoint saved over, and of the one saved over it


def _tf1_graph(value: float, save) -> None:
    with tf.Graph().as_default() as graph:
        v = tf.Variable(tf.fill([SIZE], value), name="v")
        w = tf.Variable(tf.fill([SIZE], value), name="w")
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run([v.initializer, w.initializer])
            save(sess)


def _variables(value: float) -> dict[str, tf.Variable]:
    return {"v": tf.Variable(tf.fill([SIZE], value)), "w": tf.Variable(tf.fill([SIZE], value))}


def tf1_same_prefix(directory: str, kill_at: int | None = None) -> None:
    """The article's usage: ``save_session`` to the same prefix again, with a ``.meta``."""
    prefix = os.path.join(directory, "model.ckpt")
    if kill_at is None:
        _tf1_graph(OLD, lambda sess: saving.save_session(sess, prefix))
        return

    def save(sess) -> None:
        steps = _arm(directory, kill_at)
        saving.save_session(sess, prefix)
        _done(steps())

    _tf1_graph(NEW, save)


def tf2_fresh_checkpoint(directory: str, kill_at: int | None = None) -> None:
    """A new ``tf.train.Checkpoint`` numbers from 1 again: ``ckpt-1`` is saved over."""
    ckpt = tf.train.Checkpoint(**_variables(OLD if kill_at is None else NEW))
    steps = _arm(directory, kill_at) if kill_at is not None else None
    saving.save_checkpoint(ckpt, os.path.join(directory, "ckpt"))
    if steps:
        _done(steps())


def manager_restart(directory: str, kill_at: int | None = None) -> None:
    """A CheckpointManager after a restart, its counter not restored: ``sub/model-1`` again.

    Its ``checkpoint_name`` is ``sub/model``: the checkpoints go into ``sub/``,
    the state file stays in *directory*.
    """
    variables = _variables(OLD / 2 if kill_at is None else NEW)
    ckpt = tf.train.Checkpoint(**variables)
    manager = tf.train.CheckpointManager(ckpt, directory, 3, checkpoint_name="sub/model")
    if kill_at is None:  # sub/model-1 holds OLD / 2, sub/model-2 OLD
        saving.save_checkpoint(manager)
        ckpt.v.assign(tf.fill([SIZE], OLD))
        ckpt.w.assign(tf.fill([SIZE], OLD))
        saving.save_checkpoint(manager)
        return
    steps = _arm(directory, kill_at)
    saving.save_checkpoint(manager)
    _done(steps())


#: Each saves the old checkpoints into a directory when called without
#: *kill_at* (the test does that once), and the new one over them with it.
STEP_WRITERS = {f.__name__: f for f in (tf1_same_prefix, tf2_fresh_checkpoint, manager_restart)}


def _arm(directory: str, kill_at: int):
    """Count filesystem steps from now on; exit right before step *kill_at*. Returns the count.

    TensorFlow's save runs in C++, where nothing can be counted, so it is
    seen from outside: it runs whole, the files it changed are found, and a
    kill after the first j of them landed (``.data`` first, ``.index`` next,
    the state file last, as TensorFlow renames them) is made by putting the
    others back as they were, just before exiting.
    """
    count = 0
    link, replace, remove, mkdir = os.link, os.replace, os.remove, os.mkdir

    def makedirs(path: str) -> None:  # the test's own directories: not steps of the save
        if path and not os.path.isdir(path):
            makedirs(os.path.dirname(path))
            mkdir(path)

    def step(undo=None) -> None:
        nonlocal count
        count += 1
        if count == kill_at:
            if undo:
                undo()
            os._exit(0)

    def counted(original, creates=None):
        def wrapper(*args, **kwargs):
            if creates is None or creates(*args, **kwargs):
                step()
            return original(*args, **kwargs)

        return wrapper

    def files() -> dict[str, int]:
        """Every file under *directory*, by its path there, with its inode."""
        found = {}
        for root, _, names in os.walk(directory):
            for name in names:
                path = os.path.join(root, name)
                if not os.path.islink(path):
                    found[os.path.relpath(path, directory)] = os.stat(path).st_ino
        return found

    def landing(name: str) -> tuple[int, str]:
        return (
            0
            if ".data-" in name
            else 1
            if name.endswith(".index")
            else 3
            if name == "checkpoint"
            else 2,
            name,
        )

    def tensorflow_save(original):
        def wrapper(*args, **kwargs):
            before = files()
            kept = directory + ".before"
            for name in before:
                makedirs(os.path.dirname(os.path.join(kept, name)))
                link(os.path.join(directory, name), os.path.join(kept, name))
            result = original(*args, **kwargs)
            after = files()
            changed = sorted(
                (n for n in {*before, *after} if before.get(n) != after.get(n)), key=landing
            )

            def undo(names: list[str]) -> None:
                for name in names:
                    path = os.path.join(directory, name)
                    if name in before:
                        replace(os.path.join(kept, name), path)
                    elif os.path.exists(path):
                        remove(path)

            for landed in range(len(changed) + 1):
                step(functools.partial(undo, changed[landed:]))
            return result

        return wrapper

    for name in ("link", "replace", "rename", "unlink", "remove", "rmdir", "mkdir"):
        setattr(os, name, counted(getattr(os, name)))
    os.open = counted(os.open, creates=lambda path, flags, *a, **k: flags & os.O_CREAT)
    for cls in (tf.compat.v1.train.Saver, tf.train.Checkpoint, tf.train.CheckpointManager):
        cls.save = tensorflow_save(cls.save)
    return lambda: count


def _done(steps: int) -> None:
    os.write(1, f"steps {steps}\n".encode())


def _versions():
    n = START
    while True:
        yield n
        n += 1


def _committed(n: int) -> None:
    os.write(1, f"committed {n}\n".encode())


def main() -> None:
    name, directory = sys.argv[1], sys.argv[2]
    np.zeros(1)  # imports done; nothing of TensorFlow's runtime has started
    print("ready", flush=True)
    global START
    for line in sys.stdin:
        words = line.split()
        if not words or words[0] not in ("fork", "step"):
            break
        START = int(words[1])
        go_read, go_write = os.pipe()  # the child waits until its pid is out, or lines mix
        pid = os.fork()
        if pid == 0:
            os.close(go_write)
            os.read(go_read, 1)
            try:
                if words[0] == "step":
                    _, _, step_writer, step_directory = line.rstrip("\n").split(" ", 3)
                    STEP_WRITERS[step_writer](step_directory, START)
                else:
                    WRITERS[name](directory)
            except BaseException as e:  # reported to the test, never hidden
                os.write(1, f"error {type(e).__name__}: {e}\n".encode())
            finally:
                os._exit(1)
        os.close(go_read)
        sys.stdout.flush()
        os.write(1, f"pid {pid}\n".encode())
        os.write(go_write, b"go")
        os.close(go_write)
        os.waitpid(pid, 0)
        print("reaped", flush=True)


if __name__ == "__main__":
    main()
