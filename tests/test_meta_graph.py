"""§加载全部变量: the .meta file, eager mode, devices."""

from __future__ import annotations

import os
import shutil

import pytest
import tensorflow as tf

from tfpersist import meta_graph
from tfpersist.errors import CheckpointNotFoundError, VariableMismatchError


def test_article_import_and_fetch_add(article_checkpoint):
    with tf.Graph().as_default() as graph, tf.compat.v1.Session(graph=graph) as sess:
        meta_graph.restore_meta_graph(sess, article_checkpoint)
        assert sess.run(graph.get_tensor_by_name("add:0")).tolist() == [3.0]


@pytest.mark.fault
def test_trap_eager_import_meta_graph(article_checkpoint):
    """Raw import_meta_graph fails under eager execution; ours uses the session's graph."""
    with pytest.raises(RuntimeError, match="eager execution"):
        tf.compat.v1.train.import_meta_graph(article_checkpoint + ".meta")
    with tf.compat.v1.Session(graph=tf.Graph()) as sess:
        meta_graph.restore_meta_graph(sess, article_checkpoint)
        assert sess.run("add:0").tolist() == [3.0]


def pin_to_gpu(meta_path):
    meta = tf.compat.v1.MetaGraphDef()
    with open(meta_path, "rb") as f:
        meta.ParseFromString(f.read())
    for node in meta.graph_def.node:
        node.device = "/job:ps/device:GPU:0"
    with open(meta_path, "wb") as f:
        f.write(meta.SerializeToString())


def test_clear_devices_loads_a_gpu_pinned_graph(article_checkpoint):
    pin_to_gpu(article_checkpoint + ".meta")
    with tf.Graph().as_default() as graph, tf.compat.v1.Session(graph=graph) as sess:
        meta_graph.restore_meta_graph(sess, article_checkpoint, clear_devices=True)
        assert graph.get_operation_by_name("add").device == ""
        assert sess.run("add:0").tolist() == [3.0]


@pytest.mark.fault
def test_missing_meta_is_explained(article_checkpoint):
    os.remove(article_checkpoint + ".meta")
    with (
        tf.compat.v1.Session(graph=tf.Graph()) as sess,
        pytest.raises(CheckpointNotFoundError, match="restore_session"),
    ):
        meta_graph.restore_meta_graph(sess, article_checkpoint)


@pytest.mark.fault
def test_meta_graph_checked_against_a_different_checkpoint(article_checkpoint, tmp_path):
    with tf.Graph().as_default() as graph:
        tf.Variable(tf.zeros([5]), name="v1")
        tf.Variable(tf.zeros([1]), name="v2")
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            tf.compat.v1.train.Saver().save(sess, str(tmp_path / "other" / "model.ckpt"))
    shutil.copy(article_checkpoint + ".meta", tmp_path / "other" / "model.ckpt.meta")
    with (
        tf.compat.v1.Session(graph=tf.Graph()) as sess,
        pytest.raises(
            VariableMismatchError, match=r"v1: shape \[1\] expected, checkpoint has \[5\]"
        ),
    ):
        meta_graph.restore_meta_graph(sess, str(tmp_path / "other" / "model.ckpt"))


def test_restore_uses_the_imported_saver(article_checkpoint):
    """No second saver: in a graph imported from a large .meta, making one is quadratic."""
    with tf.Graph().as_default() as imported:
        tf.compat.v1.train.import_meta_graph(article_checkpoint + ".meta")
    with tf.Graph().as_default() as graph, tf.compat.v1.Session(graph=graph) as sess:
        meta_graph.restore_meta_graph(sess, article_checkpoint)
        assert sess.run("add:0").tolist() == [3.0]
    assert len(graph.get_operations()) == len(imported.get_operations())
