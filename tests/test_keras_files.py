"""tfpersist.keras_files: Keras files read without Keras, checked against Keras itself.

Every model below is saved in every format this release writes, read by
tfpersist and loaded by Keras; the two must agree value for value, layer by
layer. Then each refusal is tried on a file built for it.
"""

from __future__ import annotations

import io
import json
import os
import re
import resource
import struct
import subprocess
import sys
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
import tensorflow as tf

from tfpersist import exporting, inspecting, keras_files
from tfpersist._tf import KERAS_3, VERSION, save_keras_zip
from tfpersist.errors import (
    CorruptCheckpointError,
    ExportError,
    KerasFileError,
    TensorNotFoundError,
)
from tfpersist.keras_files import KerasFile, is_keras_file

keras = tf.keras
layers = keras.layers

# -- models and the formats each release writes -------------------------------


def sequential() -> Any:
    return keras.Sequential(
        [keras.Input((3,)), layers.Dense(4), layers.BatchNormalization(), layers.Dense(2)]
    )


def functional() -> Any:
    """A layer applied twice, and a model inside the model."""
    inputs = keras.Input((3,))
    shared = layers.Dense(3, name="shared")
    inner = keras.Sequential(
        [keras.Input((3,)), layers.Dense(5), layers.BatchNormalization()], name="inner"
    )
    a = shared(inputs)
    b = inner(shared(a))
    out = layers.Dense(2)(layers.Concatenate()([a, b]))
    return keras.Model(inputs, out)


def embedding() -> Any:
    return keras.Sequential(
        [
            keras.Input((4,), dtype="int32"),
            layers.Embedding(10, 3),
            layers.Flatten(),
            layers.Dense(1),
        ]
    )


def precisions() -> Any:
    """float64 and float16 variables."""
    inputs = keras.Input((3,))
    x = layers.Dense(4, dtype="float64")(inputs)
    return keras.Model(inputs, layers.Dense(2, dtype="float16")(x))


def trained() -> Any:
    """Fit one step, so that the optimizer has variables."""
    model = sequential()
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    rng = np.random.default_rng(0)
    x, y = rng.random((8, 3), dtype=np.float32), rng.random((8, 2), dtype=np.float32)
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    return model


MODELS: dict[str, Callable[[], Any]] = {
    "sequential": sequential,
    "functional": functional,
    "embedding": embedding,
    "precisions": precisions,
    "trained": trained,
}
if KERAS_3:  # Keras 2 writes bfloat16 as untagged opaque bytes that it cannot load back

    def bfloat16() -> Any:
        return keras.Sequential([keras.Input((3,)), layers.Dense(2, dtype="bfloat16")])

    MODELS["bfloat16"] = bfloat16

#: Every format each release writes: the file name, the kind and the layout tfpersist reports.
FORMATS = {
    "keras": ("m.keras", "keras", "keras3" if VERSION >= (2, 13) else "keras2.12"),
    "weights.h5": ("m.weights.h5", "weights.h5", "keras3" if VERSION >= (2, 13) else "keras2.12"),
    "h5 model": ("m.h5", "h5", "legacy"),
    "h5 weights": ("w.h5", "h5", "legacy"),
}


def build(name: str) -> Any:
    keras.utils.set_random_seed(7)
    model = MODELS[name]()
    for layer in flat_layers(model):  # moving statistics away from their initial values
        for weight in layer.weights:
            if not weight.trainable:
                weight.assign(
                    np.full(
                        tuple(weight.shape),
                        0.25,
                        np.dtype(getattr(weight.dtype, "name", weight.dtype)),
                    )
                )
    return model


def write(model: Any, form: str, directory: Path) -> Path:
    """Save *model* in *form*, as this release's Keras writes it."""
    path = directory / FORMATS[form][0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras calls .h5 a legacy format
        if form == "keras":
            save_keras_zip(model, str(path))
        elif form == "h5 model":
            model.save(str(path))
        elif form == "h5 weights" and KERAS_3:  # Keras 3 writes it only through its legacy module
            from keras.src.legacy.saving import legacy_h5_format

            with h5py.File(path, "w") as f:
                legacy_h5_format.save_weights_to_hdf5_group(f, model)
        else:
            model.save_weights(str(path))
    return path


def keras_reads(name: str, form: str, path: Path) -> Any:
    """The model as Keras itself loads it from *path*: a fresh model for weights alone."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if form in ("keras", "h5 model"):
            return keras.models.load_model(str(path), compile=False)
        keras.utils.set_random_seed(99)  # other initial values than the saved model's
        fresh = MODELS[name]()
        fresh.load_weights(str(path))
        return fresh


def flat_layers(model: Any) -> list[Any]:
    """The layers inside *model*, nested models opened, in the order Keras walks them."""
    found = []
    for layer in model.layers:
        found += flat_layers(layer) if isinstance(layer, keras.Model) else [layer]
    return found


def legacy_weights(layer: Any) -> list[Any]:
    """A layer's weights in the order Keras's .h5 format lists them."""
    return list(layer.trainable_weights) + list(layer.non_trainable_weights)


def optimizer_variables(model: Any) -> list[np.ndarray]:
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        return []
    found = optimizer.variables() if callable(optimizer.variables) else optimizer.variables
    return [np.asarray(v.numpy()) for v in found]


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def multiset(arrays: list[np.ndarray]) -> list[tuple[str, tuple[int, ...], bytes]]:
    return sorted((a.dtype.str, a.shape, np.ascontiguousarray(a).tobytes()) for a in arrays)


def values(weights: list[Any]) -> list[np.ndarray]:
    return [np.asarray(w.numpy()) for w in weights]


# Keras 3 writes bfloat16 into .h5 files but cannot load them back ("No cast function available")
CASES = [(m, f) for m in MODELS for f in FORMATS if not (m == "bfloat16" and f.startswith("h5"))]


@pytest.mark.parametrize(("name", "form"), CASES, ids=[f"{m}-{f}" for m, f in CASES])
def test_every_format_reads_as_keras_loads_it(tmp_path: Path, name: str, form: str) -> None:
    model = build(name)
    path = write(model, form, tmp_path)
    loaded = keras_reads(name, form, path)
    _, kind, layout = FORMATS[form]
    assert is_keras_file(path)
    with KerasFile(path) as f:
        assert (f.kind, f.layout) == (kind, layout)
        read = {n: f.get_tensor(n) for n in f.names()}
        listed = f.variables()
        groups = f.layer_weights()

    # variables() describes the arrays get_tensor returns, sorted by name
    assert [v[0] for v in listed] == sorted(read)
    for var_name, dtype, shape, size in listed:
        value = read[var_name]
        assert (value.dtype.name, value.shape, value.nbytes) == (dtype, shape, size)
        assert value.dtype.isnative

    # every variable belongs to one group
    grouped = [n for _, names in groups for n in names]
    assert sorted(grouped) == sorted(read)

    # the layers, in the order Keras gives them their weights
    optimizer_groups = {"optimizer", "optimizer_weights"}
    layer_groups = [
        (g, names)
        for g, names in groups
        if g not in optimizer_groups and not g.startswith("metrics/")
    ]
    if layout == "legacy":
        expected = [layer for layer in loaded.layers if layer.weights]
        saved = [layer for layer in model.layers if layer.weights]
        order = legacy_weights
    else:
        expected = [layer for layer in flat_layers(loaded) if layer.weights]
        saved = expected
        order = lambda layer: list(layer.weights)  # noqa: E731
    assert len(layer_groups) == len(expected) == len(saved)
    for (group, names), layer, named in zip(layer_groups, expected, saved, strict=True):
        last = group.split("/")[-1]
        if layout == "legacy":  # named after the saved model's layers; Keras matches by position
            assert last == named.name
        else:  # named after the class, numbered per class
            assert re.sub(r"_\d+$", "", last) == snake(type(layer).__name__)
        got = [read[n] for n in names]
        want = values(order(layer))
        assert len(got) == len(want), group
        for g, w in zip(got, want, strict=True):
            assert g.dtype == w.dtype and g.shape == w.shape
            np.testing.assert_array_equal(g, w)

    # the values Keras holds are the values of the model that was saved
    assert multiset(values(loaded.weights)) == multiset(values(model.weights))

    # the optimizer's variables, where the format keeps them
    saved_optimizer = optimizer_variables(model)
    in_file = [read[n] for g, names in groups if g in optimizer_groups for n in names]
    if in_file:
        assert multiset(in_file) == multiset(saved_optimizer)
    if name == "trained" and form != "weights.h5" and form != "h5 weights":
        assert in_file, "the optimizer's variables are missing"
    others = [g for g, _ in groups if g.startswith("metrics/")]
    assert all(not KERAS_3 and layout != "legacy" for _ in others)

    if name == "precisions":
        assert {"float16", "float64"} <= {v[1] for v in listed}
    if name == "bfloat16":
        assert "bfloat16" in {v[1] for v in listed}


@pytest.mark.parametrize("form", ["keras", "h5 model"])
def test_configs_match_what_keras_wrote(tmp_path: Path, form: str) -> None:
    model = build("trained")
    path = write(model, form, tmp_path)
    with KerasFile(path, weights=False) as f:
        assert f.model_config["class_name"] == "Sequential"
        assert f.keras_version == keras.__version__ if KERAS_3 else f.keras_version
        if form == "keras":
            with zipfile.ZipFile(path) as z:
                config = json.loads(z.read("config.json"))
                metadata = json.loads(z.read("metadata.json"))
            assert f.model_config == config and f.metadata == metadata
            assert f.training_config == config["compile_config"]
            assert f.training_config_source == "compile_config"
            assert f.layout is None  # the weights were not opened
        else:
            with h5py.File(path) as h5:
                assert f.model_config == json.loads(h5.attrs["model_config"])
                assert f.training_config == json.loads(h5.attrs["training_config"])
                assert f.keras_version == str(np.asarray(h5.attrs["keras_version"]).astype(str))
            assert f.training_config_source == "training_config"
        with pytest.raises(KerasFileError, match="weights=False"):
            f.names()


def test_layer_order_is_the_models_not_the_names(tmp_path: Path) -> None:
    """HDF5 sorts names; Keras walks the model. Twelve layers whose classes sort otherwise."""
    keras.utils.set_random_seed(3)
    stack = [keras.Input((4,))]
    for i in range(12):
        stack.append(
            [layers.LayerNormalization, layers.Dense, layers.BatchNormalization][i % 3](
                **({"units": 4} if i % 3 == 1 else {})
            )
        )
    model = keras.Sequential(stack)
    path = write(model, "weights.h5", tmp_path)
    with KerasFile(path) as f:
        groups = f.layer_weights()
        got = [[f.get_tensor(n) for n in names] for _, names in groups]
    want = [values(layer.weights) for layer in model.layers if layer.weights]
    assert [len(g) for g in got] == [len(w) for w in want]
    for g, w in zip(got, want, strict=True):
        for a, b in zip(g, w, strict=True):
            np.testing.assert_array_equal(a, b)
    names = [g.split("/")[-1] for g, _ in groups]
    assert names != sorted(names, key=keras_files._natural)  # so the order was not the names'


def test_missing_names_are_suggested(tmp_path: Path) -> None:
    path = write(build("sequential"), "weights.h5", tmp_path)
    with KerasFile(path) as f:
        real = f.names()[0]
        with pytest.raises(TensorNotFoundError, match=re.escape(repr(real))) as e:
            f.get_tensor(real + "x")
    assert isinstance(e.value, KeyError)


# -- telling Keras files from checkpoints -----------------------------------


def test_is_keras_file_by_content(tmp_path: Path) -> None:
    model = build("sequential")
    keras_path = write(model, "keras", tmp_path)
    renamed = tmp_path / "model.bin"
    renamed.write_bytes(keras_path.read_bytes())
    prefix = tf.train.Checkpoint(model=model).write(str(tmp_path / "ckpt" / "ckpt"))
    np.savez(tmp_path / "arrays.npz", a=np.ones(2))  # a zip without config.json
    truncated = tmp_path / "cut.keras"
    truncated.write_bytes(keras_path.read_bytes()[:200])
    assert is_keras_file(keras_path) and is_keras_file(renamed) and is_keras_file(truncated)
    assert is_keras_file(write(model, "weights.h5", tmp_path))
    assert not is_keras_file(prefix)
    assert not is_keras_file(tmp_path / "ckpt")
    assert not is_keras_file(prefix + ".index")
    assert not is_keras_file(tmp_path / "arrays.npz")
    assert not is_keras_file(tmp_path / "missing.keras")
    with pytest.raises(KerasFileError, match="no such file"):
        KerasFile(tmp_path / "missing.keras")
    with pytest.raises(KerasFileError, match="a directory"):
        KerasFile(tmp_path / "ckpt")


# -- inspecting and exporting take Keras files ---------------------------------


def test_inspecting_reads_keras_files(tmp_path: Path) -> None:
    model = build("trained")
    a = write(model, "keras", tmp_path)
    (tmp_path / "b").mkdir()
    model.layers[0].bias.assign(model.layers[0].bias + 0.5)
    b = write(model, "keras", tmp_path / "b")
    listing = inspecting.list_checkpoint(a)
    assert listing.prefix == str(a)
    with KerasFile(a) as f:
        assert [(v.name, v.dtype, v.shape, v.bytes) for v in listing.variables] == f.variables()
        bias_name = next(names for g, names in f.layer_weights() if g.endswith("/dense"))[1]
    as_json = listing.to_json()
    assert set(as_json) == {"prefix", "variables", "total_bytes"}
    assert set(as_json["variables"][0]) == {"name", "dtype", "shape", "bytes"}
    read = dict(inspecting.read_values(a))
    assert sorted(read) == [v.name for v in listing.variables]
    diff = inspecting.diff_checkpoints(a, b)
    assert [c.name for c in diff.changed] == [bias_name]
    assert diff.changed[0].max_abs_diff == pytest.approx(0.5)
    assert inspecting.verify_checkpoint(b).total_bytes == listing.total_bytes


def test_verify_finds_changed_bytes_in_an_archive(tmp_path: Path) -> None:
    model = build("sequential")
    path = write(model, "keras", tmp_path)
    data = bytearray(path.read_bytes())
    kernel = model.layers[0].kernel.numpy().tobytes()
    where = data.find(kernel)
    assert where > 0
    data[where] ^= 0x40
    path.write_bytes(bytes(data))
    with KerasFile(path, weights=False) as f:  # the config still reads
        assert f.model_config is not None
    with pytest.raises(KerasFileError, match="CRC-32"):
        inspecting.list_checkpoint(path)
    with pytest.raises(CorruptCheckpointError, match="CRC-32"):
        inspecting.verify_checkpoint(path)


@pytest.mark.parametrize("suffix", [".npz", ".safetensors"])
def test_export_takes_keras_files(tmp_path: Path, suffix: str) -> None:
    model = build("bfloat16" if KERAS_3 else "precisions")
    path = write(model, "weights.h5", tmp_path)
    out = tmp_path / f"out{suffix}"
    names = exporting.export_checkpoint(path, out)
    with KerasFile(path) as f:
        assert names == f.names()
        original = {n: f.get_tensor(n) for n in names}
    if suffix == ".npz":
        with np.load(out) as exported:
            for n in names:
                np.testing.assert_array_equal(exported[n], original[n].astype(exported[n].dtype))
    else:
        header_size = struct.unpack("<Q", out.read_bytes()[:8])[0]
        header = json.loads(out.read_bytes()[8 : 8 + header_size])
        assert sorted(k for k in header if k != "__metadata__") == sorted(names)


def test_listing_a_checkpoint_imports_no_h5py_or_numpy(tmp_path: Path) -> None:
    prefix = tf.train.Checkpoint(v=tf.Variable([1.0])).write(str(tmp_path / "ckpt"))
    code = (
        "import sys, tfpersist.inspecting as i; i.list_checkpoint(sys.argv[1]); "
        "print(sorted(m for m in ('h5py', 'numpy', 'tensorflow') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, prefix],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert done.stdout.strip() == "[]"


# -- zip archives from strangers ------------------------------------------------


def genuine_keras(tmp_path: Path) -> Path:
    return write(build("sequential"), "keras", tmp_path)


def members(path: Path) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(path) as z:
        return [(i.filename, z.read(i.filename)) for i in z.infolist()]


def archive(path: Path, items: list[tuple[str, bytes]], method: int = zipfile.ZIP_STORED) -> Path:
    with zipfile.ZipFile(path, "w", method) as z:
        for name, data in items:
            z.writestr(zipfile.ZipInfo(name), data, compress_type=method)
    return path


@pytest.mark.parametrize(
    "name", ["../evil.txt", "/tmp/evil.txt", "a/../../evil.txt", "..\\evil.txt"]
)
def test_members_that_climb_out_are_refused_and_never_written(tmp_path: Path, name: str) -> None:
    inner = tmp_path / "inner"
    inner.mkdir()
    path = archive(inner / "m.keras", [*members(genuine_keras(tmp_path)), (name, b"owned")])
    before = sorted(p.name for p in tmp_path.rglob("*"))
    with pytest.raises(KerasFileError, match="outside the archive"):
        KerasFile(path, weights=False)
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
    assert not Path("/tmp/evil.txt").exists() or name != "/tmp/evil.txt"


def test_duplicate_and_missing_members(tmp_path: Path) -> None:
    items = members(genuine_keras(tmp_path))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns of the duplicate
        twice = archive(tmp_path / "twice.keras", [*items, ("config.json", b"{}")])
    with pytest.raises(KerasFileError, match="twice"):
        KerasFile(twice)
    no_config = archive(tmp_path / "a.zip", [i for i in items if i[0] != "config.json"])
    assert not is_keras_file(no_config)  # a zip without config.json is no Keras file...
    named = no_config.rename(tmp_path / "a.keras")
    assert is_keras_file(named)  # ...but one named like it is read as one, to say what is wrong
    no_config = named
    with pytest.raises(KerasFileError, match=r"no config\.json"):
        KerasFile(no_config)
    no_weights = archive(tmp_path / "b.keras", [i for i in items if i[0] != "model.weights.h5"])
    with pytest.raises(KerasFileError, match=r"no model\.weights\.h5"):
        KerasFile(no_weights)
    with KerasFile(no_weights, weights=False) as f:  # the config can still be audited
        assert f.model_config["class_name"] == "Sequential"


@pytest.mark.parametrize(
    ("config", "words"),
    [
        (b'{"class_name": ', "not valid JSON"),
        (b'{"name": "\xff\xfe"}', "not UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "deeper"),
    ],
)
def test_bad_json_is_refused(tmp_path: Path, config: bytes, words: str) -> None:
    items = [(n, config if n == "config.json" else d) for n, d in members(genuine_keras(tmp_path))]
    with pytest.raises(KerasFileError, match=words):
        KerasFile(archive(tmp_path / "bad.keras", items), weights=False)


def test_a_config_that_is_not_an_object_is_handed_over(tmp_path: Path) -> None:
    items = [
        (n, b"[1, 2]" if n == "config.json" else d) for n, d in members(genuine_keras(tmp_path))
    ]
    with KerasFile(archive(tmp_path / "list.keras", items), weights=False) as f:
        assert f.model_config == [1, 2] and f.training_config is None


def test_zip_bombs_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    items = dict(members(genuine_keras(tmp_path)))
    # a config.json of 8 MB of spaces deflates more than a thousand times
    bomb = {**items, "config.json": b'{"a": 1}' + b" " * (8 << 20)}
    path = archive(tmp_path / "bomb.keras", list(bomb.items()), zipfile.ZIP_DEFLATED)
    with pytest.raises(KerasFileError, match="zip bomb"):
        KerasFile(path, weights=False)
    # a weights member padded with zeros, the same
    padded = {**items, "model.weights.h5": items["model.weights.h5"] + bytes(16 << 20)}
    path = archive(tmp_path / "bomb2.keras", list(padded.items()), zipfile.ZIP_DEFLATED)
    with pytest.raises(KerasFileError, match=r"model\.weights\.h5.*zip bomb"):
        KerasFile(path)
    # a stored config.json larger than the cap
    monkeypatch.setattr(keras_files, "MAX_CONFIG_BYTES", 100)
    with pytest.raises(KerasFileError, match="more than the 100"):
        KerasFile(genuine_keras(tmp_path), weights=False)


def test_a_member_longer_than_it_declares_is_refused(tmp_path: Path) -> None:
    path = genuine_keras(tmp_path)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("config.json")
    # declare 10 bytes fewer, in the local header and the central directory
    struct.pack_into("<II", data, info.header_offset + 18, info.file_size - 10, info.file_size - 10)
    index = data.find(b"config.json", data.find(b"PK\x01\x02"))
    central = index - 46
    struct.pack_into("<II", data, central + 20, info.file_size - 10, info.file_size - 10)
    path.write_bytes(bytes(data))
    with pytest.raises(KerasFileError, match=r"config\.json"):
        KerasFile(path, weights=False)


@pytest.mark.parametrize("cut", [0.1, 0.5, 0.9, 0.99])
def test_truncated_archives(tmp_path: Path, cut: float) -> None:
    path = genuine_keras(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * cut)])
    with pytest.raises(KerasFileError, match=r"truncated|damaged"):
        KerasFile(path)


def test_damaged_files_raise_only_keras_file_error(tmp_path: Path) -> None:
    """Bytes changed all over an archive and a weights file: read, or refused, never a crash."""
    rng = np.random.default_rng(0)
    outcomes = {"read": 0, "refused": 0}
    for source in (genuine_keras(tmp_path), write(build("trained"), "h5 model", tmp_path)):
        original = source.read_bytes()
        for round_ in range(40):
            data = bytearray(original)
            for where in rng.integers(0, len(data), size=1 + round_ % 4):
                data[where] = int(rng.integers(0, 256))
            damaged = tmp_path / f"damaged{source.suffix}"
            damaged.write_bytes(bytes(data))
            try:
                with KerasFile(damaged) as f:
                    for name in f.names():
                        f.get_tensor(name)
                    f.layer_weights()
                    f.verify_crc()
                outcomes["read"] += 1
            except KerasFileError:
                outcomes["refused"] += 1
    assert outcomes["refused"] > 0


def test_stored_weights_are_read_in_place_and_compressed_ones_copied(tmp_path: Path) -> None:
    path = genuine_keras(tmp_path)
    with KerasFile(path) as f:
        assert isinstance(f._member, keras_files._Window)  # no copy
        want = {n: f.get_tensor(n) for n in f.names()}
    deflated = archive(tmp_path / "deflated.keras", members(path), zipfile.ZIP_DEFLATED)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert keras.models.load_model(str(deflated), compile=False)  # Keras reads it too
    with KerasFile(deflated) as f:
        assert not isinstance(f._member, keras_files._Window)
        got = {n: f.get_tensor(n) for n in f.names()}
    assert got.keys() == want.keys()
    for n in want:
        np.testing.assert_array_equal(got[n], want[n])


# -- zip and HDF5 at once --------------------------------------------------------


def test_a_genuine_archive_with_its_weights_at_a_superblock_offset_is_read(tmp_path: Path) -> None:
    """The HDF5 library finds the stored weights member's superblock: the same file, so not refused."""
    items = dict(members(genuine_keras(tmp_path)))
    config = items["config.json"]
    order = ["metadata.json", "config.json", "model.weights.h5"]
    before = sum(30 + len(n) + len(items[n]) for n in order[:2]) + 30 + len(order[2])
    target = 4096 if before < 4096 else 8192
    items["config.json"] = config + b" " * (target - before)  # JSON allows trailing spaces
    path = archive(tmp_path / "aligned.keras", [(n, items[n]) for n in order])
    assert path.read_bytes()[target : target + 8] == keras_files.HDF5_SIGNATURE
    assert h5py.is_hdf5(path)  # HDF5 sees the weights member as a file with a user block
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded = keras.models.load_model(str(path), compile=False)  # and Keras loads it
    with KerasFile(path) as f:
        assert f.kind == "keras"
        read = [f.get_tensor(n) for _, names in f.layer_weights() for n in names]
    assert multiset(read) == multiset(values(loaded.weights))


@pytest.mark.parametrize(
    "name", ["aligned.h5", "aligned.weights.h5", "aligned.zip", "aligned", "aligned.KERAS"]
)
def test_an_aligned_archive_under_another_name_is_refused(tmp_path: Path, name: str) -> None:
    """Keras opens a file not named .keras as HDF5: it would load the member, not the archive."""
    items = dict(members(genuine_keras(tmp_path)))
    order = ["metadata.json", "config.json", "model.weights.h5"]
    before = sum(30 + len(n) + len(items[n]) for n in order[:2]) + 30 + len(order[2])
    items["config.json"] += b" " * (4096 - before)
    path = archive(tmp_path / name, [(n, items[n]) for n in order])
    assert path.read_bytes()[4096:4104] == keras_files.HDF5_SIGNATURE
    for weights in (True, False):
        with pytest.raises(KerasFileError, match="give it that name again"):
            KerasFile(path, weights=weights)


def test_an_hdf5_file_with_a_zip_appended_is_refused(tmp_path: Path) -> None:
    weights = write(build("sequential"), "weights.h5", tmp_path)
    (tmp_path / "x").mkdir()
    other = genuine_keras(tmp_path / "x")
    path = tmp_path / "both.keras"
    path.write_bytes(weights.read_bytes() + other.read_bytes())
    assert h5py.is_hdf5(path) and zipfile.is_zipfile(path)
    with pytest.raises(KerasFileError, match="both a zip archive and an HDF5 file"):
        KerasFile(path)


def test_an_hdf5_file_hidden_inside_a_member_is_refused(tmp_path: Path) -> None:
    """Another model's weights at byte 1024, inside a member: HDF5 readers would read those."""
    items = members(genuine_keras(tmp_path))
    (tmp_path / "o").mkdir()
    keras.utils.set_random_seed(5)
    hidden = write(sequential(), "weights.h5", tmp_path / "o").read_bytes()
    pad = b"\0" * (1024 - 30 - len("assets/pad"))
    path = archive(tmp_path / "hidden.keras", [("assets/pad", pad + hidden), *items])
    assert path.read_bytes()[1024:1032] == keras_files.HDF5_SIGNATURE
    assert h5py.is_hdf5(path)
    with pytest.raises(KerasFileError, match=r"both a zip archive and an HDF5 file.*1024"):
        KerasFile(path, weights=False)


# -- HDF5 files from strangers ----------------------------------------------------


def h5_weights(path: Path, fill: Callable[[h5py.Group], Any]) -> Path:
    """A weights file of Keras 3's layout, with what *fill* adds to ``layers/dense/vars``."""
    with h5py.File(path, "w") as f:
        group = f.create_group("layers/dense/vars")
        group["0"] = np.ones((2, 2), np.float32)
        fill(group)
    return path


def _virtual(group: h5py.Group) -> None:
    layout = h5py.VirtualLayout(shape=(2,), dtype="f4")
    layout[:] = h5py.VirtualSource("other.h5", "x", shape=(2,))
    group.create_virtual_dataset("1", layout)


HOSTILE: dict[str, tuple[Callable[[h5py.Group], Any], str]] = {
    "external link": (
        lambda g: g.__setitem__("1", h5py.ExternalLink("other.h5", "/x")),
        "external link",
    ),
    "soft link": (lambda g: g.__setitem__("1", h5py.SoftLink("/layers/dense/vars/0")), "soft link"),
    "external raw data": (
        lambda g: g.create_dataset("1", shape=(4,), dtype="f4", external=[("raw.bin", 0, 16)]),
        "another file",
    ),
    "virtual dataset": (_virtual, "virtual"),
    "object reference": (
        lambda g: g.create_dataset("1", data=[g.file["layers"].ref], dtype=h5py.ref_dtype),
        "reference",
    ),
    "region reference": (
        lambda g: g.create_dataset("1", shape=(1,), dtype=h5py.regionref_dtype),
        "reference",
    ),
    "compound": (lambda g: g.create_dataset("1", data=np.zeros(2, "f4,i4")), "compound"),
    "enum": (
        lambda g: g.create_dataset("1", data=[1], dtype=h5py.enum_dtype({"A": 1, "B": 2}, "i1")),
        "enum",
    ),
    "opaque": (lambda g: g.create_dataset("1", data=np.zeros(2, "V4")), "opaque"),
    "fixed strings": (lambda g: g.create_dataset("1", data=np.array([b"ab"])), "string"),
    "variable strings": (
        lambda g: g.create_dataset("1", data=["ab"], dtype=h5py.string_dtype()),
        "string",
    ),
    "a group named in another encoding": (lambda g: g.create_group(b"n\xffo"), "not UTF-8"),
    "a named datatype": (lambda g: g.__setitem__("1", np.dtype("f4")), "named datatype"),
    "compression bomb": (
        lambda g: g.create_dataset(
            "1", data=np.zeros(8 << 20, "f4"), chunks=(1 << 20,), compression="gzip"
        ),
        "compression bomb",
    ),
    "unallocated": (lambda g: g.create_dataset("1", shape=(1 << 28,), dtype="f4"), "declares"),
    "a filter plugin": (
        lambda g: h5py.h5d.create(
            g.id, b"1", h5py.h5t.IEEE_F32LE, h5py.h5s.create_simple((4,)), dcpl=_plugin_plist()
        ),
        "filter 32015",
    ),
}


def _plugin_plist() -> Any:
    plist = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    plist.set_chunk((4,))
    plist.set_filter(32015, h5py.h5z.FLAG_OPTIONAL)  # zstd: not built in
    return plist


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_hdf5_contents_are_refused(tmp_path: Path, case: str) -> None:
    fill, words = HOSTILE[case]
    path = h5_weights(tmp_path / "w.weights.h5", fill)
    with pytest.raises(KerasFileError, match=words) as e:
        KerasFile(path)
    assert str(path) in str(e.value)


def test_big_endian_numbers_are_read_in_native_order(tmp_path: Path) -> None:
    want = np.arange(6, dtype=np.float64).reshape(2, 3) - 2.5
    ints = np.array([1, -2, 3], dtype=">i8")

    def fill(group: h5py.Group) -> None:
        group.create_dataset("1", data=want.astype(">f8"))
        group.create_dataset("2", data=ints)
        group.create_dataset("3", data=np.array([True, False]))

    with KerasFile(h5_weights(tmp_path / "be.weights.h5", fill)) as f:
        assert f.variables()[1:] == [
            ("layers/dense/vars/1", "float64", (2, 3), 48),
            ("layers/dense/vars/2", "int64", (3,), 24),
            ("layers/dense/vars/3", "bool", (2,), 2),
        ]
        value = f.get_tensor("layers/dense/vars/1")
        assert value.dtype.isnative
        np.testing.assert_array_equal(value, want)
        assert f.get_tensor("layers/dense/vars/2").tolist() == [1, -2, 3]
        assert f.get_tensor("layers/dense/vars/3").tolist() == [True, False]


def test_cycles_of_hard_links_end(tmp_path: Path) -> None:
    def fill(group: h5py.Group) -> None:
        group.file["layers/dense/loop"] = group.file["layers"]  # layers/dense/loop is layers

    with KerasFile(h5_weights(tmp_path / "cycle.weights.h5", fill)) as f:
        assert f.names() == ["layers/dense/vars/0"]
        assert f.layer_weights() == [("layers/dense", ["layers/dense/vars/0"])]


def test_an_hdf5_file_keras_did_not_write_is_refused(tmp_path: Path) -> None:
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["data"] = np.ones(3)
    with pytest.raises(KerasFileError, match="not one Keras wrote"):
        KerasFile(tmp_path / "other.h5")
    (tmp_path / "text.keras").write_text("hello")
    with pytest.raises(KerasFileError, match="neither"):
        KerasFile(tmp_path / "text.keras")


def legacy_with_config(path: Path) -> tuple[Path, int]:
    """A Keras 3 style .h5: its model_config a variable-length string; where that string's length is."""
    text = json.dumps({"class_name": "Sequential", "config": {"layers": []}})
    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = text  # h5py writes a str as a variable-length string
        f.create_group("model_weights").attrs["layer_names"] = np.array([], dtype="S1")
    data = path.read_bytes()
    heap = data.find(b"GCOL")
    where = data.find(struct.pack("<I", len(text)) + struct.pack("<Q", heap))
    assert heap > 0 and where > 0
    return path, where


def test_variable_length_text_is_read_within_bounds(tmp_path: Path) -> None:
    path, _ = legacy_with_config(tmp_path / "m.h5")
    with KerasFile(path) as f:
        assert f.model_config == {"class_name": "Sequential", "config": {"layers": []}}
        assert f.layer_weights() == []
    # a string that declares 4 GB: h5py would allocate them; tfpersist refuses first
    data = bytearray(path.read_bytes())
    _, where = legacy_with_config(tmp_path / "m.h5")
    struct.pack_into("<I", data, where, 0xFFFFFFF0)
    path.write_bytes(bytes(data))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(KerasFileError, match=r"model_config.*cannot be read safely"):
        KerasFile(path, weights=False)
    grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kb < 256 << 10
    # a global heap that declares 12.6 GB
    path, _ = legacy_with_config(tmp_path / "m.h5")
    data = bytearray(path.read_bytes())
    struct.pack_into("<Q", data, data.find(b"GCOL") + 8, 12_600_000_000)
    path.write_bytes(bytes(data))
    with pytest.raises(KerasFileError, match="model_config"):
        KerasFile(path, weights=False)


def test_raw_text_reading_matches_h5py(tmp_path: Path) -> None:
    """tfpersist's own reading of variable-length strings gives what h5py gives."""
    path = write(build("trained"), "h5 model", tmp_path)
    with h5py.File(path) as h5, KerasFile(path) as f:
        root, weights = h5.attrs, h5["model_weights"].attrs
        for name in ("model_config", "training_config", "keras_version", "backend"):
            want = root[name]
            want = want.decode() if isinstance(want, bytes) else str(want)
            assert f._text(f._h5.id, "", name) == want
        want_names = [
            n.decode() if isinstance(n, bytes) else str(n) for n in weights["layer_names"]
        ]
        got = f._text_list(f._h5["model_weights"].id, "model_weights", "layer_names")
        assert got == want_names


def test_h5py_errors_become_keras_file_errors(tmp_path: Path) -> None:
    path = write(build("sequential"), "weights.h5", tmp_path)
    data = path.read_bytes()
    for cut in (16, 200, len(data) // 2, len(data) - 100):
        path.write_bytes(data[:cut])
        with pytest.raises(KerasFileError, match=re.escape(repr(str(path)))), KerasFile(path) as f:
            for name in f.names():
                f.get_tensor(name)


def test_a_window_reads_like_a_file(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(bytes(range(100)))
    source = keras_files._Source(str(tmp_path / "f"))
    try:
        window = keras_files._Window(source, 10, 20)
        assert window.read(5) == bytes(range(10, 15))
        window.seek(-3, io.SEEK_END)
        assert window.read() == bytes(range(27, 30))
        assert window.read(5) == b""
        with pytest.raises(OSError):
            window.seek(-1)
        assert not window.writable()
    finally:
        source.close()


def test_many_datasets_each_under_the_ratio_are_refused_together(tmp_path: Path) -> None:
    """2,000 unallocated datasets of 1 MiB each: each passes alone, 2 GiB together does not."""

    def fill(group: h5py.Group) -> None:
        for i in range(2000):
            group.create_dataset(f"many/{i}", shape=(keras_files.RATIO_FLOOR // 4,), dtype="f4")

    path = h5_weights(tmp_path / "many.weights.h5", fill)
    assert path.stat().st_size * keras_files.MAX_RATIO < 2000 * keras_files.RATIO_FLOOR
    with pytest.raises(KerasFileError, match=r"datasets declare .* bytes or more"):
        KerasFile(path).variables()


def test_split_list_attributes_are_capped_together(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keras splits a long ``layer_names`` into ``layer_names0``, ``1``...: the cap is on all."""
    monkeypatch.setattr(keras_files, "MAX_TEXT_BYTES", 3000)
    path = tmp_path / "split.h5"
    names = np.array([b"l%07d" % i for i in range(250)], dtype="S8")  # 2,000 bytes each
    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = json.dumps({"class_name": "Sequential", "config": {}})
        group = f.create_group("model_weights")
        for k in range(2):
            group.attrs.create(f"layer_names{k}", names)
    with pytest.raises(KerasFileError, match=r"layer_names0, layer_names1, \.\.\. .* together"):
        KerasFile(path).layer_weights()


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "model.keras"
    os.mkfifo(fifo)
    with pytest.raises(KerasFileError, match="not a regular file"):
        KerasFile(fifo)
    assert not is_keras_file(fifo)


def test_overlong_hdf5_paths_are_refused(tmp_path: Path) -> None:
    """Paths Keras never writes would cost memory and output far beyond the file's size."""
    path = h5_weights(
        tmp_path / "long.weights.h5",
        lambda group: group.create_dataset("x" * (keras_files.MAX_PATH_CHARS + 1), data=[1.0]),
    )
    with pytest.raises(KerasFileError, match="HDF5 paths run longer"):
        KerasFile(path).variables()


def test_a_name_too_long_for_npz_is_an_export_error(tmp_path: Path) -> None:
    name = "v" * 70_000
    prefix = tmp_path / "ckpt"
    from tfpersist.bundle import write_checkpoint

    write_checkpoint(str(prefix), {name: np.ones(2, np.float32)})
    with pytest.raises(ExportError, match="longer than a zip member's name"):
        exporting.export_checkpoint(prefix, tmp_path / "out.npz")
    assert not (tmp_path / "out.npz").exists()
