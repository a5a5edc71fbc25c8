"""BundleWriter and write_checkpoint, byte for byte against TensorFlow's SaveV2 and its merges.

TensorFlow is the oracle: the same tensors in the same order, saved by
``tf.raw_ops.SaveV2`` (one per shard, then ``MergeV2Checkpoints``), give the
same files, and TensorFlow reads back every bit written. Bad input and
kills leave what was at the prefix as it was.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest
import tensorflow as tf
from test_nothing_lost import Zygote

from tfpersist import _fs, checkpoint_state
from tfpersist.bundle import BundleWriter, load_checkpoint, write_checkpoint
from tfpersist.errors import CorruptCheckpointError, ExportError, WriteError

TESTS = Path(__file__).parent
QUANTIZED = {"qint8": np.int8, "quint8": np.uint8, "qint16": np.int16, "quint16": np.uint16}
QUANTIZED["qint32"] = np.int32
PLAIN = ["float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "uint16"]
PLAIN += ["uint32", "uint64", "bool", "complex64", "complex128"]
ML = ["float8_e5m2", "float8_e4m3fn", "float8_e4m3fnuz", "float8_e4m3b11fnuz", "float8_e5m2fnuz"]
ML += ["int4", "uint4"]


def _tf_has(name: str) -> bool:
    """Whether this TensorFlow has the ml_dtypes type *name* (2.12 has neither float8 nor int4)."""
    try:
        return tf.dtypes.as_dtype(getattr(ml_dtypes, name)).name == name
    except (AttributeError, TypeError):
        return False


ML = ["bfloat16", *(name for name in ML if _tf_has(name))]  # all as ml_dtypes arrays
DTYPES = [*PLAIN, *ML, *QUANTIZED, "string"]
STRINGS = [b"", "中文".encode(), "😀 emoji".encode(), b"\x00\xff\x00", b"long" * 20_000]


def random_value(rng: np.random.Generator, dtype: str) -> np.ndarray:
    """Random bits of *dtype* in a random shape, 0-d and zero-sized ones included."""
    shape = tuple(int(d) for d in rng.choice([0, 1, 2, 3, 7], rng.integers(0, 4)))
    if dtype == "string":
        value = np.empty(int(np.prod(shape)), object)
        for i in range(value.size):
            pick = rng.integers(len(STRINGS) + 1)
            value[i] = STRINGS[pick] if pick < len(STRINGS) else rng.bytes(rng.integers(0, 300))
        return value.reshape(shape)
    if dtype in ("int4", "uint4"):  # only the values these types can hold
        low = -8 if dtype == "int4" else 0
        return rng.integers(low, low + 16, shape).astype(getattr(ml_dtypes, dtype))
    if dtype == "bool":
        return rng.integers(0, 2, shape).astype(bool)
    numpy_dtype = np.dtype(QUANTIZED.get(dtype) or getattr(ml_dtypes, dtype, None) or dtype)
    raw = rng.integers(0, 256, (*shape, numpy_dtype.itemsize), dtype=np.uint8)
    return raw.view(numpy_dtype).reshape(shape)


def as_given(rng: np.random.Generator, value: np.ndarray, dtype: str) -> tuple[object, str | None]:
    """How a caller may hand *value* to the writer: with a dtype name or without, str or bytes."""
    if dtype in QUANTIZED:  # as the integers of its width
        return value, dtype
    if dtype == "string" and rng.random() < 0.5:  # str where the bytes are UTF-8
        given = value.copy()
        for i, item in enumerate(value.flat):
            with_str = item.decode("utf-8", "ignore")
            given.flat[i] = with_str if with_str.encode() == item else item
        return given, "string"
    return value, None


def tf_dtype(name: str) -> tf.DType:
    return getattr(tf, name, None) or getattr(tf.dtypes.experimental, name)


def tf_tensor(value: np.ndarray, dtype: str) -> tf.Tensor:
    """A TensorFlow tensor of *dtype* holding the bits of *value*."""
    try:
        return tf.constant(value, dtype=tf_dtype(dtype))
    except (TypeError, ValueError):  # TF 2.12 cannot convert an ml_dtypes array
        return tf.bitcast(tf.constant(value.view(f"u{value.dtype.itemsize}")), tf_dtype(dtype))


def disk_size(value: np.ndarray) -> int:
    """The bytes TensorFlow writes for *value*: a string's length varints, a checksum, bytes."""
    if value.dtype != object:
        return value.nbytes
    items = [bytes(s) for s in value.flat]
    return sum(max(1, -(-len(s).bit_length() // 7)) + len(s) for s in items) + 4


def tf_save(prefix: Path, tensors: list, num_shards: int = 1) -> None:
    """Save *tensors* (name, value, dtype) as TensorFlow does, in order, each to the lightest shard."""
    parts: list[list] = [[] for _ in range(num_shards)]
    sizes = [0] * num_shards
    for name, value, dtype in tensors:
        shard = sizes.index(min(sizes))
        parts[shard].append((name, tf_tensor(value, dtype)))
        sizes[shard] += disk_size(value)
    temp = prefix.parent.parent / f"{prefix.parent.name}_parts"
    prefixes = (
        [str(temp / f"part-{s:05d}") for s in range(num_shards)] if num_shards > 1 else [prefix]
    )
    for part, part_prefix in zip(parts, prefixes, strict=True):
        tf.raw_ops.SaveV2(
            prefix=str(part_prefix), tensor_names=[n for n, _ in part],
            shape_and_slices=[""] * len(part), tensors=[t for _, t in part],
        )  # fmt: skip
    if num_shards > 1:
        tf.raw_ops.MergeV2Checkpoints(checkpoint_prefixes=prefixes, destination_prefix=str(prefix))


def files(prefix: Path) -> dict[str, bytes]:
    """The checkpoint's files, by name after the prefix."""
    found = prefix.parent.glob(prefix.name + ".*")
    return {p.name[len(prefix.name) :]: p.read_bytes() for p in found}


def bits(value: object) -> tuple:
    """Shape and raw bits of an array or string tensor, to compare bit for bit."""
    if isinstance(value, bytes):
        return (), [value]
    array = np.asarray(value)
    if array.dtype == object:
        return array.shape, [s.encode() if isinstance(s, str) else bytes(s) for s in array.flat]
    return array.shape, array.dtype.itemsize, array.tobytes()


def random_case(seed: int, low: int = 0) -> list[tuple[str, np.ndarray, str]]:
    """Tensors in a random order, of random dtypes, under names with slashes and Chinese."""
    rng = np.random.default_rng(seed)
    heads = ["", "layer/", "模型/", "a" * 50 + "/"]
    count = int(rng.integers(low, 41))
    return [
        (f"{heads[rng.integers(4)]}{rng.integers(1 << 30)}_{i}", random_value(rng, dtype), dtype)
        for i, dtype in enumerate(map(str, rng.choice(DTYPES, count)))
    ]


def write_both(tmp_path: Path, tensors: list, num_shards: int = 1, seed: int = 0) -> Path:
    """Write *tensors* with write_checkpoint and with TensorFlow; check the files are the same."""
    rng = np.random.default_rng(seed)
    given = {name: as_given(rng, value, dtype) for name, value, dtype in tensors}
    ours = tmp_path / "ours" / "ckpt"
    dtypes = {name: dtype for name, (_, dtype) in given.items() if dtype}
    values = {name: value for name, (value, _) in given.items()}
    write_checkpoint(ours, values, dtypes=dtypes, num_shards=num_shards)
    theirs = tmp_path / "tf" / "ckpt"
    try:
        tf_save(theirs, tensors, num_shards)
    except tf.errors.InvalidArgumentError:
        assert not tensors  # SaveV2 refuses to save nothing; the writer writes an empty one
    else:
        assert files(ours) == files(theirs)
    data = [f".data-{s:05d}-of-{num_shards:05d}" for s in range(num_shards)]
    assert sorted(files(ours)) == [*data, ".index"]
    return ours


def read_back(prefix: Path, tensors: list) -> None:
    """TensorFlow's RestoreV2 reads every tensor bit for bit (bytes names included)."""
    if not tensors:
        assert tf.train.load_checkpoint(str(prefix)).get_variable_to_shape_map() == {}
        return
    dtypes = [tf_dtype(dtype) for _, _, dtype in tensors]
    got = tf.raw_ops.RestoreV2(
        prefix=str(prefix), tensor_names=[n for n, _, _ in tensors],
        shape_and_slices=[""] * len(tensors), dtypes=dtypes,
    )  # fmt: skip
    for (name, value, _), tensor in zip(tensors, got, strict=True):
        assert bits(tensor.numpy()) == bits(value), name


@pytest.mark.parametrize("seed", range(40))
def test_generated_tensors_match_savev2(seed, tmp_path):
    tensors = random_case(seed)
    ours = write_both(tmp_path, tensors, seed=seed)
    read_back(ours, tensors)
    reader = tf.train.load_checkpoint(str(ours))  # and through load_checkpoint, by name
    dtypes = reader.get_variable_to_dtype_map()
    for name, value, dtype in tensors:
        assert dtypes[name].name == dtype
        assert bits(reader.get_tensor(name)) == bits(value), name


@pytest.mark.parametrize("dtype", ML)
def test_ml_dtypes_given_as_unsigned_integers_match_savev2(dtype, tmp_path):
    """Every bit pattern of bfloat16 or float8 (every value of int4), as integers with dtype=."""
    numpy_dtype = np.dtype(getattr(ml_dtypes, dtype))
    value = np.arange(1 << 8 * numpy_dtype.itemsize).astype(f"u{numpy_dtype.itemsize}")
    if dtype in ("int4", "uint4"):
        value = np.arange(-8, 8) if dtype == "int4" else np.arange(16)
        value = value.astype(numpy_dtype).view(np.uint8)
    write_checkpoint(tmp_path / "ours" / "ckpt", {"x": value}, dtypes={"x": dtype})
    tf_save(tmp_path / "tf" / "ckpt", [("x", value.view(numpy_dtype), dtype)])
    assert files(tmp_path / "ours" / "ckpt") == files(tmp_path / "tf" / "ckpt")
    read_back(tmp_path / "ours" / "ckpt", [("x", value.view(numpy_dtype), dtype)])


def test_no_tensors(tmp_path):  # SaveV2 refuses them: TensorFlow reads the writer's
    read_back(write_both(tmp_path, []), [])


def _common_prefixes() -> list[str]:
    rng = np.random.default_rng(7)
    heads = ["model/" + "encoder/" * 25, "model/" + "encoder/" * 25 + "layer_norm/" * 5]
    return [heads[i % 2] + rng.bytes(100).hex() + f"/{i}" for i in range(4000)]


def _ff_runs() -> list[bytes]:
    """Keys of 0x00, 0x01, 0xFE, 0xFF, each over 256 KiB, so each ends a block: every pair of
    neighbours gets a separator, and the last (all 0xFF) the successor."""
    run, edges = b"\xff" * (256 << 10), [0x00, 0x01, 0xFE, 0xFF]
    keys = [bytes([a, b]) + run for a in edges for b in edges]
    return [*keys, b"\xfe" + run, b"\x00" * 3 + run, run + b"\xff" * 3, run + b"\xfe"]


NAMES = {
    "unicode": lambda: ["中文", "模型/变量", "😀", "emoji/🤖/kernel", "Ünïcødé", "a b\tc"],
    "bytes": lambda: [b"a\x00b", b"\x00", b"\xff", b"\xff\xff\x00", b"a\xffb", b"\x80\x81"],
    "64 KiB": lambda: ["n" * 65536, "n" * 65535 + "m", "n"],
    # an entry of 512 KiB or more starts a data block of its own
    "512 KiB": lambda: ["a", "n" * (512 << 10), "n" * (600 << 10) + "m", "z"],
    "common prefixes": _common_prefixes,
    "last byte": lambda: [b"same/" * 40 + bytes([b]) for b in range(256)],
    "0xFE 0xFF runs": _ff_runs,
}


@pytest.mark.parametrize("kind", NAMES)
def test_fuzzed_names_match_savev2(kind, tmp_path):
    rng = np.random.default_rng(len(kind))
    names = NAMES[kind]()
    rng.shuffle(names)
    dtypes = map(str, rng.choice(DTYPES, len(names)))
    tensors = [(n, random_value(rng, d), d) for n, d in zip(names, dtypes, strict=True)]
    ours = write_both(tmp_path, tensors)
    if kind in ("common prefixes", "0xFE 0xFF runs"):
        assert len(files(ours)[".index"]) > 3 * (256 << 10)  # several blocks, so separators
    read_back(ours, tensors)


@pytest.mark.parametrize("num_shards", [2, 3, 4])
@pytest.mark.parametrize("seed", [1, 2])
def test_sharded_match_savev2_and_merge(num_shards, seed, tmp_path):
    tensors = random_case(100 * num_shards + seed, low=num_shards)
    for i in range(num_shards):  # each shard gets a tensor: TensorFlow cannot save an empty one
        tensors[i] = (tensors[i][0], np.ones(3, np.float32), "float32")
    ours = write_both(tmp_path, tensors, num_shards, seed)
    read_back(ours, tensors)


def test_overwrite_removes_the_old_shards(tmp_path):
    old = random_case(5, low=4)
    tf_save(tmp_path / "ours" / "ckpt", old, num_shards=4)
    new = [("w", np.arange(6.0).reshape(2, 3), "float64"), ("s", np.array(b"x", object), "string")]
    prefix = tmp_path / "ours" / "ckpt"
    write_checkpoint(prefix, {n: v for n, v, _ in new}, num_shards=2, overwrite=True)
    tf_save(tmp_path / "tf" / "ckpt", new, num_shards=2)
    assert files(prefix) == files(tmp_path / "tf" / "ckpt")  # no .data-*-of-00004 left
    assert sorted(os.listdir(prefix.parent)) == sorted("ckpt" + s for s in files(prefix))
    read_back(prefix, new)


def tree(directory: Path) -> dict[str, bytes | None]:
    """Every path under *directory*, with its bytes (None for a directory)."""
    return {
        str(p.relative_to(directory)): None if p.is_dir() else p.read_bytes()
        for p in sorted(directory.rglob("*"))
    }


BIG = np.arange(1 << 19, dtype=np.float32)  # 2 MiB: written while its checksum is computed


def _add_twice(prefix: Path) -> None:
    with BundleWriter(prefix, overwrite=True) as writer:
        writer.add("big", BIG)
        writer.add("big", BIG)


def _write(tensors: dict, dtypes: dict | None = None, overwrite: bool = True):
    return lambda prefix: write_checkpoint(prefix, tensors, dtypes=dtypes, overwrite=overwrite)


ERRORS = {  # each writes a big tensor first, then fails
    "empty name": _write({"big": BIG, "": 1.0}),
    "added twice": _add_twice,
    "str and bytes name alike": _write({"big": BIG, "a": 1, b"a": 2}),
    "datetime64": _write({"big": BIG, "t": np.array(["2026-01-01"], "datetime64[D]")}),
    "object of ints": _write({"big": BIG, "o": np.array([1, 2], object)}),
    "string as float32": _write({"big": BIG, "s": np.array([b"x"], object)}, {"s": "float32"}),
    "existing checkpoint": _write({"big": BIG}, overwrite=False),
    "parent is a file": lambda prefix: write_checkpoint(prefix.parent / "file" / "ckpt", {}),
}
if hasattr(np, "float128"):
    ERRORS["float128"] = _write({"big": BIG, "f": np.ones(2, np.float128)})
if os.geteuid() != 0:  # root writes into a read-only directory all the same
    ERRORS["read-only directory"] = lambda prefix: write_checkpoint(prefix.parent / "ro" / "c", {})


@pytest.mark.parametrize("case", ERRORS)
def test_errors_leave_everything_as_it_was(case, tmp_path):
    prefix = tmp_path / "ckpt"
    tf_save(prefix, [("old", np.arange(3, dtype=np.int32), "int32")])
    (tmp_path / "file").write_bytes(b"not a directory")
    (tmp_path / "ro").mkdir(0o500)
    before = tree(tmp_path)
    error = WriteError if case in ("parent is a file", "read-only directory") else ExportError
    with pytest.raises(error):
        ERRORS[case](prefix)
    assert tree(tmp_path) == before  # no staging directory, the old checkpoint unchanged
    assert tf.train.load_checkpoint(str(prefix)).get_tensor("old").tolist() == [0, 1, 2]


SOURCE = [  # the first crosses copy_from's 8 MiB chunks
    ("a", np.arange((8 << 18) + 3, dtype=np.float32), "float32"),
    ("b", np.arange(-5, 5, dtype=np.int64).reshape(2, 5), "int64"),
    ("c", np.arange(4, dtype=np.uint16).view(ml_dtypes.bfloat16), "bfloat16"),
]


def test_copy_from_matches_savev2_under_new_names(tmp_path):
    tf_save(tmp_path / "src" / "ckpt", SOURCE)
    fresh = np.array([b"fresh", "中文".encode()], object)
    reader = load_checkpoint(tmp_path / "src" / "ckpt")
    with reader, BundleWriter(tmp_path / "ours" / "ckpt") as writer:
        writer.add("fresh", fresh)
        for name, _, _ in SOURCE[::-1]:
            source = reader.entry(name)
            copied = writer.copy_from("copied/" + name, source, reader.shard_file(name))
            assert copied.crc32c == source.crc32c
    expected = [("fresh", fresh, "string"), *(("copied/" + n, v, d) for n, v, d in SOURCE[::-1])]
    tf_save(tmp_path / "tf" / "ckpt", expected)
    assert files(tmp_path / "ours" / "ckpt") == files(tmp_path / "tf" / "ckpt")
    read_back(tmp_path / "ours" / "ckpt", expected)


@pytest.mark.parametrize("damage", ["flipped byte", "truncated"])
def test_copy_from_a_corrupt_source_writes_nothing(damage, tmp_path):
    tf_save(tmp_path / "src" / "ckpt", SOURCE)
    prefix = tmp_path / "dst" / "ckpt"
    tf_save(prefix, [("old", np.arange(3, dtype=np.int32), "int32")])
    data = tmp_path / "src" / "ckpt.data-00000-of-00001"
    entry = load_checkpoint(tmp_path / "src" / "ckpt").entry("a")
    with open(data, "r+b") as f:
        if damage == "truncated":
            f.truncate(entry.offset + entry.size - 1)
        else:
            f.seek(entry.offset + entry.size // 2)
            byte = f.read(1)
            f.seek(-1, os.SEEK_CUR)
            f.write(bytes([byte[0] ^ 0x10]))
    before = tree(prefix.parent)
    reader = load_checkpoint(tmp_path / "src" / "ckpt")
    with pytest.raises(CorruptCheckpointError), reader, BundleWriter(prefix, overwrite=True) as w:
        w.add("fresh", BIG)
        w.copy_from("a", reader.entry("a"), reader.shard_file("a"))
    assert tree(prefix.parent) == before


def test_adopt_links_the_shards_of_another_checkpoint(tmp_path):
    source = tmp_path / "src" / "ckpt"
    tf_save(source, SOURCE, num_shards=2)
    prefix = tmp_path / "dst" / "ckpt"
    with load_checkpoint(source) as reader, BundleWriter(prefix, num_shards=2) as writer:
        writer.add("fresh", np.int8([1, 2]))
        base = writer.adopt(str(source), 2)
        for name, _, _ in SOURCE:
            entry = reader.entry(name)
            writer.add_entry(entry._replace(name="adopted/" + entry.name, shard=entry.shard + base))
    assert base == 2
    ours = [f"{prefix}{name}" for name in files(prefix) if name.startswith(".data")]
    for src_data in source.parent.glob("ckpt.data-*"):
        assert any(os.path.samefile(src_data, path) for path in ours)  # hard-linked
        os.remove(src_data)  # so the source may go
    with load_checkpoint(prefix) as reader:
        reader.verify()
    read_back(prefix, [("adopted/" + n, v, d) for n, v, d in SOURCE])
    read_back(prefix, [("fresh", np.int8([1, 2]), "int8")])


# Kills: killer.py, with this module's step writers added, forks a writer that saves over
# an existing checkpoint and exits right before its K-th step, as a kill would leave it.


def kill_tensors(version: int) -> list[tuple[str, np.ndarray, str]]:
    """The tensors of the old checkpoint (version 1) and of the new one (2)."""
    return [
        ("big", np.full(3 << 17, version, np.float32), "float32"),  # 1.5 MiB
        ("small", np.arange(5, dtype=np.int64) * version, "int64"),
        ("names", np.array([f"v{version}".encode(), b""], object), "string"),
    ]


def _torn_writes(kill_at: int):
    """Exit halfway through the *kill_at*-th write to a staged file; return the count."""
    count, open_write = 0, _fs.open_write

    class Torn:
        def __init__(self, file) -> None:
            self.file = file

        def __getattr__(self, name: str):
            return getattr(self.file, name)

        def write(self, data) -> None:
            nonlocal count
            count += 1
            if count == kill_at:
                data = memoryview(data).cast("B")
                self.file.write(data[: len(data) // 2])
                self.file.flush()
                os._exit(0)
            self.file.write(data)

    _fs.open_write = lambda path: Torn(open_write(path))
    return lambda: count


def _overwrite(mode: str, old_shards: int, new_shards: int, directory: str, kill_at=None):
    """A killer.py step writer: the old checkpoint by TensorFlow, the new one by the writer."""
    import killer

    prefix = Path(directory) / "ckpt"
    if kill_at is None:
        return tf_save(prefix, kill_tensors(1), old_shards)
    steps = _torn_writes(kill_at) if mode == "torn" else killer._arm(directory, kill_at)
    tensors = {name: value for name, value, _ in kill_tensors(2)}
    write_checkpoint(prefix, tensors, num_shards=new_shards, overwrite=True)
    killer._done(steps())


#: How the writer is killed (before each filesystem step, or halfway through each
#: write), saving over a checkpoint of this many shards with one of that many.
KILLS = {"steps-3-to-2": ("steps", 3, 2), "steps-1-to-1": ("steps", 1, 1)}
KILLS["torn-3-to-2"] = ("torn", 3, 2)
STEP_WRITERS = {name: functools.partial(_overwrite, *kill) for name, kill in KILLS.items()}
DRIVER = """import sys
sys.path.insert(0, sys.argv.pop())
import killer, test_writer
killer.STEP_WRITERS.update(test_writer.STEP_WRITERS)
killer.main()
"""


class WriterZygote(Zygote):
    """killer.py, knowing this module's STEP_WRITERS too."""

    def __init__(self, directory: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", DRIVER, "steps", str(directory), str(TESTS)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True, bufsize=1,
        )  # fmt: skip
        assert self.process.stdout.readline().strip() == "ready"


@pytest.fixture(scope="module")
def zygote(tmp_path_factory):
    zygote = WriterZygote(tmp_path_factory.mktemp("writer"))
    yield zygote
    zygote.close()


def version(prefix: Path) -> int:
    """Which checkpoint *prefix* is, whole: tfpersist verifies it, TensorFlow reads every tensor."""
    with load_checkpoint(prefix) as ours:
        ours.verify()
    reader = tf.train.load_checkpoint(str(prefix))
    found = {n: bits(reader.get_tensor(n)) for n in reader.get_variable_to_shape_map()}
    matches = [v for v in (1, 2) if found == {n: bits(x) for n, x, _ in kill_tensors(v)}]
    assert matches, f"{prefix}: neither the old checkpoint nor the new one"
    return matches[0]


@pytest.mark.parametrize("name", KILLS)
def test_killed_writer_leaves_the_old_or_the_new_checkpoint(name, zygote, tmp_path):
    template = tmp_path / "template"
    STEP_WRITERS[name](str(template))
    kills, steps, seen, left = 0, None, [], []
    while steps is None:
        directory = tmp_path / f"k{kills + 1}"
        shutil.copytree(template, directory)
        steps = zygote.step(name, directory, kills + 1)
        prefix = directory / "ckpt"
        staged = [p.name for d in directory.glob(".tfpersist-*") for p in d.iterdir()]
        if prefix.with_suffix(".index").exists():
            seen.append(version(prefix))
        else:  # only when killed between the moves, the new .index still staged
            assert name.startswith("steps") and any("index" in p for p in staged), kills
            seen.append(None)
        checkpoint_state.remove_leftovers(directory)
        left += [kills + 1] if list(directory.glob(".tfpersist-*")) else []
        if seen[-1] is not None:
            assert version(prefix) == seen[-1]
        kills += steps is None
    assert kills == steps and seen[-1] == 2 and seen[0] == 1
    if name.startswith("torn"):  # nothing is moved before every byte is written
        assert seen[:-1] == [1] * kills
    assert not left, f"remove_leftovers left the staging directory after kills {left}"


# -- casts, misuse, and other processes -----------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "dtype"),
    [
        (np.int64([2**40 + 5]), "int32"),  # out of range
        (np.uint64([2**64 - 1]), "int64"),
        (np.int8([-1]), "uint8"),
        (np.int64([16777217]), "float32"),  # not a float32
        (np.float64([1e300]), "float16"),  # overflows
        (np.float64([1.5]), "int32"),  # a float is not an integer
        (np.array([2]), "bool"),
    ],
)
def test_a_cast_that_changes_a_value_is_refused(value, dtype, tmp_path):
    with pytest.raises(ExportError, match="convert it yourself"):
        write_checkpoint(str(tmp_path / "ckpt"), {"v": value}, dtypes={"v": dtype})
    assert not os.path.exists(tmp_path / "ckpt.index")


def test_a_cast_that_keeps_every_value_matches_tensorflow(tmp_path):
    prefix = write_checkpoint(
        str(tmp_path / "ckpt"),
        {"f": np.float64([0.1, -2.5]), "i": np.int64([3, -4]), "b": np.int8([1, 0])},
        dtypes={"f": "float32", "i": "int32", "b": "bool"},
    )
    reader = tf.train.load_checkpoint(prefix)
    assert reader.get_tensor("f").tolist() == np.float32([0.1, -2.5]).tolist()
    assert reader.get_tensor("i").tolist() == [3, -4]
    assert reader.get_tensor("b").tolist() == [True, False]


def test_misuse_is_a_typed_error(tmp_path):
    writer = BundleWriter(str(tmp_path / "ckpt"))
    with pytest.raises(ExportError, match="not str or bytes"):
        writer.add(1, np.ones(1))  # type: ignore[arg-type]
    writer.close()
    with pytest.raises(ExportError, match="closed"):
        writer.add("late", np.ones(1))


def test_remove_leftovers_leaves_a_running_writer_alone(tmp_path):
    writer = BundleWriter(str(tmp_path / "ckpt"))
    writer.add("w", np.ones(1 << 18))
    assert checkpoint_state.remove_leftovers(tmp_path) == []  # its staging directory is locked
    writer.add("v", np.zeros(3))
    writer.close()
    assert load_checkpoint(str(tmp_path / "ckpt")).get_tensor("v").tolist() == [0.0] * 3
    assert checkpoint_state.leftovers(tmp_path) == []


TWO_WRITERS = """
import sys
import numpy as np
from tfpersist.bundle import write_checkpoint
prefix, value = sys.argv[1], float(sys.argv[2])
for shards in (1, 3, 2) * 4:
    tensors = {f"t{i}": np.full(1 << 16, value, np.float32) for i in range(6)}
    write_checkpoint(prefix, tensors, num_shards=shards, overwrite=True)
"""


def test_two_writers_to_one_prefix_leave_one_whole_checkpoint(tmp_path):
    prefix = str(tmp_path / "ckpt")
    writers = [
        subprocess.Popen([sys.executable, "-c", TWO_WRITERS, prefix, str(v)]) for v in (1, 2)
    ]
    assert [w.wait(timeout=300) for w in writers] == [0, 0]
    with load_checkpoint(prefix) as reader:
        reader.verify()
        values = {float(reader.get_tensor(f"t{i}")[0]) for i in range(6)}
    assert values in ({1.0}, {2.0})
