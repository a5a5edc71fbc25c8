"""tfpersist and raw TensorFlow read each other's files."""

from __future__ import annotations

import tensorflow as tf
from article import build_article_graph

from tfpersist import freezing, restoring, saving


def test_raw_saver_checkpoint_restores_through_tfpersist(article_checkpoint):
    with tf.Graph().as_default() as graph:
        *_, result = build_article_graph()
        with tf.compat.v1.Session(graph=graph) as sess:
            restoring.restore_session(sess, article_checkpoint)
            assert sess.run(result).tolist() == [3.0]


def test_tfpersist_checkpoint_restores_with_raw_saver(tmp_path):
    with tf.Graph().as_default() as graph:
        build_article_graph()
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            saved = saving.save_session(sess, tmp_path / "model" / "model.ckpt")
    with tf.Graph().as_default() as graph:
        *_, result = build_article_graph()
        with tf.compat.v1.Session(graph=graph) as sess:
            tf.compat.v1.train.Saver().restore(
                sess, tf.train.latest_checkpoint(str(tmp_path / "model"))
            )
            assert sess.run(result).tolist() == [3.0]
    assert saved.prefix == str(tmp_path / "model" / "model.ckpt")


def test_tfpersist_pb_loads_with_raw_import_graph_def(tmp_path):
    with tf.Graph().as_default() as graph:
        build_article_graph()
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            freezing.write_graph_def(
                freezing.freeze_session(sess, ["add"]), tmp_path / "combined_model.pb"
            )
    with tf.Graph().as_default() as graph, tf.compat.v1.Session(graph=graph) as sess:
        with tf.io.gfile.GFile(str(tmp_path / "combined_model.pb"), "rb") as f:
            graph_def = tf.compat.v1.GraphDef()
            graph_def.ParseFromString(f.read())
        result = tf.import_graph_def(graph_def, return_elements=["add:0"])
        assert [r.tolist() for r in sess.run(result)] == [[3.0]]


def test_tf2_checkpoint_both_ways(tmp_path):
    ours = saving.save_checkpoint(tf.train.Checkpoint(v=tf.Variable([7.0])), tmp_path / "a" / "c")
    v = tf.Variable([0.0])
    tf.train.Checkpoint(v=v).restore(ours.prefix).assert_consumed()
    assert v.numpy().tolist() == [7.0]
    raw = tf.train.Checkpoint(v=tf.Variable([8.0])).save(str(tmp_path / "b" / "c"))
    restoring.restore_checkpoint(tf.train.Checkpoint(v=v), raw)
    assert v.numpy().tolist() == [8.0]
