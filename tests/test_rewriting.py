"""Rename, convert and diff lose nothing and merge nothing; TensorFlow is the oracle."""

from __future__ import annotations

import copy
import errno
import os
import warnings

import ml_dtypes
import numpy as np
import pytest
import tensorflow as tf

from tfpersist import _fs, bundle, cli, inspecting, rewriting
from tfpersist.errors import CorruptCheckpointError, ExportError, RewriteError, WriteError

_NAMES = [
    "float16", "float32", "float64", "bfloat16", "complex64", "complex128",
    "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "bool",
    "qint8", "quint8", "qint16", "quint16", "qint32",
    "float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e4m3b11fnuz", "float8_e5m2fnuz",
    "int4", "uint4",
]  # fmt: skip


def _dtypes() -> list[tf.DType]:
    """Every fixed-size dtype of the list that this TensorFlow has."""
    found = []
    for name in _NAMES:
        try:
            found.append(tf.as_dtype(name))
        except TypeError:
            continue
    return found


def _random(dtype: tf.DType, shape: tuple[int, ...], rng: np.random.Generator) -> tf.Tensor:
    """Random bits of *dtype*; floats get NaN (with a payload too), infinities and -0."""
    numpy_type = np.dtype(dtype.as_numpy_dtype)
    count = int(np.prod(shape))
    if dtype == tf.bool:
        value = rng.integers(0, 2, count).astype(bool)
    elif dtype.name in ("int4", "uint4"):
        low = -8 if dtype.name == "int4" else 0
        value = rng.integers(low, low + 16, count).astype(numpy_type)
    else:
        value = rng.integers(0, 256, count * numpy_type.itemsize, dtype=np.uint8).view(numpy_type)
    part = {tf.float32: 4, tf.complex64: 4, tf.float64: 8, tf.complex128: 8}.get(dtype)
    if part:
        floats = value.view(f"f{part}")
        floats[:4] = [np.nan, -0.0, np.inf, -np.inf]
        floats.view(f"u{part}")[4] = 0x7F80_0001 if part == 4 else 0x7FF0_0000_0000_0001
    return tf.constant(value.reshape(shape), dtype=dtype)


def _save(prefix: str, tensors: dict[str, tf.Tensor]) -> str:
    names = sorted(tensors)
    tf.raw_ops.SaveV2(
        prefix=prefix,
        tensor_names=names,
        shape_and_slices=[""] * len(names),
        tensors=[tensors[n] for n in names],
    )
    return prefix


def _every_dtype(rng: np.random.Generator) -> dict[str, tf.Tensor]:
    tensors = {f"src/{d.name}": _random(d, (3, 5), rng) for d in _dtypes()}
    tensors["src/string"] = tf.constant([b"", b"\xff\x00abc", "中文".encode(), b"x" * 300])
    tensors["src/empty"] = tf.zeros([0, 2], tf.float32)
    tensors["src/scalar"] = tf.constant(b"one", tf.string)
    return tensors


def _by_tf(prefix: str) -> dict[str, tuple[tf.DType, bytes | list]]:
    """What TensorFlow's reader sees: each tensor's dtype and bytes (or strings)."""
    reader = tf.train.load_checkpoint(prefix)
    seen = {}
    for name, dtype in reader.get_variable_to_dtype_map().items():
        value = np.asarray(reader.get_tensor(name))
        seen[name] = (dtype, value.tolist() if dtype == tf.string else value.tobytes())
    return seen


def test_rename_and_convert_keep_every_dtype_and_byte(tmp_path):
    source = _save(str(tmp_path / "src" / "ckpt"), _every_dtype(np.random.default_rng(0)))
    before = _by_tf(source)
    assert {dtype.name for dtype, _ in before.values()} >= {"qint8", "bfloat16", "float8_e5m2"}

    renamed = str(tmp_path / "renamed" / "ckpt")
    rewriting.rename_checkpoint(source, renamed, {"src": "dst"})
    assert _by_tf(renamed) == {"dst" + k[3:]: v for k, v in before.items()}

    tf2 = rewriting.convert_checkpoint(source, str(tmp_path / "tf2" / "ckpt"), to="tf2")
    after = _by_tf(tf2)
    assert after.pop("_CHECKPOINTABLE_OBJECT_GRAPH")[0] == tf.string
    assert after == {
        k.replace("/", ".S") + "/.ATTRIBUTES/VARIABLE_VALUE": v for k, v in before.items()
    }
    back = rewriting.convert_checkpoint(tf2, str(tmp_path / "tf1" / "ckpt"), to="tf1")
    assert _by_tf(back) == before

    assert inspecting.diff_checkpoints(source, source).equal
    assert inspecting.diff_checkpoints(source, back).equal


def test_converted_checkpoint_restores_with_raw_tf(tmp_path):
    values = {"dense/kernel": np.arange(6.0).reshape(2, 3), "step": np.int64(7), "w.v": [1.5]}
    with tf.Graph().as_default() as graph:
        for name, value in values.items():
            tf.Variable(value, name=name)
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            tf1 = tf.compat.v1.train.Saver().save(sess, str(tmp_path / "tf1" / "m.ckpt"))
    tf2 = rewriting.convert_checkpoint(tf1, str(tmp_path / "tf2" / "ckpt"), to="tf2")
    restored = {name: tf.Variable(tf.zeros_like(value)) for name, value in values.items()}
    tf.train.Checkpoint(**restored).read(tf2).assert_consumed()
    assert {n: v.numpy().tolist() for n, v in restored.items()} == {
        n: np.asarray(v).tolist() for n, v in values.items()
    }
    # the TF1 names stay in the object graph, so a TF1 Saver still finds them, also renamed
    renamed = str(tmp_path / "renamed" / "ckpt")
    rewriting.rename_checkpoint(tf2, renamed, {"dense.Skernel": "encoder/kernel"})
    with tf.Graph().as_default() as graph:
        kernel = tf.Variable(tf.zeros([2, 3], tf.float64), name="encoder/kernel")
        with tf.compat.v1.Session(graph=graph) as sess:
            tf.compat.v1.train.Saver([kernel]).restore(sess, renamed)
            assert sess.run(kernel).tolist() == values["dense/kernel"].tolist()


def test_convert_to_tf1_refuses_to_merge_two_keys(tmp_path):
    module = tf.Module()
    module.w = tf.Variable([1.0])
    source = tf.train.Checkpoint(model=module, **{"model/w": tf.Variable([2.0])}).write(
        str(tmp_path / "src" / "ckpt")
    )
    with pytest.raises(RewriteError) as error:
        rewriting.convert_checkpoint(source, str(tmp_path / "out" / "ckpt"), to="tf1")
    for name in (
        "'model.Sw/.ATTRIBUTES/VARIABLE_VALUE'",
        "'model/w/.ATTRIBUTES/VARIABLE_VALUE'",
        "'model/w'",
    ):
        assert name in str(error.value)
    assert not list((tmp_path).glob("out/*"))


@pytest.mark.parametrize(
    ("mapping", "regex", "words"),
    [
        ({"a": "c", "b": "c"}, False, ["'a'", "'b'", "'c'"]),
        ({"a": "b"}, False, ["'a'", "'b'"]),
        ({"[ab]": "z"}, True, ["'a'", "'b'", "'z'"]),
        ({"a": "_CHECKPOINTABLE_OBJECT_GRAPH"}, False, ["'a'", "object graph"]),
    ],
)
def test_rename_refuses_to_merge_two_keys(tmp_path, capsys, mapping, regex, words):
    source = _save(str(tmp_path / "src" / "ckpt"), {n: tf.constant([1.0]) for n in "abc"})
    out = str(tmp_path / "out" / "ckpt")
    with pytest.raises(RewriteError) as error:
        rewriting.rename_checkpoint(source, out, mapping, regex=regex)
    assert all(w in str(error.value) for w in words), str(error.value)
    argv = ["rename", source, out] + ["--regex"] * regex
    argv += [x for old, new in mapping.items() for x in ("--map", f"{old}={new}")]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "would" in err, err
    assert not list(tmp_path.glob("out/*"))


def _floats(dtype: tf.DType, real: list[float], imag: list[float]) -> tf.Tensor:
    """*real* (+ *imag* j) rounded to *dtype* by TensorFlow, or by ml_dtypes where TF has no cast."""
    try:
        value = tf.constant(real, tf.float64)
        if dtype.is_complex:
            value = tf.complex(value, tf.constant(imag, tf.float64))
        return tf.cast(value, dtype)
    except tf.errors.OpError:  # float8 on TF 2.12, the fnuz float8s on 2.21
        rounded = np.array(real).astype(getattr(ml_dtypes, dtype.name))
        return tf.constant(rounded.view(dtype.as_numpy_dtype), dtype)


def _wide(prefix: str, name: str) -> np.ndarray:
    """Tensor *name* as TensorFlow's reader gives it, in float64 or complex128."""
    value = np.asarray(tf.train.load_checkpoint(prefix).get_tensor(name))
    return value.astype(np.complex128 if value.dtype.kind == "c" else np.float64)


def test_diff_uses_tolerances_and_nan_for_every_float_dtype(tmp_path):
    floats = [d for d in _dtypes() if d.is_floating or d.is_complex]
    assert {tf.bfloat16, tf.complex64, tf.as_dtype("float8_e4m3fn")} <= set(floats)
    nan = float("nan")
    real, imag = [1.0, 2.0, 0.5, nan, -3.0], [0.0, 1.0, nan, 2.0, 0.0]
    base = {d.name: _floats(d, real, imag) for d in floats}
    shifted = {d.name: _floats(d, [r + 0.25 for r in real], imag) for d in floats}
    backwards = {d.name: _floats(d, real[::-1], imag[::-1]) for d in floats}
    a = _save(str(tmp_path / "a" / "ckpt"), base)
    b = _save(str(tmp_path / "b" / "ckpt"), shifted)
    assert inspecting.diff_checkpoints(a, _save(str(tmp_path / "c" / "ckpt"), base)).equal

    changed = {c.name: c.max_abs_diff for c in inspecting.diff_checkpoints(a, b).changed}
    assert set(changed) == set(base)
    for name, biggest in changed.items():
        gap = np.abs(_wide(a, name) - _wide(b, name))
        assert biggest == np.nanmax(gap)
        within = inspecting.diff_checkpoints(a, b, atol=biggest)
        assert name not in {c.name for c in within.changed}
        beyond = inspecting.diff_checkpoints(a, b, atol=biggest * 0.99)
        assert name in {c.name for c in beyond.changed}

    nan_moved = _save(str(tmp_path / "r" / "ckpt"), backwards)
    assert len(inspecting.diff_checkpoints(a, nan_moved, atol=10.0).changed) == len(base)


def test_diff_compares_tensorflow_dtypes_complex_nan_and_bool(tmp_path):
    a = _save(
        str(tmp_path / "a" / "ckpt"),
        {
            "q": tf.constant([1, 2], tf.qint8),
            "z": tf.constant([complex("nan+1j")], tf.complex128),
            "b": tf.constant([True, False]),
        },
    )
    b = _save(
        str(tmp_path / "b" / "ckpt"),
        {
            "q": tf.constant([1, 2], tf.int8),
            "z": tf.constant([complex("nan+2j")], tf.complex128),
            "b": tf.constant([False, False]),
        },
    )
    changed = {c.name: c for c in inspecting.diff_checkpoints(a, b, atol=0.5).changed}
    assert changed["q"].reason == "dtype qint8 != int8"
    assert changed["z"].reason == "values differ" and changed["z"].max_abs_diff is None
    assert changed["b"].max_abs_diff == 1.0
    assert inspecting.diff_checkpoints(a, a).equal


# -- object graphs: a renamed object restores under its new name with raw TensorFlow ----------


def _module(spec: dict, rng: np.random.Generator) -> tf.Module:
    """A tree of modules from *spec*: a dict is a module, a tuple a variable's shape."""
    module = tf.Module()
    for name, child in spec.items():
        if isinstance(child, dict):
            value = _module(child, rng)
        else:
            value = tf.Variable(rng.standard_normal(child).astype(np.float32))
        setattr(module, name, value)
    return module


def _values(module: tf.Module, spec: dict, path: tuple[str, ...] = ()) -> dict:
    found = {}
    for name, child in spec.items():
        value = getattr(module, name)
        if isinstance(child, dict):
            found.update(_values(value, child, (*path, name)))
        else:
            found[(*path, name)] = value.numpy().tolist()
    return found


def _moved(spec: dict, moves: dict) -> dict:
    """*spec* with each subtree at an old path of *moves* moved to its new path, at once.

    A module moved onto a module merges into it; any other clash raises AssertionError.
    """
    spec = copy.deepcopy(spec)
    subtrees = {}
    for old, new in moves.items():
        parent = spec
        for name in old[:-1]:
            parent = parent[name]
        subtrees[new] = parent.pop(old[-1])
    for new, subtree in subtrees.items():
        parent = spec
        for name in new[:-1]:
            parent = parent.setdefault(name, {})
            assert isinstance(parent, dict)
        _put(parent, new[-1], subtree)
    return spec


def _put(parent: dict, name: str, subtree: dict | tuple) -> None:
    if name not in parent:
        parent[name] = subtree
        return
    assert isinstance(parent[name], dict) and isinstance(subtree, dict)
    for child, value in subtree.items():
        _put(parent[name], child, value)


def _restore(prefix: str, spec: dict) -> dict:
    """Restore *prefix* into fresh modules built from *spec* with raw TF; their values."""
    root = _module(spec, np.random.default_rng(99))
    tf.train.Checkpoint(**{n: getattr(root, n) for n in spec}).read(prefix).assert_consumed()
    return _values(root, spec)


_SPEC = {
    "layer": {"kernel": (3, 2), "bias": (2,)},
    "dense": {"kernel": (2, 2)},
    "block": {"inner": {"w": (2,), "x.y": (1,)}, "v": (3,)},
    "step": (),
}


def _key(path: tuple[str, ...]) -> str:
    return "/".join(p.replace(".", "..").replace("/", ".S") for p in path)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (("step",), ("global_step",)),  # a variable
        (("layer",), ("encoder",)),  # an object and what it holds
        (("layer", "kernel"), ("head", "dense", "kernel")),  # to a new parent, created
        (("layer", "bias"), ("dense", "bias")),  # into an object that exists
        (("block", "inner"), ("inner",)),  # up a level
        (("dense",), ("block", "inner", "dense")),  # down a level
        (("block", "inner", "x.y"), ("x.y",)),  # an escaped name
        (("block",), ("block", "deeper")),  # below itself
        (("block", "inner"), ("block",)),  # merged into its parent
        (("layer",), ("block",)),  # merged into another object
    ],
)
def test_renamed_objects_restore_under_their_new_names(tmp_path, old, new):
    rng = np.random.default_rng(len(old) * 10 + len(new))
    _check_move(tmp_path, _SPEC, {old: new}, rng)


def _check_move(tmp_path, spec: dict, moves: dict, rng: np.random.Generator) -> None:
    """Save *spec*, rename each subtree of *moves*, restore the moved spec with raw TF."""
    root = _module(spec, rng)
    source = tf.train.Checkpoint(**{n: getattr(root, n) for n in spec}).write(
        str(tmp_path / "a" / "ckpt")
    )
    before = _restore(source, spec)
    renamed = str(tmp_path / "b" / "ckpt")
    rewriting.rename_checkpoint(
        source, renamed, {_key(old): _key(new) for old, new in moves.items()}, overwrite=True
    )
    moved = _moved(spec, moves)
    expected = {}
    for path, value in before.items():
        for old, new in moves.items():
            if path[: len(old)] == old:
                path = new + path[len(old) :]
                break
        expected[path] = value
    assert _restore(renamed, moved) == expected
    with pytest.raises((AssertionError, ValueError)):  # nothing left under the old names
        _restore(renamed, spec)


def _random_spec(rng: np.random.Generator, depth: int = 0) -> dict:
    names = ["a", "b", "c.d", "e/f", "kernel"]
    spec = {}
    for name in rng.choice(names, size=rng.integers(1, 4), replace=False):
        if depth < 2 and rng.random() < 0.5:
            spec[str(name)] = _random_spec(rng, depth + 1)
        else:
            spec[str(name)] = tuple(int(n) for n in rng.integers(1, 3, size=rng.integers(0, 3)))
    return spec


def _subtrees(spec: dict, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, child in spec.items():
        found.append((*path, name))
        if isinstance(child, dict):
            found += _subtrees(child, (*path, name))
    return found


def test_generated_modules_restore_after_a_random_move(tmp_path):
    rng = np.random.default_rng(7)
    done = 0
    while done < 12:
        spec = _random_spec(rng)
        subtrees = _subtrees(spec)
        old = subtrees[rng.integers(len(subtrees))]
        new = tuple(str(n) for n in rng.choice(["a", "x", "c.d", "y/z"], size=rng.integers(1, 4)))
        if new == old:
            continue
        try:
            moved = _moved(spec, {old: new})
        except AssertionError:
            continue  # the new path runs into a variable or a name in use
        if not _has_variables(moved):
            continue
        _check_move(tmp_path, spec, {old: new}, rng)
        done += 1


def _has_variables(spec: dict) -> bool:
    return any(not isinstance(c, dict) or _has_variables(c) for c in spec.values())


def test_two_objects_swap_names(tmp_path):
    spec = {"a": {"w": (2,)}, "b": {"w": (3,)}}
    _check_move(tmp_path, spec, {("a",): ("b",), ("b",): ("a",)}, np.random.default_rng(3))


def test_a_table_moves_with_all_its_tensors(tmp_path):
    table = tf.lookup.experimental.MutableHashTable(tf.string, tf.int64, -1)
    table.insert(tf.constant(["x", "y"]), tf.constant([1, 2], tf.int64))
    source = tf.train.Checkpoint(table=table).write(str(tmp_path / "a" / "ckpt"))
    renamed = str(tmp_path / "b" / "ckpt")
    rewriting.rename_checkpoint(source, renamed, {"table": "lookup"})
    other = tf.lookup.experimental.MutableHashTable(tf.string, tf.int64, -1)
    tf.train.Checkpoint(lookup=other).read(renamed).assert_consumed()
    assert other.lookup(tf.constant(["x", "y", "z"])).numpy().tolist() == [1, 2, -1]

    with pytest.raises(RewriteError, match="not split"):  # keys and values part ways
        rewriting.rename_checkpoint(
            source,
            str(tmp_path / "c" / "ckpt"),
            {"table/.ATTRIBUTES/table-keys": "t/.ATTRIBUTES/table-keys"},
        )
    with pytest.raises(RewriteError, match="drop all of them or none"):
        rewriting.rename_checkpoint(
            source, str(tmp_path / "c" / "ckpt"), {}, drop=["table/.ATTRIBUTES/table-keys"]
        )


def test_what_rename_cannot_express_is_an_error_even_in_a_dry_run(tmp_path):
    source = tf.train.Checkpoint(a=tf.Variable(1.0), b=tf.Module()).write(
        str(tmp_path / "a" / "ckpt")
    )
    out = str(tmp_path / "b" / "ckpt")
    with pytest.raises(RewriteError, match="keep its ending"):
        rewriting.rename_checkpoint(
            source, out, {"a/.ATTRIBUTES/VARIABLE_VALUE": "c"}, dry_run=True
        )
    with pytest.raises(RewriteError, match="empty object name"):
        rewriting.rename_checkpoint(source, out, {"a": "x//y"})
    assert not list(tmp_path.glob("b/*"))


def test_keras_model_restores_under_a_new_name(tmp_path):
    def model() -> tf.keras.Model:
        layers = [tf.keras.layers.Dense(3), tf.keras.layers.Dense(2)]
        built = tf.keras.Sequential([tf.keras.Input((4,)), *layers])
        return built

    trained = model()
    source = tf.train.Checkpoint(model=trained).write(str(tmp_path / "a" / "ckpt"))
    renamed = str(tmp_path / "b" / "ckpt")
    rewriting.rename_checkpoint(source, renamed, {"model": "encoder/net"})
    fresh = model()
    holder = tf.Module()
    holder.net = fresh
    tf.train.Checkpoint(encoder=holder).read(renamed).assert_consumed()
    for want, got in zip(trained.weights, fresh.weights, strict=True):
        assert want.numpy().tobytes() == got.numpy().tobytes()


# -- diff: integers exactly, floats without overflow ---------------------------------------------


_INTS = [tf.int8, tf.int16, tf.int32, tf.int64, tf.uint8, tf.uint16, tf.uint32, tf.uint64]


def test_diff_compares_integers_exactly_as_python_ints(tmp_path):
    rows = {}
    for d in _INTS:
        lo, hi = d.min, d.max
        rows[d.name] = {
            "base": [lo, hi, hi - 1, lo + 1, hi // 2],
            "near": [lo + 1, hi - 1, hi - 1, lo + 1, hi // 2 + 3],  # float64 cannot tell these
            "far": [hi, lo, lo, hi, lo],  # gaps beyond int64
        }
    prefixes = {
        kind: _save(
            str(tmp_path / kind / "ckpt"),
            {n: tf.constant(r[kind], tf.as_dtype(n)) for n, r in rows.items()},
        )
        for kind in ("base", "near", "far")
    }
    seen = {k: tf.train.load_checkpoint(p) for k, p in prefixes.items()}
    for other in ("near", "far"):
        for rtol, atol in [
            (0, 0),
            (0, 1),
            (0, 2),
            (1e-30, 0),
            (0.5, 0),
            (0, 2.0**63),
            (0, 2.0**64),
        ]:
            want = {}
            for name in rows:
                a = seen["base"].get_tensor(name).tolist()  # Python ints: no rounding
                b = seen[other].get_tensor(name).tolist()
                gaps = [
                    abs(x - y)
                    for x, y in zip(a, b, strict=True)
                    if abs(x - y) > atol + rtol * abs(y)
                ]
                if gaps:
                    want[name] = float(max(gaps))
            diff = inspecting.diff_checkpoints(
                prefixes["base"], prefixes[other], rtol=rtol, atol=atol
            )
            got = {c.name: c.max_abs_diff for c in diff.changed}
            assert got == want, (other, rtol, atol)
    assert "int64" in {
        c.name for c in inspecting.diff_checkpoints(prefixes["base"], prefixes["near"]).changed
    }


def test_diff_of_extreme_floats_warns_nothing(tmp_path):
    values = {"h": ([65504.0], [-65504.0], tf.float16), "d": ([1e308], [-1e308], tf.float64)}
    a = _save(
        str(tmp_path / "a" / "ckpt"), {n: tf.constant(x, d) for n, (x, _, d) in values.items()}
    )
    b = _save(
        str(tmp_path / "b" / "ckpt"), {n: tf.constant(y, d) for n, (_, y, d) in values.items()}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        diff = inspecting.diff_checkpoints(a, b, rtol=1e-3)
    want = {n: abs(x[0] - y[0]) for n, (x, y, _) in values.items()}  # Python floats: 131008, inf
    assert {c.name: c.max_abs_diff for c in diff.changed} == want


# -- bad requests and malformed checkpoints: a typed error, nothing written ----------------------


def _leftovers(directory) -> list[str]:
    return sorted(os.listdir(directory)) if os.path.isdir(directory) else []


def test_an_empty_tensor_name_is_refused_before_anything_is_written(tmp_path, capsys):
    source = _save(
        str(tmp_path / "src" / "ckpt"), {"w": tf.constant([1.0]), "b": tf.constant([2.0])}
    )
    out = tmp_path / "out"
    for mapping, regex in [({"w": ""}, False), ({"^b$": ""}, True), ({"w": "", "b": "c"}, False)]:
        with pytest.raises(RewriteError, match="empty name"):
            rewriting.rename_checkpoint(source, str(out / "ckpt"), mapping, regex=regex)
    assert cli.main(["rename", source, str(out / "ckpt"), "--map", "w="]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "'w'" in err, err
    with pytest.raises(ExportError, match="empty name"):
        rewriting.write_checkpoint(str(out / "ckpt"), {"": np.ones(1), "v": np.ones(1)})
    # a TF2 key on the root itself has no TF1 name
    odd = _save(
        str(tmp_path / "odd" / "ckpt"),
        {
            "_CHECKPOINTABLE_OBJECT_GRAPH": tf.constant(b""),
            "/.ATTRIBUTES/VARIABLE_VALUE": tf.constant(1.0),
        },
    )
    with pytest.raises(RewriteError, match="empty name"):
        rewriting.convert_checkpoint(odd, str(out / "ckpt"), to="tf1")
    assert _leftovers(out) == []


def test_a_failed_write_leaves_no_staging_directory(tmp_path, monkeypatch):
    def fail(file, sync):
        file.close()
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(_fs, "finish_write", fail)
    with pytest.raises(WriteError, match="No space left"):
        rewriting.write_checkpoint(str(tmp_path / "out" / "ckpt"), {"v": np.ones(1)})
    assert _leftovers(tmp_path / "out") == []


def test_a_malformed_object_graph_is_a_corrupt_checkpoint(tmp_path, capsys):
    key = "w/.ATTRIBUTES/VARIABLE_VALUE"
    module = tf.Module()
    module.w = tf.Variable([1.0])
    good = tf.train.Checkpoint(w=module.w).write(str(tmp_path / "good" / "ckpt"))
    sound = tf.train.load_checkpoint(good).get_tensor("_CHECKPOINTABLE_OBJECT_GRAPH")
    cases = {
        "float": (tf.constant(1.0), "float32 tensor of shape []"),
        "vector": (tf.constant([sound, sound]), "string tensor of shape [2]"),
        "empty_vector": (tf.constant([], tf.string), "string tensor of shape [0]"),
        "no_nodes": (tf.constant(b""), "holds no objects"),
    }
    for name, (graph, words) in cases.items():
        source = _save(
            str(tmp_path / name / "ckpt"),
            {"_CHECKPOINTABLE_OBJECT_GRAPH": graph, key: tf.constant([1.0])},
        )
        out = str(tmp_path / name / "out")
        with pytest.raises(CorruptCheckpointError) as error:
            rewriting.rename_checkpoint(source, out, {"w": "v"}, dry_run=True)
        assert source in str(error.value) and words in str(error.value), str(error.value)
        assert cli.main(["rename", source, out, "--map", "w=v"]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and words in err, err
        assert not [f for f in os.listdir(tmp_path / name) if not f.startswith("ckpt.")]
        tf1 = rewriting.convert_checkpoint(source, str(tmp_path / name / "tf1"), to="tf1")
        assert tf.train.list_variables(tf1) == [("w", [1])]


def test_the_source_is_never_the_destination_however_spelled(tmp_path, capsys):
    source = _save(str(tmp_path / "src" / "ckpt"), {"w": tf.constant([1.0])})
    os.symlink(tmp_path / "src", tmp_path / "alias")
    before = _by_tf(source)
    for destination in (
        source,
        str(tmp_path / "alias" / "ckpt"),
        str(tmp_path / "src" / ".." / "alias" / "ckpt"),
    ):
        with pytest.raises(RewriteError, match="is the source"):
            rewriting.rename_checkpoint(source, destination, {"w": "v"}, overwrite=True)
        with pytest.raises(RewriteError, match="is the source"):
            rewriting.convert_checkpoint(source, destination, to="tf2", overwrite=True)
        assert cli.main(["convert", source, destination, "--to", "tf2", "--overwrite"]) == 2
        assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert _by_tf(source) == before
    assert sorted(os.listdir(tmp_path / "src")) == ["ckpt.data-00000-of-00001", "ckpt.index"]
    # a mere look-alike elsewhere is fine
    other = rewriting.convert_checkpoint(source, str(tmp_path / "other" / "ckpt"), to="tf2")
    assert "w/.ATTRIBUTES/VARIABLE_VALUE" in _by_tf(other)


def test_a_variant_tensor_is_linked_or_copied_and_restores(tmp_path):
    """A tf.data iterator's state is a variant tensor, which only TensorFlow can decode."""
    iterator = iter(tf.data.Dataset.range(10))
    next(iterator), next(iterator)
    source = tf.train.Checkpoint(it=iterator, v=tf.Variable(3.0)).write(
        str(tmp_path / "a" / "ckpt")
    )
    linked = str(tmp_path / "linked" / "ckpt")
    copied = str(tmp_path / "copied" / "ckpt")
    rewriting.rename_checkpoint(source, linked, {"v": "w"})  # every tensor kept: links
    rewriting.rename_checkpoint(source, copied, {}, drop=["v"])  # a drop: bytes copied
    for prefix in (linked, copied):
        restored = iter(tf.data.Dataset.range(10))
        tf.train.Checkpoint(it=restored).read(prefix).expect_partial()
        assert int(next(restored)) == 2
    entry = bundle.load_checkpoint(source).entry("it/.ATTRIBUTES/ITERATOR_STATE")
    with open(source + ".data-00000-of-00001", "r+b") as f:  # damage the iterator's last byte
        f.seek(entry.offset + entry.size - 1)
        last = f.read(1)
        f.seek(entry.offset + entry.size - 1)
        f.write(bytes([last[0] ^ 0xFF]))
    with pytest.raises(CorruptCheckpointError, match="fail their checksum"):
        rewriting.rename_checkpoint(source, str(tmp_path / "bad" / "ckpt"), {}, drop=["v"])
