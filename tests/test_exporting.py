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


def test_npz_keeps_every_byte_of_every_string(tmp_path):
    prefix = tf.train.Checkpoint(s=tf.Variable(STRINGS)).write(str(tmp_path / "c"))
    name = "s/.ATTRIBUTES/VARIABLE_VALUE"
    expected = tf.train.load_checkpoint(prefix).get_tensor(name)
    export_checkpoint(prefix, tmp_path / "s.npz")
    with np.load(tmp_path / "s.npz") as weights:  # allow_pickle=False, NumPy's default
        s = weights[name]
    assert s.shape == expected.shape
    got = [bytes(b).ljust(n, b"\0") for b, n in zip(s["bytes"].flat, s["length"].flat, strict=True)]
    assert got == list(expected.flat)
    assert got == [b for row in STRINGS for b in row]


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
    "variable, what",
    [(tf.Variable([b"x"]), "string"), (tf.Variable([1j], dtype=tf.complex128), "complex128")],
)
def test_safetensors_refuses_what_it_cannot_hold_before_writing(tmp_path, variable, what):
    prefix = tf.train.Checkpoint(bad=variable, good=tf.Variable(1.0)).write(str(tmp_path / "c"))
    out = tmp_path / "w.safetensors"
    out.write_bytes(b"the previous file")
    with pytest.raises(ExportError, match=rf"bad/\.ATTRIBUTES/VARIABLE_VALUE \({what}\)"):
        export_checkpoint(prefix, out)
    assert out.read_bytes() == b"the previous file"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["w.safetensors", "c.index", "c.data-00000-of-00001"]
    )
