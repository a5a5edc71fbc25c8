"""Saving: the files written, parent directories, relative paths, no graph growth."""

from __future__ import annotations

import os
import shutil

import tensorflow as tf
from article import build_article_graph

from tfpersist import checkpoint_state, saving


def test_names_every_file_written_and_nothing_else(tmp_path):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "model.ckpt.bak").write_text("not ours")
    with tf.Graph().as_default() as graph:
        build_article_graph()
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            saved = saving.save_session(sess, str(tmp_path / "model" / "model.ckpt"))
    on_disk = sorted(str(tmp_path / "model" / n) for n in os.listdir(tmp_path / "model"))
    assert sorted(saved.files) == [f for f in on_disk if not f.endswith(".bak")]
    assert {os.path.basename(f) for f in saved.files} == {
        "checkpoint",
        "model.ckpt.index",
        "model.ckpt.data-00000-of-00001",
        "model.ckpt.meta",
    }


def test_creates_missing_parent_directories(tmp_path):
    prefix = tmp_path / "a" / "b" / "c" / "model.ckpt"
    with tf.Graph().as_default() as graph:
        build_article_graph()
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            saved = saving.save_session(sess, prefix)
    assert saved.prefix == str(prefix)
    assert checkpoint_state.is_complete(str(prefix))


def test_state_file_is_relative_so_a_copied_directory_works(tmp_path):
    with tf.Graph().as_default() as graph:
        build_article_graph()
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            saving.save_session(sess, str(tmp_path / "a" / "model.ckpt"), global_step=1)
    assert str(tmp_path) not in (tmp_path / "a" / "checkpoint").read_text()
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    shutil.rmtree(tmp_path / "a")
    assert tf.train.latest_checkpoint(str(tmp_path / "b")) == str(tmp_path / "b" / "model.ckpt-1")


def test_saving_in_a_loop_reuses_one_saver(tmp_path):
    with tf.Graph().as_default() as graph:
        build_article_graph()
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            saving.save_session(sess, str(tmp_path / "m"), global_step=0)
            ops_after_first = len(graph.get_operations())
            for step in range(1, 8):
                saving.save_session(sess, str(tmp_path / "m"), global_step=step)
            assert len(graph.get_operations()) == ops_after_first
    state = checkpoint_state.read_state(str(tmp_path))
    assert [os.path.basename(p) for p in state.checkpoints] == [f"m-{i}" for i in range(3, 8)]


def test_dict_var_list_saves_under_the_given_names(tmp_path):
    with tf.Graph().as_default() as graph:
        v1, v2, _ = build_article_graph(names=("other-v1", "other-v2"))
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            saved = saving.save_session(sess, str(tmp_path / "m"), var_list={"v1": v1, "v2": v2})
    assert tf.train.list_variables(saved.prefix) == [("v1", [1]), ("v2", [1])]


def test_checkpoint_manager_keeps_max_to_keep(tmp_path):
    ckpt = tf.train.Checkpoint(v=tf.Variable(1.0))
    manager = tf.train.CheckpointManager(ckpt, str(tmp_path / "m"), max_to_keep=3)
    for i in range(5):
        ckpt.v.assign(float(i))
        saved = saving.save_checkpoint(manager)
    assert saved.prefix == str(tmp_path / "m" / "ckpt-5")
    kept = checkpoint_state.read_state(str(tmp_path / "m")).checkpoints
    assert kept == tuple(manager.checkpoints)
    assert len(kept) == 3
    assert not os.path.exists(str(tmp_path / "m" / "ckpt-2.index"))


def test_var_list_with_a_partitioned_variable(tmp_path):
    """A PartitionedVariable in var_list is saved whole, under its own name, as Saver does."""
    with tf.Graph().as_default() as graph:
        w = tf.compat.v1.get_variable(
            "w", [4, 2], partitioner=tf.compat.v1.fixed_size_partitioner(2)
        )
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            saved = saving.save_session(sess, tmp_path / "c", var_list=[w], write_meta_graph=False)
            expected = sess.run(w.as_tensor())
    assert tf.train.list_variables(saved.prefix) == [("w", [4, 2])]
    assert (tf.train.load_checkpoint(saved.prefix).get_tensor("w") == expected).all()
