"""Every command over every kind of file TensorFlow releases have written.

The kinds match files found in the wild: a TF1 ``.meta`` with a V2
checkpoint, a ``.meta`` from TF 0.12 (its version ``0.12.head``, its
variables the old ``Variable`` op), a ``.meta`` whose shapes disagree in
rank, a frozen ``.pb``, a TF1 SavedModel with
reference variables, a TF2 SavedModel, a SavedModel without variables, a V1
checkpoint, and two checkpoints whose variable differs in rank. Each command
either works (exit 0, or 1 for a finding) or says in one line what is wrong
(exit 2); no exception escapes :func:`tfpersist.cli.main`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from tfpersist import cli

V1 = tf.compat.v1


def _save(d: Path, build, **saver_kwargs) -> str:
    d.mkdir(parents=True)
    with tf.Graph().as_default() as graph, V1.Session(graph=graph) as sess:
        build()
        sess.run(V1.global_variables_initializer())
        return V1.train.Saver(**saver_kwargs).save(sess, str(d / "model.ckpt"))


def _article() -> None:
    v1 = V1.Variable(tf.constant(1.0, shape=[1]), name="v1", use_resource=False)
    v2 = V1.Variable(tf.constant(2.0, shape=[1]), name="v2", use_resource=False)
    tf.add(v1, v2, name="add")


def _old_meta(prefix: str) -> None:
    """Make the ``.meta`` look as TF 0.12 wrote it."""
    meta = V1.MetaGraphDef()
    meta.ParseFromString(Path(prefix + ".meta").read_bytes())
    meta.meta_info_def.tensorflow_version = "0.12.head"
    for node in meta.graph_def.node:
        if node.op == "VariableV2":
            node.op = "Variable"
    Path(prefix + ".meta").write_bytes(meta.SerializeToString())


def _rank_mismatched_meta(prefix: str) -> None:
    """Declare ``v1`` of rank 2 in the ``.meta``, where its recorded shapes say rank 1."""
    meta = V1.MetaGraphDef()
    meta.ParseFromString(Path(prefix + ".meta").read_bytes())
    [v1] = [node for node in meta.graph_def.node if node.name == "v1"]
    v1.attr["shape"].shape.dim.add().size = 1
    Path(prefix + ".meta").write_bytes(meta.SerializeToString())


def _tf1_saved_model(path: Path, with_variables: bool) -> str:
    builder = V1.saved_model.Builder(str(path))
    with tf.Graph().as_default() as graph, V1.Session(graph=graph) as sess:
        x = V1.placeholder(tf.float32, [None], name="x")
        if with_variables:
            w = V1.Variable(3.0, name="w", use_resource=False)  # a float_ref
            sess.run(w.initializer)
        else:
            w = tf.constant(3.0, name="w")
        y = tf.multiply(x, w, name="y")
        signature = V1.saved_model.predict_signature_def({"x": x}, {"y": y})
        builder.add_meta_graph_and_variables(
            sess, ["serve"], signature_def_map={"serving_default": signature}
        )
    builder.save()
    return str(path)


def _tf2_saved_model(path: Path) -> str:
    module = tf.Module()
    module.w = tf.Variable([2.0, 3.0])
    module.f = tf.function(
        lambda x: {"y": x * module.w}, input_signature=[tf.TensorSpec([2], tf.float32)]
    )
    tf.saved_model.save(module, str(path), signatures=module.f)
    return str(path)


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> dict[str, str]:
    d = tmp_path_factory.mktemp("kinds")
    old = _save(d / "old", _article)
    _old_meta(old)
    mismatched = _save(d / "mismatched", _article)
    _rank_mismatched_meta(mismatched)
    frozen = d / "frozen.pb"
    with tf.Graph().as_default() as graph:
        tf.add(tf.constant([1.0]), tf.constant([2.0]), name="add")
        frozen.write_bytes(graph.as_graph_def().SerializeToString())
    return {
        "tf1 meta": _save(d / "tf1", _article),
        "0.12 meta": old,
        "meta with a rank mismatch": mismatched,
        "frozen pb": str(frozen),
        "tf1 saved model": _tf1_saved_model(d / "tf1_saved", with_variables=True),
        "tf2 saved model": _tf2_saved_model(d / "tf2_saved"),
        "saved model without variables": _tf1_saved_model(d / "bare", with_variables=False),
        "v1 checkpoint": _save(d / "v1", _article, write_version=V1.train.SaverDef.V1),
        "rank [2]": _save(d / "rank2", lambda: V1.Variable(np.ones([2], np.float32), name="v")),
        "rank [2, 1]": _save(
            d / "rank21", lambda: V1.Variable(np.ones([2, 1], np.float32), name="v")
        ),
    }


COMMANDS = {
    "inspect": lambda a, o: ["inspect", a],
    "inspect --values --json": lambda a, o: ["inspect", a, "--values", "--json"],
    "verify": lambda a, o: ["verify", a],
    "diff": lambda a, o: ["diff", a, a],
    "export": lambda a, o: ["export", a, f"{o}/weights.npz"],
    "rename": lambda a, o: ["rename", a, f"{o}/renamed/m", "--regex", "--map", "(.+)=x/\\1"],
    "convert --to tf2": lambda a, o: ["convert", a, f"{o}/tf2/m", "--to", "tf2"],
    "convert --to tf1": lambda a, o: ["convert", a, f"{o}/tf1/m", "--to", "tf1"],
    "freeze": lambda a, o: ["freeze", a, "-o", f"{o}/frozen.pb"],
    "summarize": lambda a, o: ["summarize", a],
    "audit": lambda a, o: ["audit", a],
    "summarize .meta": lambda a, o: ["summarize", a + ".meta"],
    "audit .meta": lambda a, o: ["audit", a + ".meta"],
}

CHECKPOINT = {"inspect", "inspect --values --json", "verify", "diff", "export", "rename"}
GRAPH = {"summarize", "audit"}
META = CHECKPOINT | {"convert --to tf2", "summarize .meta", "audit .meta"}
SAVED_MODEL = CHECKPOINT | GRAPH | {"freeze", "convert --to tf1"}
#: The commands that work on each kind; every other one exits 2.
WORKS = {
    "tf1 meta": META | {"freeze"},
    "0.12 meta": META | {"freeze"},
    "meta with a rank mismatch": META,  # TensorFlow cannot import it
    "frozen pb": GRAPH,
    "tf1 saved model": SAVED_MODEL - {"convert --to tf1"} | {"convert --to tf2"},
    "tf2 saved model": SAVED_MODEL,
    "saved model without variables": GRAPH | {"freeze"},
    "v1 checkpoint": META | {"freeze"},
    "rank [2]": META,
    "rank [2, 1]": META,
}


def _run(args: list[str], capsys) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        code = cli.main(args)
    except SystemExit as e:  # argparse's own errors are not under test here
        pytest.fail(f"usage error for {args}: {e}")
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


@pytest.mark.parametrize("kind", list(WORKS))
def test_every_command_works_or_says_why_in_one_line(kind, artifacts, tmp_path, capsys):
    failures = []
    for command, args in COMMANDS.items():
        out_dir = tmp_path / command.replace(" ", "_")
        code, _, err = _run(args(artifacts[kind], str(out_dir)), capsys)
        if code == 2 and not command.startswith("audit"):  # audit's verdict is on stdout
            lines = err.strip().splitlines()
            if len(lines) != 1 or not lines[0].startswith("tfpersist: error: "):
                failures.append(f"{command}: exit 2 without one error line: {err!r}")
        expected = 0 if command in WORKS[kind] else 2
        if code != expected:
            failures.append(f"{command}: exit {code}, expected {expected}: {err.strip()}")
    assert not failures, "\n".join(failures)


def test_diff_names_the_shapes_of_a_rank_mismatch(artifacts, capsys):
    a, b = artifacts["rank [2]"], artifacts["rank [2, 1]"]
    shapes = [tf.train.load_checkpoint(p).get_variable_to_shape_map()["v"] for p in (a, b)]
    code, out, err = _run(["diff", a, b], capsys)
    assert (code, err) == (1, "")
    assert out.strip() == f"changed: v (shape {shapes[0]} != {shapes[1]})"


def test_saved_model_directory_is_inspected_through_its_variables(artifacts, capsys):
    path = artifacts["tf1 saved model"]
    reader = tf.train.load_checkpoint(os.path.join(path, "variables", "variables"))
    code, out, _ = _run(["inspect", path, "--values"], capsys)
    assert code == 0
    [line] = [line.split() for line in out.splitlines() if line.split()[:1] == ["w"]]
    assert line[-1] == str(reader.get_tensor("w").item())
    code, out, _ = _run(["verify", path], capsys)
    assert code == 0 and out.startswith("ok: ")


def test_old_meta_freezes_to_constants_with_tensorflow_values(artifacts, tmp_path, capsys):
    prefix = artifacts["0.12 meta"]
    code, _, err = _run(["freeze", prefix, "-o", str(tmp_path / "f.pb")], capsys)
    assert (code, err) == (0, ""), err
    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString((tmp_path / "f.pb").read_bytes())
    assert not {n.op for n in graph_def.node} & {"Variable", "VariableV2"}
    reader = tf.train.load_checkpoint(prefix)
    with tf.Graph().as_default() as graph, V1.Session(graph=graph) as sess:
        [add] = tf.import_graph_def(graph_def, return_elements=["add:0"])
        got = sess.run(add)
    assert got.tolist() == (reader.get_tensor("v1") + reader.get_tensor("v2")).tolist()


def test_a_saved_model_without_variables_says_so(artifacts, capsys):
    path = artifacts["saved model without variables"]
    for command in ("inspect", "verify"):
        code, _, err = _run([command, path], capsys)
        assert code == 2
        assert "is a SavedModel with no variables" in err and "tfpersist summarize" in err
