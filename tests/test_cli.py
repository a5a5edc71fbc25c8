"""The tfpersist command on real checkpoints: the article's, TF2 ones, and a Keras model."""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from article import build_article_graph, save_article

from tfpersist import cli
from tfpersist.checkpoint_state import checkpoint_files


def tfp(*args: str, cwd=None) -> subprocess.CompletedProcess:
    """Run the installed command in a fresh process, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "tfpersist", *args], capture_output=True, text=True, cwd=cwd
    )


def digest(prefix: str) -> dict[str, str]:
    return {
        f: hashlib.sha256(pathlib.Path(f).read_bytes()).hexdigest()
        for f in checkpoint_files(prefix)
    }


@pytest.fixture(scope="module")
def keras_checkpoint(tmp_path_factory):
    tf.keras.utils.set_random_seed(0)
    model = tf.keras.applications.MobileNetV2(weights=None, input_shape=(96, 96, 3), alpha=0.35)
    return tf.train.Checkpoint(model=model).write(str(tmp_path_factory.mktemp("keras") / "ckpt"))


@pytest.mark.parametrize("kind", ["article", "tf2", "keras"])
def test_inspect_agrees_with_tensorflow(kind, tmp_path, keras_checkpoint, capsys):
    if kind == "article":
        prefix = save_article(tmp_path)
    elif kind == "tf2":
        prefix = tf.train.Checkpoint(
            a=tf.Variable(tf.zeros([2, 3], tf.float64)), s=tf.Variable(b"x")
        ).write(str(tmp_path / "c"))
    else:
        prefix = keras_checkpoint
    assert cli.main(["inspect", prefix, "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    reader = tf.train.load_checkpoint(prefix)
    shapes, dtypes = reader.get_variable_to_shape_map(), reader.get_variable_to_dtype_map()
    assert document["prefix"] == prefix
    assert [(v["name"], v["shape"]) for v in document["variables"]] == [
        (name, list(shape)) for name, shape in tf.train.list_variables(prefix)
    ]
    for var in document["variables"]:
        if dtypes[var["name"]] != tf.string:
            assert var["dtype"] == dtypes[var["name"]].name
            assert (
                var["bytes"] == np.prod(shapes[var["name"]], dtype=int) * dtypes[var["name"]].size
            )
    assert document["total_bytes"] == sum(v["bytes"] for v in document["variables"])
    assert document["total_bytes"] <= sum(os.path.getsize(f) for f in checkpoint_files(prefix))


def test_inspect_values_are_shortened(tmp_path, capsys):
    prefix = tf.train.Checkpoint(big=tf.Variable(tf.range(1000))).write(str(tmp_path / "c"))
    assert cli.main(["inspect", prefix, "--values"]) == 0
    out = capsys.readouterr().out
    assert "[0, 1, 2, ..., 997, 998, 999] (1000 values, min 0, max 999)" in out
    assert len(max(out.splitlines(), key=len)) < 200


def test_diff_exit_codes_and_tolerance(tmp_path, capsys):
    a = tf.train.Checkpoint(w=tf.Variable([1.0, 2.0])).write(str(tmp_path / "a"))
    b = tf.train.Checkpoint(w=tf.Variable([1.0, 2.0 + 1e-4])).write(str(tmp_path / "b"))
    assert cli.main(["diff", a, a]) == 0
    assert cli.main(["diff", a, b, "--json"]) == 1
    capsys.readouterr()
    assert cli.main(["diff", a, b, "--json"]) == 1
    document = json.loads(capsys.readouterr().out)
    assert document["only_in_a"] == document["only_in_b"] == []
    [change] = document["changed"]
    assert change["name"] == "w/.ATTRIBUTES/VARIABLE_VALUE"
    assert change["max_abs_diff"] == pytest.approx(1e-4, rel=1e-2)
    assert cli.main(["diff", a, b, "--atol", "1e-3"]) == 0


def test_rename_never_touches_the_source_and_restores_with_raw_saver(tmp_path):
    prefix = save_article(tmp_path)
    before = digest(prefix)
    dst = str(tmp_path / "renamed" / "model.ckpt")
    assert cli.main(["rename", prefix, dst, "--map", "v1=other-v1", "--map", "v2=other-v2"]) == 0
    assert digest(prefix) == before
    with tf.Graph().as_default() as graph:
        *_, result = build_article_graph(names=("other-v1", "other-v2"))
        with tf.compat.v1.Session(graph=graph) as sess:
            tf.compat.v1.train.Saver().restore(sess, dst)
            assert sess.run(result).tolist() == [3.0]


def test_rename_dry_run_writes_nothing(tmp_path, capsys):
    prefix = save_article(tmp_path)
    assert (
        cli.main(["rename", prefix, str(tmp_path / "x" / "m"), "--map", "v1=a", "--dry-run"]) == 0
    )
    assert "v1 -> a" in capsys.readouterr().out
    assert not (tmp_path / "x").exists()


def test_rename_regex_and_drop_on_a_tf2_checkpoint_keeps_the_object_graph(tmp_path):
    prefix = tf.train.Checkpoint(w=tf.Variable([5.0]), extra=tf.Variable(1.0)).write(
        str(tmp_path / "c")
    )
    dst = str(tmp_path / "d")
    code = cli.main(
        ["rename", prefix, dst, "--regex", "--map", r"^w/(.*)=weights/\1", "--drop", "^extra/"]
    )
    assert code == 0
    names = [n for n, _ in tf.train.list_variables(dst)]
    assert names == ["_CHECKPOINTABLE_OBJECT_GRAPH", "weights/.ATTRIBUTES/VARIABLE_VALUE"]
    w = tf.Variable([0.0])  # the object graph now names the object `weights`
    tf.train.Checkpoint(weights=w).read(dst).assert_consumed()
    assert w.numpy().tolist() == [5.0]


def test_rename_collisions_and_unmatched_maps_are_input_errors(tmp_path):
    prefix = save_article(tmp_path)
    result = tfp("rename", prefix, str(tmp_path / "d"), "--map", "v1=v2")
    assert result.returncode == 2
    assert "would both be named 'v2'" in result.stderr
    result = tfp("rename", prefix, str(tmp_path / "d"), "--map", "vv1=x")
    assert result.returncode == 2
    assert "did you mean 'v1'" in result.stderr
    assert not (tmp_path / "d.index").exists()


def test_export_npz_round_trip(tmp_path, keras_checkpoint):
    out = tmp_path / "weights.npz"
    assert cli.main(["export", keras_checkpoint, str(out)]) == 0
    reader = tf.train.load_checkpoint(keras_checkpoint)
    with np.load(out) as weights:
        names = set(weights.files)
        assert names == set(reader.get_variable_to_shape_map()) - {"_CHECKPOINTABLE_OBJECT_GRAPH"}
        for name in names:
            np.testing.assert_array_equal(weights[name], reader.get_tensor(name))


def read_safetensors(path) -> dict[str, tuple[str, np.ndarray]]:
    """Parse a .safetensors file by hand: 8-byte header size, JSON header, raw bytes."""
    import ml_dtypes

    data = pathlib.Path(path).read_bytes()
    size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + size])
    types = {"F32": np.float32, "BF16": ml_dtypes.bfloat16, "I32": np.int32, "I64": np.int64}
    out = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        start, end = entry["data_offsets"]
        raw = data[8 + size + start : 8 + size + end]
        out[name] = (
            entry["dtype"],
            np.frombuffer(raw, types[entry["dtype"]]).reshape(entry["shape"]),
        )
    return out


def test_export_safetensors_keeps_bfloat16_and_refuses_strings(tmp_path):
    prefix = tf.train.Checkpoint(
        h=tf.Variable(tf.constant([1.5, -2.0], tf.bfloat16)), f=tf.Variable(tf.ones([2, 2]))
    ).write(str(tmp_path / "c"))
    out = tmp_path / "w.safetensors"
    assert cli.main(["export", prefix, str(out)]) == 0
    tensors = read_safetensors(out)
    dtype, h = tensors["h/.ATTRIBUTES/VARIABLE_VALUE"]
    assert dtype == "BF16"
    assert h.astype(np.float32).tolist() == [1.5, -2.0]
    dtype, f = tensors["f/.ATTRIBUTES/VARIABLE_VALUE"]
    assert (dtype, f.tolist()) == ("F32", [[1.0, 1.0], [1.0, 1.0]])
    strings = tf.train.Checkpoint(s=tf.Variable(b"text")).write(str(tmp_path / "s"))
    result = tfp("export", strings, str(tmp_path / "s.safetensors"))
    assert result.returncode == 2
    assert "strings" in result.stderr and ".npz" in result.stderr
    assert not (tmp_path / "s.safetensors").exists()


@pytest.mark.parametrize("direction", ["tf1-to-tf2", "tf2-to-tf1"])
def test_convert_restores_with_raw_tensorflow(tmp_path, direction):
    if direction == "tf1-to-tf2":
        with tf.Graph().as_default() as graph:
            tf.Variable([[1.0, 2.0]], name="dense/kernel")
            tf.Variable(7, name="global_step")
            with tf.compat.v1.Session(graph=graph) as sess:
                sess.run(tf.compat.v1.global_variables_initializer())
                src = tf.compat.v1.train.Saver().save(sess, str(tmp_path / "tf1" / "model.ckpt"))
        assert cli.main(["convert", src, str(tmp_path / "tf2" / "ckpt"), "--to", "tf2"]) == 0
        kernel, step = tf.Variable([[0.0, 0.0]]), tf.Variable(0)
        root = tf.train.Checkpoint(**{"dense/kernel": kernel, "global_step": step})
        root.read(str(tmp_path / "tf2" / "ckpt")).assert_consumed()
        assert (kernel.numpy().tolist(), int(step.numpy())) == ([[1.0, 2.0]], 7)
    else:
        module = tf.Module()
        module.dense = tf.Module()
        module.dense.kernel = tf.Variable([[3.0], [4.0]])
        ckpt = tf.train.Checkpoint(model=module, optimizer_step=tf.Variable(5))
        src = ckpt.save(str(tmp_path / "tf2" / "ckpt"))
        dst = str(tmp_path / "tf1" / "model.ckpt")
        assert cli.main(["convert", src, dst, "--to", "tf1"]) == 0
        with tf.Graph().as_default() as graph:
            kernel = tf.Variable(tf.zeros([2, 1]), name="model/dense/kernel")
            step = tf.Variable(0, name="optimizer_step")
            with tf.compat.v1.Session(graph=graph) as sess:
                tf.compat.v1.train.Saver().restore(sess, dst)
                assert sess.run(kernel).tolist() == [[3.0], [4.0]]
                assert sess.run(step) == 5


def test_convert_refuses_the_kind_it_already_is(tmp_path):
    prefix = save_article(tmp_path)
    result = tfp("convert", prefix, str(tmp_path / "x"), "--to", "tf1")
    assert (result.returncode, result.stderr.count("\n")) == (2, 1)
    assert "already a TF1 name-based checkpoint" in result.stderr


def test_freeze_matches_freeze_graph_py(tmp_path):
    from tensorflow.python.tools import freeze_graph

    prefix = save_article(tmp_path)
    ours = tmp_path / "ours.pb"
    assert cli.main(["freeze", prefix, "-o", str(ours)]) == 0
    theirs = tmp_path / "theirs.pb"
    freeze_graph.freeze_graph(
        input_graph=None,
        input_saver=None,
        input_binary=True,
        input_checkpoint=prefix,
        output_node_names="add",
        restore_op_name=None,
        filename_tensor_name=None,
        output_graph=str(theirs),
        clear_devices=True,
        initializer_nodes="",
        input_meta_graph=prefix + ".meta",
    )
    graphs = []
    for path in (ours, theirs):
        graph_def = tf.compat.v1.GraphDef()
        graph_def.ParseFromString(path.read_bytes())
        graphs.append(graph_def)
    assert sorted((n.name, n.op) for n in graphs[0].node) == sorted(
        (n.name, n.op) for n in graphs[1].node
    )
    results = []
    for graph_def in graphs:
        with tf.Graph().as_default() as graph:
            [add] = tf.import_graph_def(graph_def, return_elements=["add:0"])
            with tf.compat.v1.Session(graph=graph) as sess:
                results.append(sess.run(add).tolist())
    assert results == [[3.0], [3.0]]


def test_freeze_ambiguous_outputs_exit_2_with_candidates(tmp_path):
    with tf.Graph().as_default() as graph:
        v = tf.Variable(1.0, name="v")
        tf.add(v, 1.0, name="first")
        tf.multiply(v, 2.0, name="second")
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(v.initializer)
            prefix = tf.compat.v1.train.Saver().save(sess, str(tmp_path / "m"))
    result = tfp("freeze", prefix, "-o", str(tmp_path / "f.pb"))
    assert result.returncode == 2
    assert "2 candidates (first, second)" in result.stderr
    assert not (tmp_path / "f.pb").exists()
    result = tfp("freeze", prefix, "-o", str(tmp_path / "f.pb"), "--output", "second")
    assert (result.returncode, result.stderr) == (0, "")
    assert "output second" in result.stdout


def test_freeze_a_saved_model(tmp_path):
    class Scale(tf.Module):
        def __init__(self):
            self.w = tf.Variable(3.0)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
        def __call__(self, x):
            return {"y": x * self.w}

    tf.saved_model.save(Scale(), str(tmp_path / "saved"))
    assert cli.main(["freeze", str(tmp_path / "saved"), "-o", str(tmp_path / "s.pb")]) == 0
    from tfpersist import freezing

    graph_def = freezing.read_graph_def(tmp_path / "s.pb")
    assert not {n.op for n in graph_def.node} & {"VarHandleOp", "ReadVariableOp"}
    [x] = [n.name for n in graph_def.node if n.op == "Placeholder"]
    [y] = [
        t.name
        for t in tf.saved_model.load(str(tmp_path / "saved")).signatures["serving_default"].outputs
    ]
    f = freezing.load_frozen_function(graph_def, [x + ":0"], [y])
    assert f(tf.constant([1.0, 2.0])).numpy().tolist() == [3.0, 6.0]


def test_summarize_finds_unsafe_ops_inside_functions(tmp_path, capsys):
    @tf.function
    def load(path):
        return tf.io.read_file(path)

    @tf.function(input_signature=[tf.TensorSpec([], tf.string, name="path")])
    def outer(path):
        return load(path)

    graph_def = outer.get_concrete_function().graph.as_graph_def()
    (tmp_path / "g.pb").write_bytes(graph_def.SerializeToString())
    assert cli.main(["summarize", str(tmp_path / "g.pb"), "--json"]) == 1
    document = json.loads(capsys.readouterr().out)
    assert set(document) == {"inputs", "outputs", "ops", "unsafe_ops"}
    assert document["inputs"] == [{"name": "path", "dtype": "string", "shape": []}]
    [unsafe] = document["unsafe_ops"]
    assert unsafe["op"] == "ReadFile" and unsafe["function"].startswith("__inference_load")
    assert document["ops"]["ReadFile"] == 1


def test_summarize_a_frozen_graph_is_clean(tmp_path, capsys):
    prefix = save_article(tmp_path)
    assert cli.main(["freeze", prefix, "-o", str(tmp_path / "f.pb")]) == 0
    assert cli.main(["summarize", str(tmp_path / "f.pb"), "--json"]) == 0
    document = json.loads(capsys.readouterr().out.split("\n", 1)[1])
    assert [o["name"] for o in document["outputs"]] == ["add"]
    assert document["unsafe_ops"] == []


def test_verify_names_the_file_and_the_variable(tmp_path):
    prefix = tf.train.Checkpoint(w=tf.Variable(tf.ones([256]))).write(str(tmp_path / "c"))
    result = tfp("verify", prefix)
    assert result.returncode == 0 and result.stdout.startswith("ok:")
    data = pathlib.Path(prefix + ".data-00000-of-00001")
    raw = bytearray(data.read_bytes())
    raw[300] ^= 0xFF
    data.write_bytes(bytes(raw))
    result = tfp("verify", prefix)
    assert result.returncode == 1
    assert "w/.ATTRIBUTES/VARIABLE_VALUE" in result.stdout and "data" in result.stdout


@pytest.mark.parametrize("command", ["inspect", "verify", "export", "rename"])
def test_paths_with_spaces_non_ascii_and_glob_characters(tmp_path, command):
    directory = tmp_path / "模型 [v1]"
    prefix = tf.train.Checkpoint(w=tf.Variable([1.0, 2.0])).write(str(directory / "model.ckpt"))
    extra = {
        "inspect": [],
        "verify": [],
        "export": [str(directory / "权重.npz")],
        "rename": [str(directory / "新 [v2]"), "--map", "w=weights"],
    }[command]
    result = tfp(command, prefix, *extra)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["inspect", "no/such/model.ckpt"], "does not exist"),
        (["inspect", "{prefix}.index"], "pass its prefix"),
        (["inspect", "{tmp}"], "holds no checkpoint"),
        (["diff", "{prefix}", "{tmp}/missing"], "no checkpoint at"),
        (["export", "{prefix}", "{tmp}/out.pt"], ".npz or .safetensors"),
        (["summarize", "{prefix}.index"], "is not a GraphDef"),
        (["freeze", "{tmp}/nothing", "-o", "{tmp}/x.pb"], "no checkpoint"),
        (["rename", "{prefix}", "{tmp}/n", "--map", "novalue"], "write OLD=NEW"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, message):
    prefix = tf.train.Checkpoint(w=tf.Variable(1.0)).write(str(tmp_path / "sub" / "c"))
    args = [a.format(prefix=prefix, tmp=tmp_path / "empty") for a in args]
    (tmp_path / "empty").mkdir()
    result = tfp(*args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert message in result.stderr


def test_every_subcommand_has_help():
    for command in [
        "inspect",
        "diff",
        "rename",
        "export",
        "convert",
        "freeze",
        "summarize",
        "verify",
    ]:
        result = tfp(command, "--help")
        assert result.returncode == 0 and result.stdout.startswith(f"usage: tfpersist {command}")


def test_console_script_is_installed():
    script = pathlib.Path(sys.executable).with_name("tfpersist")
    result = subprocess.run([str(script), "--version"], capture_output=True, text=True)
    assert result.stdout.strip() == f"tfpersist {cli.__version__}"


def test_no_progress_bar_when_stderr_is_not_a_terminal(tmp_path):
    prefix = tf.train.Checkpoint(**{f"v{i}": tf.Variable(float(i)) for i in range(120)}).write(
        str(tmp_path / "c")
    )
    result = tfp("export", prefix, str(tmp_path / "w.npz"))
    assert result.returncode == 0 and result.stderr == ""
