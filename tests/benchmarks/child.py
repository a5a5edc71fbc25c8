"""One contender's run in a fresh process: ``python child.py BENCHMARK ARGS...``.

Prints one JSON object: the seconds of each call measured, and for restores
and renames the peak resident set size above the RSS just before, in KiB.
Building the model is not timed. Variables are set by TensorFlow's initialisers.

Peaks are read from ``VmHWM`` in ``/proc/self/status``, the high-water mark
``ru_maxrss`` reports for the process's own memory: ``ru_maxrss`` itself also
keeps the peak of the process that started this one, inherited through
``exec``, so a child lighter than its parent would report its parent's peak.
"""

from __future__ import annotations

import gc
import json
import os
import re
import sys
import time
from pathlib import Path

FEATURES = 3584  # four 3584 x 3584 float32 layers: a 196 MiB model to freeze


def status_kib(field: str = "VmRSS") -> int:
    """A memory figure of this process, in KiB: ``VmRSS`` (now) or ``VmHWM`` (its peak)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


class Timer:
    def __init__(self) -> None:
        self.figures: dict[str, float] = {}

    def __call__(self, name: str, call):
        # No call pays for what came before it: the garbage of the set-up (timeit
        # collects it too) or the writeback of an earlier process's files.
        gc.collect()
        os.sync()
        start = time.perf_counter()
        result = call()
        self.figures[name] = time.perf_counter() - start
        return result

    def peak(self, name: str, call):
        """Time a call; record its peak RSS above the RSS just before, and the process's peak."""
        before, high = status_kib("VmRSS"), status_kib("VmHWM")
        Path("/proc/self/clear_refs").write_text("5")  # the high-water mark starts again from now
        result = self(name, call)
        peak = status_kib("VmHWM")
        self.figures[f"{name}_peak_above_kib"] = peak - before
        self.figures[f"{name}_process_peak_kib"] = max(high, peak)
        return result

    def restore(self, call) -> None:
        """Time a restore, and its peak RSS above the RSS just before."""
        self.peak("restore", call)


def tf2_checkpoint(tf, count: int, size: int, init=None):
    init = init or tf.random_uniform_initializer(seed=1)
    return tf.train.Checkpoint(variables=[tf.Variable(init([size])) for _ in range(count)])


def setup(count: int, size: int, where: str) -> dict:
    """Write what the contenders restore: TF1 and TF2 checkpoints, NumPy files, a .meta."""
    import tensorflow as tf

    for kind in ("tf1", "tf2", "numpy"):
        os.makedirs(f"{where}/{kind}")
    ckpt = tf2_checkpoint(tf, count, size)
    _ = ckpt.save_counter  # written too, as by Checkpoint.save
    ckpt.write(f"{where}/tf2/ckpt")
    # The same values under the names a TF1 Saver gives v0, v1, ...
    tf.raw_ops.SaveV2(
        prefix=f"{where}/tf1/ckpt",
        tensor_names=[f"v{i}" for i in range(count)],
        shape_and_slices=[""] * count,
        tensors=list(ckpt.variables),
    )
    for i, v in enumerate(ckpt.variables):
        v.numpy().tofile(f"{where}/numpy/{i}.bin")
    # The TF1 graph and its saver, built once: each contender imports them, as
    # building 10,000 variables and a saver in Python takes 16 s per process.
    with tf.Graph().as_default():
        for i in range(count):
            tf.Variable(tf.zeros([size]), name=f"v{i}")
        tf.compat.v1.train.Saver().export_meta_graph(f"{where}/tf1/graph.meta")
    return {"bytes": count * size * 4}


def persist(style: str, who: str, count: int, size: int, source: str, out: str) -> dict:
    """Restore *count* float32 variables of *size* elements from *source*, then save them to *out*."""
    timer = Timer()
    if style == "numpy":
        import numpy as np

        arrays: list = []
        timer.restore(
            lambda: arrays.extend(
                np.fromfile(f"{source}/{i}.bin", dtype=np.float32) for i in range(count)
            )
        )
        timer.figures["checksum"] = float(arrays[-1].sum())
        os.makedirs(out)
        timer("save", lambda: [a.tofile(f"{out}/{i}.bin") for i, a in enumerate(arrays)])
        return timer.figures

    import tensorflow as tf

    from tfpersist import restoring, saving

    if style == "tf2":
        ckpt = tf2_checkpoint(tf, count, size, tf.zeros_initializer())  # twice as fast to build
        # Save first: the first save of a Checkpoint sets up TensorFlow's saver,
        # which Checkpoint.restore would otherwise have done for the raw save alone.
        if who == "raw":
            timer("save", lambda: ckpt.save(out))
            timer.restore(lambda: ckpt.restore(source).assert_consumed())
        else:
            timer("save", lambda: saving.save_checkpoint(ckpt, out))
            timer.restore(lambda: restoring.restore_checkpoint(ckpt, source))
        timer.figures["checksum"] = float(ckpt.variables[-1].numpy().sum())
        return timer.figures

    graph = tf.Graph()
    with graph.as_default():
        # Variables left uninitialised: restoring is their initialisation, as in the article.
        saver = tf.compat.v1.train.import_meta_graph(os.path.dirname(source) + "/graph.meta")
        last = tf.compat.v1.global_variables()[-1]
        # Grappler off: its one-time pass over a 10,000-variable graph costs both
        # contenders the same ~17 s per process, which would hide what differs.
        config = tf.compat.v1.ConfigProto()
        config.graph_options.rewrite_options.disable_meta_optimizer = True
        with tf.compat.v1.Session(graph=graph, config=config) as sess:
            if who == "raw":
                timer.restore(lambda: saver.restore(sess, source))
                timer("save", lambda: saver.save(sess, out))
            else:
                timer.restore(lambda: restoring.restore_session(sess, source, saver=saver))
                timer("save", lambda: saving.save_session(sess, out, saver=saver))
            timer.figures["checksum"] = float(sess.run(last).sum())
    return timer.figures


RENAMED = {"model": "encoder"}  # every tensor of the rename's checkpoint is under model/
DROPPED = "model/layer_00/kernel"


def renamed(name: str) -> str:
    """*name* as :data:`RENAMED` renames it, worked out by hand."""
    [(old, new)] = RENAMED.items()
    return new + name.removeprefix(old)


def rename_setup(count: int, size: int, prefix: str) -> dict:
    """Write a TF1 checkpoint of *count* float32 tensors of *size* elements, one at a time."""
    import numpy as np

    from tfpersist.bundle import BundleWriter

    with BundleWriter(prefix) as writer:
        for i in range(count):
            values = np.random.default_rng(i).random(size, dtype=np.float32)
            writer.add(f"model/layer_{i:02d}/kernel", values)
    return {"bytes": count * size * 4}


def rename(who: str, source: str, out: str) -> dict:
    """Rename every tensor of *source* into *out*: tfpersist keeping all or dropping one, or raw TF."""
    timer = Timer()
    if who == "tensorflow":
        import tensorflow as tf

        def call():
            reader = tf.train.load_checkpoint(source)
            names = sorted(reader.get_variable_to_shape_map())
            tensors = [reader.get_tensor(name) for name in names]
            tf.raw_ops.SaveV2(
                prefix=out,
                tensor_names=[renamed(name) for name in names],
                shape_and_slices=[""] * len(names),
                tensors=tensors,
            )
    else:
        from tfpersist.rewriting import rename_checkpoint

        drop = [DROPPED] if who == "drop" else []

        def call():
            rename_checkpoint(source, out, RENAMED, drop=drop)

    timer.peak("rename", call)
    return timer.figures


def rename_check(who: str, source: str, out: str) -> dict:
    """Check *out*: every name as renamed, every tensor's bytes the source's, read back by TF too."""
    import tensorflow as tf

    from tfpersist import bundle

    with bundle.load_checkpoint(source) as old, bundle.load_checkpoint(out) as new:
        names = old.get_variable_to_shape_map()
        expected = {renamed(n): n for n in names if not (who == "drop" and n == DROPPED)}
        if set(new.get_variable_to_shape_map()) != set(expected):
            raise SystemExit(f"{who}: the names of {out} are not the renamed names of {source}")
        for name, was in expected.items():
            a, b = new.entry(name), old.entry(was)
            if (a.dtype, a.shape, a.size, a.crc32c) != (b.dtype, b.shape, b.size, b.crc32c):
                raise SystemExit(f"{who}: {name} differs from {was}: {a} against {b}")
        new.verify()  # every tensor's bytes read, against the checksum they share with the source
    if set(tf.train.load_checkpoint(out).get_variable_to_shape_map()) != set(expected):
        raise SystemExit(f"{who}: TensorFlow reads other names in {out}")
    return {"tensors": len(expected)}


def freeze(who: str, out: str) -> dict:
    """Freeze a 196 MiB model TF1 style and TF2 style, write each .pb; load one and run it."""
    import numpy as np
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    from tfpersist import freezing

    timer = Timer()
    batch = np.ones([8, FEATURES], np.float32)
    init = tf.random_uniform_initializer(-0.03, 0.03, seed=1)

    def layers(x, weights):
        for w in weights:
            x = tf.nn.relu(tf.matmul(x, w))
        return tf.identity(x, name="y")

    def write(style, graph_def):
        if who == "raw":
            tf.io.write_graph(graph_def, f"{out}/{style}", "frozen.pb", as_text=False)
        else:
            freezing.write_graph_def(graph_def, f"{out}/{style}/frozen.pb")

    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, FEATURES], name="x")
        layers(x, [tf.Variable(init([FEATURES, FEATURES])) for _ in range(4)])
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            sess.run("y:0", {x: batch})  # a model is used before it is frozen
            if who == "raw":
                graph_def = timer(
                    "tf1_freeze",
                    lambda: tf.compat.v1.graph_util.convert_variables_to_constants(
                        sess, sess.graph.as_graph_def(), ["y"]
                    ),
                )
            else:
                graph_def = timer("tf1_freeze", lambda: freezing.freeze_session(sess, ["y"]))
    timer("tf1_write", lambda: write("tf1", graph_def))
    graph = graph_def = None  # free the model before the next

    weights = [tf.Variable(init([FEATURES, FEATURES])) for _ in range(4)]
    function = tf.function(lambda x: layers(x, weights)).get_concrete_function(
        tf.TensorSpec([None, FEATURES], tf.float32, name="x")
    )
    function(tf.constant(batch))
    if who == "raw":
        graph_def = timer(
            "tf2_freeze", lambda: convert_variables_to_constants_v2(function).graph.as_graph_def()
        )
    else:
        graph_def = timer("tf2_freeze", lambda: freezing.freeze_function(function))
    timer("tf2_write", lambda: write("tf2", graph_def))
    function = weights = graph_def = None

    # Loading comes last: before the TF2 freeze, it left that freeze a second
    # slower in tfpersist's runs, though the freeze code is the same.
    def tf1_load_and_run():
        path = f"{out}/tf1/frozen.pb"
        if who == "raw":
            graph_def = tf.compat.v1.GraphDef()
            with open(path, "rb") as f:
                graph_def.ParseFromString(f.read())
            with tf.Graph().as_default() as graph:
                tf.graph_util.import_graph_def(graph_def, name="")
                with tf.compat.v1.Session(graph=graph) as sess:
                    return sess.run("y:0", {"x:0": batch})
        with tf.Graph().as_default() as graph:
            x, y = freezing.import_graph(freezing.read_graph_def(path), ["x:0", "y:0"], name="")
            with tf.compat.v1.Session(graph=graph) as sess:
                return sess.run(y, {x: batch})

    tf1_output = timer("tf1_load_and_run", tf1_load_and_run)
    # Same weights, same input: every contender must report the same figures here.
    timer.figures["tf1_output_sum"] = float(np.sum(tf1_output))
    timer.figures["tf2_graph_bytes"] = os.path.getsize(f"{out}/tf2/frozen.pb")
    return timer.figures


def train(saves: str, out: str, steps: int = 20, every: int = 5) -> dict:
    """Train *steps* steps of a 256 MiB model, saving every *every* steps: none, sync or async."""
    import tensorflow as tf

    from tfpersist import distributed, saving

    init = tf.random_uniform_initializer(seed=1)
    variables = [tf.Variable(init([1 << 22])) for _ in range(16)]
    ckpt = tf.train.Checkpoint(variables=variables)
    x = tf.random.uniform([512, 512], seed=2)

    @tf.function
    def step():
        y = x
        for _ in range(64):  # about 0.1 s on two cores
            y = tf.tanh(y @ x)
        scale = 1.0 + tf.reduce_mean(y) * 1e-6
        for v in variables:
            v.assign(v * scale)

    options = distributed.checkpoint_options(async_save=saves == "async")
    step()  # traced once, and the first save sets up the saver, outside the timing
    if saves != "none":
        saving.save_checkpoint(ckpt, f"{out}/warm", options=options)
        distributed.wait_for_save(ckpt)

    def loop():
        for i in range(1, steps + 1):
            step()
            if saves != "none" and i % every == 0:
                saving.save_checkpoint(ckpt, f"{out}/ckpt", options=options)
        distributed.wait_for_save(ckpt)  # the last save is on disk before the clock stops

    timer = Timer()
    timer("loop", loop)
    timer.figures["steps"] = steps
    timer.figures["saves"] = steps // every if saves != "none" else 0
    return timer.figures


def keras_setup(out: str) -> dict:
    """The Keras files the keras scenario reads: MobileNetV2 as ``.keras`` and ``.weights.h5``."""
    import tensorflow as tf

    tf.keras.utils.set_random_seed(0)
    model = tf.keras.applications.MobileNetV2(weights=None)
    model.save(f"{out}/mobilenet_v2.keras")
    model.save_weights(f"{out}/mobilenet_v2.weights.h5")
    return {"variables": len(model.weights)}


def audit_setup(out: str) -> dict:
    """The SavedModels the audit scenario reads: a small model, and a graph of 12.5 MB."""
    import tensorflow as tf

    tf.keras.utils.set_random_seed(0)
    small = tf.keras.applications.MobileNetV3Small(weights=None)
    tf.saved_model.save(small, f"{out}/small")
    large = tf.Module()
    large.nasnet = tf.keras.applications.NASNetLarge(weights=None)
    large.efficientnet = tf.keras.applications.EfficientNetB0(weights=None)
    large.classify = tf.function(
        lambda x: {"probabilities": large.nasnet(x)},
        input_signature=[tf.TensorSpec([None, 331, 331, 3], tf.float32)],
    )
    large.classify_small = tf.function(
        lambda x: {"probabilities": large.efficientnet(x)},
        input_signature=[tf.TensorSpec([None, 224, 224, 3], tf.float32)],
    )
    tf.saved_model.save(
        large,
        f"{out}/large",
        signatures={"serving_default": large.classify, "small": large.classify_small},
    )
    return {}


def scanner_corpus(out: str, realworld: str = "") -> dict:
    """Write the SavedModels the scanners are compared on; list them with what they are.

    The dangerous ones are the cases of tests/dangerous.py, which the tests show
    harming in raw TensorFlow; the real ones TensorFlow writes (tests/benign.py),
    plus any SavedModel under *realworld*, named by its folder's MANIFEST.txt.
    """
    import tensorflow as tf

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import benign
    import dangerous

    files = []
    for name in dangerous.SAVED_MODEL_CASES:
        case = Path(out) / "dangerous" / name.replace(" ", "_").replace("/", "_")
        dangerous.prepare(case)
        path = dangerous.saved_model(case, name)
        files.append({"name": name, "path": str(path), "kind": "dangerous", "source": "built"})
    built = {f"TF1 SavedModel: {n}": lambda d, n=n: dangerous.tampered_saved_model(d, n)
             for n in dangerous.TAMPERINGS}  # fmt: skip
    built.update({n: build for n, (build, *_) in dangerous.RUN_AT_LOAD.items()})
    for name, build in built.items():
        case = Path(out) / "dangerous" / re.sub(r"\W+", "_", name)
        dangerous.prepare(case)
        path = build(case)
        files.append({"name": name, "path": str(path), "kind": "dangerous", "source": "built"})
    for name, path in benign.saved_models(Path(out) / "real").items():
        files.append({"name": name, "path": str(path), "kind": "real", "source": "built"})

    def printed(x):
        tf.print("x:", x)  # to standard error: no scanner should mind
        return {"y": x * 2.0}

    printing = tf.Module()
    printing.f = tf.function(printed, input_signature=[tf.TensorSpec([None], tf.float32)])
    tf.saved_model.save(printing, f"{out}/real/print", signatures={"serving_default": printing.f})
    files.append({"name": "module that prints to stderr", "path": f"{out}/real/print",
                  "kind": "real", "source": "built"})  # fmt: skip
    for manifest in sorted(Path(realworld).glob("*/MANIFEST.txt")) if realworld else []:
        sources = dict(
            line.split("  <-  ") for line in manifest.read_text().splitlines() if "  <-  " in line
        )
        for saved in sorted(manifest.parent.rglob("saved_model.pb")):
            relative = str(saved.relative_to(manifest.parent))
            repository = manifest.parent.name.removeprefix("tensorflow-")
            files.append({
                "name": f"{repository}: {saved.parent.relative_to(manifest.parent)}",
                "path": str(saved.parent),
                "kind": "real",
                "source": sources.get(relative, manifest.parent.name),
            })  # fmt: skip
    return {"files": files}


def main() -> None:
    benchmark, *args = sys.argv[1:]
    if benchmark == "setup":
        figures = setup(int(args[0]), int(args[1]), args[2])
    elif benchmark == "persist":
        style, who, count, size, source, out = args
        figures = persist(style, who, int(count), int(size), source, out)
    elif benchmark == "rename-setup":
        figures = rename_setup(int(args[0]), int(args[1]), args[2])
    elif benchmark == "rename":
        figures = rename(*args)
    elif benchmark == "rename-check":
        figures = rename_check(*args)
    elif benchmark == "freeze":
        figures = freeze(*args)
    elif benchmark == "train":
        figures = train(*args)
    elif benchmark == "audit-setup":
        figures = audit_setup(*args)
    elif benchmark == "keras-setup":
        figures = keras_setup(*args)
    elif benchmark == "scanner-corpus":
        figures = scanner_corpus(*args)
    else:
        raise SystemExit(f"unknown benchmark {benchmark!r}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
