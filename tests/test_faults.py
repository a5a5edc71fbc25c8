"""Bad files on every restore and import path: a typed error, never a crash or a huge allocation."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
import tensorflow as tf
from article import build_article_graph
from bundle_writer import entry, header, table

from tfpersist import freezer, meta_graph, partial, restoring
from tfpersist.errors import CorruptCheckpointError, DevicePlacementError, UnsafeGraphError
from tfpersist.graphs import read_meta_graph

pytestmark = pytest.mark.fault


def tf2_checkpoint(tmp_path):
    return tf.train.Checkpoint(v1=tf.Variable([1.0]), v2=tf.Variable([2.0])).write(
        str(tmp_path / "tf2" / "ckpt")
    )


LARGE = [1 << 18]  # 1 MiB of float32: restore_session feeds it instead of running a saver


def large_checkpoint(tmp_path):
    with tf.Graph().as_default() as graph:
        v1 = tf.Variable(tf.ones(LARGE), name="v1")
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(v1.initializer)
            return tf.compat.v1.train.Saver().save(sess, str(tmp_path / "large" / "ckpt"))


def restore_tf1(prefix):
    with tf.Graph().as_default() as graph:
        build_article_graph()
        with tf.compat.v1.Session(graph=graph) as sess:
            restoring.restore_session(sess, prefix)


def restore_tf1_fed(prefix):
    with tf.Graph().as_default() as graph:
        tf.Variable(tf.zeros(LARGE), name="v1")
        with tf.compat.v1.Session(graph=graph) as sess:
            restoring.restore_session(sess, prefix)


def restore_tf2(prefix, direct=True):
    fresh = tf.train.Checkpoint(v1=tf.Variable([0.0]), v2=tf.Variable([0.0]))
    restoring.restore_checkpoint(fresh, prefix, direct=direct)


def restore_tf2_through_tensorflow(prefix):
    restore_tf2(prefix, direct=False)


def assign_eager(prefix):
    key = "v1" if "tf2" not in prefix else "v1/.ATTRIBUTES/VARIABLE_VALUE"
    partial.assign_from_checkpoint(prefix, {key: tf.Variable([0.0])})


PATHS = {
    "restore_session": restore_tf1,
    "restore_session_fed": restore_tf1_fed,
    "restore_checkpoint": restore_tf2,
    "restore_checkpoint_through_tensorflow": restore_tf2_through_tensorflow,
    "assign": assign_eager,
}


def checkpoint_for(path_name, article_checkpoint, tmp_path):
    if path_name.startswith("restore_checkpoint"):
        return tf2_checkpoint(tmp_path)
    if path_name == "restore_session_fed":
        return large_checkpoint(tmp_path)
    return article_checkpoint


@pytest.mark.parametrize("path_name", PATHS)
def test_missing_shard(path_name, article_checkpoint, tmp_path):
    prefix = checkpoint_for(path_name, article_checkpoint, tmp_path)
    os.remove(prefix + ".data-00000-of-00001")
    with pytest.raises(CorruptCheckpointError, match=r"cannot open '.*\.data-00000-of-00001'"):
        PATHS[path_name](prefix)


@pytest.mark.parametrize("path_name", PATHS)
def test_truncated_data(path_name, article_checkpoint, tmp_path):
    prefix = checkpoint_for(path_name, article_checkpoint, tmp_path)
    os.truncate(prefix + ".data-00000-of-00001", 2)
    with pytest.raises(CorruptCheckpointError, match="lie outside the file's 2 bytes"):
        PATHS[path_name](prefix)


@pytest.mark.parametrize("path_name", PATHS)
def test_bit_flipped_data_names_the_tensor(path_name, article_checkpoint, tmp_path):
    prefix = checkpoint_for(path_name, article_checkpoint, tmp_path)
    reader = tf.train.load_checkpoint(prefix)
    name = next(n for n in reader.get_variable_to_shape_map() if n.startswith("v1"))
    from tfpersist.bundle import load_checkpoint

    offset = load_checkpoint(prefix).entry(name).offset
    with open(prefix + ".data-00000-of-00001", "r+b") as f:
        f.seek(offset + 1)
        byte = f.read(1)
        f.seek(offset + 1)
        f.write(bytes([byte[0] ^ 0x40]))
    # TensorFlow raises DataLoss here; tfpersist says which tensor and file.
    with pytest.raises(CorruptCheckpointError, match=f"tensor '{name}' in '.*data-00000-of-00001'"):
        PATHS[path_name](prefix)


@pytest.mark.parametrize("path_name", PATHS)
def test_truncated_and_flipped_index(path_name, article_checkpoint, tmp_path):
    prefix = checkpoint_for(path_name, article_checkpoint, tmp_path)
    with open(prefix + ".index", "rb") as f:
        data = f.read()
    with open(prefix + ".index", "wb") as f:
        f.write(data[:10] + bytes([data[10] ^ 1]) + data[11:])
    with pytest.raises(CorruptCheckpointError, match=r"\.index' is not a readable index"):
        PATHS[path_name](prefix)
    with open(prefix + ".index", "wb") as f:
        f.write(data[: len(data) // 2])
    with pytest.raises(CorruptCheckpointError, match=r"\.index' is not a readable index"):
        PATHS[path_name](prefix)


def test_huge_declared_shape_is_refused_before_tensorflow_allocates(tmp_path):
    """An index that declares a 4 TiB tensor in 4 bytes: TensorFlow would try to allocate it."""
    prefix = str(tmp_path / "bomb")
    with open(prefix + ".index", "wb") as f:
        f.write(table([(b"", header()), (b"v", entry(1, [1 << 40], size=4))]))
    with open(prefix + ".data-00000-of-00001", "wb") as f:
        f.write(b"\0" * 4)
    with tf.Graph().as_default() as graph:
        tf.Variable(tf.zeros([1 << 40]), name="v")  # declared only: never initialised
        with (
            tf.compat.v1.Session(graph=graph) as sess,
            pytest.raises(CorruptCheckpointError, match="needs 4398046511104"),
        ):
            restoring.restore_session(sess, prefix)


def pin(meta_path, device):
    meta = read_meta_graph(meta_path)
    for node in meta.graph_def.node:
        node.device = device
    with open(meta_path, "wb") as f:
        f.write(meta.SerializeToString())


@pytest.mark.parametrize("device", ["/device:GPU:0", "/job:ps/task:0/device:CPU:0"])
def test_device_pinned_meta_graph_is_explained(article_checkpoint, device):
    pin(article_checkpoint + ".meta", device)
    with tf.Graph().as_default() as graph, tf.compat.v1.Session(graph=graph) as sess:
        with pytest.raises(DevicePlacementError, match="pass clear_devices=True"):
            meta_graph.restore_meta_graph(sess, article_checkpoint)
        assert graph.get_operations() == []
    with tf.Graph().as_default() as graph, tf.compat.v1.Session(graph=graph) as sess:
        meta_graph.restore_meta_graph(sess, article_checkpoint, clear_devices=True)
        assert sess.run("add:0").tolist() == [3.0]


def constant_bomb() -> tf.compat.v1.GraphDef:
    graph_def = tf.compat.v1.GraphDef()
    node = graph_def.node.add(name="bomb", op="Const")
    node.attr["dtype"].type = tf.float32.as_datatype_enum
    tensor = node.attr["value"].tensor
    tensor.dtype = tf.float32.as_datatype_enum
    tensor.tensor_shape.dim.add(size=1 << 20)
    tensor.tensor_shape.dim.add(size=1 << 20)
    tensor.float_val.append(1.0)  # one value, splatted over 4 TiB on import
    return graph_def


def recursive() -> tf.compat.v1.GraphDef:
    graph_def = tf.compat.v1.GraphDef()
    call = graph_def.node.add(name="x", op="PartitionedCall")
    call.attr["f"].func.name = "a"
    for name, callee in [("a", "b"), ("b", "a")]:
        function = graph_def.library.function.add()
        function.signature.name = name
        function.node_def.add(name="call", op=callee)
    return graph_def


CHILD = textwrap.dedent(
    """
    import resource, sys
    limit = 3 << 30
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    from tfpersist import freezing
    from tfpersist.errors import TfPersistError
    try:
        freezing.load_frozen_function(sys.argv[1], [], ["x"])
    except TfPersistError as e:
        print(type(e).__name__)
        sys.exit(3)
    """
)


@pytest.mark.parametrize(
    "name, graph, error",
    [
        ("constant bomb", lambda: constant_bomb().SerializeToString(), "UnsafeGraphError"),
        ("self-recursive functions", lambda: recursive().SerializeToString(), "UnsafeGraphError"),
        ("random bytes", lambda: os.urandom(4096), "GraphFormatError"),
        ("truncated proto", lambda: constant_bomb().SerializeToString()[:-7], "GraphFormatError"),
        (
            "garbage after a valid graph",
            lambda: recursive().SerializeToString() + b"\xff" * 64,
            "GraphFormatError",
        ),
    ],
)
def test_bombs_in_a_memory_limited_child(tmp_path, name, graph, error):
    path = tmp_path / "bomb.pb"
    path.write_bytes(graph())
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True, timeout=300
    )
    assert child.returncode == 3, (name, child.returncode, child.stderr[-2000:])
    assert child.stdout.split() == [error]


def test_constant_bomb_in_a_meta_graph_is_refused_by_freeze(article_checkpoint, tmp_path):
    meta = read_meta_graph(article_checkpoint + ".meta")
    meta.graph_def.node.extend(constant_bomb().node)
    with open(article_checkpoint + ".meta", "wb") as f:
        f.write(meta.SerializeToString())
    with pytest.raises(UnsafeGraphError, match=r"a constant that expands to 4096\.0 GiB"):
        freezer.freeze_checkpoint(article_checkpoint, str(tmp_path / "f.pb"), ["add"])
    assert not (tmp_path / "f.pb").exists()
