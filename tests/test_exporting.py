"""Export: every byte of every tensor, checked against TensorFlow's reader and safetensors' own."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tensorflow as tf
from safetensors import safe_open
from safetensors.numpy import save

from tfpersist.errors import ExportError
from tfpersist.exporting import export_checkpoint

NUMBERS = [
    tf.bool, tf.uint8, tf.int8, tf.uint16, tf.int16, tf.uint32, tf.int32, tf.uint64, tf.int64,
    tf.float16, tf.float32, tf.float64, tf.complex64, tf.bfloat16,
]  # fmt: skip


def numbers_checkpoint(path) -> tuple[str, dict[str, np.ndarray]]:
    """A checkpoint with a tensor of each number dtype, random values; and TensorFlow's reading."""
    rng = np.random.default_rng(7)
    variables = {}
    for dtype in NUMBERS:
        raw = rng.normal(size=(3, 5)) * 100
        if dtype.is_complex:
            raw = raw + 1j * rng.normal(size=(3, 5))
        variables[dtype.name] = tf.Variable(tf.cast(tf.constant(raw), dtype))
    prefix = tf.train.Checkpoint(**variables).write(str(path))
    reader = tf.train.load_checkpoint(prefix)
    names = set(reader.get_variable_to_shape_map()) - {"_CHECKPOINTABLE_OBJECT_GRAPH"}
    return prefix, {n: reader.get_tensor(n) for n in names}


STRINGS = [[b"a\0", b"\0\0", b""], [b"\xff\xfe\0x", b"tail\0\0\0", "中文".encode()]]


def _npz_strings(weights, name: str) -> list[bytes]:
    """A string tensor read back from .npz as the module docstring shows: bytes and lengths."""
    data, lengths = weights[f"{name}:bytes"], weights[f"{name}:lengths"]
    assert data.dtype == np.uint8 and lengths.dtype == np.int64
    ends = np.cumsum(lengths.ravel())
    return [data[end - n : end].tobytes() for end, n in zip(ends, lengths.ravel(), strict=True)]


def test_npz_keeps_every_byte_of_every_string(tmp_path):
    prefix = tf.train.Checkpoint(s=tf.Variable(STRINGS)).write(str(tmp_path / "c"))
    name = "s/.ATTRIBUTES/VARIABLE_VALUE"
    expected = tf.train.load_checkpoint(prefix).get_tensor(name)
    assert export_checkpoint(prefix, tmp_path / "s.npz") == [name]
    with np.load(tmp_path / "s.npz") as weights:  # allow_pickle=False, NumPy's default
        assert weights[f"{name}:lengths"].shape == expected.shape
        got = _npz_strings(weights, name)
    assert got == list(expected.flat)
    assert got == [b for row in STRINGS for b in row]


def test_npz_strings_take_the_room_of_their_bytes(tmp_path):
    """One long string among many empty ones: not padded to the longest."""
    rng = np.random.default_rng(3)
    strings = [rng.bytes(1 << 16)] + [b""] * 2000 + [rng.bytes(5)]
    prefix = tf.train.Checkpoint(s=tf.Variable(strings)).write(str(tmp_path / "c"))
    export_checkpoint(prefix, tmp_path / "s.npz")
    assert (tmp_path / "s.npz").stat().st_size < 2 * sum(map(len, strings)) + 50_000
    with np.load(tmp_path / "s.npz") as weights:
        got = _npz_strings(weights, "s/.ATTRIBUTES/VARIABLE_VALUE")
    assert got == list(tf.train.load_checkpoint(prefix).get_tensor("s/.ATTRIBUTES/VARIABLE_VALUE"))


def test_npz_refuses_a_name_a_string_tensor_needs(tmp_path):
    with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
        s = tf.compat.v1.Variable([b"x"], name="s")
        n = tf.compat.v1.Variable([1.0], name="n")
        sess.run(tf.compat.v1.global_variables_initializer())
        prefix = tf.compat.v1.train.Saver({"s": s, "s:bytes": n}).save(sess, str(tmp_path / "c"))
    with pytest.raises(ExportError, match="'s:bytes'"):
        export_checkpoint(prefix, tmp_path / "s.npz")
    assert not (tmp_path / "s.npz").exists()


def _types_numpy_lacks() -> dict[str, tf.DType]:
    """Each dtype of this TensorFlow whose NumPy type NumPy lacks (bfloat16, float8...).

    Only those tfpersist's checkpoint reader knows: it refuses the others by name.
    """
    from tfpersist._index import DTYPE_NAMES

    found = {}
    for space in (tf.dtypes, getattr(tf.dtypes, "experimental", None)):
        for value in vars(space).values() if space else ():
            if (
                isinstance(value, tf.DType)
                and value.as_datatype_enum in DTYPE_NAMES
                and value.name not in ("resource", "variant")
                and np.dtype(value.as_numpy_dtype).type.__module__ != "numpy"
            ):
                found[value.name] = value
    return found


def test_npz_every_ml_dtype_loads_back(tmp_path):
    """Types NumPy lacks are widened so np.load reads them; exactly, as TensorFlow reads them."""
    variables = {}
    for name, dtype in _types_numpy_lacks().items():
        values = np.array([[1, -2, 3], [0, 1, -1]]).astype(dtype.as_numpy_dtype)
        try:
            variables[name] = tf.Variable(tf.constant(values))
        except (
            TypeError,
            ValueError,
            tf.errors.OpError,
        ):  # a type this TF cannot hold in a variable
            continue
    assert "bfloat16" in variables  # float8 too where this TF can hold it (2.13 on)
    prefix = tf.train.Checkpoint(**variables).write(str(tmp_path / "c"))
    reader = tf.train.load_checkpoint(prefix)
    export_checkpoint(prefix, tmp_path / "w.npz")
    with np.load(tmp_path / "w.npz") as weights:
        for name in variables:
            key = f"{name}/.ATTRIBUTES/VARIABLE_VALUE"
            theirs = reader.get_tensor(key)
            assert weights[key].dtype.type.__module__ == "numpy", name
            np.testing.assert_array_equal(weights[key], theirs.astype(weights[key].dtype))
            assert weights[key].tolist() == theirs.astype(np.float64).tolist(), name


def test_widening_covers_every_ml_dtypes_type():
    """Each ml_dtypes type, TensorFlow's or not, comes back from np.load with every value."""
    import io

    import ml_dtypes

    from tfpersist.exporting import _write_npz

    types = {
        n: t
        for n, t in vars(ml_dtypes).items()
        if isinstance(t, type) and issubclass(t, np.generic)
    }
    assert "float8_e5m2" in types and "bfloat16" in types
    arrays = {n: np.array([1, 0, -1 if "uint" not in n and "e8m0" not in n else 1]).astype(t)
              for n, t in types.items()}  # fmt: skip
    if "complex32" in types:
        arrays["complex32"] = np.array([1 + 2j, -1j]).astype(types["complex32"])
    buffer = io.BytesIO()
    _write_npz(buffer, arrays.items())
    buffer.seek(0)
    with np.load(buffer) as weights:
        for name, value in arrays.items():
            got = weights[name]
            assert got.dtype.type.__module__ == "numpy", name
            back = got.astype(value.dtype)  # exact: the same bits again
            assert back.view(np.uint8).tolist() == value.view(np.uint8).tolist(), name


def test_npz_numbers_round_trip(tmp_path):
    prefix, expected = numbers_checkpoint(tmp_path / "c")
    assert export_checkpoint(prefix, tmp_path / "n.npz") == sorted(expected)
    with np.load(tmp_path / "n.npz") as weights:
        assert set(weights.files) == set(expected)
        for name, value in expected.items():
            got = weights[name]
            if value.dtype.name == "bfloat16":  # widened, exactly
                assert got.dtype == np.float32
                value = value.astype(np.float32)
            assert got.dtype == value.dtype, name
            np.testing.assert_array_equal(got, value)


def test_safetensors_matches_the_safetensors_package(tmp_path):
    prefix, expected = numbers_checkpoint(tmp_path / "c")
    out = tmp_path / "n.safetensors"
    export_checkpoint(prefix, out)
    bf16 = {n for n, v in expected.items() if v.dtype.name == "bfloat16"}
    with safe_open(out, framework="np") as f:  # the package checks header and offsets
        assert set(f.keys()) == set(expected)
        for name, value in expected.items():
            if name in bf16:  # NumPy has no bfloat16: compared by bytes below
                continue
            got = f.get_tensor(name)
            assert got.dtype == value.dtype, name
            np.testing.assert_array_equal(got, value)
    theirs = save({n: expected[n] for n in bf16})  # the package's own bytes for bfloat16
    assert _raw(out.read_bytes(), bf16) == _raw(theirs, bf16)


def _raw(data: bytes, names) -> dict[str, tuple[str, list, bytes]]:
    size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + size])
    out = {}
    for name in names:
        begin, end = header[name]["data_offsets"]
        out[name] = (
            header[name]["dtype"],
            header[name]["shape"],
            data[8 + size + begin : 8 + size + end],
        )
    return out


@pytest.mark.parametrize(
    "value, what", [([b"x"], "string"), (np.array([1j], np.complex128), "complex128")]
)  # values, not variables: no op runs while the tests are collected
def test_safetensors_refuses_what_it_cannot_hold_before_writing(tmp_path, value, what):
    variable = tf.Variable(value)
    prefix = tf.train.Checkpoint(bad=variable, good=tf.Variable(1.0)).write(str(tmp_path / "c"))
    out = tmp_path / "w.safetensors"
    out.write_bytes(b"the previous file")
    with pytest.raises(ExportError, match=rf"bad/\.ATTRIBUTES/VARIABLE_VALUE \({what}\)"):
        export_checkpoint(prefix, out)
    assert out.read_bytes() == b"the previous file"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["w.safetensors", "c.index", "c.data-00000-of-00001"]
    )
