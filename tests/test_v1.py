"""V1 checkpoints (one table per shard, written before TF 1.0 or on request) against TensorFlow."""

from __future__ import annotations

import json
import os
import shutil
import struct
from pathlib import Path

import cramjam
import numpy as np
import pytest
import tensorflow as tf
from bundle_writer import field, table, varint
from lean import refused_lean

from tfpersist import _sstable, bundle, checkpoint_state, cli, meta_graph, restoring
from tfpersist._index import slice_key
from tfpersist.errors import CheckpointNotFoundError, CorruptCheckpointError

V1 = tf.compat.v1.train.SaverDef.V1
#: Every dtype the V1 saver writes on every supported release.
DTYPES = [
    tf.float16, tf.float32, tf.float64, tf.complex64, tf.complex128,
    tf.int8, tf.int16, tf.int32, tf.int64, tf.uint8, tf.uint16, tf.bool, tf.string,
    tf.qint8, tf.quint8, tf.qint32,
]  # fmt: skip


def _value(dtype: tf.DType, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Random values; floats get random bits (NaN payloads, -0.0, infinities)."""
    count = int(np.prod(shape))
    if dtype == tf.string:
        pool = [b"", b"\x00", b"\xff\x00a", "名".encode(), bytes(range(256))]
        return np.array([pool[i % len(pool)] for i in range(count)], dtype=object).reshape(shape)
    if dtype == tf.bool:
        return rng.integers(0, 2, count).astype(bool).reshape(shape)
    numpy = np.dtype(dtype.base_dtype.as_numpy_dtype) if not dtype.is_quantized else None
    numpy = numpy or {tf.qint8: np.int8, tf.quint8: np.uint8, tf.qint32: np.int32}[dtype]
    numpy = np.dtype(numpy)
    bits = rng.integers(0, 256, count * numpy.itemsize, dtype=np.uint8).tobytes()
    value = np.frombuffer(bits, dtype=numpy).copy()
    if numpy.kind == "f" and count >= 2:
        value[:2] = [-0.0, np.inf]
    return value.reshape(shape)


def _save(prefix: Path, values: dict[str, np.ndarray], dtypes: dict[str, tf.DType], **kw) -> str:
    prefix.parent.mkdir(parents=True, exist_ok=True)
    with tf.Graph().as_default() as graph:
        variables = [
            tf.compat.v1.Variable(tf.constant(v, dtype=dtypes[n]), name=n, use_resource=False)
            for n, v in values.items()
        ]
        saver = tf.compat.v1.train.Saver(variables, write_version=V1, **kw)
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            return saver.save(sess, str(prefix), write_meta_graph=False)


def _restored(prefix: str, specs: dict[str, tuple[tf.DType, list[int]]]) -> dict[str, object]:
    """What ``Saver.restore`` puts into fresh variables: TensorFlow's reading of each tensor."""
    with tf.Graph().as_default() as graph:
        variables = {
            n: tf.compat.v1.Variable(tf.zeros(shape, dtype), name=n, use_resource=False)
            for n, (dtype, shape) in specs.items()
        }
        with tf.compat.v1.Session(graph=graph) as sess:
            tf.compat.v1.train.Saver(variables).restore(sess, prefix)
            return sess.run(variables)


def _same(ours: np.ndarray, theirs: object, dtype: tf.DType) -> None:
    theirs = np.asarray(theirs, dtype=object if dtype == tf.string else None)
    assert ours.shape == theirs.shape
    if dtype == tf.string:
        assert [type(s) for s in ours.ravel()] == [bytes] * ours.size  # also in a 0-d array
        assert ours.tolist() == theirs.tolist()
    else:
        assert ours.tobytes() == theirs.tobytes()


def test_every_dtype_bit_exact(tmp_path):
    rng = np.random.default_rng(1)
    values, dtypes = {}, {}
    for i, dtype in enumerate(DTYPES):
        for shape in [(), (0,), (3, 5)]:
            name = f"{dtype.name}_{len(shape)}_{i}"
            values[name], dtypes[name] = _value(dtype, shape, rng), dtype
    prefix = _save(tmp_path / "m" / "model.ckpt", values, dtypes)
    assert checkpoint_state.v1_files(prefix) == [prefix]
    assert bundle.list_variables(prefix) == tf.train.list_variables(prefix)
    reader = bundle.load_checkpoint(prefix)
    assert {n: d.name for n, d in reader.get_variable_to_dtype_map().items()} == {
        n: np.dtype(d.as_numpy_dtype).name if not d.is_quantized else n.split("_")[0][1:]
        for n, d in dtypes.items()
    }
    restored = _restored(prefix, {n: (dtypes[n], list(v.shape)) for n, v in values.items()})
    tf_reader = tf.train.load_checkpoint(prefix)
    for name, dtype in dtypes.items():
        ours = reader.get_tensor(name)
        _same(ours, restored[name], dtype)
        if dtype in (tf.float32, tf.float64, tf.int32, tf.int64, tf.uint8, tf.string):
            _same(ours, tf_reader.get_tensor(name), dtype)  # the dtypes TF's own reader reads


def test_partitioned_sharded_and_resource_variables(tmp_path, two_cpus):
    (tmp_path / "m").mkdir()
    rng = np.random.default_rng(2)
    with tf.Graph().as_default() as graph:
        with tf.device("/cpu:0"):
            part = tf.compat.v1.get_variable(
                "part",
                shape=[7, 3],
                initializer=tf.compat.v1.random_normal_initializer(seed=2),
                partitioner=tf.compat.v1.fixed_size_partitioner(3),
            )
            words = tf.compat.v1.Variable([b"a\x00", b"\xff"], name="words")
        with tf.device("/cpu:1"):
            res = tf.compat.v1.Variable(rng.integers(0, 9, (2, 2)), name="res", use_resource=True)
        saver = tf.compat.v1.train.Saver(write_version=V1, sharded=True)
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            prefix = saver.save(sess, str(tmp_path / "m" / "model.ckpt"), global_step=4)
            expected = sess.run({"part": part.as_tensor(), "words": words, "res": res})
    assert prefix.endswith("model.ckpt-4-?????-of-00002")
    assert len(checkpoint_state.v1_files(prefix)) == 2
    assert checkpoint_state.resolve_prefix(tmp_path / "m") == prefix
    assert checkpoint_state.resolve_prefix(prefix[: -len("-?????-of-00002")]) == prefix
    assert bundle.list_variables(prefix) == tf.train.list_variables(prefix)
    reader = bundle.load_checkpoint(tmp_path / "m")
    assert reader.num_shards == 2 and len(reader.entry("part").slices) == 3
    restored = _restored(prefix, {"part": (tf.float32, [7, 3])})
    _same(reader.get_tensor("part"), restored["part"], tf.float32)
    _same(reader.get_tensor("part"), expected["part"], tf.float32)
    for name, dtype in [("words", tf.string), ("res", tf.int64)]:
        _same(reader.get_tensor(name), tf.train.load_checkpoint(prefix).get_tensor(name), dtype)
    os.remove(checkpoint_state.v1_files(prefix)[1])
    assert not checkpoint_state.is_complete(prefix)
    with pytest.raises(CheckpointNotFoundError, match="1 of its 2 shards are missing"):
        bundle.load_checkpoint(prefix)


def _raw_v1(path: Path, names: list[bytes], value: np.ndarray) -> None:
    """Save *value* under each name in two slices, with TF's raw V1 op."""
    half = value.shape[0] // 2
    specs = [
        f"{value.shape[0]} {value.shape[1]} 0,{half}:-",
        f"{value.shape[0]} {value.shape[1]} {half},{value.shape[0] - half}:-",
    ]
    tf.raw_ops.SaveSlices(
        filename=str(path),
        tensor_names=[n for n in names for _ in specs],
        shapes_and_slices=specs * len(names),
        data=[part for _ in names for part in (value[:half], value[half:])],
    )


def test_names_with_escaped_bytes_in_slice_keys(tmp_path):
    # TensorFlow cannot read a V1 name that is not UTF-8 (it is a proto string): no 0xFF here
    names = [b"a\x00b", b"\x00", b"e\x01f", "名字/ÿ".encode()]
    value = np.arange(12, dtype=np.float32).reshape(4, 3)
    _raw_v1(tmp_path / "v1.ckpt", names, value)
    reader = bundle.load_checkpoint(tmp_path / "v1.ckpt")
    found = {n.encode("utf-8", "surrogateescape"): n for n in reader.get_variable_to_shape_map()}
    assert sorted(found) == sorted(names)
    for raw, name in found.items():
        [theirs] = tf.raw_ops.RestoreV2(
            prefix=str(tmp_path / "v1.ckpt"), tensor_names=[raw], shape_and_slices=[""],
            dtypes=[tf.float32],
        )  # fmt: skip
        assert reader.get_tensor(name).tobytes() == theirs.numpy().tobytes() == value.tobytes()


@pytest.fixture
def v1_checkpoint(tmp_path):
    """A TF1 graph with a V1 saver, its ``.meta`` exported: ``(prefix, values)``."""
    (tmp_path / "m").mkdir()
    with tf.Graph().as_default() as graph:
        v = tf.compat.v1.Variable([1.5, -0.0, np.nan], name="v")
        w = tf.compat.v1.Variable([[7]], name="scope/w", use_resource=True)
        saver = tf.compat.v1.train.Saver(write_version=V1)
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            prefix = saver.save(sess, str(tmp_path / "m" / "model.ckpt"))
            values = sess.run({"v": v, "scope/w": w})
    return prefix, values


def test_audit_and_restore_with_the_v1_saver(v1_checkpoint, capsys):
    prefix, values = v1_checkpoint
    assert cli.main(["audit", prefix + ".meta"]) == 0
    with tf.Graph().as_default() as graph, tf.compat.v1.Session(graph=graph) as sess:
        saver = meta_graph.restore_meta_graph(sess, prefix)
        assert saver.saver_def.version == V1
        imported = {v.op.name: v for v in tf.compat.v1.global_variables()}
        ours = sess.run(imported)
        sess.run([v.initializer for v in imported.values()])
        restoring.restore_session(sess, os.path.dirname(prefix))
        again = sess.run(imported)
        saver.restore(sess, prefix)  # TensorFlow's own restore
        theirs = sess.run(imported)
    for name, want in values.items():
        assert ours[name].tobytes() == again[name].tobytes() == theirs[name].tobytes()
        assert want.tobytes() == theirs[name].tobytes()


def test_every_command_on_a_v1_checkpoint(v1_checkpoint, tmp_path, capsys):
    prefix, values = v1_checkpoint
    assert cli.main(["inspect", "--json", prefix]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert [(v["name"], v["shape"]) for v in listing["variables"]] == tf.train.list_variables(
        prefix
    )
    assert cli.main(["verify", str(tmp_path / "m")]) == 0
    assert cli.main(["diff", prefix, str(tmp_path / "m")]) == 0
    assert cli.main(["export", prefix, str(tmp_path / "out.npz")]) == 0
    with np.load(tmp_path / "out.npz") as npz:
        assert npz["v"].tobytes() == values["v"].tobytes()
    assert cli.main(["rename", prefix, str(tmp_path / "r" / "ckpt"), "--map", "scope=s"]) == 0
    assert cli.main(["convert", prefix, str(tmp_path / "tf2" / "ckpt"), "--to", "tf2"]) == 0
    renamed = tf.train.load_checkpoint(str(tmp_path / "r" / "ckpt"))  # V2 copies
    converted = tf.train.load_checkpoint(str(tmp_path / "tf2" / "ckpt"))
    assert os.path.exists(tmp_path / "tf2" / "ckpt.index")
    for name, want in values.items():
        assert renamed.get_tensor(name.replace("scope", "s")).tobytes() == want.tobytes()
        key = name.replace("/", ".S") + "/.ATTRIBUTES/VARIABLE_VALUE"
        assert converted.get_tensor(key).tobytes() == want.tobytes()
    capsys.readouterr()


@pytest.mark.parametrize("damage", ["truncate", "cut_tail", "flip"])
def test_damaged_v1_file_is_one_line(v1_checkpoint, damage, capsys):
    prefix, _ = v1_checkpoint
    data = bytearray(Path(prefix).read_bytes())
    if damage == "truncate":
        data = data[:10]
    elif damage == "cut_tail":
        data = data[:-1]
    else:
        data[len(data) // 3] ^= 0x40  # in a data block: its checksum fails
    Path(prefix).write_bytes(bytes(data))
    for command in (["inspect", "--values", prefix], ["verify", prefix]):
        code = cli.main(command)
        said = capsys.readouterr()
        message = (said.out + said.err).strip()  # verify reports on stdout
        assert code in (1, 2) and len(message.splitlines()) == 1, message
        assert "Traceback" not in message and prefix in message
    if damage == "flip":
        with pytest.raises(CorruptCheckpointError, match="checksum"):
            list(bundle.load_checkpoint(prefix).get_tensor(n) for n in ("v", "scope/w"))


def test_state_file_and_saved_model_directories(v1_checkpoint, tmp_path):
    prefix, _ = v1_checkpoint
    directory = os.path.dirname(prefix)
    assert checkpoint_state.checkpoint_files(prefix) == [prefix, prefix + ".meta"]
    assert checkpoint_state.is_complete(prefix)
    assert checkpoint_state.read_state(directory).latest == prefix
    os.remove(os.path.join(directory, "checkpoint"))
    with pytest.warns(Warning, match="newest complete checkpoint"):
        assert checkpoint_state.latest_checkpoint(directory) == prefix
    module = tf.Module()
    module.v = tf.Variable([3.0])
    tf.saved_model.save(module, str(tmp_path / "sm"))
    assert checkpoint_state.resolve_prefix(tmp_path / "sm") == str(
        tmp_path / "sm" / "variables" / "variables"
    )
    assert cli.main(["verify", str(tmp_path / "sm")]) == 0


# --- V1 tables TensorFlow would never write -----------------------------------------------


def _extents(extents) -> bytes:
    return b"".join(
        field(1, field(1, start) + (b"" if n is None else field(2, n))) for start, n in extents
    )


def _v1_table(path: Path, tensors, records, compress=None) -> str:
    """Write a V1 table: *tensors* ``(name, dtype, shape, [extents])`` in its metadata, and
    *records* ``(name, extents, TensorProto)``; return its path."""
    meta = b""
    for name, dtype, shape, slices in tensors:
        dims = b"".join(field(2, field(1, d)) for d in shape)
        body = field(1, name.encode()) + field(2, dims) + field(3, dtype)
        meta += field(1, body + b"".join(field(4, _extents(e)) for e in slices))
    rows = [(b"", field(1, meta + field(2, field(1, 1))))]
    for name, extents, proto in records:
        saved = field(1, name.encode()) + field(2, _extents(extents)) + field(3, proto)
        rows.append((slice_key(name, extents), field(2, saved)))
    path.write_bytes(table(sorted(rows), compress))
    return str(path)


FULL = ((0, None),)
FLOATS = field(1, 1) + field(5, struct.pack("<3f", 1, 2, 3))  # a float32 TensorProto of 3
#: Records that lie, and what the error says; none may cost memory in proportion to a shape.
HOSTILE = {
    "giant shape": ([("v", 1, [1 << 40], [FULL])], [("v", FULL, FLOATS)], "only 29 bytes"),
    "complex64 of 3 floats": (
        [("v", 8, [2], [FULL])],
        [("v", FULL, field(1, 8) + field(9, struct.pack("<3f", 1, 2, 3)))],
        "12 bytes of values are no whole number of complex64",
    ),
    "float as a huge varint": (
        [("v", 1, [1], [FULL])],
        [("v", FULL, field(1, 1) + varint(5 << 3) + varint(1 << 40))],
        "wire type 0",
    ),
    "overlapping slices": (
        [("v", 1, [4], [((0, 3),), ((1, 3),)])],
        [("v", ((0, 3),), FLOATS), ("v", ((1, 3),), FLOATS)],
        "slices [(0, 3)] and [(1, 3)] overlap",
    ),
}


@pytest.mark.fault
@pytest.mark.parametrize("case", HOSTILE, ids=list(HOSTILE))
def test_hostile_v1_records_are_one_typed_error(tmp_path, case, capsys):
    tensors, records, message = HOSTILE[case]
    path = _v1_table(tmp_path / "v1", tensors, records)
    refused_lean(path, "v", message)
    assert cli.main(["verify", path]) == 1
    said = capsys.readouterr()
    assert len((said.out + said.err).strip().splitlines()) == 1
    if case == "overlapping slices":
        with pytest.raises(tf.errors.OpError, match="Overlapping slices"):
            tf.train.load_checkpoint(path).get_tensor("v")


def test_snappy_blocks_are_decoded_once(tmp_path, monkeypatch):
    names = [f"t{i:03d}" for i in range(200)]
    path = _v1_table(
        tmp_path / "z",
        [(n, 1, [1], [FULL]) for n in names],
        [(n, FULL, field(1, 1) + field(5, struct.pack("<f", i))) for i, n in enumerate(names)],
        compress=lambda b: bytes(cramjam.snappy.compress_raw(b)),
    )
    calls = []
    decompress = _sstable.snappy_decompress
    monkeypatch.setattr(
        _sstable, "snappy_decompress", lambda *a, **k: calls.append(1) or decompress(*a, **k)
    )
    reader = bundle.load_checkpoint(path)
    opened = len(calls)
    theirs = tf.train.load_checkpoint(path)
    for name in names:
        assert reader.get_tensor(name).tobytes() == theirs.get_tensor(name).tobytes()
    assert len(calls) == opened  # the one data block, decoded when the metadata was read


def test_only_v1_tables_are_v1_checkpoints(tmp_path):
    """Neither a V2 ``.data`` shard nor a copy of a ``.index`` is a V1 checkpoint."""
    directory = tmp_path / "d"
    prefix = tf.train.Checkpoint(v=tf.Variable([1.0, 2.0])).write(str(directory / "model"))
    shutil.copy(prefix + ".index", prefix + ".index.bak")
    for name in os.listdir(directory):  # as after `tar x`: every file equally old
        os.utime(directory / name, ns=(1_700_000_000 * 10**9,) * 2)
    for impostor in [prefix + ".index.bak", prefix + ".data-?????-of-00001"]:
        assert not checkpoint_state.v1_files(impostor)
        assert not checkpoint_state.is_complete(impostor)
        with pytest.raises(CheckpointNotFoundError, match="no checkpoint"):
            bundle.load_checkpoint(impostor)
    with pytest.warns(Warning, match="newest complete checkpoint"):
        assert checkpoint_state.read_state(directory).checkpoints == (prefix,)
        assert bundle.list_variables(directory) == tf.train.list_variables(prefix)


def test_unsharded_v1_named_like_a_shard(tmp_path):
    prefix = _save(
        tmp_path / "m" / "run-00001-of-00003", {"v": np.array([1.0, 2.0])}, {"v": tf.float32}
    )
    assert checkpoint_state.resolve_prefix(prefix) == prefix
    assert checkpoint_state.read_state(tmp_path / "m").latest == prefix
    os.remove(tmp_path / "m" / "checkpoint")
    with pytest.warns(Warning, match="newest complete checkpoint"):
        assert checkpoint_state.latest_checkpoint(tmp_path / "m") == prefix
    theirs = tf.train.load_checkpoint(prefix).get_tensor("v")
    assert bundle.load_checkpoint(prefix).get_tensor("v").tobytes() == theirs.tobytes()
    shutil.copy(prefix, tmp_path / "m" / "run-00000-of-00003")  # now a shard, of three
    with pytest.raises(CheckpointNotFoundError, match="1 of its 3 shards are missing"):
        bundle.load_checkpoint(prefix)
