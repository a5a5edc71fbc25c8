"""§整个计算图放在一个文件中: freezing, atomic writes, size limit, names."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import tensorflow as tf
from article import build_article_graph
from tensorflow.core.protobuf import saved_model_pb2

from tfpersist import freezer, freezing
from tfpersist.errors import (
    GraphFormatError,
    GraphTooLargeError,
    NodeNotFoundError,
    UnsafeGraphError,
)


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

    assert not os.listdir(tmp_path)


#: Two constants of 1 GiB: a real GraphDef just over 2 GiB. The child uses
#: protobuf's pure-Python implementation, which serialises it in about 3 s
#: and 2.5 GB; the default (upb) takes 12-30 s and 7-12 GB for the same.
HUGE_GRAPH = """
import sys
from tensorflow.core.framework import graph_pb2
from tfpersist import freezing
from tfpersist.errors import GraphTooLargeError
graph = graph_pb2.GraphDef()
half = bytes(1 << 30)
for name in ("a", "b"):
    graph.node.add(name=name, op="Const").attr["value"].tensor.tensor_content = half
try:
    freezing.write_graph_def(graph, sys.argv[1])
except GraphTooLargeError as e:
    print(e)
    sys.exit(3)
"""


@pytest.mark.fault
def test_a_real_graph_over_2_gib_is_refused_before_writing(tmp_path):
    path = tmp_path / "huge.pb"
    path.write_bytes(b"previous good file")
    env = {**os.environ, "PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION": "python"}
    child = subprocess.run(
        [sys.executable, "-c", HUGE_GRAPH, str(path)],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert child.returncode == 3, child.stderr[-3000:]
    assert f"the graph for {str(path)!r} is 2.00 GiB, over protobuf's 2 GiB limit" in child.stdout
    assert path.read_bytes() == b"previous good file"
    assert os.listdir(tmp_path) == ["huge.pb"]


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


# --- SavedModels: TF1's loader, signatures, audited bytes ----------------------------------

V1 = tf.compat.v1


def tf1_saved_model(path, signatures=("serving_default", "double", "weight"), main_op=None):
    """A TF1 SavedModel of ``y = x * w`` and ``z = 2 * y``, ``w`` a reference variable.

    Its signature ``weight`` hands out ``w`` itself, a ``float_ref`` that TF2's
    loader cannot wrap in a function: it fails on the whole SavedModel.
    """
    builder = V1.saved_model.Builder(str(path))
    with tf.Graph().as_default() as graph, V1.Session(graph=graph) as sess:
        x = V1.placeholder(tf.float32, [None], name="x")
        w = V1.Variable(3.0, name="w", use_resource=False)
        y = tf.multiply(x, w, name="y")
        z = tf.multiply(y, 2.0, name="z")
        sess.run(w.initializer)
        assert w.op.type == "VariableV2"  # a reference variable
        outputs = {"serving_default": {"y": y}, "double": {"z": z}, "weight": {"w": w}}
        signature_map = {
            name: V1.saved_model.predict_signature_def({"x": x}, outputs[name])
            for name in signatures
        }
        builder.add_meta_graph_and_variables(
            sess, ["serve"], signature_def_map=signature_map, main_op=main_op and main_op()
        )
    builder.save()
    return path


def run_frozen(path, output, feed):
    graph_def = freezing.read_graph_def(path)
    with tf.Graph().as_default() as graph, V1.Session(graph=graph) as sess:
        tf.import_graph_def(graph_def, name="")
        return sess.run(output, {"x:0": feed}), graph_def


def freeze_with_tf1_loader(path, signature):
    """What TensorFlow does by hand: TF1's loader, then convert_variables_to_constants."""
    with tf.Graph().as_default() as graph, V1.Session(graph=graph) as sess:
        meta = V1.saved_model.load(sess, ["serve"], str(path))
        outputs = [t.name.split(":")[0] for t in meta.signature_def[signature].outputs.values()]
        graph_def = V1.graph_util.convert_variables_to_constants(
            sess, graph.as_graph_def(), outputs
        )
    with tf.Graph().as_default() as graph, V1.Session(graph=graph) as sess:
        tf.import_graph_def(graph_def, name="")
        return sess.run(f"{outputs[0]}:0", {"x:0": [1.0, 2.0]}), graph_def


@pytest.mark.parametrize("signature, output", [(None, "y"), ("double", "z")])
def test_tf1_saved_model_with_reference_variables_freezes_as_tf1_loads_it(
    tmp_path, signature, output
):
    path = tf1_saved_model(tmp_path / "saved")
    frozen = freezer.freeze_checkpoint(path, tmp_path / "f.pb", signature=signature)
    assert frozen.outputs == (output,)
    assert frozen.signature == (signature or "serving_default") and not frozen.guessed
    ours, ours_def = run_frozen(tmp_path / "f.pb", f"{output}:0", [1.0, 2.0])
    theirs, theirs_def = freeze_with_tf1_loader(path, signature or "serving_default")
    assert ours.tolist() == theirs.tolist()
    assert sorted((n.name, n.op) for n in ours_def.node) == sorted(
        (n.name, n.op) for n in theirs_def.node
    )


def test_unknown_signature_lists_the_signatures_there(tmp_path, capsys):
    from tfpersist import cli

    tf1 = tf1_saved_model(tmp_path / "tf1", signatures=("double", "serving_default"))
    module = tf.Module()
    module.w = tf.Variable(2.0)
    spec = [tf.TensorSpec([None], tf.float32, name="x")]
    module.f = tf.function(lambda x: {"y": x * module.w}, input_signature=spec)
    module.g = tf.function(lambda x: {"z": x + module.w}, input_signature=spec)
    tf2 = tmp_path / "tf2"
    tf.saved_model.save(
        module, str(tf2), signatures={"serving_default": module.f, "plus": module.g}
    )
    for path, names in [(tf1, "double, serving_default"), (tf2, "serving_default, plus")]:
        capsys.readouterr()
        assert (
            cli.main(["freeze", str(path), "-o", str(tmp_path / "f.pb"), "--signature", "nope"])
            == 2
        )
        [line] = capsys.readouterr().err.splitlines()
        assert line.startswith("tfpersist: error: ") and "has no nope signature" in line
        assert sorted(line.split("(signatures: ")[1].split(")")[0].split(", ")) == sorted(
            names.split(", ")
        )
    assert not (tmp_path / "f.pb").exists()
    # a TF2 signature by name: the frozen graph computes what TensorFlow's loaded signature does
    frozen = freezer.freeze_checkpoint(tf2, tmp_path / "plus.pb", signature="plus")
    [name] = frozen.outputs
    run = freezing.load_frozen_function(tmp_path / "plus.pb", ["x:0"], [f"{name}:0"])
    expected = tf.saved_model.load(str(tf2)).signatures["plus"](x=tf.constant([1.0, 5.0]))["z"]
    assert run(tf.constant([1.0, 5.0])).numpy().tolist() == expected.numpy().tolist()


def test_output_wins_over_signature_and_guess(tmp_path):
    path = tf1_saved_model(tmp_path / "saved", signatures=("double",))  # no serving_default
    frozen = freezer.freeze_checkpoint(path, tmp_path / "f.pb", ["y"])
    assert (frozen.outputs, frozen.guessed, frozen.signature) == (("y",), False, None)
    assert run_frozen(tmp_path / "f.pb", "y:0", [2.0])[0].tolist() == [6.0]
    # a checkpoint whose guess would be 'out': the node asked for is frozen instead
    with tf.Graph().as_default() as graph, V1.Session(graph=graph) as sess:
        v = V1.Variable(2.0, name="v")
        hidden = tf.multiply(v, 5.0, name="hidden")
        tf.add(hidden, 1.0, name="out")
        sess.run(v.initializer)
        prefix = V1.train.Saver().save(sess, str(tmp_path / "ckpt" / "m"))
    assert freezer.freeze_checkpoint(prefix, tmp_path / "g.pb").outputs == ("out",)
    frozen = freezer.freeze_checkpoint(prefix, tmp_path / "h.pb", ["hidden"])
    graph_def = freezing.read_graph_def(tmp_path / "h.pb")
    assert frozen.outputs == ("hidden",) and "out" not in {n.name for n in graph_def.node}


def test_tf1_saved_model_swapped_after_its_audit_is_loaded_as_audited(tmp_path, monkeypatch):
    """Someone swaps ``saved_model.pb`` between the audit and TF1's loader."""
    path = tf1_saved_model(tmp_path / "ours")
    # the swapped-in file runs its main op when loaded: it assigns w a value of its own
    hostile = tf1_saved_model(
        tmp_path / "hostile", main_op=lambda: V1.assign(V1.global_variables()[0], 100.0).op
    )
    data = (hostile / "saved_model.pb").read_bytes()
    audit = freezer.audit_graph

    def swap_after(*args, **kwargs):
        audit(*args, **kwargs)
        (path / "saved_model.pb").write_bytes(data)

    monkeypatch.setattr(freezer, "audit_graph", swap_after)
    freezer.freeze_checkpoint(path, tmp_path / "f.pb")
    assert run_frozen(tmp_path / "f.pb", "y:0", [1.0])[0].tolist() == [3.0]
    # what a second read would have loaded
    assert freeze_with_tf1_loader(path, "serving_default")[0].tolist() == [100.0, 200.0]


@pytest.mark.parametrize("version", ["0.12.head", "1.0.0-rc1", "2.5.0-dev20201106", "", "x.y"])
def test_meta_graph_of_any_release_string_freezes(tmp_path, version):
    with tf.Graph().as_default() as graph:
        build_article_graph()
        with V1.Session(graph=graph) as sess:
            sess.run(V1.global_variables_initializer())
            prefix = V1.train.Saver().save(sess, str(tmp_path / "m"))
    meta = V1.MetaGraphDef()
    meta.ParseFromString(Path(prefix + ".meta").read_bytes())
    meta.meta_info_def.tensorflow_version = version
    Path(prefix + ".meta").write_bytes(meta.SerializeToString())
    frozen = freezer.freeze_checkpoint(prefix, tmp_path / "f.pb")
    assert frozen.outputs == ("add",)
    graph_def = freezing.read_graph_def(tmp_path / "f.pb")
    with tf.Graph().as_default() as graph, V1.Session(graph=graph) as sess:
        [add] = tf.import_graph_def(graph_def, return_elements=["add:0"])
        assert sess.run(add).tolist() == [3.0]


# --- guessing outputs ----------------------------------------------------------------------


def test_guess_keeps_real_outputs_and_drops_only_plumbing():
    from tfpersist.graphs import guess_outputs

    with tf.Graph().as_default() as graph:
        x = V1.placeholder(tf.float32, [None, 2], name="x")
        w = V1.Variable(tf.ones([2, 1]), name="w")
        step = V1.train.get_or_create_global_step()
        y = tf.matmul(x, w, name="y")
        tf.concat([y, y], axis=1, name="concat")
        tf.strings.join(["a", tf.strings.as_string(step)], name="label")
        tf.identity(y, name="init_state")
        tf.identity(y, name="save_result")
        loss = tf.reduce_mean(tf.square(y), name="loss")
        V1.train.GradientDescentOptimizer(0.1).minimize(loss, global_step=step)
        V1.train.Saver()
        V1.train.Saver(sharded=True)  # a second saver, in scope save_1
        scaffold = V1.train.Scaffold()
        scaffold.finalize()  # its readiness reports and own init ops
    graph_def = graph.as_graph_def()
    guessed = guess_outputs(graph_def)
    assert guessed == ["concat", "label", "init_state", "save_result", "loss"]
    consumed = {i.lstrip("^").split(":")[0] for n in graph_def.node for i in n.input}
    sinks = {n.name for n in graph_def.node} - consumed
    # what was left out is plumbing: the savers, the init/readiness ops, gradients, updates
    dropped = sinks - set(guessed)
    assert any(n.startswith("save_1/") for n in dropped)
    assert {scaffold.ready_op.op.name, scaffold.ready_for_local_init_op.op.name} <= dropped
    assert any(n.startswith("gradients/") for n in dropped)


def _rename_node(graph_def, old: str, new: str) -> None:
    for node in graph_def.node:
        if node.name == old:
            node.name = new
        for i, name in enumerate(node.input):
            if name.lstrip("^").split(":")[0] == old:
                node.input[i] = name.replace(old, new, 1)


@pytest.mark.parametrize("kind", ["meta", "tf1_saved_model"])
def test_freeze_refuses_a_variable_read_that_runs_another_saver(tmp_path, kind):
    """TF's converter runs NAME/Read/ReadVariableOp by name: here it is another saver's restore."""
    with tf.Graph().as_default() as graph, tf.compat.v1.Session(graph=graph) as sess:
        other = tf.compat.v1.Variable(1234.0, name="v")
        sess.run(other.initializer)
        tf.compat.v1.train.Saver().save(sess, str(tmp_path / "other" / "ckpt"))
    with tf.Graph().as_default() as graph, tf.compat.v1.Session(graph=graph) as sess:
        v = tf.compat.v1.Variable(1.0, name="v", use_resource=True)
        x = tf.compat.v1.placeholder(tf.float32, [], name="x")
        out = tf.multiply(v * x, 2.0, name="out")
        sess.run(v.initializer)
        saver = tf.compat.v1.train.Saver({"v": v})
        tf.compat.v1.train.Saver({"v": v}, name="second")
        saver.save(sess, str(tmp_path / "model" / "model.ckpt"), write_meta_graph=False)
        meta = saver.export_meta_graph()
        if kind == "tf1_saved_model":
            builder = tf.compat.v1.saved_model.Builder(str(tmp_path / "saved"))
            builder.add_meta_graph_and_variables(
                sess,
                ["serve"],
                signature_def_map={
                    "serving_default": tf.compat.v1.saved_model.predict_signature_def(
                        {"x": x}, {"out": out}
                    )
                },
            )
            builder.save()
    if kind == "tf1_saved_model":
        model = saved_model_pb2.SavedModel()
        model.ParseFromString((tmp_path / "saved" / "saved_model.pb").read_bytes())
        meta = model.meta_graphs[0]
    graph_def = meta.graph_def
    _rename_node(graph_def, "v/Read/ReadVariableOp", "v/Read/real")
    _rename_node(graph_def, "second/RestoreV2", "v/Read/ReadVariableOp")
    for node in graph_def.node:
        if node.name == "second/filename/input":
            node.attr["value"].tensor.string_val[:] = [str(tmp_path / "other" / "ckpt").encode()]
    for key in list(meta.collection_def):
        del meta.collection_def[key]
    if kind == "meta":
        (tmp_path / "model" / "model.ckpt.meta").write_bytes(meta.SerializeToString())
        source = tmp_path / "model" / "model.ckpt"
    else:
        (tmp_path / "saved" / "saved_model.pb").write_bytes(model.SerializeToString())
        source = tmp_path / "saved"
    with pytest.raises(UnsafeGraphError, match="v/Read/ReadVariableOp"):
        freezer.freeze_checkpoint(source, tmp_path / "frozen.pb", ["out"])
    assert not (tmp_path / "frozen.pb").exists()
