"""The graph audit: hand-built GraphDefs that hide unsafe ops, and real graphs that pass."""

from __future__ import annotations

import pytest
import tensorflow as tf

from tfpersist import freezing, meta_graph
from tfpersist.cli import main
from tfpersist.errors import GraphFormatError, UnsafeGraphError
from tfpersist.graphs import read_meta_graph
from tfpersist.safety import audit_graph

pytestmark = pytest.mark.fault


def add_node(nodes, name, op, **funcs):
    node = nodes.add(name=name, op=op)
    for attr, value in funcs.items():
        if isinstance(value, list):
            for f in value:
                node.attr[attr].list.func.add(name=f)
        else:
            node.attr[attr].func.name = value
    return node


def graph(top, functions=None):
    """A GraphDef from ``[(name, op, {attr: function})]`` and ``{function: [nodes]}``."""
    graph_def = tf.compat.v1.GraphDef()
    for name, op, funcs in top:
        add_node(graph_def.node, name, op, **funcs)
    for fname, body in (functions or {}).items():
        function = graph_def.library.function.add()
        function.signature.name = fname
        for name, op, funcs in body:
            add_node(function.node_def, name, op, **funcs)
    return graph_def


def refused(graph_def):
    with pytest.raises(UnsafeGraphError) as caught:
        audit_graph(graph_def)
    return caught.value.ops


def test_forbidden_op_at_top_level():
    assert refused(graph([("x", "Const", {}), ("w", "WriteFile", {})])) == [
        ("WriteFile", "w", None)
    ]


def test_inside_a_function():
    g = graph(
        [("call", "StatefulPartitionedCall", {"f": "load"})], {"load": [("r", "ReadFile", {})]}
    )
    assert refused(g) == [("ReadFile", "r", "load")]


def test_inside_a_while_body():
    g = graph(
        [("loop", "While", {"cond": "cond", "body": "body"})],
        {"cond": [("c", "Less", {})], "body": [("py", "EagerPyFunc", {})]},
    )
    assert refused(g) == [("EagerPyFunc", "py", "body")]


def test_nested_two_functions_deep_and_in_a_case_branch():
    g = graph(
        [("case", "Case", {"branches": ["first", "outer"]})],
        {
            "first": [("i", "Identity", {})],
            "outer": [("call", "inner", {})],  # a node whose op is a library function
            "inner": [("py", "PyFunc", {})],
        },
    )
    assert refused(g) == [("PyFunc", "py", "inner")]


def test_in_a_function_named_like_an_allowed_op():
    g = graph([("looks_safe", "Identity", {})], {"Identity": [("steal", "ReadFile", {})]})
    assert refused(g) == [("ReadFile", "steal", "Identity")]


def test_unknown_ops_and_the_allowlist():
    g = graph([("mine", "MyCustomOp", {}), ("r", "ReadFile", {})])
    with pytest.raises(UnsafeGraphError, match=r"allow_ops=\['MyCustomOp', 'ReadFile'\]") as e:
        audit_graph(g, where="'custom.pb'")
    assert str(e.value).startswith("'custom.pb' holds 2 ops tfpersist will not import")
    audit_graph(g, allow_ops=["MyCustomOp", "ReadFile"])  # the caller decides, by name


def test_print_to_a_file_is_file_access():
    g = graph([("p", "PrintV2", {})])
    audit_graph(g)  # printing to stderr is fine
    g.node[0].attr["output_stream"].s = b"file:///tmp/leak"
    assert refused(g) == [("PrintV2", "p", None)]


def test_self_recursion_and_missing_functions():
    g = graph(
        [("call", "PartitionedCall", {"f": "a"})], {"a": [("x", "b", {})], "b": [("y", "a", {})]}
    )
    with pytest.raises(UnsafeGraphError, match="calls itself"):
        audit_graph(g)
    with pytest.raises(GraphFormatError, match="calls function 'gone'"):
        audit_graph(graph([("call", "PartitionedCall", {"f": "gone"})]))


def test_a_file_cannot_widen_the_saver_allowance(tmp_path):
    """Saver ops pass inside the saver the file declares; nothing else does."""
    prefix = str(tmp_path / "m" / "model.ckpt")
    with tf.Graph().as_default() as g:
        v = tf.Variable(1.0, name="v")
        with tf.compat.v1.Session(graph=g) as sess:
            sess.run(v.initializer)
            tf.compat.v1.train.Saver().save(sess, prefix)
    meta = read_meta_graph(prefix + ".meta")
    audit_graph(meta.graph_def, saver_def=meta.saver_def)
    assert {op for op, *_ in refused(meta.graph_def)} == {"SaveV2", "RestoreV2"}
    sneaky = meta.graph_def.node.add(name="save/steal", op="ReadFile")
    sneaky.input.append("save/Const")
    restore = next(n for n in meta.graph_def.node if n.name == "save/restore_all")
    restore.input.append("^save/steal")
    with pytest.raises(UnsafeGraphError, match="node 'save/steal' runs ReadFile"):
        audit_graph(meta.graph_def, saver_def=meta.saver_def)
    with open(prefix + ".meta", "wb") as f:
        f.write(meta.SerializeToString())
    with tf.Graph().as_default() as g, tf.compat.v1.Session(graph=g) as sess:
        with pytest.raises(UnsafeGraphError):
            meta_graph.restore_meta_graph(sess, prefix)
        assert g.get_operations() == []  # refused before anything was imported
    assert main(["freeze", prefix, "-o", str(tmp_path / "f.pb")]) == 2
    assert not (tmp_path / "f.pb").exists()
    allowed = ["freeze", prefix, "-o", str(tmp_path / "f.pb"), "--allow-op", "ReadFile"]
    assert main([*allowed, "--output", "v"]) == 0


def test_real_graphs_pass(tmp_path):
    model = tf.keras.Sequential([tf.keras.Input((4,)), tf.keras.layers.Dense(3, activation="relu")])
    saved = str(tmp_path / "saved")
    tf.saved_model.save(model, saved)
    frozen = freezing.freeze_checkpoint(saved, str(tmp_path / "frozen.pb"))  # audits the SavedModel
    graph_def = freezing.read_graph_def(frozen.path)
    audit_graph(graph_def)
    with tf.Graph().as_default():
        [out] = freezing.import_graph(graph_def, [f"{frozen.outputs[0]}:0"])
    assert out.shape.as_list()[-1] == 3


def test_import_paths_refuse(tmp_path):
    g = graph([("r", "ReadFile", {})])
    with tf.Graph().as_default(), pytest.raises(UnsafeGraphError):
        freezing.import_graph(g, ["r"])
    freezing.write_graph_def(g, str(tmp_path / "bad.pb"))
    with pytest.raises(UnsafeGraphError, match=r"bad\.pb' holds 1 op"):
        freezing.load_frozen_function(str(tmp_path / "bad.pb"), [], ["r"])
