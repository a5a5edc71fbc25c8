"""Every function that takes a path, on a TensorFlow filesystem URL (``ram://``)."""

from __future__ import annotations

import uuid

import numpy as np
import pytest
import tensorflow as tf

from tfpersist import (
    bundle,
    checkpoint_state,
    exporting,
    freezer,
    freezing,
    graphs,
    inspecting,
    meta_graph,
    partial,
    restoring,
    rewriting,
    saving,
)
from tfpersist.cli import main
from tfpersist.errors import CheckpointNotFoundError, CorruptCheckpointError

gfile = tf.io.gfile


@pytest.fixture
def root():
    """A fresh ``ram://`` directory, removed afterwards."""
    path = f"ram://{uuid.uuid4().hex[:8]}"
    yield path
    if gfile.exists(path):
        gfile.rmtree(path)


def _article_graph(sess_fn):
    """The article's graph (v1 + v2 = result), handed to *sess_fn* in a session."""
    with tf.Graph().as_default() as graph:
        v1 = tf.Variable(tf.constant(1.0, shape=[1]), name="v1")
        v2 = tf.Variable(tf.constant(2.0, shape=[1]), name="v2")
        result = v1 + v2
        with tf.compat.v1.Session(graph=graph) as sess:
            return sess_fn(sess, v1, v2, result)


@pytest.fixture
def tf1(root):
    """The article's checkpoint saved by tfpersist under ``ram://.../model/model.ckpt``."""

    def save(sess, *_):
        sess.run(tf.compat.v1.global_variables_initializer())
        return saving.save_session(sess, f"{root}/model/model.ckpt")

    return _article_graph(save)


@pytest.fixture
def tf2(root):
    ckpt = tf.train.Checkpoint(w=tf.Variable([[1.0, 2.0]]), s=tf.Variable(["中文"]))
    return saving.save_checkpoint(ckpt, f"{root}/tf2/ckpt"), ckpt


def test_saved_files_are_listed_by_their_urls(tf1, root):
    assert tf1.prefix == f"{root}/model/model.ckpt"
    names = sorted(gfile.listdir(f"{root}/model"))
    assert [f.rsplit("/", 1)[1] for f in tf1.files] == names
    assert checkpoint_state.checkpoint_files(tf1.prefix) == [
        f for f in tf1.files if not f.endswith("checkpoint")
    ]
    assert checkpoint_state.is_complete(tf1.prefix)


def test_state_and_prefix_resolution(tf1, root):
    directory = f"{root}/model"
    assert checkpoint_state.latest_checkpoint(directory) == tf1.prefix
    assert checkpoint_state.resolve_prefix(directory) == tf1.prefix
    assert checkpoint_state.read_state(directory).checkpoints == (tf1.prefix,)
    with pytest.raises(CheckpointNotFoundError, match="pass its prefix"):
        checkpoint_state.resolve_prefix(tf1.prefix + ".index")
    with pytest.raises(CheckpointNotFoundError, match="holds checkpoints with prefixes"):
        checkpoint_state.resolve_prefix(f"{directory}/model.ckpt-9")


def test_leftovers_are_found_and_removed(tf1, root):
    junk = [
        f"{root}/model/model.ckpt.index.tempstate1",  # TensorFlow's, saving model.ckpt again
        f"{root}/model/model.ckpt_temp/part-00000-of-00001.index",
    ]
    for path in junk:
        gfile.makedirs(path.rsplit("/", 1)[0])
        with gfile.GFile(path, "wb") as f:
            f.write(b"x")
    expected = [junk[0], f"{root}/model/model.ckpt_temp"]
    assert checkpoint_state.leftovers(f"{root}/model") == expected
    assert checkpoint_state.remove_leftovers(f"{root}/model") == expected
    assert not any(gfile.exists(p) for p in expected)
    assert checkpoint_state.is_complete(tf1.prefix)


def test_the_reader_without_tensorflow_reads_urls(tf2):
    saved, ckpt = tf2
    # ram:// calls any prefix of a file a directory, so TensorFlow's reader
    # looks for a state file in "ram://.../ckpt-1" and gives up.
    with pytest.raises(ValueError, match="Couldn't find 'checkpoint' file"):
        tf.train.load_checkpoint(saved.prefix)
    reader = bundle.load_checkpoint(saved.prefix)
    np.testing.assert_array_equal(reader.get_tensor("w/.ATTRIBUTES/VARIABLE_VALUE"), ckpt.w.numpy())
    assert reader.get_tensor("s/.ATTRIBUTES/VARIABLE_VALUE").tolist() == ["中文".encode()]
    assert dict(bundle.list_variables(saved.prefix))["w/.ATTRIBUTES/VARIABLE_VALUE"] == [1, 2]


def test_a_damaged_shard_on_a_url_is_named(tf2):
    saved, _ = tf2
    data = saved.prefix + ".data-00000-of-00001"
    with gfile.GFile(data, "rb") as f:
        raw = bytearray(f.read())
    raw[0] ^= 0xFF
    gfile.remove(data)  # "wb" on an existing ram:// file appends to it
    with gfile.GFile(data, "wb") as f:
        f.write(bytes(raw))
    with pytest.raises(CorruptCheckpointError, match="fail their checksum"):
        inspecting.verify_checkpoint(saved.prefix)


def test_inspect_diff_verify_and_read(tf1, tf2):
    listing = inspecting.verify_checkpoint(tf1.prefix)
    assert [v.name for v in listing.variables] == ["v1", "v2"]
    assert dict(inspecting.read_values(tf1.prefix))["v2"].tolist() == [2.0]
    assert inspecting.list_checkpoint(tf2[0].prefix).prefix == tf2[0].prefix
    assert inspecting.diff_checkpoints(tf1.prefix, tf1.prefix).equal


def test_restore_session_and_the_meta_graph(tf1):
    def restore(sess, v1, v2, result):
        restoring.restore_session(sess, tf1.prefix)
        return sess.run(result).tolist()

    assert _article_graph(restore) == [3.0]
    with tf.Graph().as_default() as graph, tf.compat.v1.Session(graph=graph) as sess:
        meta_graph.restore_meta_graph(sess, tf1.prefix)
        assert sess.run("add:0").tolist() == [3.0]
    assert restoring.checkpoint_signature(tf1.prefix)["v1"] == ([1], "float32")


def test_restore_checkpoint_both_ways(tf2):
    saved, _ = tf2
    for direct in (True, False):
        fresh = tf.train.Checkpoint(w=tf.Variable([[0.0, 0.0]]), s=tf.Variable([""]))
        restoring.restore_checkpoint(fresh, saved.prefix, direct=direct)
        assert fresh.w.numpy().tolist() == [[1.0, 2.0]]


def test_partial_restore(tf1):
    def restore(sess, v1, v2, result):
        partial.restore_subset(sess, tf1.prefix, {"v1": v2})
        sess.run(v1.initializer)
        return sess.run(v2).tolist()

    assert _article_graph(restore) == [1.0]
    target = tf.Variable([0.0], name="target")
    partial.assign_from_checkpoint(tf1.prefix, {"v2": target})
    assert target.numpy().tolist() == [2.0]


def test_rename_convert_write_and_export(tf1, root):
    renamed = f"{root}/renamed/ckpt"
    rewriting.rename_checkpoint(tf1.prefix, renamed, {"v1": "a"})
    assert [n for n, _ in bundle.list_variables(renamed)] == ["a", "v2"]
    assert not [n for n in gfile.listdir(f"{root}/renamed") if n.startswith(".")]
    rewriting.rename_checkpoint(tf1.prefix, renamed, {"v1": "b"}, overwrite=True)
    assert [n for n, _ in bundle.list_variables(renamed)] == ["b", "v2"]
    converted = rewriting.convert_checkpoint(tf1.prefix, f"{root}/tf2/ckpt", to="tf2")
    assert "v1/.ATTRIBUTES/VARIABLE_VALUE" in dict(bundle.list_variables(converted))
    out = f"{root}/export/weights.npz"
    assert exporting.export_checkpoint(tf1.prefix, out) == ["v1", "v2"]
    with gfile.GFile(out, "rb") as f, np.load(f) as weights:
        assert weights["v2"].tolist() == [2.0]
    assert [n for n in gfile.listdir(f"{root}/export")] == ["weights.npz"]


def test_freeze_and_load(tf1, root):
    out = f"{root}/frozen/model.pb"
    frozen = freezer.freeze_checkpoint(tf1.prefix, out)
    assert frozen.path == out
    graph_def = freezing.read_graph_def(out)
    assert graphs.read_graph(out) == graph_def
    assert graphs.summarize_graph(out).ops["Const"] == 2
    run = freezing.load_frozen_function(out, [], ["add:0"])
    assert run().numpy().tolist() == [3.0]
    assert graphs.read_meta_graph(tf1.prefix + ".meta").graph_def.node


def test_saved_model_on_a_url(root):
    module = tf.Module()
    module.v = tf.Variable(2.0)
    module.f = tf.function(lambda x: x * module.v, input_signature=[tf.TensorSpec([], tf.float32)])
    path = f"{root}/saved"
    tf.saved_model.save(module, path, signatures=module.f)
    assert graphs.read_saved_model(path).meta_graphs
    frozen = freezer.freeze_checkpoint(path, f"{root}/saved.pb")
    assert frozen.nodes


def test_save_checkpoint_with_a_manager(root):
    ckpt = tf.train.Checkpoint(v=tf.Variable(1.0))
    manager = tf.train.CheckpointManager(ckpt, f"{root}/managed", max_to_keep=2)
    for _ in range(3):
        saved = saving.save_checkpoint(manager)
    assert saved.prefix == f"{root}/managed/ckpt-3"
    assert checkpoint_state.read_state(f"{root}/managed").checkpoints == (
        f"{root}/managed/ckpt-2",
        f"{root}/managed/ckpt-3",
    )


def test_the_command_line_on_urls(tf1, root, capsys):
    assert main(["inspect", tf1.prefix]) == 0
    assert "v1" in capsys.readouterr().out
    assert main(["verify", f"{root}/model"]) == 0
    assert main(["inspect", f"{root}/nowhere/ckpt"]) == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("url", "words"),
    [
        (
            "nosuchfs://bucket/model/ckpt",
            "no filesystem for nosuchfs:// URLs; s3:// and hdfs:// need `pip install tensorflow-io`",
        ),
        ("ram://nowhere/model/ckpt", "directory 'ram://nowhere/model' does not exist"),
    ],
)
def test_a_url_that_cannot_be_read_is_one_line_and_exit_2(url, words, capsys):
    assert main(["inspect", url]) == 2
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1
