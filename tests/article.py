"""The article's programs, written with raw TensorFlow, for the tests to share."""

from __future__ import annotations

import tensorflow as tf


def build_article_graph(v1_shape=(1,), v2_shape=(1,), names=("v1", "v2"), dtype=tf.float32):
    """The article's graph: two variables and their sum, named ``add``."""
    v1 = tf.Variable(tf.constant(1.0, shape=v1_shape, dtype=dtype), name=names[0])
    v2 = tf.Variable(tf.constant(2.0, shape=v2_shape, dtype=dtype), name=names[1])
    return v1, v2, v1 + v2


def save_article(tmp_path):
    """§保存模型 with raw ``tf.compat.v1.train.Saver``: returns the prefix ``model/model.ckpt``."""
    prefix = str(tmp_path / "model" / "model.ckpt")
    (tmp_path / "model").mkdir()
    with tf.Graph().as_default() as graph:
        build_article_graph()
        saver = tf.compat.v1.train.Saver()
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            saver.save(sess, prefix)
    return prefix
