"""The graph audit: dangerous graphs that really do harm, refused; graphs TensorFlow writes, loaded.

Every dangerous graph is first shown, in raw TensorFlow, to touch the
filesystem or run Python. Then every loader of tfpersist, ``tfpersist
audit`` and ``tfpersist summarize`` must refuse it, and nothing on disk may
change. The audit without TensorFlow and the audit with it must agree on
every file.
"""

from __future__ import annotations

import json
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import benign
import dangerous
import numpy as np
import pytest
import tensorflow as tf
from dangerous import CASES, SAVED_MODEL_CASES, TAMPERINGS, files_in, prepare, trigger
from test_graphfile import attr, field, node, number

from tfpersist import _tf, freezer, freezing, graphs, meta_graph, safety
from tfpersist._graphfile import parse_graph_def, parse_meta_graph
from tfpersist.cli import main
from tfpersist.errors import GraphFormatError, OutputGuessError, UnsafeGraphError
from tfpersist.safety import audit_graph

pytestmark = pytest.mark.fault


def tensorflow_verdict(path: Path) -> str:
    """The verdict of the audit every loader runs: TensorFlow parses, this TensorFlow's ops."""
    try:
        if path.is_dir():
            metas = graphs.read_saved_model(path).meta_graphs
        elif path.suffix == ".meta":
            metas = [graphs.read_meta_graph(path)]
        else:
            graph_def = freezing.read_graph_def(path)
            metas = [tf.compat.v1.MetaGraphDef(graph_def=graph_def)]
        for meta in metas:
            audit_graph(meta)
    except UnsafeGraphError:
        return "refused"
    except GraphFormatError:
        return "unreadable"
    return "clean"


def audited(path: Path) -> safety.FileAudit:
    """``tfpersist audit`` on *path*; checks it agrees with the audit of the loaders."""
    result = safety.audit_file(path)
    assert result.verdict == tensorflow_verdict(path), (path, result)
    for op in {r.op for r in result.refusals if r.allowable}:  # the advice keeps its word
        kept = safety.audit_file(path, allow_ops=[op]).refusals
        assert not [r for r in result.refusals if r.op == op and r in kept], (path, op)
    return result


# --- graphs that do harm -----------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_a_dangerous_graph_harms_in_raw_tensorflow(case, tmp_path):
    prepare(tmp_path)
    out = trigger(case.write(tmp_path))
    assert case.harmed(tmp_path, out)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_a_dangerous_graph_is_refused_before_anything_runs(case, tmp_path, capsys):
    prepare(tmp_path)
    path = case.write(tmp_path)
    before = files_in(tmp_path)
    with pytest.raises(UnsafeGraphError):
        freezing.load_frozen_function(path, ["x:0"], ["out:0"])
    with tf.Graph().as_default() as graph, pytest.raises(UnsafeGraphError):
        freezing.import_graph(freezing.read_graph_def(path), ["out:0"])
    assert graph.get_operations() == []
    assert audited(path).verdict == "refused"
    assert main(["audit", str(path)]) == 1
    assert main(["summarize", str(path)]) == 1
    assert files_in(tmp_path) == before
    assert not case.harmed(tmp_path)


def refused_by_the_meta_graph_loaders(prefix: str, d: Path) -> None:
    with tf.Graph().as_default() as graph, tf.compat.v1.Session(graph=graph) as sess:
        with pytest.raises(UnsafeGraphError):
            meta_graph.restore_meta_graph(sess, prefix)
        assert graph.get_operations() == []
    with pytest.raises(UnsafeGraphError):
        freezer.freeze_checkpoint(prefix, d / "frozen.pb", ["add"])
    assert audited(Path(prefix + ".meta")).verdict == "refused"
    assert main(["freeze", prefix, "-o", str(d / "f.pb")]) == 2


def refused_by_the_saved_model_loaders(path: Path, d: Path) -> None:
    with pytest.raises(UnsafeGraphError):
        freezer.freeze_checkpoint(path, d / "frozen.pb", ["add"])
    assert audited(path).verdict == "refused"


TAMPERED = {
    ".meta": (dangerous.tampered_meta, dangerous.restore_raw, refused_by_the_meta_graph_loaders),
    "TF1 SavedModel": (
        dangerous.tampered_saved_model,
        dangerous.load_tf1_raw,
        refused_by_the_saved_model_loaders,
    ),
}


@pytest.mark.parametrize("container", sorted(TAMPERED))
@pytest.mark.parametrize("name", sorted(TAMPERINGS))
def test_a_tampered_saver_harms_in_raw_tensorflow_and_is_refused(container, name, tmp_path):
    build, load_raw, refused_by_loaders = TAMPERED[container]
    _, harmed, refusal = TAMPERINGS[name]
    prepare(tmp_path / "raw")
    assert harmed(tmp_path / "raw", load_raw(build(tmp_path / "raw", name)))

    prepare(tmp_path / "ours")
    built = build(tmp_path / "ours", name)
    before = files_in(tmp_path / "ours")
    refused_by_loaders(built, tmp_path / "ours")
    assert refusal in str(safety.audit_file(built if container != ".meta" else built + ".meta"))
    assert files_in(tmp_path / "ours") == before
    assert not harmed(tmp_path / "ours", None)


@pytest.mark.parametrize("name", sorted(dangerous.RUN_AT_LOAD))
def test_a_saved_model_that_saves_as_it_loads_harms_in_raw_tensorflow_and_is_refused(
    name, tmp_path
):
    build, load_raw, harmed, refusal = dangerous.RUN_AT_LOAD[name]
    prepare(tmp_path / "raw")
    load_raw(build(tmp_path / "raw"))
    assert harmed(tmp_path / "raw", None)

    prepare(tmp_path / "ours")
    path = build(tmp_path / "ours")
    before = files_in(tmp_path / "ours")
    with pytest.raises(UnsafeGraphError, match=re.escape(refusal)):
        freezer.freeze_checkpoint(path, tmp_path / "ours" / "frozen.pb")
    assert audited(path).verdict == "refused"
    assert files_in(tmp_path / "ours") == before
    assert not harmed(tmp_path / "ours", None)


def test_a_saved_model_swapped_after_its_audit_is_loaded_as_audited(tmp_path, monkeypatch):
    """Someone who can write the directory swaps ``saved_model.pb`` between audit and load."""
    evil = dangerous.RUN_AT_LOAD["TF1 local variable's initializer is a leftover SaveV2"][0]
    hostile = (evil(tmp_path / "evil") / "saved_model.pb").read_bytes()
    path = dangerous._tf1_saved_model(tmp_path / "ours")
    audit = freezer.audit_graph

    def swap_after(*args, **kwargs):
        audit(*args, **kwargs)
        (path / "saved_model.pb").write_bytes(hostile)

    monkeypatch.setattr(freezer, "audit_graph", swap_after)
    with pytest.raises(OutputGuessError, match="no serving_default"):  # after loading it
        freezer.freeze_checkpoint(path, tmp_path / "frozen.pb")
    assert not (tmp_path / "evil" / "stolen.index").exists()
    dangerous.load_tf2_raw(path)  # what a second read would have loaded
    assert (tmp_path / "evil" / "stolen.index").exists()


@pytest.mark.parametrize("name", SAVED_MODEL_CASES)
def test_a_dangerous_saved_model_harms_in_raw_tensorflow_and_is_refused(name, tmp_path):
    prepare(tmp_path / "raw")
    out = dangerous.call_saved_model(dangerous.saved_model(tmp_path / "raw", name))
    assert dangerous.COMPUTATIONS[name][1](tmp_path / "raw", out)

    prepare(tmp_path / "ours")
    path = dangerous.saved_model(tmp_path / "ours", name)
    before = files_in(tmp_path / "ours")
    with pytest.raises(UnsafeGraphError):
        freezer.freeze_checkpoint(path, tmp_path / "ours" / "frozen.pb")
    assert audited(path).verdict == "refused"
    assert files_in(tmp_path / "ours") == before


# --- graphs TensorFlow writes ------------------------------------------------------------


@pytest.fixture(scope="module")
def tensorflow_files(tmp_path_factory, two_cpus):
    return benign.all_files(tmp_path_factory.mktemp("benign"))


#: tfpersist's restore does not read V1 checkpoints nor partitioned variables
#: yet: these two graphs are imported, not restored.
IMPORT_ONLY = ("V1 saver", "partitioned variables")


def test_graphs_tensorflow_writes_pass_and_load(tensorflow_files, tmp_path):
    for name, path in tensorflow_files.items():
        assert audited(path).verdict == "clean", name
        assert graphs.summarize_graph(path).unsafe_ops == (), name
        if name in IMPORT_ONLY:
            meta = graphs.read_meta_graph(path)
            with tf.Graph().as_default():
                freezing.import_graph(meta.graph_def, [meta.saver_def.filename_tensor_name])
        elif path.suffix == ".meta":
            with tf.Graph().as_default() as graph, tf.compat.v1.Session(graph=graph) as sess:
                meta_graph.restore_meta_graph(sess, str(path)[: -len(".meta")], clear_devices=True)
        elif path.suffix == ".pb":
            summary = graphs.summarize_graph(path)
            names = [[f"{t.name}:0" for t in ts] for ts in (summary.inputs, summary.outputs)]
            freezing.load_frozen_function(path, *names)
        elif path.is_dir():
            freezer.freeze_checkpoint(path, tmp_path / f"{path.name}.pb")


# --- the saver rule ----------------------------------------------------------------------


def saver_meta(tmp_path: Path) -> tf.compat.v1.MetaGraphDef:
    prefix = dangerous.save_article(tmp_path)
    return graphs.read_meta_graph(prefix + ".meta")


def refusals(meta) -> list[str]:
    try:
        audit_graph(meta)
    except UnsafeGraphError as e:
        return [str(e)]
    return []


def test_a_saver_writing_outside_its_file_name_is_refused(tmp_path):
    meta = saver_meta(tmp_path)
    name = dangerous.extend_graph(
        meta.graph_def,
        lambda: tf.strings.join(
            [tf.compat.v1.get_default_graph().get_tensor_by_name("save/Const:0"), "/../../x"]
        ),
    )
    save = next(n for n in meta.graph_def.node if n.op == "SaveV2")
    save.input[0] = name
    [message] = refusals(meta)
    assert (
        "node 'save/SaveV2' runs SaveV2 (a file name that is not built from a filename" in message
    )


def test_restoring_may_not_write_nor_merge_the_checkpoint_away(tmp_path):
    meta = saver_meta(tmp_path)
    filename = meta.saver_def.filename_tensor_name
    name = dangerous.extend_graph(
        meta.graph_def,
        lambda: tf.raw_ops.MergeV2Checkpoints(
            checkpoint_prefixes=[tf.compat.v1.get_default_graph().get_tensor_by_name(filename)],
            destination_prefix=tf.strings.join(
                [tf.compat.v1.get_default_graph().get_tensor_by_name(filename), "_moved"]
            ),
        ),
    )
    restore = next(n for n in meta.graph_def.node if n.name == meta.saver_def.restore_op_name)
    restore.input.append("^" + name)
    [message] = refusals(meta)
    assert "merges and deletes checkpoints other than the saver's own shards" in message
    assert "writes files while the checkpoint is restored" in message


def test_restored_values_reaching_an_output_are_refused(tmp_path):
    meta = saver_meta(tmp_path)
    dangerous.extend_graph(
        meta.graph_def,
        lambda: tf.identity(
            tf.compat.v1.get_default_graph().get_tensor_by_name("save/RestoreV2:0"), name="leak"
        ),
    )
    [message] = refusals(meta)
    assert "node 'leak' (Identity) takes its restored values" in message


def test_the_saver_function_of_a_saved_model_may_run_only_from_the_saver(tmp_path):
    module = tf.Module()
    module.v = tf.Variable(1.0)
    module.f = tf.function(lambda: module.v * 2.0, input_signature=[])
    tf.saved_model.save(module, str(tmp_path / "saved"))
    model = graphs.read_saved_model(tmp_path / "saved")
    meta = model.meta_graphs[0]
    assert refusals(meta) == []
    save_call = next(
        n for n in meta.graph_def.node if n.name == meta.saver_def.save_tensor_name.split(":")[0]
    )
    rogue = meta.graph_def.node.add()
    rogue.CopyFrom(save_call)
    rogue.name = "rogue"
    path = meta.graph_def.node.add(name="path", op="Const")
    path.attr["dtype"].type = tf.string.as_datatype_enum
    path.attr["value"].tensor.CopyFrom(tf.make_tensor_proto("/tmp/elsewhere"))
    rogue.input[0] = "path"
    [message] = refusals(meta)
    assert (
        "node 'rogue' runs StatefulPartitionedCall (calls a saver function from outside" in message
    )


def test_a_leftover_second_saver_passes_but_may_not_feed_the_model(tmp_path):
    meta = graphs.read_meta_graph(benign.meta_files(tmp_path)["two savers"])
    assert meta.saver_def.restore_op_name == "save_1/restore_all"
    assert refusals(meta) == []
    dangerous.extend_graph(
        meta.graph_def,
        lambda: tf.add(
            tf.compat.v1.get_default_graph().get_tensor_by_name("save/RestoreV2:0"), 1.0, name="m"
        ),
    )
    [message] = refusals(meta)
    assert "node 'save/RestoreV2' runs RestoreV2 (node 'm' (AddV2) depends on it)" in message


def test_allow_ops_widens_by_name_and_nothing_in_the_file_can(tmp_path):
    prepare(tmp_path)
    case = dangerous.Case("SaveV2 with a constant path", "top")
    graph_def = case.graph_def(tmp_path)
    with pytest.raises(UnsafeGraphError, match=r"allow_ops=\['SaveV2'\] \(--allow-op SaveV2\)"):
        audit_graph(graph_def, where="'model.pb'")
    audit_graph(graph_def, allow_ops=["SaveV2"])
    path = case.write(tmp_path)
    assert main(["audit", str(path), "--allow-op", "SaveV2"]) == 0
    # a SaverDef naming the dangerous node as its own saver does not make it one
    saver = tf.compat.v1.train.SaverDef(
        filename_tensor_name="x:0", save_tensor_name="out:0", restore_op_name="out"
    )
    with pytest.raises(UnsafeGraphError, match="does not come from the saver's 'x:0'"):
        audit_graph(graph_def, saver_def=saver)


# --- ops, functions and constants --------------------------------------------------------


def graph(top, functions=None):
    """A GraphDef from ``[(name, op, {attr: function})]`` and ``{function: [nodes]}``."""
    graph_def = tf.compat.v1.GraphDef()
    for name, op, funcs in top:
        added = graph_def.node.add(name=name, op=op)
        for key, value in funcs.items():
            if isinstance(value, list):
                for f in value:
                    added.attr[key].list.func.add(name=f)
            else:
                added.attr[key].func.name = value
    for fname, body in (functions or {}).items():
        function = graph_def.library.function.add()
        function.signature.name = fname
        for name, op, funcs in body:
            added = function.node_def.add(name=name, op=op)
            for key, value in funcs.items():
                added.attr[key].func.name = value
    return graph_def


def refused(graph_def):
    with pytest.raises(UnsafeGraphError) as caught:
        audit_graph(graph_def)
    return caught.value.ops


def test_an_op_wherever_it_hides():
    assert refused(graph([("w", "WriteFile", {})])) == [("WriteFile", "w", None)]
    g = graph(
        [("call", "StatefulPartitionedCall", {"f": "load"})], {"load": [("r", "ReadFile", {})]}
    )
    assert refused(g) == [("ReadFile", "r", "load")]
    g = graph(
        [("loop", "While", {"cond": "cond", "body": "body"})],
        {"cond": [("c", "Less", {})], "body": [("py", "EagerPyFunc", {})]},
    )
    assert refused(g) == [("EagerPyFunc", "py", "body")]
    g = graph(
        [("case", "Case", {"branches": ["first", "outer"]})],
        {
            "first": [("i", "Identity", {})],
            "outer": [("c", "inner", {})],
            "inner": [("p", "PyFunc", {})],
        },
    )
    assert refused(g) == [("PyFunc", "p", "inner")]
    g = graph([("looks_safe", "Identity", {})], {"Identity": [("steal", "ReadFile", {})]})
    assert refused(g) == [("ReadFile", "steal", "Identity")]


def test_a_function_attribute_naming_an_op_runs_that_op():
    """``MapDataset(f=ReadFile)`` runs ReadFile on every element."""
    g = graph([("map", "MapDataset", {"f": "ReadFile"})])
    assert refused(g) == [("ReadFile", "map", None)]


def test_an_op_no_group_holds_and_an_op_tensorflow_lacks():
    g = graph([("mine", "MyCustomOp", {}), ("r", "ReadFile", {})])
    with pytest.raises(UnsafeGraphError, match=r"allow_ops=\['MyCustomOp', 'ReadFile'\]") as e:
        audit_graph(g, where="'custom.pb'")
    assert str(e.value).startswith("'custom.pb' holds 2 ops tfpersist will not import")
    assert f"an op TensorFlow {_tf.VERSION[0]}.{_tf.VERSION[1]} does not know" in str(e.value)
    audit_graph(g, allow_ops=["MyCustomOp", "ReadFile"])  # the caller decides, by name


def test_conditional_ops_pass_only_under_their_condition():
    g = graph([("p", "PrintV2", {})])
    audit_graph(g)  # printing to stderr is fine
    for stream in (b"stdout", b"log(warning)"):
        g.node[0].attr["output_stream"].s = stream
        audit_graph(g)
    g.node[0].attr["output_stream"].s = b"file:///tmp/leak"
    assert refused(g) == [("PrintV2", "p", None)]
    g = graph([("d", "DecodeProtoV2", {})])
    audit_graph(g)
    g.node[0].attr["descriptor_source"].s = b"/etc/descriptors.pb"
    assert refused(g) == [("DecodeProtoV2", "d", None)]
    g = graph([("s", "FixedUnigramCandidateSampler", {})])
    audit_graph(g)
    g.node[0].attr["vocab_file"].s = b"/etc/passwd"
    assert refused(g) == [("FixedUnigramCandidateSampler", "s", None)]


def test_recursion_and_missing_functions():
    g = graph(
        [("call", "PartitionedCall", {"f": "a"})], {"a": [("x", "b", {})], "b": [("y", "a", {})]}
    )
    with pytest.raises(UnsafeGraphError, match="calls itself"):
        audit_graph(g)
    with pytest.raises(GraphFormatError, match="calls function 'gone'"):
        audit_graph(graph([("call", "PartitionedCall", {"f": "gone"})]))


F32 = tf.float32.as_datatype_enum


def _call(into, name: str, op: str, inputs: list[str], function: str = ""):
    """A node of one float in and out, calling *function* through its ``f`` attribute."""
    call = into.add(name=name, op=op, input=inputs)
    call.attr["Tin"].list.type.extend([F32] * len(inputs))
    call.attr["Tout"].list.type.append(F32)
    if function:
        call.attr["f"].func.name = function
    return call


def _function(graph_def, name: str, args: list[str]):
    f = graph_def.library.function.add()
    f.signature.name = name
    for arg in args:
        f.signature.input_arg.add(name=arg, type=F32)
    f.signature.output_arg.add(name="y", type=F32)
    return f


def _with_input(graph_def):
    one = graph_def.node.add(name="one", op="Const")
    one.attr["dtype"].type = F32
    one.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(1.0))
    graph_def.versions.producer = 1500
    return graph_def


def recursion_through_a_gradient():
    """``myfn``'s registered gradient runs ``SymbolicGradient(f=myfn)``."""
    g = tf.compat.v1.GraphDef()
    _function(g, "myfn", ["x"]).ret["y"] = "x"
    grad = _function(g, "gradfn", ["x", "dy"])
    _call(grad.node_def, "again", "SymbolicGradient", ["x", "dy"], "myfn")
    grad.ret["y"] = "again:output:0"
    g.library.gradient.add(function_name="myfn", gradient_func="gradfn")
    _call(g.node, "out", "SymbolicGradient", ["one", "one"], "myfn")
    return _with_input(g)


def recursion_through_a_placeholder():
    """``rec`` calls whatever function its attribute ``g`` names; the caller names ``rec``."""
    g = tf.compat.v1.GraphDef()
    rec = _function(g, "rec", ["x"])
    rec.signature.attr.add(name="g", type="func")
    _call(rec.node_def, "again", "PartitionedCall", ["x"]).attr["f"].placeholder = "g"
    rec.ret["y"] = "again:output:0"
    f = _call(g.node, "out", "PartitionedCall", ["one"], "rec").attr["f"].func
    f.attr["g"].func.name = "rec"
    f.attr["g"].func.attr["g"].placeholder = "g"
    return _with_input(g)


def recursion_through_a_default():
    """``rec`` calls whatever function its attribute ``g`` names, which defaults to ``rec``."""
    g = tf.compat.v1.GraphDef()
    rec = _function(g, "rec", ["x"])
    rec.signature.attr.add(name="g", type="func").default_value.func.name = "rec"
    _call(rec.node_def, "again", "PartitionedCall", ["x"]).attr["f"].placeholder = "g"
    rec.ret["y"] = "again:output:0"
    _call(g.node, "out", "PartitionedCall", ["one"], "rec")  # binds nothing: the default runs
    return _with_input(g)


def break_cycle(graph_def) -> None:
    """Make the recursive *graph_def* call a ``leaf`` function instead of itself."""
    if graph_def.library.gradient:
        del graph_def.library.gradient[:]
        return
    rec = graph_def.library.function[0].signature
    if rec.attr[0].HasField("default_value"):
        rec.attr[0].default_value.func.name = "leaf"
    else:
        bound = graph_def.node[0].attr["f"].func.attr["g"].func
        bound.name = "leaf"
        bound.ClearField("attr")
    _function(graph_def, "leaf", ["x"]).ret["y"] = "x"


#: Run ``out:0`` of a frozen graph with raw TensorFlow.
RUN_RAW = (
    "import sys, tensorflow as tf\n"
    "g = tf.compat.v1.GraphDef.FromString(open(sys.argv[1], 'rb').read())\n"
    "with tf.Graph().as_default():\n"
    "    tf.graph_util.import_graph_def(g, name='')\n"
    "    tf.compat.v1.Session().run('out:0')\n"
)


def run_raw(path: Path) -> int:
    """Run ``out:0`` of *path* with raw TensorFlow in a process of 2 GiB at most: its exit code.

    A recursion without end then dies within seconds instead of filling the machine.
    """

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (2**31, 2**31))

    done = subprocess.run(
        [sys.executable, "-c", RUN_RAW, str(path)], capture_output=True, preexec_fn=limit
    )
    return done.returncode


@pytest.mark.parametrize(
    "build",
    [recursion_through_a_gradient, recursion_through_a_placeholder, recursion_through_a_default],
)
def test_recursion_tensorflow_follows_kills_it_and_is_refused(build, tmp_path, capsys):
    path = tmp_path / "recursive.pb"
    graph_def = build()
    path.write_bytes(graph_def.SerializeToString())
    assert run_raw(path) < 0  # killed by a signal: it recursed until memory ran out
    with pytest.raises(UnsafeGraphError, match="calls itself") as e:
        freezing.load_frozen_function(path, [], ["out:0"])
    assert "allow_ops" not in str(e.value)  # no op to allow makes it safe
    assert main(["audit", str(path)]) == 1
    assert "and TensorFlow would recurse without end" in capsys.readouterr().out
    # the same graph, the cycle broken, runs in the same limits and passes
    break_cycle(graph_def)
    path.write_bytes(graph_def.SerializeToString())
    assert run_raw(path) == 0
    audit_graph(graph_def)


def test_functions_that_implement_one_api_may_stand_in_for_each_other():
    """TensorFlow's implementation selector may swap a call for another implementation."""
    g = tf.compat.v1.GraphDef()
    first = _function(g, "first", ["x"])
    _call(first.node_def, "c", "PartitionedCall", ["x"], "second")
    first.ret["y"] = "c:output:0"
    _function(g, "second", ["x"]).ret["y"] = "x"
    _call(g.node, "out", "PartitionedCall", ["one"], "first")
    audit_graph(_with_input(g))
    for f in g.library.function:
        f.attr["api_implements"].s = b"lstm_1"
    with pytest.raises(UnsafeGraphError, match="calls itself"):
        audit_graph(g)


def test_a_long_call_chain_is_audited_without_recursion(tmp_path, capsys):
    """3,000 functions deep, the last writing a checkpoint: refused, and briefly."""
    g = tf.compat.v1.GraphDef()
    for i in range(3000):
        f = _function(g, f"f{i}", ["x"])
        if i < 2999:
            _call(f.node_def, "c", "PartitionedCall", ["x"], f"f{i + 1}")
        else:
            f.node_def.add(name="s", op="SaveV2", input=["x", "x", "x", "x"])
    path = tmp_path / "chain.pb"
    path.write_bytes(g.SerializeToString())
    assert main(["audit", str(path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith("3000 to look at") and len(out) == 1 + 20 + 1
    assert out[-1] == "  and 2980 more (--json lists them all)"
    assert main(["audit", "--json", str(path)]) == 1
    assert len(json.loads(capsys.readouterr().out)["files"][0]["refusals"]) == 3000


def test_two_functions_of_one_name_are_refused_as_tensorflow_refuses_them(tmp_path, capsys):
    g = tf.compat.v1.GraphDef()
    _function(g, "a", ["x"]).ret["y"] = "x"
    _call(_function(g, "a", ["x"]).node_def, "again", "a", ["x"])
    with tf.Graph().as_default(), pytest.raises(ValueError):
        tf.graph_util.import_graph_def(g, name="")
    with pytest.raises(GraphFormatError, match="two different functions named 'a'"):
        audit_graph(g)
    path = tmp_path / "twice.pb"
    path.write_bytes(g.SerializeToString())
    assert main(["audit", str(path)]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_file_names_built_in_cycles_towers_and_long_chains_get_a_verdict():
    """Each node is worked out once: none of these takes more than linear time."""

    def saver_reading(name: str, *nodes: tuple[str, str, list[str]]) -> list[str]:
        g = tf.compat.v1.GraphDef()
        g.node.add(name="f", op="PlaceholderWithDefault", input=["c"])
        suffix = g.node.add(name="c", op="Const")
        suffix.attr["value"].tensor.CopyFrom(tf.make_tensor_proto("_temp"))
        many = g.node.add(name="m", op="Const")  # 60 values: too many to join 1,000 times
        many.attr["value"].tensor.CopyFrom(tf.make_tensor_proto([f"_{i}" for i in range(60)]))
        big = g.node.add(name="big", op="Const")
        big.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(b"x" * 2**20))
        for node_name, op, inputs in nodes:
            g.node.add(name=node_name, op=op, input=inputs)
        g.node.add(name="s", op="SaveV2", input=[name, "n", "sl", "x"])
        return [r.reason for r in safety.check_graph(parse_graph_def(g.SerializeToString()))]

    cycle = saver_reading("p", ("p", "Pack", ["f", "p"]))
    assert cycle == ["a file name that is not built from a filename tensor"]
    tower = [(f"t{i}", "Pack", [f"t{i - 1}" if i else "f"] * 2) for i in range(64)]
    assert saver_reading("t63", *tower) == []
    selects = [(f"c{i}", "Select", ["b", *[f"c{i - 1}" if i else "c"] * 2]) for i in range(64)]
    assert saver_reading("j", *selects, ("j", "StringJoin", ["f", "c63"])) == []
    assert saver_reading("j", ("j", "StringJoin", ["f", "c", "m"])) == []
    wide = saver_reading("j", ("j", "StringJoin", ["f", *["m"] * 1000]))
    assert wide == ["a file name that is not built from a filename tensor"]
    # 60 values, each joined to a megabyte, then 60 again: 3.6 GB had it been built
    big = saver_reading("j", ("b", "Identity", ["big"]), ("j", "StringJoin", ["f", "m", "b", "m"]))
    assert big == ["a file name that is not built from a filename tensor"]
    g = tf.compat.v1.GraphDef()
    g.node.add(name="f", op="PlaceholderWithDefault", input=["c"])
    g.node.add(name="r", op="RestoreV2", input=["f", "n", "sl"])
    for i in range(20_000):
        g.node.add(name=f"i{i}", op="Identity", input=[f"i{i - 1}" if i else "r"])
    [refusal] = safety.check_graph(parse_graph_def(g.SerializeToString()))
    assert "node 'i19999' (Identity) takes its restored values" in refusal.reason
    g = tf.compat.v1.GraphDef()  # 10,000 leftover savers before 10,000 NoOps in a row
    g.node.add(name="f", op="Placeholder")
    for i in range(10_000):
        g.node.add(name=f"s{i}", op="SaveV2", input=["f", "n", "sl", "x"])
        g.node.add(name=f"o{i}", op="NoOp", input=[f"^o{i - 1}" if i else "^s0", f"^s{i}"])
    assert safety.check_graph(parse_graph_def(g.SerializeToString())) == []
    g = tf.compat.v1.GraphDef()  # 10,000 saver ops beside 10,000 calls of a saver function
    _function(g, "holder", ["x"]).node_def.add(name="s", op="SaveV2", input=["x", "x", "x", "x"])
    for i in range(10_000):
        g.node.add(name=f"s{i}", op="SaveV2", input=["f", "n", "sl", "x"])
        _call(g.node, f"c{i}", "PartitionedCall", ["f"], "holder")
    found = safety.check_graph(parse_graph_def(g.SerializeToString()))
    assert len({r.node for r in found}) == 20_001  # each saver op and each call
    g = tf.compat.v1.GraphDef()  # 20,000 ParseTensor in one function
    body = _function(g, "f", ["x"]).node_def
    for i in range(20_000):
        body.add(name=f"p{i}", op="ParseTensor", input=["x"])
    assert safety.check_graph(parse_graph_def(g.SerializeToString())) == []
    g = tf.compat.v1.GraphDef()  # 2,000 ParseTensor of one 1 MB constant
    g.node.add(name="big", op="Const").attr["value"].tensor.CopyFrom(
        tf.make_tensor_proto(b"x" * 2**20)
    )
    for i in range(2_000):
        g.node.add(name=f"p{i}", op="ParseTensor", input=["big"])
    assert safety.check_graph(parse_graph_def(g.SerializeToString())) == []
    g = tf.compat.v1.GraphDef()  # 10,000 functions that implement one API, each called
    for i in range(10_000):
        _function(g, f"f{i}", ["x"]).attr["api_implements"].s = b"x"
        _call(g.node, f"c{i}", "PartitionedCall", ["f"], f"f{i}")
    [refusal] = safety.check_graph(parse_graph_def(g.SerializeToString()))
    assert "one of 10000 functions that implement API 'x'" in refusal.reason
    g = tf.compat.v1.GraphDef()  # 30,000 refusals, each told once
    for i in range(30_000):
        g.node.add(name=f"r{i}", op="ReadFile", input=["f"])
    path = Path(tempfile.mkdtemp()) / "many.pb"
    path.write_bytes(g.SerializeToString())
    assert len(safety.audit_file(path).refusals) == 30_000


def test_a_leftover_saver_runs_only_if_asked_and_a_loader_will_not_ask(tmp_path):
    """A leftover saver whose save tensor looks like an output: loaders refuse to run it."""
    with tf.Graph().as_default() as graph:
        x = tf.compat.v1.placeholder(tf.string, [], name="x")
        save = tf.raw_ops.SaveV2(
            prefix=x, tensor_names=["v"], shape_and_slices=[""], tensors=[tf.constant(1.0)]
        )
        with tf.control_dependencies([save]):
            tf.identity(x, name="out")
        with tf.compat.v1.Session() as sess:
            sess.run("out:0", {x: str(tmp_path / "raw")})
    assert (tmp_path / "raw.index").exists()  # running "out" saved where the input said
    path = tmp_path / "model.pb"
    path.write_bytes(graph.as_graph_def().SerializeToString())
    assert audited(path).verdict == "clean"  # nothing runs it unless asked
    with pytest.raises(UnsafeGraphError, match="running it, as asked, runs the saver"):
        freezing.load_frozen_function(path, ["x:0"], ["out:0"])
    freezing.load_frozen_function(path, ["x:0"], ["x:0"])  # the rest of the graph loads
    with tf.Graph().as_default(), pytest.raises(UnsafeGraphError, match="as asked"):
        freezing.import_graph(graph.as_graph_def(), ["x:0", "out"])
    with tf.Graph().as_default():
        freezing.import_graph(graph.as_graph_def(), ["x:0"])


def test_gradients_name_functions_the_library_holds(tmp_path):
    g = tf.compat.v1.GraphDef()
    holder = g.library.function.add()
    holder.signature.name = "G"
    holder.signature.input_arg.add(name="p", type=tf.string.as_datatype_enum)
    holder.node_def.add(name="s", op="SaveV2", input=["p", "p", "p", "p"])
    g.library.registered_gradients.add(gradient_func="G", registered_op_type="Add")
    assert refused(g) == [("SaveV2", "s", "G")]  # an op type: no call, and G is still judged
    g.library.gradient.add(function_name="Missing", gradient_func="G")
    with tf.Graph().as_default(), pytest.raises(ValueError, match="missing 'Missing'"):
        tf.graph_util.import_graph_def(g, name="")
    with pytest.raises(GraphFormatError, match="gradient of or by function 'Missing'"):
        audit_graph(g)


def test_what_is_not_a_file_is_unreadable_at_once(tmp_path, capsys):
    fifo = tmp_path / "model.pb"
    os.mkfifo(fifo)
    assert main(["audit", str(fifo), "/dev/zero"]) == 2
    out = capsys.readouterr().out
    assert out.count("not a regular file; pass a file, not a FIFO or a device") == 2


def branches_naming(op: str, **attrs: bytes):
    """An ``If`` whose branches name *op* itself, with *attrs*; ``y`` runs after it."""
    with tf.Graph().as_default() as graph:
        tf.constant(True, name="flag")
        tf.constant("planted text", name="text")
        tf.constant(7.0, name="x")
    g = graph.as_graph_def()
    call = g.node.add(name="call", op="If", input=["flag", "text"])
    for branch in ("then_branch", "else_branch"):
        call.attr[branch].func.name = op
        for key, value in attrs.items():
            call.attr[branch].func.attr[key].s = value
    call.attr["Tcond"].type = tf.bool.as_datatype_enum
    call.attr["Tin"].list.type.append(tf.string.as_datatype_enum)
    call.attr["Tout"].list.SetInParent()
    call.attr["_lower_using_switch_merge"].b = True  # TensorFlow makes the op a node
    g.node.add(name="y", op="Identity", input=["x", "^call"]).attr["T"].type = F32
    return g


def test_an_op_a_function_attribute_names_is_judged_as_tensorflow_builds_it(tmp_path):
    target = tmp_path / "written.txt"
    g = branches_naming("PrintV2", output_stream=f"file://{target}".encode())
    with tf.Graph().as_default() as graph, tf.compat.v1.Session(graph=graph) as sess:
        tf.graph_util.import_graph_def(g, name="")
        sess.run("y:0")
    assert b"planted text" in target.read_bytes()  # raw TensorFlow printed to the file
    target.unlink()
    with pytest.raises(UnsafeGraphError, match="that a function attribute names"):
        freezing.load_frozen_function(g, [], ["y:0"])
    assert not target.exists()
    [refusal] = safety.check_graph(
        parse_graph_def(branches_naming("RestoreV2").SerializeToString())
    )
    assert "a saver op, or an op allowed only on a condition" in refusal.reason
    assert safety.check_graph(parse_graph_def(branches_naming("NoOp").SerializeToString())) == []


def test_names_a_file_chose_neither_redraw_the_terminal_nor_break_json(tmp_path, capsys):
    op = "\x1b[1A\x1b[2K\rmodel.pb: clean\x9b"  # up a line, erase it, print a verdict
    g = tf.compat.v1.GraphDef()
    g.node.add(name="x", op=op)
    path = os.path.join(tmp_path, os.fsdecode(b"bad\xffname.pb"))  # a name that is not UTF-8
    Path(path).write_bytes(g.SerializeToString())
    assert main(["audit", path]) == 1
    out = capsys.readouterr().out
    assert not {"\x1b", "\r", "\x9b", "\udcff"} & set(out)
    assert "runs \\u001b[1A\\u001b[2K\\u000dmodel.pb: clean\\u009b (" in out
    assert main(["audit", "--json", path]) == 1
    [found] = json.loads(capsys.readouterr().out)["files"]
    assert (found["path"], found["refusals"][0]["op"]) == (path, op)


def test_a_saver_whose_file_name_node_is_missing_is_refused(tmp_path):
    meta = tf.compat.v1.MetaGraphDef()
    meta.saver_def.filename_tensor_name = "ghost:0"
    meta.saver_def.restore_op_name = "r"
    meta.graph_def.node.add(name="leftover", op="SaveV2", input=["ghost", "n", "s", "x"])
    assert (
        "runs SaveV2 (a file name that is not built from a filename tensor)" in (refusals(meta)[0])
    )


def test_an_op_behind_an_overlong_tag_is_seen():
    """``0x92 0x00`` is the tag of ``NodeDef.op`` too, as protobuf reads it."""
    data = node(field(1, b"n"), b"\x92\x00" + bytes([8]) + b"ReadFile")
    assert tf.compat.v1.GraphDef.FromString(data).node[0].op == "ReadFile"
    assert refused(data) == [("ReadFile", "n", None)]


def test_an_attribute_left_to_the_caller_does_not_meet_a_condition():
    """A vocabulary file or print stream a caller fills in could name any file."""
    for op, key in (("FixedUnigramCandidateSampler", "vocab_file"), ("PrintV2", "output_stream")):
        g = graph([("call", "PartitionedCall", {"f": "inner"})], {"inner": [("x", op, {})]})
        g.node[0].attr["f"].func.attr["where"].s = b"/etc/passwd"
        g.library.function[0].node_def[0].attr[key].placeholder = "where"
        assert refused(g) == [(op, "x", "inner")]


def test_what_the_audit_cannot_see_a_shared_name_reaches_the_process(tmp_path):
    """As documented: a graph naming a table the process holds reads it, with safe ops."""
    words = tmp_path / "private.txt"
    words.write_text("alice\nbob\n")
    lookup = tf.lookup.TextFileIndex
    held = tf.lookup.StaticHashTable(  # noqa: F841 - the process's own table, alive
        tf.lookup.TextFileInitializer(
            str(words), tf.string, lookup.WHOLE_LINE, tf.int64, lookup.LINE_NUMBER
        ),
        -1,
    )
    g = tf.compat.v1.GraphDef()
    table = g.node.add(name="t", op="HashTableV2")
    table.attr["shared_name"].s = f"hash_table_{words}_-2_-1".encode()
    table.attr["key_dtype"].type = tf.string.as_datatype_enum
    table.attr["value_dtype"].type = tf.int64.as_datatype_enum
    dump = g.node.add(name="dump", op="LookupTableExportV2", input=["t"])
    dump.attr["Tkeys"].type = tf.string.as_datatype_enum
    dump.attr["Tvalues"].type = tf.int64.as_datatype_enum
    g.versions.producer = 1500
    path = tmp_path / "peek.pb"
    path.write_bytes(g.SerializeToString())
    assert audited(path).verdict == "clean"
    keys = freezing.load_frozen_function(path, [], ["dump:0"])()
    assert sorted(keys.numpy()) == [b"alice", b"bob"]


def const_body(name: str, tensor: bytes, op: bytes = b"Const") -> bytes:
    """A NodeDef holding a constant."""
    return field(1, name.encode()) + field(2, op) + attr(b"value", field(8, tensor))


def const_node(name: str, tensor: bytes, op: bytes = b"Const") -> bytes:
    return field(1, const_body(name, tensor, op))


def tensor(dtype: int, dims: list[int], *values: bytes) -> bytes:
    shape = b"".join(field(2, number(1, d % 2**64)) for d in dims)
    return number(1, dtype) + field(2, shape) + b"".join(values)


BOMBS = {
    "a float constant of 4 TiB": const_node("c", tensor(1, [2**20, 2**20], b"\x2d\0\0\0\0")),
    "a HostConst of 8 GiB": const_node("c", tensor(9, [2**30]), b"HostConst"),
    "one string repeated to 10 GiB": const_node("c", tensor(7, [10_000], field(8, b"x" * 2**20))),
    "a shape whose product overflows": const_node("c", tensor(1, [2**32, 2**32])),
    "a negative dimension": const_node("c", tensor(1, [-1])),
    "nested variants": const_node(
        "c",
        tensor(21, [2**16], field(15, field(3, tensor(1, [2**16])))),
    ),
    "3 GiB constants adding up": b"".join(
        const_node(f"c{i}", tensor(1, [2**28])) for i in range(5)
    ),
    "a bomb inside a function": field(
        2, field(1, field(1, field(1, b"f")) + field(3, const_body("c", tensor(1, [2**40]))))
    ),
    "variants holding nothing": const_node("c", tensor(21, [2**26])),
    "a tensor list whose metadata declares 2**26 elements": const_node(
        "c",
        tensor(
            21, [], field(15, field(1, b"tensorflow::TensorList") + field(2, b"\x80\x80\x80\x20"))
        ),
    ),
    "resource handles": const_node("c", tensor(20, [2**24])),
    "a tensor attribute of a node that calls a function by name": field(
        1, const_body("n", tensor(1, [2**40]), b"holder")
    )
    + field(2, field(1, field(1, field(1, b"holder")))),
    "a function signature's attribute default": field(
        2,
        field(
            1,
            field(
                1,
                field(1, b"holder")
                + field(
                    4, field(1, b"a") + field(2, b"tensor") + field(3, field(8, tensor(1, [2**40])))
                ),
            ),
        ),
    ),
    "a serialized tensor in a string constant, which ParseTensor expands": const_node(
        "c", tensor(7, [], field(8, tensor(1, [2**40])))
    )
    + node(field(1, b"i"), field(2, b"Identity"), field(3, b"c"))
    + node(field(1, b"p"), field(2, b"ParseTensor"), field(3, b"i")),
    "a function's own attribute": field(
        2,
        field(
            1,
            field(1, field(1, b"f"))
            + field(5, field(1, b"k") + field(2, field(8, tensor(1, [2**40])))),
        ),
    ),
    "a bomb inside a function attribute's attributes": node(
        field(1, b"n"),
        field(2, b"PartitionedCall"),
        attr(
            b"f",
            field(
                10,
                field(1, b"NoOp")
                + field(2, field(1, b"k") + field(2, field(8, tensor(1, [2**40])))),
            ),
        ),
    ),
}


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_constant_bombs_count_what_they_cost(name, tmp_path):
    data = BOMBS[name]
    path = tmp_path / "bomb.pb"
    path.write_bytes(data)
    reasons = [r.reason for r in safety.check_graph(parse_graph_def(data))]
    assert any("constant" in r for r in reasons), reasons
    assert main(["audit", str(path)]) == 1


def test_a_saved_model_tensorflow_cannot_load_is_a_damaged_file(tmp_path, capsys):
    module = tf.Module()
    module.f = tf.function(lambda x: x * 2.0, input_signature=[tf.TensorSpec([], tf.float32)])
    path = tmp_path / "saved"
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.f})
    dangerous._edit_saved_model(
        path, lambda meta: meta.object_graph_def.nodes[0].children.add(node_id=999, local_name="x")
    )
    assert audited(path).verdict == "clean"  # what it names is harmless; it is just broken
    with pytest.raises(GraphFormatError, match="TensorFlow cannot load SavedModel"):
        freezer.freeze_checkpoint(path, tmp_path / "frozen.pb")
    assert main(["freeze", str(path), "-o", str(tmp_path / "frozen.pb")]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_an_empty_tensor_in_a_variant_costs_nothing():
    empty = tensor(1, [0])  # float[0], as a TensorList of one empty tensor holds it
    data = const_node(
        "c", tensor(21, [], field(15, field(1, b"tensorflow::TensorList") + field(3, empty)))
    )
    assert safety.check_graph(parse_graph_def(data)) == []


def test_constants_over_the_total_advise_allow_ops_only_where_it_accepts():
    almost = tensor(1, [2**29 - 2**24])  # 1.9 GiB of float32, under the 2 GiB for one
    consts = b"".join(const_node(f"c{i}", almost) for i in range(3))
    [refusal] = safety.check_graph(parse_graph_def(consts))
    assert "together expand to 5.8 GiB" in refusal.reason and refusal.allowable
    assert safety.check_graph(parse_graph_def(consts), allow_ops=["Const"]) == []
    attribute = field(5, field(1, b"k") + field(2, field(8, tensor(1, [3 * 2**27]))))  # 1.5 GiB
    functions = field(
        2, b"".join(field(1, field(1, field(1, b"f%d" % i)) + attribute) for i in range(3))
    )
    [refusal] = safety.check_graph(parse_graph_def(const_node("c", almost) + functions))
    assert refusal.node == "c" and not refusal.allowable  # the functions' alone pass 4 GiB


def test_a_signature_default_is_a_constant_where_tensorflow_reads_it():
    signature = field(4, field(1, b"x") + field(2, tensor(1, [2**40])))  # SignatureDef.defaults
    data = field(5, field(1, b"serving_default") + field(2, signature))
    read = tf.compat.v1.MetaGraphDef.FromString(data).signature_def["serving_default"]
    found = safety.check_graph(parse_meta_graph(data))
    if "defaults" in read.DESCRIPTOR.fields_by_name:  # 2.14 and later
        [refusal] = found
        assert "a constant that expands to 4096.0 GiB" in refusal.reason and not refusal.allowable
    else:
        assert found == []  # an unknown field to this release: never read


def test_constant_sizes_agree_with_tensorflow(record_property):
    """tfpersist's size of a TensorProto is the bytes TensorFlow's array of it holds."""
    rng = np.random.default_rng(5)
    dtypes = [
        np.float32,
        np.float64,
        np.int8,
        np.int32,
        np.int64,
        np.bool_,
        np.complex64,
        np.uint16,
        object,
    ]
    rounds = 0
    for _ in range(300):
        dtype = dtypes[rng.integers(len(dtypes))]
        shape = tuple(int(s) for s in rng.integers(0, 5, size=rng.integers(0, 4)))
        if dtype is object:
            words = [b"x" * int(rng.integers(0, 40)) for _ in range(int(np.prod(shape)))]
            value = np.array(words, dtype=object).reshape(shape)
        else:
            value = rng.integers(0, 3, size=shape).astype(dtype)
        splat = rng.random() < 0.3 and dtype is not object
        proto = tf.make_tensor_proto(value.flat[0] if splat and value.size else value, shape=shape)
        expanded = tf.make_ndarray(proto)
        data = proto.SerializeToString()
        decoded = parse_graph_def(
            node(field(1, b"c"), field(2, b"Const"), attr(b"value", field(8, data)))
        )
        ours = safety.tensor_bytes(decoded.graph.nodes[0].attrs["value"]["tensor"])
        if dtype is object:
            expected = expanded.size * safety._ELEMENT_BYTES[7] + sum(len(s) for s in expanded.flat)
        else:
            expected = expanded.nbytes
        assert ours == expected, (dtype, shape, splat)
        rounds += 1
    record_property("rounds", rounds)


def random_meta_graph(rng: random.Random, ops: list[str]) -> tf.compat.v1.MetaGraphDef:
    """A graph of random ops, calls, attributes, inputs, savers and run points, valid or not."""
    meta = tf.compat.v1.MetaGraphDef()
    functions = [f"f{i}" for i in range(rng.randrange(4))]
    names = [f"n{i}" for i in range(rng.randrange(1, 12))]

    def fill(into, scope_names):
        for name in scope_names:
            saver = rng.random() < 0.15
            op = rng.choice(sorted(safety.SAVER_OPS) if saver else ops + functions + ["StringJoin"])
            n = into.add(name=name, op=op)
            for _ in range(rng.randrange(5)):
                target = rng.choice([*scope_names, "missing", "x", "^" + rng.choice(scope_names)])
                n.input.append(target + rng.choice(["", ":0", ":1", ":7"]))
            for _ in range(rng.randrange(3)):
                value = n.attr[
                    rng.choice(["f", "body", "T", "output_stream", "vocab_file", "value"])
                ]
                kind = rng.randrange(6)
                if kind == 0:
                    value.func.name = rng.choice(
                        functions + ops[:3] + ["gone"] * (rng.random() < 0.1)
                    )
                    value.func.attr["g"].func.name = rng.choice(functions + ops[:1])
                elif kind == 1:
                    value.placeholder = "g"
                elif kind == 2:
                    value.list.func.add(name=rng.choice(functions + ops[:1]))
                elif kind == 3:
                    value.s = rng.choice([b"file:///tmp/x", b"stderr", b"..", b"\xff"])
                elif kind == 4:
                    value.tensor.CopyFrom(
                        tf.make_tensor_proto(rng.choice([1.0, "a/..", [b"x"] * 3]))
                    )
                else:
                    value.tensor.dtype = rng.choice([1, 7, 20, 21])
                    value.tensor.tensor_shape.dim.add(size=rng.choice([-1, 0, 3, 2**40]))

    fill(meta.graph_def.node, names)
    for fname in functions:
        f = meta.graph_def.library.function.add()
        f.signature.name = fname
        f.signature.input_arg.add(name="x", type=tf.string.as_datatype_enum)
        inner = [f"m{i}" for i in range(rng.randrange(4))]
        fill(f.node_def, inner)
        if inner:
            f.ret["y"] = rng.choice(inner) + ":output:0"
        if rng.random() < 0.3:
            f.signature.attr.add(name="g", type="func").default_value.func.name = fname
    if functions and rng.random() < 0.3:
        meta.graph_def.library.gradient.add(
            function_name=rng.choice(functions), gradient_func=rng.choice(functions)
        )
    if rng.random() < 0.6:
        meta.saver_def.filename_tensor_name = rng.choice([*names, "ghost"]) + rng.choice(
            [":0", ":1"]
        )
        meta.saver_def.save_tensor_name = rng.choice(names) + ":0"
        meta.saver_def.restore_op_name = rng.choice([*names, "ghost"])
    for key in rng.sample(
        ["saved_model_main_op", "table_initializer", "train_op"], rng.randrange(3)
    ):
        meta.collection_def[key].node_list.value.append(rng.choice([*names, "ghost:3"]))
    if rng.random() < 0.3:
        meta.signature_def["s"].inputs["x"].name = rng.choice(names) + ":0"
    return meta


def test_any_graph_gets_a_verdict_not_a_crash(record_property):
    """Random graphs: the audit returns refusals or names the damage, and nothing else."""
    rng = random.Random(15)
    ops = sorted(safety._recorded_ops(safety.resolve_release(None)))
    verdicts = {"clean": 0, "refused": 0, "damaged": 0}
    for _ in range(400):
        meta = random_meta_graph(rng, [rng.choice(ops) for _ in range(2)] + ["Identity", "AddV2"])
        try:
            found = safety.check_graph(parse_meta_graph(meta.SerializeToString()))
        except GraphFormatError:
            verdicts["damaged"] += 1
            continue
        assert all(isinstance(r, safety.Refusal) and r.reason for r in found)
        verdicts["refused" if found else "clean"] += 1
    record_property("rounds", 400)
    assert min(verdicts.values()) >= 5, verdicts


# --- the policy and the registry ---------------------------------------------------------


def registered_ops() -> set[str]:
    from tensorflow.core.framework import op_def_pb2
    from tensorflow.python.client import pywrap_tf_session

    ops = op_def_pb2.OpList()
    ops.ParseFromString(pywrap_tf_session.TF_GetBuffer(pywrap_tf_session.TF_GetAllOpList()))
    return {op.name for op in ops.op}


def test_every_op_this_tensorflow_registers_is_classified():
    groups = safety.op_groups()
    classified = {op for g in groups for op in g.ops}
    missing = sorted(registered_ops() - classified)
    assert not missing, (
        f"TensorFlow {_tf.RELEASE} registers {len(missing)} ops no group of "
        f"tfpersist/op_policy.json holds; review each and classify it: {', '.join(missing)}"
    )
    owners: dict[str, str] = {}
    for g in groups:
        assert g.reason and g.verdict in ("allow", "refuse", "saver"), g.family
        assert g.verdict != "refuse" or g.effect, g.family
        for op in g.ops:
            assert owners.setdefault(op, g.family) == g.family, f"{op} is in two groups"


def test_the_record_of_this_release_is_its_registry():
    recorded = safety._recorded_ops(safety.resolve_release(_tf.RELEASE))
    live = registered_ops()
    assert live - recorded == set(), f"new in {_tf.RELEASE}: run tox -e registry"
    assert recorded - live == set(), f"gone in {_tf.RELEASE}: run tox -e registry"


# --- the command -------------------------------------------------------------------------


def test_audit_imports_no_tensorflow(tmp_path):
    prepare(tmp_path)
    path = CASES[0].write(tmp_path)
    code = (
        "import sys\n"
        "from tfpersist.cli import main\n"
        f"code = main(['audit', {str(path)!r}, {str(tmp_path / 'missing.pb')!r}])\n"
        "assert 'tensorflow' not in sys.modules, 'tensorflow was imported'\n"
        "sys.exit(code)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 2, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{path}: refused") and "ReadFile" in lines[1]
    assert lines[-1].startswith(f"{tmp_path / 'missing.pb'}: unreadable: no graph file at")


def test_audit_exit_codes_json_and_releases(tmp_path, capsys):
    prepare(tmp_path)
    bad = CASES[0].write(tmp_path)
    good = tmp_path / "good.pb"
    good.write_bytes(graph([("x", "Placeholder", {})]).SerializeToString())
    assert main(["audit", str(good)]) == 0
    assert main(["audit", str(good), str(bad)]) == 1
    garbage = tmp_path / "garbage.meta"
    garbage.write_bytes(b"\x0a\xff")
    assert main(["audit", str(good), str(bad), str(garbage)]) == 2
    capsys.readouterr()
    assert main(["audit", "--json", str(bad), str(garbage)]) == 2
    document = json.loads(capsys.readouterr().out)
    verdicts = [(f["verdict"], f["refusals"][:1]) for f in document["files"]]
    assert verdicts[0][0] == "refused" and verdicts[0][1][0]["op"] == "ReadFile"
    assert verdicts[1] == ("unreadable", [])
    # an op that came after a release is unknown to it
    allowed = {op for g in safety.op_groups() if g.verdict == "allow" for op in g.ops}
    newer = sorted(set(safety._recorded_ops("2.21")) - safety._recorded_ops("2.12") & allowed)[0]
    path = tmp_path / "newer.pb"
    path.write_bytes(graph([("n", newer, {})]).SerializeToString())
    capsys.readouterr()
    assert main(["audit", "--release", "2.21", str(path)]) == 0
    assert main(["audit", "--release", "2.12.1", str(path)]) == 1
    assert f"runs {newer} (an op TensorFlow 2.12 does not know)" in capsys.readouterr().out
    assert main(["audit", "--release", "1.15", str(good)]) == 2
    assert "records the ops of TensorFlow 2.12 to 2.21" in capsys.readouterr().err


def test_summarize_reads_every_meta_graph_of_a_saved_model(tmp_path, capsys):
    builder = tf.compat.v1.saved_model.Builder(str(tmp_path / "saved"))
    with tf.Graph().as_default() as g, tf.compat.v1.Session(graph=g) as sess:
        tf.compat.v1.placeholder(tf.float32, [None], name="x")
        builder.add_meta_graph_and_variables(sess, ["serve"])
    with tf.Graph().as_default() as g, tf.compat.v1.Session(graph=g) as sess:
        tf.io.read_file("/etc/hostname", name="steal")
        builder.add_meta_graph(["train"])
    builder.save()
    summary = graphs.summarize_graph(tmp_path / "saved")
    assert [(r.op, r.node) for r in summary.unsafe_ops] == [("ReadFile", "steal")]
    assert main(["summarize", str(tmp_path / "saved")]) == 1
    assert "node 'steal' runs ReadFile (reads, writes or lists files)" in capsys.readouterr().out
    assert audited(tmp_path / "saved").verdict == "refused"


def test_release_detection_reads_no_tensorflow():
    assert safety.installed_release() == f"{_tf.VERSION[0]}.{_tf.VERSION[1]}"
    assert os.path.exists(safety.REGISTRY_FILE) and os.path.exists(safety.POLICY_FILE)


def test_graph_bytes_in_a_memoryview_are_audited_as_bytes():
    g = graph([("x", "Placeholder", {}), ("r", "ReadFile", {})])
    data = g.SerializeToString()
    with pytest.raises(UnsafeGraphError) as as_message:
        audit_graph(g)
    with pytest.raises(UnsafeGraphError) as as_view:
        audit_graph(memoryview(data))
    assert as_view.value.ops == as_message.value.ops == [("ReadFile", "r", None)]
    audit_graph(memoryview(data), allow_ops=["ReadFile"])
