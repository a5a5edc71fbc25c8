"""A generated corpus of valid checkpoints of every kind TensorFlow writes.

``CASES`` lists :class:`TF1Case` (``kind == "tf1"``: a ``Saver`` in a graph,
V1 or V2 format) and :class:`TF2Case` (``kind == "tf2"``: a
``tf.train.Checkpoint`` written by ``write``, ``save`` or a
``CheckpointManager``). Each has a ``name`` and ``write(directory) ->
prefix``; after writing, ``expected`` holds the raw bytes of every value
saved, and ``restore(prefix, how, mutation=None, partial=False)`` rebuilds
fresh objects, restores them one way and returns the same kind of state.
Values are drawn from seeded generators: random shapes, random bit patterns
(NaN payloads, infinities, subnormals), random byte strings. A *mutation*
(``MUTATIONS``, ``UNBUILT``) makes the rebuilt objects differ from the
checkpoint.

``how`` is ``"tf"`` (TensorFlow's own restore), ``"direct"`` and ``"saver"``
(tfpersist with ``direct=True`` / ``False``) or ``"subset"``
(:func:`tfpersist.partial.restore_subset`, TF1 only).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import tensorflow as tf

from tfpersist import partial as subset
from tfpersist import restoring
from tfpersist._tf import ShardedVariable

SAVER_DTYPES = (
    *("float16", "float32", "float64", "bfloat16", "complex64", "complex128"),
    *("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"),
    *("bool", "string", "qint8", "quint8", "qint32"),
)
#: The V1 format has no slice serialization for these.
V1_DTYPES = tuple(d for d in SAVER_DTYPES if d not in ("bfloat16", "uint32", "uint64"))
#: Ways a rebuilt model can differ from the checkpoint.
MUTATIONS = ("shape", "missing", "extra", "dtype")
#: An optimizer that has not made its variables yet: TensorFlow's restore fails too.
UNBUILT = "unbuilt"


def random_value(rng: np.random.Generator, dtype: str, shape: tuple[int, ...]) -> np.ndarray:
    """Random bits of *dtype* (so NaNs with payloads), random bools, random byte strings."""
    size = int(np.prod(shape, dtype=np.int64))
    if dtype == "string":
        words = [rng.bytes(int(rng.integers(0, 9))) for _ in range(size)]
        return np.array(words, dtype=object).reshape(shape)
    if dtype == "bool":
        return rng.integers(0, 2, size).astype(bool).reshape(shape)
    np_dtype = tf.as_dtype(dtype).as_numpy_dtype
    raw = rng.bytes(size * np.dtype(np_dtype).itemsize)
    return np.frombuffer(raw, dtype=np_dtype).reshape(shape).copy()


def raw(value: Any) -> tuple[Any, ...]:
    """A value as comparable raw bytes: dtype, shape and every byte (strings as bytes)."""
    value = np.asarray(value)
    if value.dtype.kind in "OS":
        return ("string", value.shape, tuple(bytes(b) for b in value.ravel().tolist()))
    if value.dtype.names:  # quantized types come as a one-field record, or as the plain type
        value = value.view(value.dtype[0])
    return (value.dtype.str, value.dtype.name, value.shape, value.tobytes())


def random_shape(rng: np.random.Generator) -> tuple[int, ...]:
    return tuple(int(d) for d in rng.integers(0, 4, int(rng.integers(0, 4))))


@dataclass
class Spec:
    """One variable of a TF1 graph: *parts* > 1 makes it partitioned; *unknown*, of unknown rank."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    resource: bool = True
    parts: int = 1
    unknown: bool = False


def _mutated(specs: list[Spec], mutation: str | None) -> list[Spec]:
    specs = [Spec(**vars(s)) for s in specs]
    target = next(s for s in specs if s.dtype == "float32" and s.parts == 1)
    if mutation == "shape":
        target.shape = (*target.shape, 2)
    elif mutation == "dtype":
        target.dtype = "float64"
    elif mutation == "missing":
        specs.append(Spec("scope_9/not_saved", "float32", (2,), target.resource))
    elif mutation == "extra":
        specs.remove(target)
    return specs


@dataclass
class TF1Case:
    """A ``tf.compat.v1.train.Saver`` checkpoint of *specs*, in format *version* (1 or 2).

    With *shared_init*, variables of one shape and dtype are made from one
    initial-value tensor; with *table*, the graph holds a ``MutableHashTable``
    too, which ``Saver()`` saves as a saveable object.
    """

    name: str
    specs: list[Spec]
    version: int = 2
    seed: int = 0
    kind: str = "tf1"
    expected: dict[str, Any] = field(default_factory=dict)
    shared_init: bool = False
    table: bool = False

    def _build(self, specs: list[Spec]) -> dict[str, Any]:
        made = {}
        inits: dict[Any, Any] = {}
        for s in specs:
            zero = "" if s.dtype == "string" else tf.zeros([], tf.as_dtype(s.dtype).real_dtype)
            if s.dtype.startswith("q"):
                zero = tf.zeros([], tf.int8 if "8" in s.dtype else tf.int32)
            key = (s.shape, s.dtype) if self.shared_init else s.name
            if key not in inits:
                inits[key] = (
                    tf.cast(tf.fill(s.shape, zero), s.dtype) if s.dtype != "string" else None
                )
            init = inits[key]
            if s.parts > 1:
                made[s.name] = tf.compat.v1.get_variable(
                    s.name,
                    s.shape,
                    tf.as_dtype(s.dtype),
                    initializer=tf.compat.v1.zeros_initializer(),
                    partitioner=tf.compat.v1.fixed_size_partitioner(s.parts),
                    use_resource=s.resource,
                )
            else:
                made[s.name] = tf.compat.v1.Variable(
                    tf.fill(s.shape, "") if init is None else init,
                    name=s.name,
                    use_resource=s.resource,
                    shape=tf.TensorShape(None) if s.unknown else None,
                )
        return made

    def _table(self) -> Any:
        if not self.table:
            return None
        return tf.compat.v1.lookup.experimental.MutableHashTable(
            tf.int64, tf.float32, -1.0, name="table"
        )

    def _state(self, sess: Any, made: dict[str, Any], table: Any) -> dict[str, Any]:
        state = {k: raw(v) for k, v in _values(sess, made).items()}
        if table is not None:
            keys, values = sess.run(table.export())
            order = np.argsort(keys, kind="stable")
            state["table"] = (raw(keys[order]), raw(values[order]))
        return state

    def write(self, directory: str | os.PathLike[str]) -> str:
        rng = np.random.default_rng(self.seed)
        values = {s.name: random_value(rng, s.dtype, s.shape) for s in self.specs}
        with tf.Graph().as_default() as graph:
            made, table = self._build(self.specs), self._table()
            with tf.compat.v1.Session(graph=graph) as sess:
                for name, var in made.items():
                    for part in _slices(var):
                        piece = values[name][_offsets(part)]
                        sess.run(part.initializer, {part.initializer.inputs[1]: piece})
                if table is not None:
                    keys = np.unique(rng.integers(-(1 << 40), 1 << 40, 9))
                    sess.run(table.insert(keys, random_value(rng, "float32", keys.shape)))
                self.expected = self._state(sess, made, table)
                assert {k: v for k, v in self.expected.items() if k != "table"} == {
                    k: raw(v) for k, v in values.items()
                }
                write_version = (
                    tf.compat.v1.train.SaverDef.V1
                    if self.version == 1
                    else tf.compat.v1.train.SaverDef.V2
                )
                saver = tf.compat.v1.train.Saver(write_version=write_version)
                return saver.save(sess, os.path.join(os.fspath(directory), "model.ckpt"))

    def restore(
        self, prefix: str, how: str, mutation: str | None = None, *, partial: bool = False
    ) -> dict[str, Any]:
        with tf.Graph().as_default() as graph:
            made, table = self._build(_mutated(self.specs, mutation)), self._table()
            with tf.compat.v1.Session(graph=graph) as sess:
                sess.run(tf.compat.v1.global_variables_initializer())
                if how == "tf":
                    tf.compat.v1.train.Saver().restore(sess, prefix)
                elif how == "subset":  # a saveable object is listed as Saver takes it
                    saveables = graph.get_collection(tf.compat.v1.GraphKeys.SAVEABLE_OBJECTS)
                    name_map = {**made, **{f"saveable{i}": s for i, s in enumerate(saveables)}}
                    subset.restore_subset(sess, prefix, name_map, partial=partial)
                else:
                    restoring.restore_session(sess, prefix, direct=how == "direct", partial=partial)
                return self._state(sess, made, table)


def _slices(var: Any) -> list[Any]:
    return list(var) if hasattr(var, "_get_variable_list") else [var]


def _offsets(part: Any) -> tuple[slice, ...]:
    info = part._save_slice_info
    if info is None:
        return ()
    return tuple(slice(o, o + n) for o, n in zip(info.var_offset, info.var_shape, strict=True))


def _values(sess: Any, made: dict[str, Any]) -> dict[str, Any]:
    return sess.run(
        {k: v.as_tensor() if hasattr(v, "as_tensor") else v.value() for k, v in made.items()}
    )


def _random_specs(rng: np.random.Generator, dtypes: tuple[str, ...], **kw: Any) -> list[Spec]:
    return [
        Spec(f"scope_{i % 3}/v{i}_{d}", d, random_shape(rng), **kw) for i, d in enumerate(dtypes)
    ]


# ---- TF2 ------------------------------------------------------------------


@dataclass
class TF2Case:
    """A ``tf.train.Checkpoint`` over the objects *make* builds.

    *make(rng, fill)* returns ``(objects, state)``: the objects to check in,
    and a function giving their state as raw bytes. With ``fill`` the
    objects get random values and are stepped (trained, iterated);
    otherwise they are built fresh. *mode* is ``"write"``, ``"save"`` or
    ``"manager"``.
    """

    name: str
    make: Callable[[np.random.Generator, bool, str | None], tuple[dict[str, Any], Any]]
    mode: str = "save"
    seed: int = 0
    kind: str = "tf2"
    expected: dict[str, Any] = field(default_factory=dict)
    requires_tf: str | None = None  # the releases it runs on, as pytest.mark.requires_tf takes

    def write(self, directory: str | os.PathLike[str]) -> str:
        objects, state = self.make(np.random.default_rng(self.seed), True, None)
        ckpt = tf.train.Checkpoint(**objects)
        base = os.path.join(os.fspath(directory), "ckpt")
        if self.mode == "write":
            prefix = ckpt.write(base)
        elif self.mode == "save":
            prefix = ckpt.save(base)
        else:
            manager = tf.train.CheckpointManager(ckpt, os.fspath(directory), max_to_keep=2)
            manager.save()
            prefix = manager.save()  # restore latest, of two
        self.expected = state()
        return prefix

    def restore(
        self, prefix: str, how: str, mutation: str | None = None, *, partial: bool = False
    ) -> dict[str, Any]:
        objects, state = self.make(np.random.default_rng(self.seed), False, mutation)
        ckpt = tf.train.Checkpoint(**objects)
        path = os.path.dirname(prefix) if self.mode == "manager" else prefix
        if how == "tf":
            if self.mode == "manager":
                path = tf.train.CheckpointManager(ckpt, path, max_to_keep=2).latest_checkpoint
            status = (ckpt.read if self.mode == "write" else ckpt.restore)(path)
            _ = status.expect_partial() if partial else status.assert_consumed()
        else:
            restoring.restore_checkpoint(ckpt, path, direct=how == "direct", partial=partial)
        return state()


def _variables_state(variables: dict[str, Any]) -> Callable[[], dict[str, Any]]:
    return lambda: {k: raw(v.numpy()) for k, v in variables.items()}


def _modules(rng: np.random.Generator, fill: bool, mutation: str | None, dtypes=SAVER_DTYPES):
    """Nested ``tf.Module``s holding variables of random shapes and every dtype eager allows."""
    root, flat = tf.Module(), {}
    specs = _mutated(
        _random_specs(rng, tuple(d for d in dtypes if not d.startswith("q"))), mutation
    )
    for spec in specs:
        scope, name = spec.name.split("/")
        if not hasattr(root, scope):
            setattr(root, scope, tf.Module())
        value = random_value(rng, spec.dtype, spec.shape) if fill else None
        if value is None:
            value = (
                tf.zeros(spec.shape, spec.dtype)
                if spec.dtype != "string"
                else tf.fill(spec.shape, "")
            )
        setattr(getattr(root, scope), name, tf.Variable(value))
        flat[spec.name] = getattr(getattr(root, scope), name)
    return {"model": root}, _variables_state(flat)


def _keras(rng: np.random.Generator, fill: bool, mutation: str | None, *, legacy: bool = False):
    """A tiny Keras model and its optimizer after one training step (so with slots)."""
    tf.keras.utils.set_random_seed(int(rng.integers(1 << 30)))
    model = tf.keras.Sequential([tf.keras.Input([3]), tf.keras.layers.Dense(2)])
    optimizer = tf.keras.optimizers.legacy.Adam(0.1) if legacy else tf.keras.optimizers.Adam(0.1)
    model.compile(optimizer=optimizer, loss="mse")
    x = tf.constant(rng.standard_normal([4, 3]), tf.float32)
    slots: Any = []
    if mutation != UNBUILT:  # one eager step, fresh ones too: they need their slots
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(model(x) ** 2)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        slots = model.optimizer.variables
        slots = slots() if callable(slots) else slots  # a method of legacy optimizers
    if not fill:
        for w in [*model.weights, *slots]:
            w.assign(tf.zeros_like(w))

    def state() -> dict[str, Any]:
        ws = [*model.weights, *slots]
        return {str(i): raw(w.numpy()) for i, w in enumerate(ws)}  # names count up per model

    return {"model": model, "optimizer": model.optimizer}, state


def _v1_optimizer(rng: np.random.Generator, fill: bool, mutation: str | None, *, momentum=False):
    """A ``tf.compat.v1.train`` optimizer stepped once in eager mode: slot variables."""
    v = tf.Variable(rng.standard_normal([3, 2]).astype(np.float32))
    opt = (
        tf.compat.v1.train.MomentumOptimizer(0.1, 0.9)
        if momentum
        else tf.compat.v1.train.AdamOptimizer(0.1)
    )
    if mutation != UNBUILT:
        opt.minimize(lambda: tf.reduce_sum(v * v), var_list=[v])
    slots = {n: opt.get_slot(v, n) for n in opt.get_slot_names()}
    extra = [w for w in opt.variables() if w is not v and all(w is not s for s in slots.values())]
    every = {"v": v, **slots, **{f"extra{i}": w for i, w in enumerate(extra)}}
    if not fill:
        for w in every.values():
            w.assign(tf.zeros_like(w))
    return {"v": v, "optimizer": opt}, _variables_state(every)


def _iterator(rng: np.random.Generator, fill: bool, mutation: str | None):
    """A ``tf.data`` iterator part-way through a shuffled dataset."""
    seed = int(rng.integers(1 << 30))
    steps = int(rng.integers(1, 5))
    it = iter(tf.data.Dataset.range(20).shuffle(20, seed=seed).batch(3))
    if fill:
        for _ in range(steps):
            next(it)

    def state() -> dict[str, Any]:  # the next batches: where the iterator stands
        return {f"next{i}": raw(next(it).numpy()) for i in range(2)}

    return {"it": it}, state


def _tables(rng: np.random.Generator, fill: bool, mutation: str | None):
    """A MutableHashTable (strings to floats) and a DenseHashTable (ints to ints)."""
    mutable = tf.lookup.experimental.MutableHashTable(tf.string, tf.float32, -1.0)
    dense = tf.lookup.experimental.DenseHashTable(
        tf.int64, tf.int64, default_value=-1, empty_key=-1, deleted_key=-2
    )
    if fill:
        keys = sorted({rng.bytes(4) for _ in range(7)})
        mutable.insert(keys, random_value(rng, "float32", (len(keys),)))
        ints = np.unique(rng.integers(0, 1 << 40, 9))
        dense.insert(ints, rng.integers(0, 1 << 40, len(ints)))

    def state() -> dict[str, Any]:
        out = {}
        for name, table in (("mutable", mutable), ("dense", dense)):
            k, v = (x.numpy() for x in table.export())
            if name == "dense":
                keep = k >= 0
                k, v = k[keep], v[keep]
            order = np.argsort(k, kind="stable")
            out[name] = (raw(k[order]), raw(v[order]))
        return out

    return {"mutable": mutable, "dense": dense}, state


def _unknown_shapes(rng: np.random.Generator, fill: bool, mutation: str | None):
    """Variables of unknown rank and of unknown dimension: any value fits them."""
    a = random_value(rng, "float32", (3,)) if fill else np.zeros([1], np.float32)
    b = random_value(rng, "int64", (4, 2)) if fill else np.zeros([0, 2], np.int64)
    found = {
        "a": tf.Variable(a, shape=tf.TensorShape(None)),
        "b": tf.Variable(b, shape=tf.TensorShape([None, 2])),
    }
    return found, _variables_state(found)


def _sharded(rng: np.random.Generator, fill: bool, mutation: str | None):
    """A ShardedVariable (only ParameterServerStrategy makes one publicly, and needs a cluster)."""
    value = random_value(rng, "float32", (5, 2))
    shards = [value[:3], value[3:]] if fill else [np.zeros((3, 2), np.float32), value[3:] * 0]
    sharded = ShardedVariable([tf.Variable(s) for s in shards])
    return {"emb": sharded}, lambda: {"emb": raw(tf.concat(sharded.variables, 0).numpy())}


def _case_list() -> list[Any]:
    rng = np.random.default_rng(2024)
    cases: list[Any] = []
    for version, dtypes in ((2, SAVER_DTYPES), (1, V1_DTYPES)):
        v = f"v{version}"
        cases += [
            TF1Case(f"{v}-every-dtype-resource", _random_specs(rng, dtypes), version, 1),
            TF1Case(
                f"{v}-every-dtype-ref",
                _random_specs(rng, dtypes, resource=False),
                version,
                2,
            ),
            TF1Case(
                f"{v}-partitioned",
                [
                    Spec("dense/w", "float32", (7, 3), parts=3),
                    Spec("emb", "float64", (5, 2), resource=False, parts=2),
                    Spec("b", "float32", (3,)),
                ],
                version,
                3,
            ),
        ]
    cases.append(
        TF1Case(  # 1 MiB or more: fed by tfpersist's reader with direct=True
            "v2-large", [Spec("big", "float32", (1 << 18,)), Spec("small", "float32", (2,))], 2, 4
        )
    )
    cases += [
        TF1Case(  # large values fed to initialisers that share their initial value
            "v2-shared-init-unknown-shape",
            [
                Spec("a", "float32", (1 << 18,)),
                Spec("b", "float32", (1 << 18,), unknown=True),
                Spec("c", "float64", (2, 3), unknown=True),
            ],
            2,
            16,
            shared_init=True,
        ),
        TF1Case(
            "v2-table", [Spec("w", "float32", (2, 3)), Spec("step", "int64", ())], 2, 17, table=True
        ),
    ]
    cases += [
        TF2Case("modules-save", _modules, "save", 5),
        TF2Case("modules-write", _modules, "write", 6),
        TF2Case("modules-manager", _modules, "manager", 7),
        TF2Case("keras-write", _keras, "write", 8),
        TF2Case("compat-adam", _v1_optimizer, "write", 10),
        TF2Case("compat-momentum", lambda *a: _v1_optimizer(*a, momentum=True), "save", 11),
        TF2Case("iterator", _iterator, "save", 12),
        TF2Case("tables", _tables, "write", 13),
        TF2Case("sharded", _sharded, "write", 14),
        TF2Case("unknown-shape", _unknown_shapes, "save", 18),
    ]
    legacy = lambda *a: _keras(*a, legacy=True)  # noqa: E731
    return [*cases, TF2Case("keras-legacy", legacy, "save", 15, requires_tf="<2.16")]  # Keras 2


CASES = _case_list()
