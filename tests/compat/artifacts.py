"""The artifacts of the compatibility matrix: ``artifacts.py write DIR`` or ``artifacts.py read DIR...``.

``write``, run by each TensorFlow release's Python, writes every artifact
kind into DIR with ``expected.json``, the values and outputs any reader must
reproduce. ``read`` reads the artifacts of every writer with this release
and prints one JSON line per cell: writer, artifact kind, ``ok`` /
``repaired`` / ``failed``, the error, and the largest difference from the
writer's outputs. Checkpoint values must be equal; model outputs must agree
within RTOL and ATOL.
"""

import json
import sys
import warnings
from pathlib import Path

import numpy as np
import tensorflow as tf

from tfpersist import freezing, graphs, keras_weights, meta_graph, restoring, safety
from tfpersist.errors import VariableMismatchError

X = np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3)  # the input of every model
W = np.array([[1.0, -2.0], [0.5, 3.0], [-1.5, 0.25]], np.float32)


def image() -> np.ndarray:
    return np.random.default_rng(0).random((2, 96, 96, 3), dtype=np.float32)


def mobilenet(seed: int):
    tf.keras.utils.set_random_seed(seed)
    return tf.keras.applications.MobileNetV2(weights=None, input_shape=(96, 96, 3), alpha=0.35)


def small_keras_model(seed: int):
    """Batch statistics and an inner Sequential model: what a Keras weights file must carry over."""
    tf.keras.utils.set_random_seed(seed)
    inner = tf.keras.Sequential(
        [tf.keras.Input((4,)), tf.keras.layers.Dense(4), tf.keras.layers.BatchNormalization()]
    )
    inputs = tf.keras.Input((3,))
    x = tf.keras.layers.BatchNormalization()(inner(tf.keras.layers.Dense(4)(inputs)))
    return tf.keras.Model(inputs, tf.keras.layers.Dense(2)(x))


def article_graph():
    """The article's model and a small layer to freeze: (graph, v1 + v2, input x, output)."""
    graph = tf.Graph()
    with graph.as_default():
        v1 = tf.Variable(tf.constant(1.0, shape=[1]), name="v1")
        v2 = tf.Variable(tf.constant(2.0, shape=[1]), name="v2")
        total = tf.add(v1, v2, name="add")
        x = tf.compat.v1.placeholder(tf.float32, [None, 3], name="x")
        w = tf.Variable(W, name="w")
        out = tf.nn.relu(tf.matmul(x, w), name="out")
    return graph, total, x, out


def write(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    graph, total, x, y = article_graph()
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as sess:
        sess.run(tf.compat.v1.global_variables_initializer())
        tf.compat.v1.train.Saver().save(sess, str(out / "tf1" / "model.ckpt"))
        frozen = freezing.freeze_session(sess, ["out"])
        tf.io.write_graph(frozen, str(out), "frozen.pb", as_text=False)
        expected = {"add": sess.run(total).tolist(), "out": sess.run(y, {x: X}).tolist()}

    ckpt = tf.train.Checkpoint(
        w=tf.Variable(np.arange(6, dtype=np.float32).reshape(2, 3)),
        step=tf.Variable(7, dtype=tf.int64),
        s=tf.Variable(["中文"]),
    )
    ckpt.write(str(out / "tf2" / "ckpt"))

    model = mobilenet(seed=0)
    tf.train.Checkpoint(model=model).write(str(out / "keras" / "ckpt"))
    expected["keras"] = model(image(), training=False).numpy().tolist()

    model = small_keras_model(seed=0)
    rng = np.random.default_rng(0)
    for weight in model.weights:  # the moving statistics too: none keeps its initial value
        weight.assign(rng.uniform(0.5, 1.5, weight.shape).astype(np.float32))
    (out / "keras_file").mkdir()
    model.save_weights(str(out / "keras_file" / "model.weights.h5"))
    with warnings.catch_warnings():  # Keras 2 warns that .h5 is a legacy format
        warnings.simplefilter("ignore")
        model.save(str(out / "keras_file" / "model.h5"))
    expected["keras_file"] = model(X, training=False).numpy().tolist()

    module = tf.Module()
    module.w = tf.Variable(W)
    module.f = tf.function(
        lambda x: tf.nn.relu(x @ module.w), input_signature=[tf.TensorSpec([None, 3], tf.float32)]
    )
    tf.saved_model.save(module, str(out / "saved_model"), signatures=module.f)
    expected["saved_model"] = module.f(X).numpy().tolist()
    expected["release"] = tf.__version__
    (out / "expected.json").write_text(json.dumps(expected))


RTOL, ATOL = 1e-5, 1e-6


DIFFERENCES: list[float] = []  # of the cell being read


def assert_close(got, want) -> None:
    difference = float(np.max(np.abs(np.subtract(got, want))))
    DIFFERENCES.append(difference)
    if not np.allclose(np.asarray(got), np.asarray(want), rtol=RTOL, atol=ATOL):
        raise AssertionError(f"output differs from the writer's by {difference:.3g}")


def tf1_restore(d: Path, expected: dict) -> str:
    graph, total, x, y = article_graph()
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as sess:
        restoring.restore_session(sess, str(d / "tf1" / "model.ckpt"))
        assert_close(sess.run(total), expected["add"])
        assert_close(sess.run(y, {x: X}), expected["out"])
    return "ok"


def tf1_meta(d: Path, expected: dict) -> str:
    with tf.Graph().as_default() as graph, tf.compat.v1.Session(graph=graph) as sess:
        meta_graph.restore_meta_graph(sess, str(d / "tf1" / "model.ckpt"))
        assert_close(sess.run("add:0"), expected["add"])
        assert_close(sess.run("out:0", {"x:0": X}), expected["out"])
    return "ok"


def tf2(d: Path, expected: dict) -> str:
    ckpt = tf.train.Checkpoint(
        w=tf.Variable(tf.zeros([2, 3])), step=tf.Variable(0, dtype=tf.int64), s=tf.Variable([""])
    )
    restoring.restore_checkpoint(ckpt, str(d / "tf2" / "ckpt"))
    assert ckpt.w.numpy().tolist() == np.arange(6.0).reshape(2, 3).tolist()
    assert int(ckpt.step.numpy()) == 7 and ckpt.s.numpy().tolist() == ["中文".encode()]
    return "ok"


def keras(d: Path, expected: dict) -> str:
    model = mobilenet(seed=1)  # other starting weights, so a restore that does nothing fails
    status = "ok"
    try:
        restoring.restore_checkpoint(tf.train.Checkpoint(model=model), str(d / "keras" / "ckpt"))
    except VariableMismatchError:
        keras_weights.restore_keras_weights(model, str(d / "keras" / "ckpt"))
        status = "repaired"
    assert_close(model(image(), training=False).numpy(), expected["keras"])
    return status


def keras_file(name: str):
    """A cell: restore the writer's Keras file *name* through tfpersist; ``ok`` if Keras reads it too."""

    def cell(d: Path, expected: dict) -> str:
        path = str(d / "keras_file" / name)
        model = small_keras_model(
            seed=1
        )  # other starting weights: a restore that does nothing fails
        keras_weights.restore_keras_weights(model, path)
        assert_close(model(X, training=False).numpy(), expected["keras_file"])
        by_keras = small_keras_model(seed=2)
        try:
            by_keras.load_weights(path)
        except Exception:  # the file of another Keras: only tfpersist reads it
            return "repaired"
        got = by_keras(X, training=False).numpy()
        return (
            "ok" if np.allclose(got, expected["keras_file"], rtol=RTOL, atol=ATOL) else "repaired"
        )

    return cell


def frozen(d: Path, expected: dict) -> str:
    run = freezing.load_frozen_function(str(d / "frozen.pb"), ["x:0"], ["out:0"])
    assert_close(run(tf.constant(X)).numpy(), expected["out"])
    return "ok"


def saved_model(d: Path, expected: dict) -> str:
    for meta in graphs.read_saved_model(str(d / "saved_model")).meta_graphs:
        safety.audit_graph(meta)
    loaded = tf.saved_model.load(str(d / "saved_model"))
    outputs = loaded.signatures["serving_default"](tf.constant(X))
    assert_close(next(iter(outputs.values())).numpy(), expected["saved_model"])
    return "ok"


KINDS = {
    "TF1 checkpoint, restored": tf1_restore,
    "TF1 .meta, imported": tf1_meta,
    "TF2 Checkpoint": tf2,
    "Keras MobileNetV2": keras,
    "Keras .weights.h5": keras_file("model.weights.h5"),
    "Keras legacy .h5": keras_file("model.h5"),
    "frozen .pb": frozen,
    "SavedModel": saved_model,
}


def read(dirs: list[Path]) -> None:
    for d in dirs:
        expected = json.loads((d / "expected.json").read_text())
        for kind, reader in KINDS.items():
            DIFFERENCES.clear()
            try:
                cell = {"status": reader(d, expected)}
            except Exception as e:  # a cell that fails is a result, not a crash
                first = (str(e).strip().splitlines() or [""])[0]
                cell = {"status": "failed", "error": f"{type(e).__name__}: {first}"[:300]}
            cell.update(writer=expected["release"], kind=kind, reader=tf.__version__)
            cell["max_difference"] = max(DIFFERENCES, default=None)
            print(json.dumps(cell), flush=True)


def main() -> None:
    command, *dirs = sys.argv[1:]
    if command == "write":
        write(Path(dirs[0]))
    else:
        read([Path(d) for d in dirs])


if __name__ == "__main__":
    main()
