"""Nothing lost: writers killed at random moments, a full disk, two writers in one directory."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from tfpersist import checkpoint_state, freezing, rewriting
from tfpersist.bundle import load_checkpoint
from tfpersist.errors import CheckpointStateWarning
from tfpersist.inspecting import verify_checkpoint

ROUNDS = 50
KILLER = str(Path(__file__).with_name("killer.py"))
WRITERS = ["tf1_saver", "tf2_checkpoint", "freeze", "rename", "export"]

pytestmark = pytest.mark.fault


def write_sources(writer: str, directory: Path) -> dict[float, dict[str, np.ndarray]]:
    """Checkpoints 1, 2 and 3 for *writer* to read; what it must make of each, by number.

    No two values are alike, within a checkpoint or across them, so a wrong
    value, a swapped name or the wrong source shows.
    """
    outputs = {}
    for n in (1, 2, 3):
        base = np.arange(4096, dtype=np.float32) + 10_000 * n
        prefix = str(directory / "sources" / f"ckpt{n}")
        tf.train.Checkpoint(v=tf.Variable(base), w=tf.Variable(-base)).write(prefix)
        renamed = RENAMED if writer == "rename" else {}
        outputs[float(n)] = {renamed.get(k, k): v for k, v in tensorflow_reads(prefix).items()}
    return outputs


#: What killer.rename renames; killer.export keeps every name.
RENAMED = {"v/.ATTRIBUTES/VARIABLE_VALUE": "renamed_v/.ATTRIBUTES/VARIABLE_VALUE"}


def tensorflow_reads(prefix: str | Path) -> dict[str, np.ndarray]:
    """Every variable of checkpoint *prefix*, as TensorFlow's own reader reads it."""
    reader = tf.train.load_checkpoint(str(prefix))
    names = [n for n in reader.get_variable_to_shape_map() if n != "_CHECKPOINTABLE_OBJECT_GRAPH"]
    return {n: reader.get_tensor(n) for n in names}


def which_source(output: dict[str, np.ndarray], sources: dict) -> float:
    """The number of the source *output* is, exactly: its names, dtypes and values."""
    for n, want in sources.items():
        if output.keys() == want.keys() and all(
            output[k].dtype == want[k].dtype and np.array_equal(output[k], want[k]) for k in want
        ):
            return n
    raise AssertionError(f"the output is none of the sources: {sorted(output)}")


def source_value(version: int) -> float:
    return float((version - 1) % 3 + 1)


def uniform(values: np.ndarray) -> float:
    assert values.size and np.all(values == values.flat[0]), "a mix of two versions"
    return float(values.flat[0])


def latest_value(writer: str, directory: Path, sources: dict | None = None) -> float | None:
    """The value on disk after a kill, checked whole; None when nothing was written yet.

    For rename and export, the number of the source the output is exactly.
    """
    if writer in ("tf1_saver", "tf2_checkpoint"):
        if not (directory / "checkpoint").exists():
            return None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CheckpointStateWarning)
            prefix = checkpoint_state.latest_checkpoint(directory)
        verify_checkpoint(prefix)  # every tensor whole, every checksum right
        reader = load_checkpoint(prefix)
        names = ["v", "w"] if writer == "tf1_saver" else ["v/.ATTRIBUTES/VARIABLE_VALUE"]
        values = [uniform(reader.get_tensor(n)) for n in names]
        assert len(set(values)) == 1, "variables from two different saves"
        return values[0]
    if writer == "freeze":
        if not (directory / "frozen.pb").exists():
            return None
        graph_def = freezing.read_graph_def(directory / "frozen.pb")
        const = next(n for n in graph_def.node if n.op == "Const" and n.name == "v")
        return uniform(tf.make_ndarray(const.attr["value"].tensor))
    if writer == "rename":
        prefix = directory / "renamed" / "ckpt"
        if not Path(f"{prefix}.index").exists():
            return None
        verify_checkpoint(prefix)
        output = tensorflow_reads(prefix)
        objects = {"renamed_v": tf.Variable(tf.zeros([4096])), "w": tf.Variable(tf.zeros([4096]))}
        tf.train.Checkpoint(**objects).read(str(prefix)).assert_consumed()  # its object graph
        for name, variable in objects.items():
            np.testing.assert_array_equal(variable, output[f"{name}/.ATTRIBUTES/VARIABLE_VALUE"])
        return which_source(output, sources)
    if not (directory / "weights.npz").exists():
        return None
    with np.load(directory / "weights.npz") as weights:
        return which_source(dict(weights), sources)


def leftover_dirs(writer: str, directory: Path) -> list[Path]:
    return [directory / "renamed"] if writer == "rename" else [directory]


class Zygote:
    """The killer.py process: forks a writer per round, so each round skips TensorFlow's import."""

    def __init__(self, writer: str, directory: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, KILLER, writer, str(directory)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            bufsize=1,
        )
        assert self.process.stdout.readline().strip() == "ready"

    def round(self, start: int, delay: float) -> int | None:
        """Fork a writer from version *start*, kill it after *delay* s; return its last commit."""
        self.process.stdin.write(f"fork {start}\n")
        self.process.stdin.flush()
        kind, pid = self.process.stdout.readline().split()
        assert kind == "pid", kind
        pid = int(pid)
        time.sleep(delay)
        os.kill(pid, signal.SIGKILL)
        last = None
        for line in iter(self.process.stdout.readline, ""):
            if line.startswith("reaped"):
                return last
            assert not line.startswith("error"), line
            last = int(line.split()[1])
        raise AssertionError("the writer process died")

    def step(self, writer: str, directory: Path, kill_at: int) -> int | None:
        """Fork step *writer* into *directory*, to exit before step *kill_at*; its count if done."""
        self.process.stdin.write(f"step {kill_at} {writer} {directory}\n")
        self.process.stdin.flush()
        steps = None
        for line in iter(self.process.stdout.readline, ""):
            if line.startswith("reaped"):
                return steps
            assert not line.startswith("error"), line
            if line.startswith("steps"):
                steps = int(line.split()[1])
        raise AssertionError("the writer process died")

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=30)
        self.process.stdout.close()


@pytest.mark.parametrize("writer", WRITERS)
def test_killed_writer_loses_nothing(writer, tmp_path, record_property):
    sources = write_sources(writer, tmp_path) if writer in ("rename", "export") else None
    rng = random.Random(f"{writer}-2026")
    zygote = Zygote(writer, tmp_path)
    committed, attempted, with_leftovers, absent = 0, 0, 0, 0
    landed: set[int] = set()  # the versions that may be the last one written whole
    try:
        for _ in range(ROUNDS):
            start = attempted + 1
            last = zygote.round(start, rng.uniform(0.0, 0.4))
            committed = max(committed, last or 0)
            attempted = max(attempted, (last or start - 1) + 1)
            landed = {last, last + 1} if last else landed | {start}  # killed before its report
            value = latest_value(writer, tmp_path, sources)
            if writer == "rename":  # overwriting: old, new or no checkpoint, never a mix
                absent += value is None
                for n in (1, 2, 3):
                    verify_checkpoint(tmp_path / "sources" / f"ckpt{n}")  # the source is intact
            elif committed:
                assert value is not None, "a committed write is gone"
            if value is not None:
                if writer in ("rename", "export"):
                    assert value in {source_value(v) for v in landed}, (value, sorted(landed))
                else:
                    assert committed <= value <= attempted, (committed, value, attempted)
            dirs = leftover_dirs(writer, tmp_path)
            with_leftovers += any(checkpoint_state.leftovers(d) for d in dirs if d.exists())
    finally:
        zygote.close()
    removed = [
        p
        for d in leftover_dirs(writer, tmp_path)
        if d.exists()
        for p in checkpoint_state.remove_leftovers(d)
    ]
    for d in leftover_dirs(writer, tmp_path):
        assert not d.exists() or checkpoint_state.leftovers(d) == []
    assert committed > 0
    if writer != "rename":  # a rename killed mid-overwrite may leave no destination
        assert latest_value(writer, tmp_path, sources) is not None  # readable after clean-up
    record_property("rounds", ROUNDS)
    record_property(
        "fault_detail",
        f"{writer}: {ROUNDS} kills, last commit {committed}: the latest write whole every time; "
        f"leftovers after {with_leftovers} kills, {len(removed)} removed by remove_leftovers"
        + (f"; no destination after {absent} kills mid-overwrite" if writer == "rename" else ""),
    )


def restored(writer: str, prefix: str) -> float:
    """The one value every variable of checkpoint *prefix* has, restored by TensorFlow itself."""
    if writer == "tf1_same_prefix":
        with tf.Graph().as_default() as graph:
            v = tf.Variable(tf.zeros([4096]), name="v")
            w = tf.Variable(tf.zeros([4096]), name="w")
            with tf.compat.v1.Session(graph=graph) as sess:
                tf.compat.v1.train.Saver().restore(sess, prefix)
                values = sess.run([v, w])
    else:
        variables = {"v": tf.Variable(tf.zeros([4096])), "w": tf.Variable(tf.zeros([4096]))}
        tf.train.Checkpoint(**variables).read(prefix).assert_existing_objects_matched()
        values = [variables["v"].numpy(), variables["w"].numpy()]
    found = {uniform(value) for value in values}
    assert len(found) == 1, f"{prefix}: variables from two different saves"
    return found.pop()


def check_after_kill(writer: str, directory: Path, finished: bool) -> None:
    """Check what a save killed over an existing checkpoint left, before any clean-up."""
    from killer import NEW, OLD

    latest = tf.train.latest_checkpoint(str(directory))
    with warnings.catch_warnings():
        warnings.simplefilter("error", CheckpointStateWarning)  # the state file is right as it is
        assert checkpoint_state.latest_checkpoint(directory) == latest
        named = checkpoint_state.read_state(directory).checkpoints
    for prefix in named:  # whole, and from one save
        verify_checkpoint(prefix)
        reader = load_checkpoint(prefix)
        values = [reader.get_tensor(n) for n in reader.get_variable_to_shape_map() if n[0] in "vw"]
        assert uniform(np.concatenate(values)) in {OLD / 2, OLD, NEW}, prefix
    value = restored(writer, latest)  # by TensorFlow itself
    if finished:
        assert value == NEW
    else:
        assert value in {OLD, NEW}, (latest, value)  # OLD: the latest before this save


STEP_WRITERS = ["tf1_same_prefix", "tf2_fresh_checkpoint", "manager_restart"]
SAVED_OVER = {  # what each step writer's directory holds, by name: the first is saved over
    "tf1_same_prefix": ["model.ckpt"],
    "tf2_fresh_checkpoint": ["ckpt-1"],
    "manager_restart": ["sub/model-1", "sub/model-2"],  # the state file above sub/
}


@pytest.fixture(scope="module")
def step_zygote(tmp_path_factory):
    """One killer.py process for every step writer: TensorFlow is imported once."""
    zygote = Zygote("steps", tmp_path_factory.mktemp("steps"))
    yield zygote
    zygote.close()


@pytest.mark.parametrize("writer", STEP_WRITERS)
def test_killed_at_every_step_loses_nothing(writer, step_zygote, tmp_path, record_property):
    """Kill a save over an existing checkpoint before each of its filesystem steps in turn.

    Every step tfpersist takes is counted, and so is each file TensorFlow's
    save puts in place (see killer._arm), so "after step k" is "before step
    k + 1": the kills see every state the disk passes through between steps. Then remove_leftovers ends what the
    kill cut short, and the checkpoint saved over holds the old values or
    the new ones, under the prefix the user gave.
    """
    import killer

    NEW, OLD = killer.NEW, killer.OLD
    template = tmp_path / "template"
    killer.STEP_WRITERS[writer](str(template))  # the checkpoints to save over
    kills, steps, kept_old = 0, None, 0
    while steps is None:
        directory = tmp_path / f"k{kills + 1}"
        shutil.copytree(template, directory)
        steps = step_zygote.step(writer, directory, kills + 1)
        check_after_kill(writer, directory, finished=steps is not None)
        checkpoint_state.remove_leftovers(directory)
        assert checkpoint_state.leftovers(directory) == []
        named = checkpoint_state.read_state(directory).checkpoints
        assert sorted(os.path.relpath(p, directory) for p in named) == SAVED_OVER[writer]
        if writer == "manager_restart":  # its checkpoints are in sub/, its state file above
            assert checkpoint_state.leftovers(directory / "sub") == []
        saved_over = str(directory / SAVED_OVER[writer][0])
        if writer == "tf1_same_prefix":  # its .meta rebuilds the graph to restore into
            with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
                saver = tf.compat.v1.train.import_meta_graph(saved_over + ".meta")
                saver.restore(sess, saved_over)
                values = sess.run(tf.compat.v1.global_variables())
            value = uniform(np.concatenate(values))
        else:
            value = restored(writer, saved_over)
        assert value in {OLD / 2 if writer == "manager_restart" else OLD, NEW}
        kept_old += value != NEW
        kills += steps is None
    assert kills == steps  # one kill before each step
    record_property("rounds", kills)
    record_property(
        "fault_detail",
        f"{writer}: killed before each of its {steps} steps saving over a checkpoint: "
        f"the old checkpoint back {kept_old} times, the new one {kills - kept_old} times, "
        "lost 0 times",
    )


DISK_FULL = textwrap.dedent(
    """
    import resource, sys
    import tensorflow as tf
    from tfpersist import exporting, freezing, rewriting, saving
    from tfpersist.errors import WriteError
    writer, directory = sys.argv[1], sys.argv[2]
    big = tf.Variable(tf.ones([1 << 20]))  # 4 MiB, over the 1 MiB limit
    limit = 1 << 20
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    try:
        if writer == "tf2_checkpoint":
            saving.save_checkpoint(tf.train.Checkpoint(v=big), directory + "/ckpt")
        elif writer == "tf1_saver":
            with tf.Graph().as_default() as g:
                v = tf.Variable(tf.ones([1 << 20]), name="v")
                with tf.compat.v1.Session(graph=g) as sess:
                    sess.run(v.initializer)
                    saving.save_session(sess, directory + "/model.ckpt", global_step=2)
        elif writer == "rename":
            # a drop makes the rename copy the bytes it keeps (a plain rename only links them)
            rewriting.rename_checkpoint(directory + "/big1", directory + "/renamed", {"v": "w"},
                                        drop=["step"], overwrite=True)
        elif writer == "freeze":
            g = tf.compat.v1.GraphDef()
            g.node.add(name="c", op="Const").attr["value"].tensor.tensor_content = b"x" * (2 << 20)
            freezing.write_graph_def(g, directory + "/frozen.pb")
        else:
            exporting.export_checkpoint(directory + "/big", directory + "/weights.npz")
    except WriteError as e:
        print("WriteError", e)
        sys.exit(3)
    """
)


@pytest.mark.parametrize("writer", ["tf1_saver", "tf2_checkpoint", "freeze", "rename", "export"])
def test_disk_full_keeps_the_previous_files(writer, tmp_path, record_property):
    directory = tmp_path / "out"
    small = tf.Variable(tf.fill([4], 7.0))
    if writer == "tf2_checkpoint":
        before = tf.train.Checkpoint(v=small).save(str(directory / "ckpt"))
    elif writer == "tf1_saver":
        with tf.Graph().as_default() as g:
            v = tf.Variable(tf.fill([4], 7.0), name="v")
            with tf.compat.v1.Session(graph=g) as sess:
                sess.run(v.initializer)
                before = tf.compat.v1.train.Saver().save(sess, str(directory / "model.ckpt"), 1)
    else:
        directory.mkdir()
        before = str(directory / ("frozen.pb" if writer == "freeze" else "weights.npz"))
        Path(before).write_bytes(b"the previous good file")
        tf.train.Checkpoint(v=tf.Variable(tf.ones([1 << 20]))).write(str(directory / "big"))
        if writer == "rename":  # a small checkpoint where the big one would go
            tf.train.Checkpoint(v=tf.Variable([7.0])).write(str(directory / "renamed"))
            big = {"v": np.ones(1 << 20, np.float32), "step": np.int64(1)}
            rewriting.write_checkpoint(str(directory / "big1"), big)
    files_before = {p: p.read_bytes() for p in directory.rglob("*") if p.is_file()}
    child = subprocess.run(
        [sys.executable, "-c", DISK_FULL, writer, str(directory)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert child.returncode == 3, child.stderr[-3000:]
    assert child.stdout.startswith("WriteError")
    for path, data in files_before.items():
        assert path.read_bytes() == data, f"{path} changed"
    if writer in ("tf1_saver", "tf2_checkpoint"):
        assert checkpoint_state.latest_checkpoint(directory) == before
        assert checkpoint_state.leftovers(directory) == []  # the failed save cleaned up
    else:
        assert sorted(p.name for p in directory.iterdir() if p.is_file()) == sorted(
            p.name for p in files_before
        )
    message = child.stdout.strip().splitlines()[0].replace(str(directory), "out")
    record_property("fault_detail", f"{writer}: {message}")


TWO_WRITERS = textwrap.dedent(
    """
    import sys
    import tensorflow as tf
    from tfpersist import saving
    ckpt = tf.train.Checkpoint(v=tf.Variable(tf.zeros([4096])))
    manager = tf.train.CheckpointManager(ckpt, sys.argv[1], max_to_keep=3)
    for n in range(int(sys.argv[2]), int(sys.argv[2]) + 20):
        ckpt.v.assign(tf.fill([4096], float(n)))
        saving.save_checkpoint(manager)
    """
)


def test_two_processes_saving_into_one_directory(tmp_path, record_property):
    writers = [
        subprocess.Popen([sys.executable, "-c", TWO_WRITERS, str(tmp_path), str(start)])
        for start in (1000, 2000)
    ]
    assert [w.wait(timeout=300) for w in writers] == [0, 0]
    state = checkpoint_state.read_state(tmp_path)
    assert state.latest is not None
    value = uniform(load_checkpoint(state.latest).get_tensor("v/.ATTRIBUTES/VARIABLE_VALUE"))
    assert value in {1019.0, 2019.0}  # the last save of one of them, whole
    for prefix in state.checkpoints:
        verify_checkpoint(prefix)
    record_property(
        "fault_detail", f"2 x 20 saves; state file lists {len(state.checkpoints)}, all whole"
    )


def test_a_held_lock_times_out_clearly(tmp_path):
    from tfpersist._lock import locked
    from tfpersist.errors import CheckpointLockedError
    from tfpersist.saving import save_checkpoint

    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import fcntl, os, sys, time\n"
         "fd = os.open(sys.argv[1], os.O_RDONLY)\n"
         "fcntl.flock(fd, fcntl.LOCK_EX)\n"
         "print('held', flush=True)\n"
         "time.sleep(60)\n",
         str(tmp_path)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(CheckpointLockedError, match="being written by another process"):
            save_checkpoint(
                tf.train.Checkpoint(v=tf.Variable(1.0)), tmp_path / "c", lock_timeout=0.3
            )
        assert os.listdir(tmp_path) == []  # nothing written while locked out
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
    with locked(str(tmp_path), timeout=5):  # the system dropped the dead holder's lock
        pass
