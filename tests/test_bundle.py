"""The TensorFlow-free reader against TensorFlow's own, and against bad files."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import cramjam
import ml_dtypes
import numpy as np
import pytest
import tensorflow as tf
from bundle_writer import entry, header, table, write_bundle
from lean import refused_lean

from tfpersist import bundle
from tfpersist._sstable import crc32c, mask
from tfpersist.errors import (
    CorruptCheckpointError,
    TensorNotFoundError,
    TfPersistError,
    UnsupportedCheckpointError,
)

DTYPES = [
    tf.float16, tf.float32, tf.float64, tf.bfloat16,
    tf.int8, tf.int16, tf.int32, tf.int64,
    tf.uint8, tf.uint16, tf.uint32, tf.uint64,
    tf.bool, tf.complex64, tf.complex128,
    tf.qint8, tf.quint8, tf.qint16, tf.quint16, tf.qint32,
]  # fmt: skip


def same_as_tensorflow(prefix: str) -> int:
    """Assert that every tensor reads bit for bit as TensorFlow reads it; return the count."""
    theirs = tf.train.load_checkpoint(prefix)
    ours = bundle.load_checkpoint(prefix)
    assert ours.get_variable_to_shape_map() == theirs.get_variable_to_shape_map()
    assert bundle.list_variables(prefix) == tf.train.list_variables(prefix)
    dtypes = ours.get_variable_to_dtype_map()
    for name, dtype in theirs.get_variable_to_dtype_map().items():
        want = theirs.get_tensor(name)
        want = np.array(want, dtype=object) if dtype == tf.string else np.asarray(want)
        expected = want.dtype if dtype.is_quantized else np.dtype(dtype.as_numpy_dtype)
        assert dtypes[name].name == expected.name, name
        got = ours.get_tensor(name)
        assert isinstance(got, np.ndarray)
        assert (got.shape, got.dtype.name) == (want.shape, want.dtype.name), name
        if dtype == tf.string:
            assert got.tolist() == want.tolist(), name
        else:
            assert got.tobytes() == want.tobytes(), name
    return len(dtypes)


def test_tf1_saver_checkpoint(article_checkpoint):
    assert same_as_tensorflow(article_checkpoint) == 2


def test_tf2_checkpoint_with_nested_objects(tmp_path):
    model = tf.keras.Sequential(
        [tf.keras.Input((4,)), tf.keras.layers.Dense(3), tf.keras.layers.Dense(2)]
    )
    ckpt = tf.train.Checkpoint(
        model=model, optimizer=tf.keras.optimizers.SGD(), step=tf.Variable(5)
    )
    prefix = ckpt.save(str(tmp_path / "tf2" / "ckpt"))
    assert same_as_tensorflow(prefix) >= 6
    assert bundle.load_checkpoint(tmp_path / "tf2").prefix == prefix  # a directory: its latest


def _value(dtype: tf.DType, shape: tuple[int, ...], seed: int) -> tf.Tensor:
    rng = np.random.default_rng(seed)
    base = dtype.base_dtype if not dtype.is_quantized else None
    if dtype == tf.bool:
        return tf.constant(rng.integers(0, 2, shape).astype(bool))
    if dtype.is_quantized:
        return tf.cast(tf.constant(rng.integers(0, 100, shape), tf.int32), tf.int32)
    if base.is_floating or base.is_complex:
        data = rng.standard_normal(shape) * 1e3
        if base.is_complex:
            data = data + 1j * rng.standard_normal(shape)
        flat = data.reshape(-1)
        flat[: min(3, flat.size)] = [np.nan, -0.0, np.inf][: min(3, flat.size)]
        return tf.cast(tf.constant(data), dtype)
    info = np.iinfo(dtype.as_numpy_dtype)
    return tf.constant(
        rng.integers(info.min, info.max, shape, endpoint=True, dtype=dtype.as_numpy_dtype)
    )


def test_every_dtype_shape_and_string(tmp_path):
    names, tensors = [], []
    for i, dtype in enumerate(DTYPES):
        for shape in [(), (0,), (3, 0), (5,), (2, 3, 4)]:
            value = _value(dtype, shape, i)
            if dtype.is_quantized:
                value = tf.raw_ops.QuantizeV2(
                    input=tf.cast(value, tf.float32), min_range=0.0, max_range=100.0, T=dtype
                ).output
            names.append(f"{dtype.name}/{'x'.join(map(str, shape)) or 'scalar'}")
            tensors.append(value)
    strings = {
        "string/scalar": tf.constant("中文 ✓"),
        "string/empty_tensor": tf.constant([], tf.string),
        "string/vector": tf.constant(["", "a", "\x00\xff", "b" * 300, "名字"]),
        "string/matrix": tf.constant([[b"\xff\xfe", b""], [b"x" * 70000, b"y"]]),
        "权重/非ASCII ✓": tf.constant([1.5, 2.5]),
        "emoji/🙂": tf.constant(1),
    }
    names += list(strings)
    tensors += list(strings.values())
    prefix = str(tmp_path / "all")
    tf.raw_ops.SaveV2(
        prefix=prefix, tensor_names=names, shape_and_slices=[""] * len(names), tensors=tensors
    )
    assert same_as_tensorflow(prefix) == len(names)


def test_sharded_saver_across_logical_devices(tmp_path):
    (tmp_path / "sharded").mkdir()
    prefix = str(tmp_path / "sharded" / "model.ckpt")
    config = tf.compat.v1.ConfigProto(device_count={"CPU": 3})
    with tf.Graph().as_default() as graph:
        for d in range(3):
            with tf.device(f"/cpu:{d}"):
                tf.Variable(tf.fill([4, d + 1], float(d)), name=f"v{d}")
                tf.Variable([f"on cpu {d}"], name=f"s{d}")
        saver = tf.compat.v1.train.Saver(sharded=True)
        with tf.compat.v1.Session(graph=graph, config=config) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            saver.save(sess, prefix)
    assert bundle.load_checkpoint(prefix).num_shards == 3
    assert os.path.exists(prefix + ".data-00002-of-00003")
    assert same_as_tensorflow(prefix) == 6


def test_partitioned_variables_are_assembled(tmp_path):
    (tmp_path / "parts").mkdir()
    prefix = str(tmp_path / "parts" / "model.ckpt")
    config = tf.compat.v1.ConfigProto(device_count={"CPU": 2})
    with tf.Graph().as_default() as graph:
        init = tf.compat.v1.random_normal_initializer(seed=1)
        tf.compat.v1.get_variable(
            "rows", [10, 4], initializer=init, partitioner=tf.compat.v1.fixed_size_partitioner(3)
        )
        with tf.device("/cpu:1"):
            tf.compat.v1.get_variable(
                "cols",
                [2, 300],
                initializer=init,
                partitioner=tf.compat.v1.fixed_size_partitioner(4, axis=1),
            )
        saver = tf.compat.v1.train.Saver(sharded=True)
        with tf.compat.v1.Session(graph=graph, config=config) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            saver.save(sess, prefix)
    reader = bundle.load_checkpoint(prefix)
    assert len(reader.entry("rows").slices) == 3 and len(reader.entry("cols").slices) == 4
    assert same_as_tensorflow(prefix) == 2
    # Slice keys with multi-byte numbers: starts of 100, 10000 and 2**40.
    big = str(tmp_path / "big")
    tf.raw_ops.SaveV2(
        prefix=big,
        tensor_names=["b", "b", "b"],
        shape_and_slices=["30000 0,100", "30000 100,9900", "30000 10000,20000"],
        tensors=[tf.range(0, 100), tf.range(100, 10000), tf.range(10000, 30000)],
    )
    assert bundle.load_checkpoint(big).get_tensor("b").tolist() == list(range(30000))
    assert same_as_tensorflow(big) == 1
    # Worked by hand from OrderedCode: 6 bytes each, header bits 0xfc.
    assert bundle.slice_key("b", [(1 << 40, -(1 << 40))]) == (
        b"\x00b\x00\x01\x01\x01" + b"\xfd" + bytes(5) + b"\x03" + bytes(5)
    )


def test_ten_thousand_small_variables(tmp_path):
    prefix = str(tmp_path / "many")
    names = [f"layer_{i // 100}/var_{i}" for i in range(10_000)]
    tensors = [tf.constant([float(i)] * (i % 5)) for i in range(10_000)]
    tf.raw_ops.SaveV2(
        prefix=prefix, tensor_names=names, shape_and_slices=[""] * len(names), tensors=tensors
    )
    assert same_as_tensorflow(prefix) == 10_000


def test_large_tensors_are_mapped_and_writable(tmp_path):
    prefix = str(tmp_path / "big")
    tf.raw_ops.SaveV2(
        prefix=prefix,
        tensor_names=["a", "b"],
        shape_and_slices=["", ""],
        tensors=[tf.constant([1], tf.int8), tf.range(1 << 20, dtype=tf.float32)],
    )
    reader = bundle.load_checkpoint(prefix)
    b = reader.get_tensor("b")
    assert b.flags.writeable and b.flags.aligned  # "b" starts at byte 1: copied to align it
    b[:] = 0
    assert reader.get_tensor("b")[5] == 5.0  # another read sees the file, not our write
    assert same_as_tensorflow(prefix) == 2


@pytest.mark.fault
def test_closed_reader_refuses_and_arrays_survive(tmp_path):
    prefix = str(tmp_path / "c")
    tf.raw_ops.SaveV2(prefix=prefix, tensor_names=["big"], shape_and_slices=[""],
                      tensors=[tf.range(1 << 19, dtype=tf.int64)])  # fmt: skip
    with bundle.load_checkpoint(prefix) as reader:
        value = reader.get_tensor("big")  # 4 MiB: mapped from the file
    assert int(value.sum()) == (1 << 19) * ((1 << 19) - 1) // 2
    with pytest.raises(ValueError, match="is closed"):
        reader.get_tensor("big")


@pytest.mark.fault
def test_unknown_name_suggests_the_close_one(article_checkpoint):
    reader = bundle.load_checkpoint(article_checkpoint)
    with pytest.raises(TensorNotFoundError, match=r"no tensor 'v11' \(did you mean 'v1'"):
        reader.get_tensor("v11")
    with pytest.raises(KeyError):
        reader.get_tensor("nope")


# --- files TensorFlow never writes --------------------------------------------------------


def test_big_endian_bundles_are_swapped(tmp_path):
    tensors = {
        "f": np.array([1.5, -2.0], np.float32),
        "c": np.array([1 + 2j], np.complex128),
        "h": np.arange(3, dtype=ml_dtypes.bfloat16),
        "s": np.array([b"abc", b""], dtype=object),
    }
    write_bundle(str(tmp_path / "be"), tensors, big_endian=True)
    reader = bundle.load_checkpoint(str(tmp_path / "be"))
    for name, value in tensors.items():
        assert reader.get_tensor(name).tolist() == value.tolist()


def test_snappy_compressed_index(tmp_path):
    tensors = {f"v{i:03d}": np.full([i % 7], i, np.int32) for i in range(300)}
    write_bundle(
        str(tmp_path / "z"), tensors, compress=lambda b: bytes(cramjam.snappy.compress_raw(b))
    )
    reader = bundle.load_checkpoint(str(tmp_path / "z"))
    assert {n: reader.get_tensor(n).tolist() for n in tensors} == {
        n: v.tolist() for n, v in tensors.items()
    }


def test_snappy_decoder_matches_cramjam():
    from tfpersist._sstable import snappy_decompress

    rng = random.Random(5)
    for size in [0, 1, 59, 60, 61, 300, 70000]:
        data = bytes(rng.choice(b"ab\x00\xff") for _ in range(size)) + rng.randbytes(size // 3)
        data += bytes(size) + b"xyz" * size  # long runs: copies that overlap their own output
        packed = bytes(cramjam.snappy.compress_raw(data))
        assert snappy_decompress(packed, len(data)) == data


def crafted(tmp_path, rows, data=b"\0" * 64, name="x", shards=1):
    prefix = str(tmp_path / name)
    with open(prefix + ".index", "wb") as f:
        f.write(table([(b"", header(num_shards=shards)), *rows]))
    for shard in range(shards):
        with open(f"{prefix}.data-{shard:05d}-of-{shards:05d}", "wb") as f:
            f.write(data)
    return prefix


LIES = {
    "offset past the end": (entry(1, [4], offset=60, size=16), "lie outside the file's 64 bytes"),
    "negative offset": (entry(1, [4], offset=-8, size=16), "lie outside"),
    "size lies about shape": (entry(1, [4], size=12), "gives it 12 bytes, but shape [4]"),
    "huge shape": (entry(1, [1 << 40, 1 << 40], size=64), "needs 4835703278458516698824704"),
    "huge string count": (entry(7, [1 << 50], size=16), "declares 1125899906842624 strings"),
    "shard out of range": (entry(1, [4], shard=7, size=16), "shard number 7 is outside"),
    "bad checksum": (entry(1, [4], size=16, crc=123), "fail their checksum"),
    "string lengths lie": (entry(7, [2], size=8), "string lengths fail their checksum"),
    "slices missing": (entry(1, [4], slices=[[(0, 2)]]), "slice named in the index is missing"),
    "slice past the shape": (entry(1, [4], slices=[[(3, 2)]]), "exceeds shape [4]"),
}


@pytest.mark.fault
@pytest.mark.parametrize("lie", LIES, ids=list(LIES))
def test_lying_entries_name_the_file_and_tensor(tmp_path, lie):
    row, message = LIES[lie]
    refused_lean(crafted(tmp_path, [(b"tensor", row)]), "tensor", message)


@pytest.mark.fault
def test_slices_that_leave_a_gap(tmp_path):
    from tfpersist.bundle import slice_key

    part = entry(1, [2], size=8, crc=mask(crc32c(bytes(8))))
    prefix = crafted(
        tmp_path,
        sorted([(b"w", entry(1, [4], slices=[[(0, 2)]])), (slice_key("w", [(0, 2)]), part)]),
    )
    with pytest.raises(CorruptCheckpointError, match="do not cover the whole tensor"):
        bundle.load_checkpoint(prefix).get_tensor("w")


def _partitioned(tmp_path, shape, parts, name="p"):
    """A checkpoint of tensor ``w`` in *parts* ``(extents, shape, offset, size)``, all zeros."""
    from tfpersist.bundle import slice_key

    rows = [(b"w", entry(1, shape, slices=[e for e, *_ in parts]))]
    for extents, part_shape, offset, size in parts:
        crc = mask(crc32c(bytes(size))) if size < 1 << 20 else 0
        rows.append((slice_key("w", extents), entry(1, part_shape, 0, offset, size, crc)))
    return crafted(tmp_path, sorted(dict(rows).items()), name=name)


#: Slices that claim more than the data file holds: refused before the tensor is allocated.
GIANT = {
    "a slice's size lies": ([1 << 33], [([(0, 1)], [1], 0, 1 << 36)], "needs 4"),
    "slices leave most out": ([1 << 33], [([(0, 16)], [16], 0, 64)], "do not cover"),
    "slices share bytes": (
        [1 << 20, 16],
        [([(i, 1), (0, None)], [1, 16], 0, 64) for i in range(0, 1 << 20, 1 << 16)],
        "its slices take 128 bytes of a file of 64 bytes",
    ),
}


@pytest.mark.fault
@pytest.mark.parametrize("lie", GIANT, ids=list(GIANT))
def test_partitioned_lies_allocate_nothing(tmp_path, lie):
    shape, parts, message = GIANT[lie]
    refused_lean(_partitioned(tmp_path, shape, parts), "w", message)


@pytest.mark.fault
def test_overlapping_slices_are_refused_as_tensorflow_does(tmp_path):
    prefix = _partitioned(tmp_path, [4], [([(0, 3)], [3], 0, 12), ([(1, 3)], [3], 12, 12)])
    with pytest.raises(tf.errors.OpError, match="Overlapping slices"):
        tf.train.load_checkpoint(prefix).get_tensor("w")
    with pytest.raises(CorruptCheckpointError, match=r"overlap .*'Overlapping slices'"):
        bundle.load_checkpoint(prefix).get_tensor("w")
    # the same slice twice: TensorFlow's reader aborts the process (a failed CHECK)
    twice = [([(0, 2)], [2], 0, 8), ([(0, 2)], [2], 8, 8), ([(2, 2)], [2], 16, 8)]
    with pytest.raises(CorruptCheckpointError, match=r"\[\(0, 2\)\] and \[\(0, 2\)\] overlap"):
        bundle.load_checkpoint(_partitioned(tmp_path, [4], twice, "t")).get_tensor("w")


def test_empty_tensors_numpy_cannot_shape(tmp_path):
    """TensorFlow saves shape [2**62, 0], but cannot make a NumPy array of it; neither can we."""
    z = tf.zeros([2**62, 0])
    for prefix, save in [
        (str(tmp_path / "v2"), lambda p: tf.raw_ops.SaveV2(
            prefix=p, tensor_names=["z"], shape_and_slices=[""], tensors=[z])),
        (str(tmp_path / "v1"), lambda p: tf.raw_ops.SaveSlices(
            filename=p, tensor_names=["z"], shapes_and_slices=[""], data=[z])),
    ]:  # fmt: skip
        save(prefix)
        assert bundle.list_variables(prefix) == tf.train.list_variables(prefix)
        with pytest.raises(ValueError, match="Failed to create numpy array"):
            tf.train.load_checkpoint(prefix).get_tensor("z")
        with pytest.raises(UnsupportedCheckpointError, match=r"no elements but shape \[4611"):
            bundle.load_checkpoint(prefix).get_tensor("z")


@pytest.mark.fault
def test_unreadable_but_sound_checkpoints(tmp_path):
    prefix = crafted(tmp_path, [(b"it", entry(21, [1], size=4))])
    reader = bundle.load_checkpoint(prefix)
    assert reader.entry("it").dtype_name == "variant"
    with pytest.raises(UnsupportedCheckpointError, match="only TensorFlow can decode"):
        reader.get_tensor("it")
    with pytest.raises(UnsupportedCheckpointError, match="dtype number 99"):
        bundle.load_checkpoint(crafted(tmp_path, [(b"q", entry(99, [1]))], name="q"))
    newer = str(tmp_path / "newer")
    with open(newer + ".index", "wb") as f:
        f.write(table([(b"", header(min_consumer=2))]))
    with pytest.raises(UnsupportedCheckpointError, match="newer bundle format"):
        bundle.load_checkpoint(newer)


@pytest.mark.fault
def test_missing_shard_is_named(tmp_path):
    prefix = crafted(tmp_path, [(b"t", entry(1, [1], shard=1, size=4))], shards=2)
    os.remove(prefix + ".data-00001-of-00002")
    with pytest.raises(CorruptCheckpointError, match=r"cannot open '.*x\.data-00001-of-00002'"):
        bundle.load_checkpoint(prefix).get_tensor("t")


@pytest.mark.fault
@pytest.mark.parametrize(
    "index",
    [
        b"",
        b"\0" * 47,
        b"\0" * 48,
        os.urandom(200),
        b"x" * 100 + (0xDB4775248B80FB57).to_bytes(8, "little"),
    ],
    ids=["empty", "short", "no magic", "random", "magic only"],
)
def test_garbage_index(tmp_path, index):
    prefix = str(tmp_path / "g")
    with open(prefix + ".index", "wb") as f:
        f.write(index)
    with pytest.raises(CorruptCheckpointError, match=r"'.*g\.index' is not a readable index"):
        bundle.load_checkpoint(prefix)


# --- fuzzing ------------------------------------------------------------------------------


def _small_checkpoint(tmp_path) -> str:
    prefix = str(tmp_path / "small" / "ckpt")
    ckpt = tf.train.Checkpoint(w=tf.Variable([[1.0, 2.0], [3.0, 4.0]]), s=tf.Variable(["ab", "c"]))
    return ckpt.write(prefix)


def _read_all(prefix: str):
    with bundle.load_checkpoint(prefix) as reader:
        return {
            n: reader.get_tensor(n).tolist() for n in sorted(reader.get_variable_to_shape_map())
        }


def _outcome(prefix: str):
    """The values read, or the error's type: anything else fails the test."""
    try:
        return _read_all(prefix)
    except TfPersistError as e:
        return type(e)


@pytest.mark.fault
@pytest.mark.parametrize("part", [".index", ".data-00000-of-00001"])
def test_every_byte_flipped(tmp_path, part, record_property):
    prefix = _small_checkpoint(tmp_path)
    good = _read_all(prefix)
    path = prefix + part
    original = Path(path).read_bytes()
    undetected = []
    for i in range(len(original)):
        with open(path, "wb") as f:
            f.write(original[:i] + bytes([original[i] ^ 0xFF]) + original[i + 1 :])
        result = _outcome(prefix)
        assert result is CorruptCheckpointError or result == good, (i, result)
        if result == good:
            undetected.append(i)
    # Only the footer's padding carries no information; every other flip is caught.
    allowed = range(len(original) - 48, len(original) - 8) if part == ".index" else range(0)
    assert all(i in allowed for i in undetected), undetected
    record_property("rounds", len(original))
    record_property(
        "fault_detail",
        f"{part}: {len(original) - len(undetected)} of {len(original)} flips caught"
        + (f"; the other {len(undetected)} are in the footer's padding" if undetected else ""),
    )


@pytest.mark.fault
def test_seeded_random_mutations(tmp_path, record_property):
    prefix = _small_checkpoint(tmp_path)
    good = _read_all(prefix)
    originals = {p: Path(prefix + p).read_bytes() for p in (".index", ".data-00000-of-00001")}
    rng = random.Random(20261126)
    outcomes = {}
    for _ in range(400):
        part = rng.choice(list(originals))
        data = bytearray(originals[part])
        kind = rng.choice(["truncate", "random bytes", "insert", "delete", "extend", "zero run"])
        at = rng.randrange(len(data) + 1)
        if kind == "truncate":
            data = data[:at]
        elif kind == "random bytes":
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        elif kind == "insert":
            data[at:at] = rng.randbytes(rng.randint(1, 16))
        elif kind == "delete":
            del data[at : at + rng.randint(1, 16)]
        elif kind == "extend":
            data += rng.randbytes(rng.randint(1, 64))
        else:
            data[at : at + 16] = bytes(len(data[at : at + 16]))
        with open(prefix + part, "wb") as f:
            f.write(data)
        result = _outcome(prefix)
        assert result == good or result is CorruptCheckpointError, (part, kind, at, result)
        outcomes[result == good] = outcomes.get(result == good, 0) + 1
        for name, original in originals.items():
            with open(prefix + name, "wb") as f:
                f.write(original)
    assert outcomes[False] > 300  # nearly every mutation is caught
    record_property("rounds", 400)
    record_property(
        "fault_detail",
        f"400 mutations: {outcomes[False]} caught, {outcomes.get(True, 0)} changed nothing read",
    )


# --- the command never imports TensorFlow -------------------------------------------------


def test_inspect_verify_export_without_tensorflow(article_checkpoint, tmp_path):
    script = (
        "import json, sys\n"
        "from tfpersist.cli import main\n"
        "p = sys.argv[1]\n"
        "codes = [main(['inspect', p, '--values']), main(['verify', p]),\n"
        "         main(['export', p, sys.argv[2]]), main(['diff', p, p])]\n"
        "print(json.dumps({'codes': codes, 'tf': [m for m in sys.modules if m.startswith('tensorflow')]}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, article_checkpoint, str(tmp_path / "w.npz")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    report = json.loads(out.splitlines()[-1])
    assert report == {"codes": [0, 0, 0, 0], "tf": []}
    with np.load(tmp_path / "w.npz") as weights:
        assert weights["v1"].tolist() == [1.0]


def test_partitioned_names_with_bytes_that_slice_keys_escape(tmp_path):
    names = [b"a\x00b", b"c\xffd", b"\xff\x00", b"e\x01f", "名字/ÿ".encode()]
    value = np.arange(12, dtype=np.float32).reshape(4, 3)
    specs = ["4 3 0,2:-", "4 3 2,2:-"]
    prefix = str(tmp_path / "ckpt")
    tf.raw_ops.SaveV2(
        prefix=prefix,
        tensor_names=[n for n in names for _ in specs],
        shape_and_slices=specs * len(names),
        tensors=[part for _ in names for part in (value[:2], value[2:])],
    )
    reader = bundle.load_checkpoint(prefix)
    found = {n.encode("utf-8", "surrogateescape"): n for n in reader.get_variable_to_shape_map()}
    assert sorted(found) == sorted(names)
    for raw, name in found.items():
        [theirs] = tf.raw_ops.RestoreV2(
            prefix=prefix, tensor_names=[raw], shape_and_slices=[""], dtypes=[tf.float32]
        )
        assert reader.get_tensor(name).tobytes() == theirs.numpy().tobytes() == value.tobytes()
    reader.check_files()
