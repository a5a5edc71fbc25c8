"""§保存加载部分变量: name maps, checked before restoring."""

from __future__ import annotations

import pytest
import tensorflow as tf
from article import build_article_graph

from tfpersist import partial, saving
from tfpersist.errors import NothingToRestoreError, SessionRequiredError, VariableMismatchError


def test_article_other_names_restore_from_v1_v2(article_checkpoint):
    with tf.Graph().as_default() as graph:
        v1, v2, result = build_article_graph(names=("other-v1", "other-v2"))
        with tf.compat.v1.Session(graph=graph) as sess:
            partial.restore_subset(sess, article_checkpoint, {"v1": v1, "v2": v2})
            assert sess.run(result).tolist() == [3.0]


def test_article_save_under_other_names_then_raw_restore(tmp_path):
    with tf.Graph().as_default() as graph:
        v1, v2, _ = build_article_graph(names=("other-v1", "other-v2"))
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            saved = saving.save_session(sess, tmp_path / "m", var_list={"v1": v1, "v2": v2})
    with tf.Graph().as_default() as graph:
        *_, result = build_article_graph()
        with tf.compat.v1.Session(graph=graph) as sess:
            tf.compat.v1.train.Saver().restore(sess, saved.prefix)
            assert sess.run(result).tolist() == [3.0]


def test_name_map_reports_all_four_kinds(tmp_path):
    with tf.Graph().as_default() as graph:
        a = tf.Variable(tf.zeros([2, 3]), name="dense/kernel")
        b = tf.Variable(tf.zeros([3]), name="dense/bias")
        c = tf.Variable(tf.zeros([1], tf.int64), name="step")
        d = tf.Variable(tf.zeros([1]), name="dense_1/bias")
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            prefix = saving.save_session(sess, tmp_path / "m").prefix
    with tf.Graph().as_default():
        name_map = {
            "dense/kernal": tf.Variable(tf.zeros([2, 3])),  # typo
            "dense/bias": tf.Variable(tf.zeros([4])),  # shape
            "step": tf.Variable(tf.zeros([1], tf.int32)),  # dtype
        }
        with pytest.raises(VariableMismatchError) as caught:
            partial.check_name_map(prefix, name_map, partial=False)
        with pytest.raises(VariableMismatchError) as partial_err:
            partial.check_name_map(prefix, name_map)
    err = caught.value
    assert [(m.kind, m.name) for m in err.problems] == [
        ("shape", "dense/bias"),
        ("missing", "dense/kernal"),
        ("dtype", "step"),
        ("unexpected", "dense/kernel"),
        ("unexpected", "dense_1/bias"),
    ]
    assert "dense/kernal: not in the checkpoint (did you mean 'dense/kernel'?)" in str(err)
    assert "dense/kernel: in the checkpoint but not restored (did you mean 'dense/kernal'?)" in str(
        err
    )
    assert [m.kind for m in partial_err.value.problems] == ["shape", "missing", "dtype"]
    del a, b, c, d


def test_assign_from_checkpoint_changes_nothing_on_error(tmp_path):
    prefix = tf.train.Checkpoint(a=tf.Variable(1.0), b=tf.Variable([1.0, 2.0])).write(
        str(tmp_path / "c")
    )
    a, b = tf.Variable(0.0), tf.Variable([0.0])
    with pytest.raises(VariableMismatchError):
        partial.assign_from_checkpoint(
            prefix, {"a/.ATTRIBUTES/VARIABLE_VALUE": a, "b/.ATTRIBUTES/VARIABLE_VALUE": b}
        )
    assert a.numpy() == 0.0


def test_assign_from_checkpoint_in_a_graph_runs_in_the_session_or_refuses(tmp_path):
    prefix = tf.train.Checkpoint(w=tf.Variable([1.0, 2.0])).write(str(tmp_path / "c"))
    key = "w/.ATTRIBUTES/VARIABLE_VALUE"
    with tf.Graph().as_default() as graph:
        w = tf.Variable([0.0, 0.0])
        with pytest.raises(SessionRequiredError, match="pass sess="):
            partial.assign_from_checkpoint(prefix, {key: w})
        with tf.compat.v1.Session(graph=graph) as sess:
            partial.assign_from_checkpoint(prefix, {key: w}, sess=sess)
            assert sess.run(w).tolist() == [1.0, 2.0]
            sess.run(w.initializer)
            with sess.as_default():  # the default session counts as given
                partial.assign_from_checkpoint(prefix, {key: w})
            assert sess.run(w).tolist() == [1.0, 2.0]
    with (
        tf.Graph().as_default(),
        tf.compat.v1.Session() as other,
        pytest.raises(SessionRequiredError, match="another graph"),
    ):
        partial.assign_from_checkpoint(prefix, {key: w}, sess=other)


@pytest.mark.fault
@pytest.mark.parametrize("size", [2, 1 << 18])  # small: through a saver; large: fed directly
def test_one_variable_under_two_names_is_refused_before_anything(tmp_path, size):
    prefix = str(tmp_path / "m.ckpt")
    with tf.Graph().as_default() as graph:
        tf.Variable(tf.fill([size], 1.0), name="a")
        tf.Variable(tf.fill([size], 2.0), name="b")
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            tf.compat.v1.train.Saver().save(sess, prefix)
    with tf.Graph().as_default() as graph:
        v = tf.Variable(tf.zeros([size]), name="v")
        with pytest.raises(ValueError, match="two names"):  # TensorFlow refuses it too
            tf.compat.v1.train.Saver({"a": v, "b": v})
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(v.initializer)
            with pytest.raises(VariableMismatchError) as caught:
                partial.restore_subset(sess, prefix, {"a": v, "b": v})
            assert sess.run(v)[0] == 0.0
    assert [(m.kind, m.name, m.found) for m in caught.value.problems] == [("duplicate", "b", "a")]
    assert "b: the same variable as 'a'" in str(caught.value)


@pytest.mark.fault
def test_an_empty_map_or_a_value_that_is_no_variable_is_refused(tmp_path):
    prefix = tf.train.Checkpoint(w=tf.Variable([1.0])).write(str(tmp_path / "c"))
    with pytest.raises(NothingToRestoreError, match="empty"):
        partial.assign_from_checkpoint(prefix, {})
    with tf.Graph().as_default() as graph:
        with pytest.raises(ValueError, match="No variables"):  # TensorFlow refuses it too
            tf.compat.v1.train.Saver(var_list={})
        with tf.compat.v1.Session(graph=graph) as sess:
            with pytest.raises(NothingToRestoreError, match="empty"):
                partial.restore_subset(sess, prefix, {})
            with pytest.raises(NothingToRestoreError, match="empty"):
                partial.assign_from_checkpoint(prefix, {}, sess=sess)
    key = "w/.ATTRIBUTES/VARIABLE_VALUE"
    with pytest.raises(VariableMismatchError) as caught:
        partial.assign_from_checkpoint(prefix, {key: tf.constant([0.0])})
    assert [(m.kind, m.name) for m in caught.value.problems] == [("type", key)]
    assert "is not a variable" in str(caught.value)
