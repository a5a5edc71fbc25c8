"""Sharded checkpoints, multi-worker saving on localhost, and asynchronous saves."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from tfpersist import (
    bundle,
    checkpoint_state,
    distributed,
    exporting,
    inspecting,
    restoring,
    rewriting,
    saving,
    testing,
)
from tfpersist._lock import locked
from tfpersist._tf import VERSION
from tfpersist.cli import main
from tfpersist.errors import (
    CorruptCheckpointError,
    DevicePlacementError,
    UnsupportedReleaseError,
    WorkerError,
    WriteError,
)

WORKER = str(Path(__file__).with_name("worker.py"))


def _sharded_tf1(prefix: str) -> dict[str, np.ndarray]:
    """Save three variables over two CPU devices with ``Saver(sharded=True)``."""
    values = {
        "a": np.arange(6, dtype=np.float32).reshape(2, 3),
        "b": np.array([7, 8], dtype=np.int64),
        "c": np.array([b"x", "中文".encode()], dtype=object),
    }
    with tf.Graph().as_default() as graph:
        for i, (name, value) in enumerate(values.items()):
            with tf.device(f"/device:CPU:{i % 2}"):
                tf.Variable(value, name=name)
        saver = tf.compat.v1.train.Saver(sharded=True)
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            saving.save_session(sess, prefix, saver=saver)
    return values


def test_the_tests_run_on_two_cpu_devices(two_cpus):
    assert two_cpus == ["/device:CPU:0", "/device:CPU:1"]
    assert len(tf.config.list_logical_devices("CPU")) == 2


@pytest.mark.parametrize("root", ["local", "ram"])
def test_a_sharded_tf1_checkpoint_is_read_checked_renamed_and_exported(root, tmp_path, two_cpus):
    base = str(tmp_path) if root == "local" else f"ram://{tmp_path.name}"
    prefix = f"{base}/model/model.ckpt"
    values = _sharded_tf1(prefix)
    assert [f.rsplit(".", 1)[-1] for f in checkpoint_state.checkpoint_files(prefix)] == [
        "data-00000-of-00002",
        "data-00001-of-00002",
        "index",
        "meta",
    ]
    reader = bundle.load_checkpoint(prefix)
    assert reader.num_shards == 2
    for name, value in values.items():
        np.testing.assert_array_equal(reader.get_tensor(name), value)
    assert [v.name for v in inspecting.verify_checkpoint(prefix).variables] == ["a", "b", "c"]
    renamed = rewriting.rename_checkpoint(prefix, f"{base}/renamed/ckpt", {"a": "z"})
    assert dict(renamed.renamed) == {"a": "z"}
    np.testing.assert_array_equal(
        bundle.load_checkpoint(f"{base}/renamed/ckpt").get_tensor("z"), values["a"]
    )
    out = f"{base}/weights.npz"
    assert exporting.export_checkpoint(prefix, out) == ["a", "b", "c"]
    with tf.io.gfile.GFile(out, "rb") as f, np.load(f) as exported:
        np.testing.assert_array_equal(exported["b"], values["b"])


@pytest.mark.parametrize("root", ["local", "ram"])
def test_a_missing_shard_is_named(root, tmp_path, two_cpus):
    base = str(tmp_path) if root == "local" else f"ram://{tmp_path.name}"
    prefix = f"{base}/model.ckpt"
    _sharded_tf1(prefix)
    tf.io.gfile.remove(prefix + ".data-00001-of-00002")
    assert not checkpoint_state.is_complete(prefix)
    with pytest.raises(CorruptCheckpointError, match=r"data-00001-of-00002"):
        inspecting.verify_checkpoint(prefix)


def test_a_sharded_tf1_checkpoint_restores_into_one_device(tmp_path, two_cpus):
    prefix = str(tmp_path / "model.ckpt")
    values = _sharded_tf1(prefix)
    with tf.Graph().as_default() as graph:
        variables = [tf.Variable(np.zeros_like(v) if v.dtype != object else [b"", b""], name=n)
                     for n, v in values.items()]  # fmt: skip
        with tf.compat.v1.Session(graph=graph) as sess:
            restoring.restore_session(sess, prefix)
            restored = sess.run(variables)
    for got, want in zip(restored, values.values(), strict=True):
        np.testing.assert_array_equal(got, want)


def test_sharding_follows_the_release():
    assert (VERSION >= (2, 16)) == distributed.SHARDING
    assert hasattr(tf.train.experimental, "MaxShardSizePolicy") == distributed.SHARDING


@pytest.mark.requires_tf("<2.16")
def test_sharding_policies_need_2_16():
    with pytest.raises(UnsupportedReleaseError, match=r"need TensorFlow 2\.16 or later"):
        distributed.checkpoint_options(max_shard_size=4096)


@pytest.mark.requires_tf(">=2.16")
def test_sharding_policies_cut_shards(tmp_path):
    ckpt = tf.train.Checkpoint(
        big=tf.Variable(np.arange(4096, dtype=np.float32).reshape(64, 64)),
        small=tf.Variable([1.0]),
    )
    options = distributed.checkpoint_options(max_shard_size=4096)
    saved = saving.save_checkpoint(ckpt, str(tmp_path / "ckpt"), options=options)
    reader = bundle.load_checkpoint(saved.prefix)
    assert reader.num_shards == 5  # 16 KiB cut into 4 KiB slices, and the rest
    assert all(os.path.getsize(f) <= 4096 for f in saved.files if ".data-" in f)
    np.testing.assert_array_equal(
        reader.get_tensor("big/.ATTRIBUTES/VARIABLE_VALUE"), ckpt.big.numpy()
    )
    fresh = tf.train.Checkpoint(big=tf.Variable(tf.zeros([64, 64])), small=tf.Variable([0.0]))
    restoring.restore_checkpoint(fresh, saved.prefix)
    np.testing.assert_array_equal(fresh.big.numpy(), ckpt.big.numpy())
    by_task = saving.save_checkpoint(
        ckpt, str(tmp_path / "task"), options=distributed.checkpoint_options(by_task=True)
    )
    assert bundle.load_checkpoint(by_task.prefix).num_shards == 1  # one task, one shard


def test_checkpoint_options_refuse_nonsense():
    with pytest.raises(ValueError, match="choose one sharding policy"):
        distributed.checkpoint_options(max_shard_size=10, by_task=True)
    with pytest.raises(ValueError, match="positive number of bytes"):
        distributed.checkpoint_options(max_shard_size=-1)


def test_asynchronous_saves_land_whole(tmp_path):
    ckpt = tf.train.Checkpoint(v=tf.Variable(tf.zeros([1000])))
    manager = tf.train.CheckpointManager(ckpt, str(tmp_path), max_to_keep=3)
    options = distributed.checkpoint_options(async_save=True)
    for step in range(5):
        ckpt.v.assign(tf.fill([1000], float(step)))
        saving.save_checkpoint(manager, options=options)
        ckpt.v.assign(tf.fill([1000], -1.0))  # changes after the call are not in the save
    distributed.wait_for_save(ckpt)
    state = checkpoint_state.read_state(str(tmp_path))
    assert [p.rsplit("-", 1)[1] for p in state.checkpoints] == ["3", "4", "5"]
    for step, prefix in zip((2, 3, 4), state.checkpoints, strict=True):
        value = bundle.load_checkpoint(prefix).get_tensor("v/.ATTRIBUTES/VARIABLE_VALUE")
        assert set(value.tolist()) == {float(step)}


ASYNC_DISK_FULL = """
import resource, sys
import tensorflow as tf
from tfpersist import distributed, saving
from tfpersist.errors import WriteError
ckpt = tf.train.Checkpoint(v=tf.Variable(tf.zeros([1 << 20])))  # 4 MiB, over the 1 MiB limit
manager = tf.train.CheckpointManager(ckpt, sys.argv[1], max_to_keep=3)
ckpt.read(manager.latest_checkpoint).assert_existing_objects_matched()  # ckpt-2 comes next
ckpt.v.assign(tf.ones([1 << 20]))
resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))
saving.save_checkpoint(manager, options=distributed.checkpoint_options(async_save=True))
try:
    distributed.wait_for_save(ckpt)
except WriteError as e:
    print("WriteError", e)
    sys.exit(3)
"""


def test_a_failed_asynchronous_save_is_a_write_error(tmp_path):
    """A disk that fills while an asynchronous save writes: a WriteError, the previous save kept."""
    before = tf.train.CheckpointManager(
        tf.train.Checkpoint(v=tf.Variable(tf.fill([1 << 20], 7.0))), str(tmp_path), max_to_keep=3
    ).save()
    files_before = {p: p.read_bytes() for p in tmp_path.iterdir()}
    child = subprocess.run(
        [sys.executable, "-c", ASYNC_DISK_FULL, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == 3, child.stderr[-3000:]
    assert child.stdout.startswith("WriteError an asynchronous save failed: ")
    for path, data in files_before.items():
        assert path.read_bytes() == data, f"{path} changed"
    checkpoint_state.remove_leftovers(str(tmp_path))
    assert checkpoint_state.latest_checkpoint(str(tmp_path)) == before
    assert sorted(tmp_path.iterdir()) == sorted(files_before)
    restored = tf.train.Checkpoint(v=tf.Variable(tf.zeros([1 << 20])))
    restored.read(before).assert_existing_objects_matched()  # by TensorFlow itself
    assert set(restored.v.numpy().tolist()) == {7.0}


def test_saving_under_a_file_is_a_write_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(WriteError, match="is part of the path a file"):
        saving.save_checkpoint(tf.train.Checkpoint(v=tf.Variable(1.0)), str(blocker / "ckpt"))
    assert blocker.read_text() == "not a directory"


def test_split_cpu_after_start_is_a_typed_error(two_cpus):
    assert distributed.split_cpu(2) == ["/device:CPU:0", "/device:CPU:1"]
    with pytest.raises(DevicePlacementError, match="call split_cpu first thing"):
        distributed.split_cpu(4)


def test_worker_directories_are_leftovers_unless_a_worker_is_saving(tmp_path):
    worker = tmp_path / "workertemp_1"
    worker.mkdir()
    (worker / "ckpt-1.index").write_bytes(b"")
    assert checkpoint_state.leftovers(str(tmp_path)) == [str(worker)]
    with locked(str(worker)):  # as save_on_workers holds it while the worker saves
        assert checkpoint_state.remove_leftovers(str(tmp_path)) == []
    assert worker.exists()
    assert checkpoint_state.remove_leftovers(str(tmp_path)) == [str(worker)]
    assert not worker.exists()


def _run(mode: str, workers: int, directory: Path) -> list[dict]:
    results = testing.run_workers(WORKER, workers, args=[mode, str(directory)], timeout=110)
    return [json.loads(r.stdout.strip().splitlines()[-1]) for r in results]


def test_two_workers_save_once_and_restore_on_one_or_two(tmp_path, record_property):
    start = time.monotonic()
    trained = _run("train", 2, tmp_path)
    # The chief kept the checkpoint; worker 1 saved into its own directory and removed it.
    assert [t["task"] for t in trained] == ["worker 0", "worker 1"]
    assert trained[0]["prefix"] == str(tmp_path / "ckpt-1") and trained[1]["prefix"] is None
    assert sorted(os.listdir(tmp_path)) == [
        "checkpoint",
        "ckpt-1.data-00000-of-00001",
        "ckpt-1.index",
    ]
    assert trained[0]["values"] == trained[1]["values"]
    assert trained[0]["values"]["iterations"] == 4
    assert inspecting.verify_checkpoint(str(tmp_path)).variables
    assert main(["verify", str(tmp_path)]) == 0
    for workers in (1, 2):
        restored = _run("restore", workers, tmp_path)
        assert [r["values"] for r in restored] == [trained[0]["values"]] * workers
    record_property("wall_time_s", round(time.monotonic() - start, 1))


def test_a_failing_worker_stops_the_cluster(tmp_path):
    script = tmp_path / "fail.py"
    pids = tmp_path / "pids"
    script.write_text(
        "import json, os, sys, time\n"
        f"open({str(pids)!r}, 'a').write(f'{{os.getpid()}}\\n')\n"
        "index = json.loads(os.environ['TF_CONFIG'])['task']['index']\n"
        "if index == 1:\n"
        "    sys.exit('worker 1 gives up')\n"
        "time.sleep(60)\n"
    )
    start = time.monotonic()
    with pytest.raises(
        WorkerError, match=r"worker 1 of 2 .* exited with code 1: worker 1 gives up"
    ):
        testing.run_workers(script, 2)
    assert time.monotonic() - start < 30
    started = [int(pid) for pid in pids.read_text().split()]
    assert len(started) == 2  # worker 0 started, and was stopped rather than left to sleep
    for pid in started:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_a_hanging_cluster_times_out(tmp_path):
    script = tmp_path / "hang.py"
    script.write_text("import time\ntime.sleep(60)\n")
    with pytest.raises(WorkerError, match=r"worker 0 of 2 .* still running after 1 s"):
        testing.run_workers(script, 2, timeout=1)


class _Strategy:
    """What is_chief and worker_directory read of a strategy: its cluster resolver."""

    def __init__(self, cluster: dict, task_type: str, task_id: int) -> None:
        self.cluster_resolver = tf.distribute.cluster_resolver.SimpleClusterResolver(
            tf.train.ClusterSpec(cluster), task_type=task_type, task_id=task_id
        )


@pytest.mark.parametrize(
    ("cluster", "task_type", "task_id", "chief"),
    [
        ({"worker": ["a:1", "b:1"]}, "worker", 0, True),
        ({"worker": ["a:1", "b:1"]}, "worker", 1, False),
        ({"chief": ["c:1"], "worker": ["a:1"]}, "worker", 0, False),
        ({"chief": ["c:1"], "worker": ["a:1"]}, "chief", 0, True),
    ],
)
def test_the_chief_is_the_chief_job_else_worker_0(cluster, task_type, task_id, chief):
    strategy = _Strategy(cluster, task_type, task_id)
    assert distributed.is_chief(strategy) is chief
    expected = "ckpts" if chief else os.path.join("ckpts", f"workertemp_{task_id}")
    assert distributed.worker_directory("ckpts", strategy) == expected
    assert distributed.task(strategy) == f"{task_type} {task_id}"
