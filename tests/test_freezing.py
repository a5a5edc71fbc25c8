"""§整个计算图放在一个文件中: freezing, atomic writes, size limit, names."""

from __future__ import annotations

import os

import pytest
import tensorflow as tf
from article import build_article_graph

from tfpersist import freezing
from tfpersist.errors import GraphFormatError, GraphTooLargeError, NodeNotFoundError


def frozen_article():
    with tf.Graph().as_default() as graph:
        build_article_graph()
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            return freezing.freeze_session(sess, ["add"])


def test_freeze_matches_raw_convert_variables_to_constants():
    with tf.Graph().as_default() as graph:
        build_article_graph()
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            ours = freezing.freeze_session(sess, ["add:0"])
            raw = tf.compat.v1.graph_util.convert_variables_to_constants(
                sess, graph.as_graph_def(), ["add"]
            )
    assert sorted((n.name, n.op) for n in ours.node) == sorted((n.name, n.op) for n in raw.node)


@pytest.mark.fault
def test_unknown_output_lists_close_names():
    with tf.Graph().as_default() as graph:
        build_article_graph()
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            with pytest.raises(
                NodeNotFoundError, match=r"'Add' is not in the graph.*did you mean 'add'"
            ):
                freezing.freeze_session(sess, ["Add"])


@pytest.mark.fault
def test_write_is_atomic_and_keeps_the_old_file_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "model.pb"
    path.write_bytes(b"previous good file")
    frozen = frozen_article()

    def crash(*args, **kwargs):
        raise OSError("simulated crash before the rename")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="simulated"):
        freezing.write_graph_def(frozen, path)
    monkeypatch.undo()
    assert path.read_bytes() == b"previous good file"
    assert os.listdir(tmp_path) == ["model.pb"]  # no temporary file left
    freezing.write_graph_def(frozen, path)
    assert freezing.read_graph_def(path) == frozen


@pytest.mark.fault
def test_graph_over_the_limit_is_refused_before_writing(tmp_path, monkeypatch):
    frozen = frozen_article()
    monkeypatch.setattr(freezing, "MAX_GRAPH_BYTES", frozen.ByteSize() - 1)
    with pytest.raises(GraphTooLargeError, match="over protobuf's 2 GiB limit"):
        freezing.write_graph_def(frozen, tmp_path / "big.pb")

    class Unserialisable:  # what protobuf does past 2 GiB
        def SerializeToString(self):
            raise ValueError("Message too large to serialize")

    with pytest.raises(GraphTooLargeError, match="too large to serialise, over protobuf's"):
        freezing.write_graph_def(Unserialisable(), tmp_path / "huge.pb")
    assert not os.listdir(tmp_path)


@pytest.mark.fault
def test_not_a_graph_file(tmp_path):
    (tmp_path / "x.pb").write_bytes(os.urandom(64) + b"\xff" * 16)
    with pytest.raises(GraphFormatError, match="not a binary GraphDef"):
        freezing.read_graph_def(tmp_path / "x.pb")


def test_load_frozen_function_several_outputs(tmp_path):
    w = tf.Variable([[1.0, 2.0]])

    @tf.function(input_signature=[tf.TensorSpec([None, 1], tf.float32, name="x")])
    def f(x):
        y = tf.matmul(x, w)
        return {"y": y, "z": y * 2.0}

    concrete = f.get_concrete_function()
    frozen = freezing.freeze_function(concrete)
    freezing.write_graph_def(frozen, tmp_path / "f.pb")
    outputs = [t.name for t in concrete.outputs]
    g = freezing.load_frozen_function(tmp_path / "f.pb", ["x:0"], outputs)
    results = sorted(t.numpy().tolist() for t in g(tf.constant([[1.0]])))
    assert results == [[[1.0, 2.0]], [[2.0, 4.0]]]
    with pytest.raises(NodeNotFoundError):
        freezing.load_frozen_function(frozen, ["input:0"], outputs)
