"""Graph files as TensorFlow itself writes them, of many kinds, built in code.

The safety tests require every one to pass the audit and to load; the
parser tests read each one with tfpersist's decoder and with TensorFlow's.
Each builder writes into a directory and returns the path of one graph file
(a ``.meta``, a frozen ``.pb``) or SavedModel directory.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import tensorflow as tf
from article import build_article_graph

from tfpersist import freezing


def _save_session(d: Path, build: Callable[[], None], **saver: object) -> Path:
    prefix = d / "model" / "model.ckpt"
    prefix.parent.mkdir(parents=True)
    with tf.Graph().as_default() as graph:
        build()
        savers = saver.pop("savers", 1)
        made = [tf.compat.v1.train.Saver(**saver) for _ in range(int(savers))]  # type: ignore[arg-type]
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            sess.run(tf.compat.v1.tables_initializer())
            made[-1].save(sess, str(prefix))
    return Path(str(prefix) + ".meta")


def ref_variables() -> None:
    v = tf.compat.v1.Variable([1.0, 2.0], name="v", use_resource=False)
    tf.multiply(v, 2.0, name="out")


def two_devices() -> None:
    with tf.device("/cpu:0"):
        a = tf.Variable([1.0], name="a")
    with tf.device("/cpu:1"):
        b = tf.Variable([2.0], name="b")
    tf.add(a, b, name="out")


def training() -> None:
    """A TF1 training graph: input pipeline, model, loss, optimiser, summaries, checks."""
    ds = tf.data.Dataset.from_tensor_slices(
        (np.arange(8, dtype=np.float32).reshape(4, 2), np.ones([4, 1], np.float32))
    )
    x, y = tf.compat.v1.data.make_one_shot_iterator(ds.repeat().batch(2)).get_next()
    queue = tf.queue.FIFOQueue(4, [tf.float32], shapes=[[2]])
    enqueue = queue.enqueue(tf.constant([1.0, 2.0]))
    w = tf.compat.v1.get_variable("w", [2, 1])
    b = tf.compat.v1.get_variable("b", [1], initializer=tf.zeros_initializer())
    logits = tf.nn.relu(tf.matmul(x, w) + b)
    logits = tf.cond(tf.reduce_sum(x) > 0, lambda: logits, lambda: -logits)
    total = tf.while_loop(lambda i, s: i < 3, lambda i, s: (i + 1, s + 1.0), [0, 0.0])[1]
    loss = tf.reduce_mean(tf.square(logits - y)) + 0.0 * total
    tf.compat.v1.summary.scalar("loss", loss)
    tf.compat.v1.summary.histogram("w", w)
    tf.compat.v1.summary.merge_all()
    table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(["a", "b"], [1, 2]), default_value=-1
    )
    table.lookup(tf.constant(["a"]))
    tf.strings.split(tf.strings.upper(tf.constant(["x y"])))
    tf.io.decode_png(tf.io.encode_png(tf.zeros([2, 2, 3], tf.uint8)))
    tf.random.uniform([2], seed=1)
    check = tf.debugging.assert_non_negative(tf.abs(loss))
    printed = tf.print("loss", loss)
    with tf.control_dependencies([check, printed, enqueue]):
        tf.compat.v1.train.AdamOptimizer(0.01).minimize(loss, name="train")
    tf.identity(logits, name="out")


def partitioned() -> None:
    v = tf.compat.v1.get_variable("big", [8, 2], partitioner=tf.compat.v1.fixed_size_partitioner(2))
    tf.reduce_sum(v, name="out")


def meta_files(d: Path) -> dict[str, Path]:
    """``.meta`` files of TF1 savers: V2 and V1, sharded, two savers, ref and partitioned."""
    return {
        "article": _save_session(d / "article", build_article_graph),
        "ref variables": _save_session(d / "ref", ref_variables),
        "sharded over two devices": _save_session(d / "sharded", two_devices, sharded=True),
        "V1 saver": _save_session(
            d / "v1", build_article_graph, write_version=tf.compat.v1.train.SaverDef.V1
        ),
        "two savers": _save_session(d / "two", build_article_graph, savers=2),
        "training graph": _save_session(d / "training", training, max_to_keep=2),
        "partitioned variables": _save_session(d / "partitioned", partitioned),
    }


def frozen_graphs(d: Path) -> dict[str, Path]:
    """Frozen ``.pb`` files: TF1 ``convert_variables_to_constants`` and TF2 ``_v2``."""
    out = {}
    d.mkdir(parents=True)
    with tf.Graph().as_default() as graph:
        training()
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            sess.run(tf.compat.v1.tables_initializer())
            frozen = freezing.freeze_session(sess, ["out"])
    out["TF1 training graph, frozen"] = Path(freezing.write_graph_def(frozen, d / "tf1.pb"))
    model = _keras()
    function = tf.function(model).get_concrete_function(tf.TensorSpec([None, 4], tf.float32))
    out["Keras model, frozen"] = Path(
        freezing.write_graph_def(freezing.freeze_function(function), d / "keras.pb")
    )
    return out


def _keras() -> tf.keras.Model:
    tf.keras.utils.set_random_seed(0)
    inputs = tf.keras.Input((4,))
    x = tf.keras.layers.Dense(8, activation="relu")(inputs)
    x = tf.keras.layers.BatchNormalization()(x)
    x = tf.keras.layers.Dropout(0.1)(x)
    return tf.keras.Model(inputs, tf.keras.layers.Dense(2, activation="softmax")(x))


class _Module(tf.Module):
    """A TF2 module with tables, loops, tensor arrays, strings and a dataset."""

    def __init__(self) -> None:
        self.v = tf.Variable([1.0, 2.0])
        self.table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(["a", "b"], [1, 2]), default_value=-1
        )

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
    def __call__(self, x):
        array = tf.TensorArray(tf.float32, size=0, dynamic_size=True)
        i = tf.constant(0)
        while i < 3:
            array = array.write(i, tf.reduce_sum(x) * self.v[0])
            i += 1
        ds = tf.data.Dataset.from_tensor_slices(x).map(lambda e: e * 2.0).batch(2)
        total = ds.reduce(tf.constant(0.0), lambda a, b: a + tf.reduce_sum(b))
        words = tf.strings.split(tf.constant("a b"))
        found = tf.cast(tf.reduce_sum(self.table.lookup(words)), tf.float32)
        return {"out": array.stack() + total + found + tf.random.stateless_uniform([3], [1, 2])}


def saved_models(d: Path) -> dict[str, Path]:
    """SavedModels: a Keras model, a module with tables and loops, a TF1 builder's two graphs."""
    out = {}
    model = _keras()
    tf.saved_model.save(model, str(d / "keras"))
    out["Keras model"] = d / "keras"
    module = _Module()
    tf.saved_model.save(module, str(d / "module"), signatures={"serving_default": module.__call__})
    out["module with tables, loops and a dataset"] = d / "module"
    builder = tf.compat.v1.saved_model.Builder(str(d / "tf1"))
    with tf.Graph().as_default() as graph, tf.compat.v1.Session(graph=graph) as sess:
        x = tf.compat.v1.placeholder(tf.float32, [None], name="x")
        v = tf.Variable(2.0, name="v")
        y = tf.multiply(x, v, name="y")
        sess.run(v.initializer)
        signature = tf.compat.v1.saved_model.predict_signature_def({"x": x}, {"y": y})
        builder.add_meta_graph_and_variables(
            sess, ["serve"], signature_def_map={"serving_default": signature}
        )
        builder.add_meta_graph(["train"])
    builder.save()
    out["TF1 SavedModel with two meta graphs"] = d / "tf1"
    return out


def all_files(d: Path) -> dict[str, Path]:
    """Every benign file, by a name for test ids."""
    return {**meta_files(d / "meta"), **frozen_graphs(d / "frozen"), **saved_models(d / "saved")}
