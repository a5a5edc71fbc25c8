"""Import: every dtype of safetensors and NumPy, restored by TensorFlow bit for bit; bad files refused."""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import tracemalloc
import zipfile
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest
import tensorflow as tf
from safetensors import SafetensorError
from safetensors.numpy import load, save, save_file

from tfpersist import cli
from tfpersist._layout import OBJECT_GRAPH_KEY, checkpoint_files
from tfpersist.errors import (
    CheckpointNotFoundError,
    CorruptCheckpointError,
    ExportError,
    RewriteError,
)
from tfpersist.exporting import export_checkpoint
from tfpersist.importing import import_weights
from tfpersist.rewriting import convert_checkpoint

V1 = tf.compat.v1

#: Each safetensors dtype whose TensorFlow dtype every release has: its NumPy and TensorFlow dtypes.
COMMON = {
    "BOOL": (np.bool_, "bool"), "U8": (np.uint8, "uint8"), "I8": (np.int8, "int8"),
    "U16": (np.uint16, "uint16"), "I16": (np.int16, "int16"), "U32": (np.uint32, "uint32"),
    "I32": (np.int32, "int32"), "U64": (np.uint64, "uint64"), "I64": (np.int64, "int64"),
    "F16": (np.float16, "float16"), "F32": (np.float32, "float32"),
    "F64": (np.float64, "float64"), "C64": (np.complex64, "complex64"),
    "BF16": (ml_dtypes.bfloat16, "bfloat16"),
}  # fmt: skip
FLOAT8 = {
    "F8_E5M2": (ml_dtypes.float8_e5m2, "float8_e5m2"),
    "F8_E4M3": (ml_dtypes.float8_e4m3fn, "float8_e4m3fn"),
}
FNUZ = {
    "F8_E4M3FNUZ": (ml_dtypes.float8_e4m3fnuz, "float8_e4m3fnuz"),
    "F8_E5M2FNUZ": (ml_dtypes.float8_e5m2fnuz, "float8_e5m2fnuz"),
}
SHAPES = {"matrix": (3, 4), "scalar": (), "empty": (0, 2)}


def random_bits(rng: np.random.Generator, dtype, shape) -> np.ndarray:
    """Values of *dtype* with random bits (NaN payloads too); booleans 0 or 1."""
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return rng.integers(0, 2, size=shape).astype(np.bool_)
    raw = rng.integers(0, 256, size=int(np.prod(shape)) * dtype.itemsize, dtype=np.uint8)
    return raw.view(dtype).reshape(shape)


def weights_of(dtypes: dict) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(11)
    return {
        f"{code}/{kind}": random_bits(rng, numpy_dtype, shape)
        for code, (numpy_dtype, _) in dtypes.items()
        for kind, shape in SHAPES.items()
    }


def header(path) -> dict:
    data = Path(path).read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8 : 8 + length])


def tf_dtype_names(dtypes: dict) -> dict[str, str]:
    return {f"{code}/{kind}": tf_name for code, (_, tf_name) in dtypes.items() for kind in SHAPES}


def zeros(tf_name: str, shape) -> object:
    """An initial value of TensorFlow dtype *tf_name* (float8 from ml_dtypes, which TF 2.12 lacks)."""
    if tf_name.startswith("float8"):
        return np.zeros(shape, getattr(ml_dtypes, tf_name))
    return tf.zeros(shape, tf.as_dtype(tf_name))


def restore_tf1(prefix: str, dtypes: dict[str, str], shapes: dict[str, tuple]) -> dict:
    """Restore *prefix* with a TF1 ``Saver`` into variables of those names, dtypes and shapes."""
    with tf.Graph().as_default() as graph, V1.Session(graph=graph) as sess:
        variables = {
            name: V1.Variable(zeros(dtypes[name], shapes[name]), name=name) for name in dtypes
        }
        assert {n: v.dtype.base_dtype.name for n, v in variables.items()} == dtypes
        V1.train.Saver(variables).restore(sess, prefix)
        return sess.run(variables)


def restore_tf2(prefix: str, dtypes: dict[str, str], shapes: dict[str, tuple]) -> dict:
    """Restore *prefix* into ``tf.train.Checkpoint(**{name: variable})``, every value consumed."""
    variables = {name: tf.Variable(zeros(dtypes[name], shapes[name])) for name in dtypes}
    tf.train.Checkpoint(**variables).read(prefix).assert_consumed()
    return {name: v.numpy() for name, v in variables.items()}


def assert_same_bits(got: dict, expected: dict[str, np.ndarray]) -> None:
    assert set(got) == set(expected)
    for name, value in expected.items():
        assert np.shape(got[name]) == value.shape, name
        assert np.asarray(got[name]).tobytes() == value.tobytes(), name


def import_and_restore(tmp_path, dtypes: dict, to: str) -> None:
    weights = weights_of(dtypes)
    save_file(weights, str(tmp_path / "w.safetensors"))
    written = header(tmp_path / "w.safetensors")
    assert {n: written[n]["dtype"] for n in weights} == {n: n.split("/")[0] for n in weights}
    prefix = str(tmp_path / "ckpt")
    keys = import_weights(tmp_path / "w.safetensors", prefix, to=to)
    assert len(keys) == len(weights)
    restore = restore_tf1 if to == "tf1" else restore_tf2
    shapes = {n: v.shape for n, v in weights.items()}
    assert_same_bits(restore(prefix, tf_dtype_names(dtypes), shapes), weights)


@pytest.mark.parametrize("to", ["tf1", "tf2"])
def test_every_common_safetensors_dtype_restores_bit_for_bit(tmp_path, to):
    import_and_restore(tmp_path, COMMON, to)


@pytest.mark.requires_tf(">=2.15")
@pytest.mark.parametrize("to", ["tf1", "tf2"])
def test_float8_restores_into_variables_bit_for_bit(tmp_path, to):
    import_and_restore(tmp_path, FLOAT8, to)


@pytest.mark.parametrize(
    "dtypes", [FLOAT8, pytest.param(FNUZ, marks=pytest.mark.requires_tf(">=2.21"))]
)
def test_float8_reads_back_with_tensorflow_bit_for_bit(tmp_path, dtypes):
    weights = weights_of(dtypes)
    save_file(weights, str(tmp_path / "w.safetensors"))
    import_weights(tmp_path / "w.safetensors", tmp_path / "ckpt")
    reader = tf.train.load_checkpoint(str(tmp_path / "ckpt"))
    dtype_map = {n: d.name for n, d in reader.get_variable_to_dtype_map().items()}
    assert dtype_map == tf_dtype_names(dtypes)
    assert_same_bits({n: reader.get_tensor(n) for n in weights}, weights)


@pytest.mark.parametrize("to", ["tf1", "tf2"])
def test_every_npz_dtype_restores_bit_for_bit(tmp_path, to):
    rng = np.random.default_rng(5)
    dtypes = [
        "bool", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64",
        "float16", "float32", "float64", "complex64", "complex128",
    ]  # fmt: skip
    weights = {f"n/{d}": random_bits(rng, d, (2, 3)) for d in dtypes}
    weights["n/fortran"] = np.asfortranarray(random_bits(rng, np.float32, (3, 5)))
    weights["n/big_endian"] = random_bits(rng, ">i4", (4,))
    weights["n/scalar"] = np.float64(2.5)
    weights["n/empty"] = np.zeros((0, 3), np.int16)
    np.savez(tmp_path / "w.npz", **weights)
    names = {n: np.asarray(v).dtype.name for n, v in weights.items()}
    assert names["n/fortran"] == "float32" and names["n/big_endian"] == "int32"
    import_weights(tmp_path / "w.npz", tmp_path / "ckpt", to=to)
    restore = restore_tf1 if to == "tf1" else restore_tf2
    got = restore(str(tmp_path / "ckpt"), names, {n: np.shape(v) for n, v in weights.items()})
    expected = {
        n: np.asarray(v).astype(np.dtype(v.dtype).newbyteorder("<"), order="C")
        for n, v in weights.items()
    }
    assert_same_bits(got, expected)


STRINGS = [[b"a\0", b"\0\0", b""], [b"\xff\xfe\0x", b"tail\0\0\0", "中文".encode()]]


def restore_strings_tf1(prefix: str, name: str, shape) -> list:
    with tf.Graph().as_default() as graph, V1.Session(graph=graph) as sess:
        variable = V1.Variable(tf.fill(shape, b"?"), name=name)
        V1.train.Saver([variable]).restore(sess, prefix)
        return sess.run(variable).tolist()


def test_exported_strings_come_back_as_strings(tmp_path):
    source = tf.train.Checkpoint(s=tf.Variable(STRINGS)).write(str(tmp_path / "source"))
    export_checkpoint(source, tmp_path / "s.npz")
    mapping = {"s/.ATTRIBUTES/VARIABLE_VALUE": "s"}
    assert import_weights(tmp_path / "s.npz", tmp_path / "tf2", to="tf2", mapping=mapping) == [
        "s/.ATTRIBUTES/VARIABLE_VALUE"
    ]
    variable = tf.Variable(tf.fill([2, 3], b"?"))
    tf.train.Checkpoint(s=variable).read(str(tmp_path / "tf2")).assert_consumed()
    assert variable.numpy().tolist() == STRINGS
    import_weights(tmp_path / "s.npz", tmp_path / "tf1", mapping=mapping)
    assert restore_strings_tf1(str(tmp_path / "tf1"), "s", [2, 3]) == STRINGS


def test_numpy_byte_and_text_arrays_become_strings(tmp_path):
    np.savez(tmp_path / "w.npz", b=np.array([b"ab", b"c"]), u=np.array([["中文", "x"]]))
    import_weights(tmp_path / "w.npz", tmp_path / "ckpt")
    reader = tf.train.load_checkpoint(str(tmp_path / "ckpt"))
    assert reader.get_tensor("b").tolist() == [b"ab", b"c"]
    assert reader.get_tensor("u").tolist() == [["中文".encode(), b"x"]]


def test_a_compressed_npz_is_read(tmp_path):
    weights = {"w": np.arange(1000, dtype=np.float32).reshape(10, 100), "s": np.array([b"x"])}
    np.savez_compressed(tmp_path / "w.npz", **weights)
    import_weights(tmp_path / "w.npz", tmp_path / "ckpt")
    reader = tf.train.load_checkpoint(str(tmp_path / "ckpt"))
    assert reader.get_tensor("w").tobytes() == weights["w"].tobytes()
    assert reader.get_tensor("s").tolist() == [b"x"]


@pytest.mark.parametrize("suffix", [".npz", ".safetensors"])
def test_a_tensorflow_checkpoint_makes_the_round_trip(tmp_path, suffix):
    """TensorFlow → export → import → TensorFlow: every value as it was (``.npz`` widens bfloat16)."""
    rng = np.random.default_rng(3)
    dtypes = [tf.bool, tf.uint8, tf.int16, tf.int32, tf.int64, tf.float16, tf.float32]
    dtypes += [tf.float64, tf.complex64, tf.bfloat16, tf.uint32, tf.uint64]
    variables = {
        d.name: tf.Variable(tf.cast(tf.constant(rng.normal(size=(2, 5)) * 50), d)) for d in dtypes
    }
    prefix = tf.train.Checkpoint(**variables).write(str(tmp_path / "source"))
    names = export_checkpoint(prefix, tmp_path / f"w{suffix}")
    import_weights(tmp_path / f"w{suffix}", tmp_path / "back")
    before, after = (
        tf.train.load_checkpoint(prefix),
        tf.train.load_checkpoint(str(tmp_path / "back")),
    )
    assert sorted(after.get_variable_to_shape_map()) == sorted(names)
    for name in names:
        old, new = before.get_tensor(name), after.get_tensor(name)
        if suffix == ".npz" and "bfloat16" in name:
            assert after.get_variable_to_dtype_map()[name] == tf.float32
            old = old.astype(np.float32)
        else:
            assert (
                after.get_variable_to_dtype_map()[name] == before.get_variable_to_dtype_map()[name]
            )
        assert new.tobytes() == old.tobytes(), name


def linear(tmp_path) -> tuple[Path, np.ndarray, np.ndarray]:
    """A PyTorch ``Linear(3, 4)``'s weights, as its ``state_dict`` names them."""
    rng = np.random.default_rng(0)
    weight = rng.normal(size=(4, 3)).astype(np.float32)  # [out_features, in_features]
    bias = rng.normal(size=(4,)).astype(np.float32)
    path = tmp_path / "linear.safetensors"
    save_file({"fc.weight": weight, "fc.bias": bias}, str(path))
    return path, weight, bias


@pytest.mark.parametrize("to", ["tf1", "tf2"])
def test_a_transposed_linear_layer_computes_what_pytorch_computes(tmp_path, to):
    path, weight, bias = linear(tmp_path)
    mapping = {"fc.weight": "dense/kernel", "fc.bias": "dense/bias"}
    import_weights(path, tmp_path / "ckpt", to=to, mapping=mapping, transpose=["dense/kernel"])
    restore = restore_tf1 if to == "tf1" else restore_tf2
    dtypes = {"dense/kernel": "float32", "dense/bias": "float32"}
    got = restore(str(tmp_path / "ckpt"), dtypes, {"dense/kernel": (3, 4), "dense/bias": (4,)})
    x = np.random.default_rng(1).normal(size=(5, 3)).astype(np.float32)
    keras = tf.matmul(x, got["dense/kernel"]) + got["dense/bias"]  # what Dense computes
    np.testing.assert_allclose(keras.numpy(), x @ weight.T + bias, rtol=1e-6)
    assert got["dense/kernel"].tobytes() == np.ascontiguousarray(weight.T).tobytes()


def test_transpose_takes_patterns(tmp_path):
    weights = {f"l{i}/kernel": np.arange(6, dtype=np.float32).reshape(2, 3) for i in range(2)}
    weights["l0/bias"] = np.zeros(3, np.float32)
    weights["odd[1]"] = np.ones((1, 2), np.float32)  # a name that is not a pattern of itself
    save_file(weights, str(tmp_path / "w.safetensors"))
    import_weights(tmp_path / "w.safetensors", tmp_path / "ckpt", transpose=["*/kernel", "odd[1]"])
    assert tf.train.list_variables(str(tmp_path / "ckpt")) == [
        ("l0/bias", [3]), ("l0/kernel", [3, 2]), ("l1/kernel", [3, 2]), ("odd[1]", [2, 1]),
    ]  # fmt: skip


def assert_nothing_written(directory: Path) -> None:
    assert not directory.exists() or not any(directory.iterdir()), list(directory.iterdir())


@pytest.mark.parametrize(
    ("transpose", "message"),
    [
        (
            ["dense/kernal"],
            "--transpose 'dense/kernal' matches no tensor (did you mean 'dense/kernel'?)",
        ),
        (["dense/*"], "matches 'dense/bias' of shape [4], but only 2-D tensors are transposed"),
    ],
)
def test_a_transpose_that_cannot_be_done_is_refused(tmp_path, transpose, message):
    path, _, _ = linear(tmp_path)
    mapping = {"fc.weight": "dense/kernel", "fc.bias": "dense/bias"}
    with pytest.raises(RewriteError) as raised:
        import_weights(path, tmp_path / "out" / "ckpt", mapping=mapping, transpose=transpose)
    assert message in str(raised.value)
    assert_nothing_written(tmp_path / "out")


def test_mapping_renames_names_and_scopes(tmp_path):
    weights = {n: np.ones(1, np.float32) for n in ["enc/a", "enc/b/c", "enc_1/a", "head"]}
    save_file(weights, str(tmp_path / "w.safetensors"))
    names = import_weights(
        tmp_path / "w.safetensors", tmp_path / "ckpt", mapping={"enc": "encoder", "head": "out/w"}
    )
    assert names == ["enc_1/a", "encoder/a", "encoder/b/c", "out/w"]
    assert [n for n, _ in tf.train.list_variables(str(tmp_path / "ckpt"))] == names


@pytest.mark.parametrize(
    ("mapping", "to", "message"),
    [
        ({"encx": "e"}, "tf1", "--map 'encx' matches no tensor (did you mean 'enc/a'?)"),
        ({"enc/a": "head"}, "tf1", "'enc/a' and 'head' would both be named 'head'"),
        ({"head": OBJECT_GRAPH_KEY}, "tf1", "'head' would be named '_CHECKPOINTABLE_OBJECT_GRAPH'"),
        ({"head": ""}, "tf2", "'head' would be renamed to ''"),
        ({"head": "save_counter"}, "tf2", "'head' would be named 'save_counter'"),
    ],
)
def test_a_mapping_that_cannot_be_done_is_refused(tmp_path, mapping, to, message):
    save_file({"enc/a": np.ones(1), "head": np.ones(1)}, str(tmp_path / "w.safetensors"))
    with pytest.raises(RewriteError) as raised:
        import_weights(
            tmp_path / "w.safetensors", tmp_path / "out" / "ckpt", to=to, mapping=mapping
        )
    assert str(raised.value).startswith(message)
    assert_nothing_written(tmp_path / "out")


def test_tf2_is_what_convert_makes_of_tf1(tmp_path):
    save_file({"a/b.c": np.ones(2), "z": np.zeros(1, np.int8)}, str(tmp_path / "w.safetensors"))
    import_weights(tmp_path / "w.safetensors", tmp_path / "tf1")
    import_weights(tmp_path / "w.safetensors", tmp_path / "tf2", to="tf2")
    convert_checkpoint(tmp_path / "tf1", tmp_path / "converted", to="tf2")
    ours, theirs = (tf.train.load_checkpoint(str(tmp_path / p)) for p in ["tf2", "converted"])
    assert ours.get_variable_to_shape_map() == theirs.get_variable_to_shape_map()
    for name in ours.get_variable_to_shape_map():  # the object graph is bytes, the rest arrays
        assert (
            np.asarray(ours.get_tensor(name)).tobytes()
            == np.asarray(theirs.get_tensor(name)).tobytes()
        )
    assert ours.get_tensor(OBJECT_GRAPH_KEY) == theirs.get_tensor(OBJECT_GRAPH_KEY)


def test_the_format_is_told_by_content(tmp_path):
    save_file({"s": np.ones(2, np.float32)}, str(tmp_path / "weights.npz"))
    with open(tmp_path / "weights.bin", "wb") as f:  # given a name, np.savez would add .npz
        np.savez(f, n=np.ones(2, np.int8))
    assert import_weights(tmp_path / "weights.npz", tmp_path / "a") == ["s"]
    assert import_weights(tmp_path / "weights.bin", tmp_path / "b") == ["n"]


def test_a_checkpoint_at_the_prefix_is_kept_unless_overwrite(tmp_path):
    save_file({"x": np.ones(2, np.float32)}, str(tmp_path / "w.safetensors"))
    import_weights(tmp_path / "w.safetensors", tmp_path / "ckpt")
    save_file({"y": np.ones(2, np.float32)}, str(tmp_path / "w.safetensors"))
    with pytest.raises(ExportError, match="already holds a checkpoint"):
        import_weights(tmp_path / "w.safetensors", tmp_path / "ckpt")
    assert tf.train.list_variables(str(tmp_path / "ckpt")) == [("x", [2])]
    import_weights(tmp_path / "w.safetensors", tmp_path / "ckpt", overwrite=True)
    assert tf.train.list_variables(str(tmp_path / "ckpt")) == [("y", [2])]


def safetensors_bytes(head: dict | bytes, data: bytes, length: int | None = None) -> bytes:
    text = head if isinstance(head, bytes) else json.dumps(head).encode()
    return struct.pack("<Q", len(text) if length is None else length) + text + data


def f32(shape: list[int], begin: int, end: int) -> dict:
    return {"dtype": "F32", "shape": shape, "data_offsets": [begin, end]}


GOOD = save({"a": np.arange(6, dtype=np.float32), "b": np.ones((2, 2), np.int16)})
DATA = bytes(24)
MALFORMED = {
    "truncated data": GOOD[:-3],
    "truncated header": GOOD[:20],
    "huge header length": struct.pack("<Q", 2**60) + GOOD[8:],
    "header length past the end": struct.pack("<Q", len(GOOD)) + GOOD[8:],
    "bad JSON": safetensors_bytes(b'{"a": {"dtype": "F32",', DATA),
    "not UTF-8": safetensors_bytes(b'{"\xff": 1}', DATA),
    "not an object": safetensors_bytes(b"[1, 2]", DATA),
    "key twice": safetensors_bytes(
        b'{"a": {"dtype": "F32", "shape": [6], "data_offsets": [0, 24]}, '
        b'"a": {"dtype": "F32", "shape": [6], "data_offsets": [0, 24]}}',
        DATA,
    ),
    "lone surrogate": safetensors_bytes(
        b'{"\\ud800": {"dtype": "F32", "shape": [6], "data_offsets": [0, 24]}}', DATA
    ),
    "unknown dtype": safetensors_bytes({"a": {**f32([6], 0, 24), "dtype": "F12"}}, DATA),
    "dtype not a string": safetensors_bytes({"a": {**f32([6], 0, 24), "dtype": ["F32"]}}, DATA),
    "size mismatch": safetensors_bytes({"a": f32([2, 2], 0, 24)}, DATA),
    "overlap": safetensors_bytes({"a": f32([6], 0, 24), "b": f32([2], 16, 24)}, DATA),
    "out of range": safetensors_bytes({"a": f32([6], 0, 24), "b": f32([2], 24, 32)}, DATA),
    "gap": safetensors_bytes({"a": f32([2], 0, 8), "b": f32([2], 16, 24)}, DATA),
    "trailing bytes": safetensors_bytes({"a": f32([6], 0, 24)}, DATA + b"x"),
    "negative size": safetensors_bytes({"a": f32([-6], 0, 24)}, DATA),
    "float size": safetensors_bytes({"a": f32([6.0], 0, 24)}, DATA),
    "boolean size": safetensors_bytes({"a": f32([True], 0, 4)}, DATA[:4]),
    "reversed offsets": safetensors_bytes({"a": f32([6], 24, 0)}, DATA),
    "one offset": safetensors_bytes({"a": {**f32([6], 0, 24), "data_offsets": [24]}}, DATA),
    "no dtype": safetensors_bytes({"a": {"shape": [6], "data_offsets": [0, 24]}}, DATA),
    "metadata not strings": safetensors_bytes(
        {"__metadata__": {"k": 1}, "a": f32([6], 0, 24)}, DATA
    ),
    "shape NumPy refuses": safetensors_bytes({"a": f32([0, 2**62], 0, 0)}, b""),
    "empty": b"",
    "neither format": b"\0" * 64,
}


@pytest.mark.parametrize("case", MALFORMED)
def test_a_malformed_safetensors_file_is_refused(tmp_path, case):
    (tmp_path / "bad.safetensors").write_bytes(MALFORMED[case])
    with pytest.raises(CorruptCheckpointError, match=r"cannot import .*bad\.safetensors"):
        import_weights(tmp_path / "bad.safetensors", tmp_path / "out" / "ckpt")
    assert_nothing_written(tmp_path / "out")
    if case != "key twice":  # which safetensors reads, keeping one of the two
        with pytest.raises((SafetensorError, ValueError)):  # the package refuses it too
            load(MALFORMED[case])


def test_the_file_the_malformed_ones_start_from_is_sound(tmp_path):
    (tmp_path / "good.safetensors").write_bytes(GOOD)
    assert import_weights(tmp_path / "good.safetensors", tmp_path / "ckpt") == ["a", "b"]
    assert set(load(GOOD)) == {"a", "b"}


def test_a_dtype_tensorflow_lacks_is_refused_by_name(tmp_path):
    head = {"e8": {"dtype": "F8_E8M0", "shape": [4], "data_offsets": [0, 4]}, "a": f32([1], 4, 8)}
    (tmp_path / "w.safetensors").write_bytes(safetensors_bytes(head, bytes(8)))
    with pytest.raises(
        ExportError, match=r"TensorFlow has no dtype for these tensors: e8 \(F8_E8M0\)"
    ):
        import_weights(tmp_path / "w.safetensors", tmp_path / "out" / "ckpt")
    assert_nothing_written(tmp_path / "out")


class Touch:
    """Unpickled, it creates the directory *path*: proof that something ran."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (os.mkdir, (self.path,))


def test_an_object_array_is_refused_never_unpickled(tmp_path):
    marker = tmp_path / "ran"
    objects = np.empty(1, dtype=object)
    objects[0] = Touch(str(marker))
    np.savez(tmp_path / "w.npz", numbers=np.ones(2), objects=objects)
    with pytest.raises(ExportError, match="'objects' is an array of Python objects"):
        import_weights(tmp_path / "w.npz", tmp_path / "out" / "ckpt")
    assert not marker.exists()
    assert_nothing_written(tmp_path / "out")
    with np.load(tmp_path / "w.npz", allow_pickle=True) as unsafe:
        unsafe["objects"]
    assert marker.exists()  # the payload was live


def npz_member(tmp_path, name: str, raw: bytes) -> Path:
    path = tmp_path / "w.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("ok.npy", _npy(np.ones(2)))
        archive.writestr(name, raw)
    return path


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def test_a_datetime_array_is_refused(tmp_path):
    np.savez(tmp_path / "w.npz", when=np.array(["2024-01-01"], dtype="datetime64[D]"))
    with pytest.raises(ExportError, match="TensorFlow has no dtype for 'when'"):
        import_weights(tmp_path / "w.npz", tmp_path / "out" / "ckpt")
    assert_nothing_written(tmp_path / "out")


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("not a zip", "it is not a zip archive"),
        ("truncated", "not a readable zip archive"),
        ("not npy", "'notes.txt' is not a .npy array"),
        ("bad magic", "cannot be read"),
        ("short data", "holds 8 bytes of data, but its header says float32 of shape [1000]: 4000"),
        ("strings not paired right", "are not the uint8 bytes and int64 lengths"),
    ],
)
def test_a_malformed_npz_file_is_refused(tmp_path, case, message):
    if case == "not a zip":
        path = tmp_path / "w.npz"
        path.write_bytes(b"not a zip at all")
    elif case == "truncated":
        np.savez(tmp_path / "w.npz", a=np.ones(100))
        path = tmp_path / "w.npz"
        path.write_bytes(path.read_bytes()[:-30])
    elif case == "not npy":
        path = npz_member(tmp_path, "notes.txt", b"hello")
    elif case == "bad magic":
        path = npz_member(tmp_path, "x.npy", b"\x93NUMPX" + bytes(100))
    elif case == "short data":
        raw = io.BytesIO()
        np.lib.format.write_array_header_1_0(
            raw, {"descr": "<f4", "fortran_order": False, "shape": (1000,)}
        )
        path = npz_member(tmp_path, "x.npy", raw.getvalue() + bytes(8))
    else:
        path = tmp_path / "w.npz"
        np.savez(path, **{"s:bytes": np.ones(3, np.float32), "s:lengths": np.ones(3, np.int64)})
    with pytest.raises(CorruptCheckpointError) as raised:
        import_weights(path, tmp_path / "out" / "ckpt")
    assert message in str(raised.value)
    assert_nothing_written(tmp_path / "out")


@pytest.mark.parametrize("case", ["bad CRC", "lengths do not add up"])
def test_a_damage_found_while_writing_leaves_the_old_checkpoint(tmp_path, case):
    save_file({"old": np.ones(2, np.float32)}, str(tmp_path / "old.safetensors"))
    import_weights(tmp_path / "old.safetensors", tmp_path / "ckpt")
    before = {f: Path(f).read_bytes() for f in checkpoint_files(tmp_path / "ckpt")}
    path = tmp_path / "w.npz"
    if case == "bad CRC":
        np.savez(path, a=np.ones(4), b=np.full(64, 7.0))
        data = path.read_bytes()
        at = data.index(np.full(64, 7.0).tobytes())
        path.write_bytes(data[:at] + b"\1" + data[at + 1 :])
    else:
        np.savez(
            path, a=np.ones(4), **{"s:bytes": np.zeros(5, np.uint8), "s:lengths": np.int64([2, 2])}
        )
    with pytest.raises(CorruptCheckpointError, match="cannot import"):
        import_weights(path, tmp_path / "ckpt", overwrite=True)
    assert {f: Path(f).read_bytes() for f in checkpoint_files(tmp_path / "ckpt")} == before
    assert sorted(os.listdir(tmp_path)) == [
        "ckpt.data-00000-of-00001",
        "ckpt.index",
        "old.safetensors",
        "w.npz",
    ]


@pytest.mark.parametrize("suffix", [".safetensors", ".npz"])
def test_memory_holds_one_tensor_at_a_time(tmp_path, suffix):
    size = 4 << 20
    weights = {f"t{i}": np.full(size // 4, i, np.float32) for i in range(8)}
    if suffix == ".npz":
        np.savez(tmp_path / "w.npz", **weights)
    else:
        save_file(weights, str(tmp_path / "w.safetensors"))
    tracemalloc.start()
    try:
        import_weights(tmp_path / f"w{suffix}", tmp_path / "ckpt", to="tf2")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # .npz: one tensor read at a time; .safetensors: mapped, never read into memory
    assert peak < (1.5 * size if suffix == ".npz" else size / 2), peak
    reader = tf.train.load_checkpoint(str(tmp_path / "ckpt"))
    for name, value in weights.items():
        assert reader.get_tensor(f"{name}/.ATTRIBUTES/VARIABLE_VALUE").tobytes() == value.tobytes()


def test_the_command_imports(tmp_path, capsys):
    path, weight, _ = linear(tmp_path)
    prefix = str(tmp_path / "ckpt")
    argv = ["import", str(path), prefix, "--to", "tf2", "--map", "fc.weight=dense/kernel"]
    assert cli.main([*argv, "--map", "fc.bias=dense/bias", "--transpose", "*/kernel"]) == 0
    assert capsys.readouterr().out == f"wrote 2 tensors to TF2 checkpoint {prefix}\n"
    got = restore_tf2(
        prefix,
        {"dense/kernel": "float32", "dense/bias": "float32"},
        {"dense/kernel": (3, 4), "dense/bias": (4,)},
    )
    assert got["dense/kernel"].tobytes() == np.ascontiguousarray(weight.T).tobytes()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{bad}", "{out}"], "cannot import"),
        (["{good}", "{out}", "--map", "fc.weight"], "--map 'fc.weight': write OLD=NEW"),
        (
            ["{good}", "{out}", "--transpose", "nothing*"],
            "--transpose 'nothing*' matches no tensor",
        ),
        (["{good}", "{out}", "--transpose", "fc.bias"], "only 2-D tensors are transposed"),
        (["{tmp}/missing.npz", "{out}"], "No such file or directory"),
        (["{tmp}", "{out}"], "Is a directory"),
    ],
)
def test_the_command_says_what_is_wrong_in_one_line(tmp_path, args, message):
    good, _, _ = linear(tmp_path)
    (tmp_path / "bad.safetensors").write_bytes(MALFORMED["overlap"])
    paths = {"good": good, "bad": tmp_path / "bad.safetensors", "out": tmp_path / "out" / "c"}
    args = [a.format(tmp=tmp_path, **paths) for a in args]
    result = subprocess.run(
        [sys.executable, "-m", "tfpersist", "import", *args], capture_output=True, text=True
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stderr.startswith("tfpersist: error: ") and message in result.stderr
    assert result.stdout == ""
    assert_nothing_written(tmp_path / "out")


def test_importing_needs_no_tensorflow(tmp_path):
    save_file({"w": np.ones((2, 3), np.float32)}, str(tmp_path / "w.safetensors"))
    code = (
        "import sys; from tfpersist.importing import import_weights; "
        "import_weights('w.safetensors', 'ckpt', to='tf2', transpose=['w']); "
        "print('tensorflow' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path
    )
    assert result.stdout == "False\n", result.stderr
    assert tf.train.list_variables(str(tmp_path / "ckpt"))[1] == (
        "w/.ATTRIBUTES/VARIABLE_VALUE",
        [3, 2],
    )


def test_a_fifo_is_refused_without_waiting(tmp_path):
    fifo = tmp_path / "w.safetensors"
    os.mkfifo(fifo)
    with pytest.raises(CheckpointNotFoundError, match="not a regular file"):
        import_weights(fifo, tmp_path / "out" / "ckpt")
    assert_nothing_written(tmp_path / "out")


@pytest.mark.parametrize("method", [zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
def test_a_damaged_compressed_member_is_a_corrupt_file(method, tmp_path):
    buffer = io.BytesIO()
    np.save(buffer, np.arange(1 << 16, dtype=np.float32))
    path = tmp_path / "w.npz"
    with zipfile.ZipFile(path, "w", compression=method) as archive:
        archive.writestr("w.npy", buffer.getvalue())
    data = bytearray(path.read_bytes())
    start = len(data) // 2
    data[start : start + 64] = bytes(64)  # inside the compressed stream, past the .npy header
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptCheckpointError, match="cannot be read"):
        import_weights(path, tmp_path / "out" / "ckpt")
    assert_nothing_written(tmp_path / "out")
    command = [sys.executable, "-m", "tfpersist", "import", str(path), str(tmp_path / "o2" / "c")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
