"""Graphs that really reach outside the process, built in code, and how to set them off.

Each :class:`Case` writes one graph file into a directory that also holds a
secret (``secret.txt``) and a victim checkpoint. Its ``trigger`` loads and
runs the file with raw TensorFlow, the way a user would; ``harmed`` says
whether the file did what it was built to do: a file appeared or vanished,
the secret's bytes came back, Python ran. The safety tests show every case
harming in raw TensorFlow, and then every tfpersist loader refusing it
before anything runs. The scanner comparison in the benchmarks uses the same
cases.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tensorflow as tf
from article import save_article
from tensorflow.core.protobuf import saved_model_pb2

SECRET = b"s3cret-line\nsecond line\n"
_ALIVE: list[tf.Graph] = []
PLACEMENTS = ("top", "function", "cond")


def prepare(d: Path) -> None:
    """The secret and a victim checkpoint a case may read, list or delete."""
    d.mkdir(parents=True, exist_ok=True)
    (d / "secret.txt").write_bytes(SECRET)
    tf.raw_ops.SaveV2(
        prefix=str(d / "victim" / "ckpt"),
        tensor_names=["secret"],
        shape_and_slices=[""],
        tensors=[tf.constant(SECRET)],
    )


def _after(effect: Any, x: tf.Tensor) -> tf.Tensor:
    with tf.control_dependencies([effect]):
        return tf.identity(x)


# The dangerous computations: each takes the input x and the directory, and
# returns a tensor that depends on x (so grappler cannot fold it away).


def _read_file(x, d):
    return tf.io.read_file(tf.strings.join([str(d / "secret"), _empty(x), ".txt"]))


def _empty(x):
    return tf.strings.substr(tf.strings.as_string(x[0]), 0, 0)


def _write_file(x, d):
    return _after(tf.io.write_file(str(d / "written.txt"), tf.strings.as_string(x[0])), x)


def _matching_files(x, d):
    return tf.strings.reduce_join(tf.io.matching_files(tf.strings.join([str(d), "/*", _empty(x)])))


def _register(d):
    def touch():
        (d / "python-ran").write_text("yes")
        return b"ran"

    return touch


def _py_function(x, d):
    return tf.py_function(_register(d), [], tf.string)


def _numpy_function(x, d):
    return tf.numpy_function(_register(d), [], tf.string)


def _text_dataset(x, d):
    ds = tf.data.TextLineDataset(tf.strings.join([str(d / "secret.txt"), _empty(x)]))
    return ds.reduce(tf.constant(""), lambda a, b: a + b)


def _csv_dataset(x, d):
    ds = tf.data.experimental.CsvDataset(
        tf.strings.join([str(d / "secret.txt"), _empty(x)]), [tf.string]
    )
    return ds.map(lambda line: line).reduce(tf.constant(""), lambda a, b: a + b)


def _dataset_cache(x, d):
    ds = tf.data.Dataset.range(3).map(lambda i: tf.cast(i, tf.float32) + x[0])
    return ds.cache(str(d / "cache")).reduce(tf.constant(0.0), lambda a, b: a + b)


def _dataset_to_tfrecord(x, d):
    ds = tf.data.Dataset.from_tensors(tf.strings.as_string(x[0]))
    return _after(tf.data.experimental.TFRecordWriter(str(d / "out.tfrecord")).write(ds), x)


def _summary(x, d):
    writer = tf.raw_ops.SummaryWriter(shared_name="dangerous", container="")
    create = tf.raw_ops.CreateSummaryFileWriter(
        writer=writer, logdir=str(d / "logs"), max_queue=1, flush_millis=1, filename_suffix=""
    )
    with tf.control_dependencies([create]):
        write = tf.raw_ops.WriteScalarSummary(
            writer=writer, step=tf.constant(0, tf.int64), tag="leak", value=x[0]
        )
    with tf.control_dependencies([write]):
        flush = tf.raw_ops.FlushSummaryWriter(writer=writer)
    return _after(flush, x)


def _print_to_file(x, d):
    return _after(tf.print(x, output_stream="file://" + str(d / "printed.txt")), x)


def _debug_dump(x, d):
    return tf.raw_ops.DebugIdentity(
        input=x, tensor_name="x:0", debug_urls=["file://" + str(d / "dump")]
    )


def _saver_writes(x, d):
    save = tf.raw_ops.SaveV2(
        prefix=str(d / "stolen"), tensor_names=["x"], shape_and_slices=[""], tensors=[x]
    )
    return _after(save, x)


def _restore_reads(x, d):
    [value] = tf.raw_ops.RestoreV2(
        prefix=str(d / "victim" / "ckpt"),
        tensor_names=["secret"],
        shape_and_slices=[""],
        dtypes=[tf.string],
    )
    return value + _empty(x)


def _merge_deletes(x, d):
    merge = tf.raw_ops.MergeV2Checkpoints(
        checkpoint_prefixes=[str(d / "victim" / "ckpt")],
        destination_prefix=str(d / "merged"),
        delete_old_dirs=True,
    )
    return _after(merge, x)


def _lookup_table(x, d):
    init = tf.lookup.TextFileInitializer(
        str(d / "secret.txt"),
        tf.int64,
        tf.lookup.TextFileIndex.LINE_NUMBER,
        tf.string,
        tf.lookup.TextFileIndex.WHOLE_LINE,
    )
    table = tf.lookup.StaticHashTable(init, default_value="")
    with tf.control_dependencies(
        tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.TABLE_INITIALIZERS)
    ):
        return table.lookup(tf.cast(x[0], tf.int64) - 1)


def _dataset_graph(d: Path) -> bytes:
    """A dataset that reads the secret, serialised as a graph."""
    with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
        ds = tf.data.TextLineDataset(str(d / "secret.txt"))
        return sess.run(tf.raw_ops.DatasetToGraphV2(input_dataset=ds._variant_tensor))


def _nested_graph(x, d):
    serialised = tf.strings.join([tf.constant(_dataset_graph(d)), _empty(x)])
    variant = tf.raw_ops.DatasetFromGraph(graph_def=serialised)
    ds = tf.data.experimental.from_variant(variant, tf.TensorSpec([], tf.string))
    return ds.reduce(tf.constant(""), lambda a, b: a + b)


def _read_in_map(x, d):
    names = tf.data.Dataset.from_tensors(tf.strings.join([str(d / "secret.txt"), _empty(x)]))
    return names.map(tf.io.read_file).reduce(tf.constant(""), lambda a, b: a + b)


def _returned_secret(d: Path, out: Any) -> bool:
    return isinstance(out, bytes | str) and b"s3cret-line" in (
        out if isinstance(out, bytes) else out.encode()
    )


def _exists(name: str) -> Callable[[Path, Any], bool]:
    return lambda d, out: (d / name).exists()


def _any_file(prefix: str) -> Callable[[Path, Any], bool]:
    return lambda d, out: any(p.name.startswith(prefix) for p in d.iterdir())


def _victim_gone(d: Path, out: Any) -> bool:
    return not (d / "victim" / "ckpt.index").exists()


def _names_secret(d: Path, out: Any) -> bool:
    return isinstance(out, bytes) and b"secret.txt" in out


#: name -> (computation, harm check, what kind of harm)
COMPUTATIONS: dict[str, tuple[Callable, Callable[[Path, Any], bool], str]] = {
    "read file": (_read_file, _returned_secret, "file read"),
    "read file in a dataset's map": (_read_in_map, _returned_secret, "file read"),
    "write file": (_write_file, _exists("written.txt"), "file write"),
    "list files": (_matching_files, _names_secret, "file read"),
    "py_function": (_py_function, _exists("python-ran"), "Python"),
    "numpy_function": (_numpy_function, _exists("python-ran"), "Python"),
    "TextLineDataset": (_text_dataset, _returned_secret, "tf.data read"),
    "CsvDataset": (_csv_dataset, _returned_secret, "tf.data read"),
    "Dataset.cache to a file": (_dataset_cache, _any_file("cache"), "tf.data write"),
    "TFRecordWriter": (_dataset_to_tfrecord, _exists("out.tfrecord"), "tf.data write"),
    "summary writer": (_summary, _exists("logs"), "summary write"),
    "print to file://": (_print_to_file, _exists("printed.txt"), "print to a file"),
    "DebugIdentity to file://": (_debug_dump, _exists("dump"), "debug write"),
    "SaveV2 with a constant path": (_saver_writes, _exists("stolen.index"), "saver write"),
    "RestoreV2 of another checkpoint": (_restore_reads, _returned_secret, "saver read"),
    "MergeV2Checkpoints deleting": (_merge_deletes, _victim_gone, "saver delete"),
    "lookup table from a file": (_lookup_table, _returned_secret, "file read"),
    "graph in a tensor": (_nested_graph, _returned_secret, "nested graph"),
}
#: Computations that stay at the top level and in a function: a dataset or a
#: table inside a ``cond`` branch adds nothing the function placement lacks.
IN_COND = ("read file", "write file", "py_function", "SaveV2 with a constant path")


@dataclass(frozen=True)
class Case:
    """One dangerous graph: its *name*, where the computation sits, and how to use it."""

    name: str
    placement: str

    @property
    def id(self) -> str:
        return f"{self.name} ({self.placement})"

    def graph_def(self, d: Path) -> Any:
        """Build the graph: input ``x``, output ``out``."""
        compute, _, _ = COMPUTATIONS[self.name]
        with tf.Graph().as_default() as graph:
            x = tf.compat.v1.placeholder(tf.float32, [None], name="x")
            if self.placement == "top":
                out = compute(x, d)
            elif self.placement == "function":
                out = tf.function(lambda x: compute(x, d))(x)
            else:
                numeric = self.name in ("write file", "SaveV2 with a constant path")
                out = tf.cond(
                    x[0] > 0,
                    lambda: compute(x, d),
                    lambda: tf.identity(x) if numeric else tf.constant(""),
                )
            tf.identity(out, name="out")
        _ALIVE.append(graph)  # a Python function stays registered while its graph lives
        return graph.as_graph_def()

    def write(self, d: Path) -> Path:
        """Write the graph as a frozen ``.pb`` in *d*."""
        path = d / "model.pb"
        path.write_bytes(self.graph_def(d).SerializeToString())
        return path

    def harmed(self, d: Path, out: Any = None) -> bool:
        return COMPUTATIONS[self.name][1](d, out)

    @property
    def kind(self) -> str:
        return COMPUTATIONS[self.name][2]


def trigger(path: Path) -> Any:
    """Load a frozen ``.pb`` with raw TensorFlow and run its output, as a user would."""
    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(path.read_bytes())
    with tf.Graph().as_default() as graph:
        tf.graph_util.import_graph_def(graph_def, name="")
        with tf.compat.v1.Session(graph=graph) as sess:
            out = sess.run("out:0", {"x:0": [1.0]})
    return out.tobytes() if hasattr(out, "tobytes") and out.dtype != object else out


#: A table's initialiser runs at the top level only.
TOP_ONLY = ("lookup table from a file",)
CASES = (
    [Case(name, "top") for name in COMPUTATIONS]
    + [Case(name, "function") for name in COMPUTATIONS if name not in TOP_ONLY]
    + [Case(name, "cond") for name in IN_COND]
)


# --- savers tampered with ------------------------------------------------------------------


def extend_graph(graph_def: Any, build: Callable[[], Any]) -> str:
    """Add the nodes *build* makes, in a graph holding *graph_def*; return the last one's name."""
    with tf.Graph().as_default() as graph:
        tf.graph_util.import_graph_def(graph_def, name="")
        made = build()
    old = {n.name for n in graph_def.node}
    graph_def.node.extend(n for n in graph.as_graph_def().node if n.name not in old)
    return getattr(made, "op", made).name


def _stolen_save(d: Path) -> Callable[[], Any]:
    return lambda: tf.raw_ops.SaveV2(
        prefix=str(d / "stolen"), tensor_names=["v"], shape_and_slices=[""], tensors=[1.0]
    )


def _copy_secret(d: Path) -> Callable[[], Any]:
    return lambda: tf.io.write_file(str(d / "written.txt"), tf.io.read_file(str(d / "secret.txt")))


#: name -> (what to wire into the restore op, harm check)
TAMPERINGS: dict[str, tuple[Callable[[Path], Callable[[], Any]], Callable[[Path, Any], bool]]] = {
    "restore op runs a SaveV2 with a constant path": (_stolen_save, _exists("stolen.index")),
    "restore op copies a file": (_copy_secret, _exists("written.txt")),
}


def tamper(meta: Any, d: Path, name: str) -> None:
    """Make the restore op of *meta* also run the tampering *name*."""
    extra = extend_graph(meta.graph_def, TAMPERINGS[name][0](d))
    restore = next(n for n in meta.graph_def.node if n.name == meta.saver_def.restore_op_name)
    restore.input.append("^" + extra)


def tampered_meta(d: Path, name: str) -> str:
    """The article's checkpoint, its ``.meta`` tampered with: the prefix."""
    prefix = save_article(d)
    meta = tf.compat.v1.MetaGraphDef()
    meta.ParseFromString(Path(prefix + ".meta").read_bytes())
    tamper(meta, d, name)
    Path(prefix + ".meta").write_bytes(meta.SerializeToString())
    return prefix


def tampered_saved_model(d: Path, name: str) -> Path:
    """A TF1 SavedModel of the article's graph, its restore op tampered with."""
    path = d / "tf1_saved"
    builder = tf.compat.v1.saved_model.Builder(str(path))
    with tf.Graph().as_default() as graph, tf.compat.v1.Session(graph=graph) as sess:
        v = tf.Variable([1.0], name="v")
        tf.add(v, 1.0, name="add")
        sess.run(v.initializer)
        builder.add_meta_graph_and_variables(sess, ["serve"])
    builder.save()
    model = saved_model_pb2.SavedModel()
    model.ParseFromString((path / "saved_model.pb").read_bytes())
    tamper(model.meta_graphs[0], d, name)
    (path / "saved_model.pb").write_bytes(model.SerializeToString())
    return path


def restore_raw(prefix: str) -> None:
    """Restore a ``.meta`` checkpoint with raw TensorFlow, as the article does."""
    with tf.Graph().as_default() as graph:
        saver = tf.compat.v1.train.import_meta_graph(prefix + ".meta")
        with tf.compat.v1.Session(graph=graph) as sess:
            saver.restore(sess, prefix)


def load_tf1_raw(path: Path) -> None:
    """Load a TF1 SavedModel with raw TensorFlow: its saver restores the variables."""
    with tf.Graph().as_default() as graph, tf.compat.v1.Session(graph=graph) as sess:
        tf.compat.v1.saved_model.load(sess, ["serve"], str(path))


# --- SavedModels -------------------------------------------------------------------------


def saved_model(d: Path, name: str) -> Path:
    """A SavedModel whose serving signature runs computation *name*."""
    compute = COMPUTATIONS[name][0]
    module = tf.Module()
    module.f = tf.function(
        lambda x: {"out": compute(x, d)}, input_signature=[tf.TensorSpec([None], tf.float32)]
    )
    path = d / "saved"
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.f})
    return path


def call_saved_model(path: Path) -> Any:
    """Load a SavedModel with raw TensorFlow and call its serving signature."""
    out = tf.saved_model.load(str(path)).signatures["serving_default"](tf.constant([1.0]))["out"]
    return out.numpy()


#: Computations a TF2 SavedModel can carry: Python functions cannot be saved, and a
#: table must belong to the model, whose files then travel as the SavedModel's assets.
SAVED_MODEL_CASES = [
    n for n in COMPUTATIONS if n not in ("py_function", "numpy_function", *TOP_ONLY)
]


def files_in(d: Path) -> set[str]:
    return {os.path.relpath(os.path.join(r, f), d) for r, _, fs in os.walk(d) for f in fs}
