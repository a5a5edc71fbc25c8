"""Keras files: save_keras_model and load_keras_model against Keras's own save and load."""

from __future__ import annotations

import errno
import json
import os
import re
import stat
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from tfpersist import _tf, keras_models
from tfpersist.errors import (
    KerasFileError,
    TfPersistError,
    UnsafeKerasConfigError,
    WriteError,
)

keras = tf.keras


@keras.utils.register_keras_serializable(package=__name__)
class Scale(keras.layers.Layer):
    """A layer of the tests' own: multiplies by a trained factor."""

    def build(self, input_shape):
        self.factor = self.add_weight(shape=(1,), initializer="ones", name="factor")

    def call(self, inputs):
        return inputs * self.factor


class Unserialisable(keras.layers.Layer):
    """A layer whose config cannot be written."""

    def call(self, inputs):
        return inputs

    def get_config(self):
        raise RuntimeError("this layer cannot describe itself")


def sequential() -> keras.Model:
    return keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(3, activation="relu"),
            keras.layers.BatchNormalization(),
            keras.layers.Dense(2),
        ]
    )


def functional() -> keras.Model:
    inputs = keras.Input((4,))
    left = keras.layers.Dense(3, activation="tanh")(inputs)
    right = keras.layers.Dense(2)(inputs)
    merged = keras.layers.Concatenate()([left, right])
    return keras.Model(inputs, keras.layers.Dense(1)(merged))


BUILDERS = {"sequential": sequential, "functional": functional}


def keras_save(model: keras.Model, path: Path) -> None:
    """Keras's own ``.keras`` save, as a user would call it on this release."""
    if _tf.KERAS_3:
        model.save(path)
    else:
        model.save(str(path), save_format="keras_v3")


def trained(kind: str, seed: int, compiled: bool) -> keras.Model:
    keras.utils.set_random_seed(seed)
    model = BUILDERS[kind]()
    if compiled:
        model.compile(optimizer="adam", loss="mse")
        rng = np.random.default_rng(seed)
        x = rng.normal(size=(8, 4)).astype("float32")
        y = rng.normal(size=(8, model.output_shape[-1])).astype("float32")
        model.fit(x, y, epochs=2, verbose=0)
    return model


def predict(model: keras.Model, x: np.ndarray) -> np.ndarray:
    return np.asarray(model(x, training=False))


def save_h5(model: keras.Model, path: Path) -> None:
    """Keras's legacy ``.h5`` save; Keras 2.15 warns that the format is legacy."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        model.save(str(path))


def write_zip(path: Path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {name: z.read(name) for name in z.namelist()}


def edited(source: Path, target: Path, edit) -> Path:
    """A copy of the ``.keras`` file *source* whose config.json *edit* changed in place."""
    files = members(source)
    config = json.loads(files["config.json"])
    edit(config)
    files["config.json"] = json.dumps(config).encode()
    write_zip(target, files)
    return target


# --- round trip, with Keras as the oracle ------------------------------------


@pytest.mark.parametrize("compiled", [False, True], ids=["plain", "compiled"])
@pytest.mark.parametrize("kind", sorted(BUILDERS))
@pytest.mark.parametrize("seed", [0, 1])
def test_round_trip_predicts_as_keras_own_save_and_load(tmp_path, kind, seed, compiled):
    model = trained(kind, seed, compiled)
    ours = tmp_path / "ours.keras"
    theirs = tmp_path / "theirs.keras"
    assert keras_models.save_keras_model(model, ours) == str(ours)
    keras_save(model, theirs)
    assert zipfile.is_zipfile(ours)
    assert sorted(members(ours)) == sorted(members(theirs))

    loaded = keras_models.load_keras_model(ours, compile=compiled)
    oracle = keras.models.load_model(theirs, compile=compiled)
    keras_reads_ours = keras.models.load_model(ours, compile=compiled)
    assert type(loaded) is type(oracle)
    for batch in range(3):
        x = np.random.default_rng(100 * seed + batch).normal(size=(5, 4)).astype("float32")
        expected = predict(oracle, x)
        np.testing.assert_array_equal(predict(loaded, x), expected)
        np.testing.assert_array_equal(predict(keras_reads_ours, x), expected)
        np.testing.assert_allclose(predict(model, x), expected, rtol=1e-6, atol=1e-6)
    for ours_w, theirs_w in zip(loaded.get_weights(), oracle.get_weights(), strict=True):
        np.testing.assert_array_equal(ours_w, theirs_w)
    if compiled:
        assert [v.numpy().tolist() for v in loaded.optimizer.variables] == [
            v.numpy().tolist() for v in oracle.optimizer.variables
        ]
    assert sorted(os.listdir(tmp_path)) == ["ours.keras", "theirs.keras"]


def test_save_replaces_a_file_keeping_its_mode(tmp_path):
    path = tmp_path / "model.keras"
    keras_models.save_keras_model(trained("sequential", 0, False), path)
    os.chmod(path, 0o600)
    second = trained("sequential", 1, False)
    keras_models.save_keras_model(second, path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    x = np.ones((2, 4), np.float32)
    np.testing.assert_array_equal(predict(keras.models.load_model(path), x), predict(second, x))
    assert os.listdir(tmp_path) == ["model.keras"]


def test_save_writes_through_a_symbolic_link(tmp_path):
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "model.keras"
    link = tmp_path / "model.keras"
    link.symlink_to(target)
    model = trained("functional", 0, False)
    keras_models.save_keras_model(model, link)
    assert link.is_symlink() and zipfile.is_zipfile(target)
    assert os.listdir(tmp_path / "real") == ["model.keras"]


def test_save_creates_missing_parent_directories(tmp_path):
    path = tmp_path / "a" / "b" / "model.keras"
    keras_models.save_keras_model(trained("sequential", 0, False), path)
    assert zipfile.is_zipfile(path)


# --- atomicity ---------------------------------------------------------------


@pytest.fixture
def previous(tmp_path):
    """A good ``model.keras`` already in place, and its bytes."""
    path = tmp_path / "model.keras"
    keras_models.save_keras_model(trained("sequential", 0, False), path)
    return path, path.read_bytes()


@pytest.mark.fault
def test_a_model_keras_cannot_serialise_leaves_the_old_file(previous):
    path, before = previous
    broken = keras.Sequential([keras.Input((4,)), Unserialisable()])
    with pytest.raises(WriteError, match=r"model\.keras.*cannot describe itself.*unchanged") as e:
        keras_models.save_keras_model(broken, path)
    assert isinstance(e.value.__cause__, RuntimeError)
    assert path.read_bytes() == before
    assert os.listdir(path.parent) == ["model.keras"]


@pytest.mark.fault
def test_a_write_cut_short_leaves_the_old_file(previous, monkeypatch):
    path, before = previous

    def dies_half_way(model, staged):
        with open(staged, "wb") as f:
            f.write(b"PK\x03\x04 half a zip")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(keras_models, "save_keras_zip", dies_half_way)
    with pytest.raises(WriteError, match=r"No space left on device.*unchanged"):
        keras_models.save_keras_model(trained("sequential", 1, False), path)
    assert path.read_bytes() == before
    assert os.listdir(path.parent) == ["model.keras"]


@pytest.mark.fault
def test_a_failed_fsync_leaves_the_old_file(previous, monkeypatch):
    path, before = previous

    def fsync(fd):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(WriteError, match=r"Input/output error.*unchanged"):
        keras_models.save_keras_model(trained("sequential", 1, False), path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(path.parent) == ["model.keras"]


@pytest.mark.fault
@pytest.mark.parametrize("name", ["model.h5", "model", "model.weights.h5", "model.keras.zip"])
def test_other_suffixes_are_refused_before_anything_is_written(tmp_path, name):
    with pytest.raises(KerasFileError, match=r"does not end in \.keras.*name the file"):
        keras_models.save_keras_model(trained("sequential", 0, False), tmp_path / name)
    assert os.listdir(tmp_path) == []


@pytest.mark.fault
def test_an_object_that_is_no_keras_model_is_refused(tmp_path):
    module = tf.Module()
    module.v = tf.Variable(1.0)
    with pytest.raises(KerasFileError, match="only a Keras model"):
        keras_models.save_keras_model(module, tmp_path / "module.keras")
    assert os.listdir(tmp_path) == []


# --- the audit and Keras's safe_mode -----------------------------------------


def lambda_model() -> keras.Model:
    return keras.Sequential([keras.Input((4,)), keras.layers.Lambda(lambda t: t * 2.0)])


@pytest.mark.fault
@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_a_lambda_model_is_refused_listing_where_it_is(tmp_path, suffix):
    path = tmp_path / f"lambda{suffix}"
    if suffix == ".keras":
        keras_save(lambda_model(), path)
    else:
        save_h5(lambda_model(), path)
    with pytest.raises(UnsafeKerasConfigError, match=r"lambda\.(keras|h5).*bytecode") as e:
        keras_models.load_keras_model(path, allow_modules=["__main__", __name__])
    assert [f.rule for f in e.value.findings] == ["lambda"]
    assert e.value.findings[0].path.startswith("config.layers[")


def test_keras_2_loads_a_lambda_from_legacy_h5_in_safe_mode(tmp_path):
    """What the page says: the audit is needed, Keras 2 runs this bytecode."""
    path = tmp_path / "lambda.h5"
    save_h5(lambda_model(), path)
    if _tf.KERAS_3:
        with pytest.raises(ValueError, match="safe_mode"):
            keras.models.load_model(path, safe_mode=True)
    else:
        loaded = keras.models.load_model(str(path), safe_mode=True)
        np.testing.assert_array_equal(predict(loaded, np.ones((1, 4), np.float32)), [[2.0] * 4])


@pytest.mark.fault
def test_keras_safe_mode_still_applies_after_the_audit(tmp_path, monkeypatch):
    path = tmp_path / "lambda.keras"
    keras_save(lambda_model(), path)
    monkeypatch.setattr(keras_models, "check_keras_file", lambda *args, **kwargs: None)
    with pytest.raises(UnsafeKerasConfigError, match=r"lambda\.keras.*safe mode") as e:
        keras_models.load_keras_model(path)
    assert "safe_mode" in str(e.value.__cause__)
    loaded = keras.models.load_model(str(path), safe_mode=False)  # the oracle: only safe mode stood
    np.testing.assert_array_equal(predict(loaded, np.ones((1, 4), np.float32)), [[2.0] * 4])


@pytest.mark.fault
def test_a_config_naming_a_function_of_another_module_is_refused(tmp_path):
    source = tmp_path / "dense.keras"
    keras_save(sequential(), source)

    def hostile(config):
        config["config"]["layers"][-1]["config"]["activation"] = {
            "module": "os",
            "class_name": "function",
            "config": "system",
            "registered_name": "function",
        }

    path = edited(source, tmp_path / "hostile.keras", hostile)
    with pytest.raises(UnsafeKerasConfigError, match=r"hostile\.keras.*os\.system") as e:
        keras_models.load_keras_model(path)
    [finding] = e.value.findings
    assert (finding.rule, finding.module) == ("module", "os")
    assert (
        finding.path
        == f"config.layers[{len(json.loads(members(path)['config.json'])['config']['layers']) - 1}].config.activation"
    )


def own_layer_model() -> keras.Model:
    keras.utils.set_random_seed(3)
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(2), Scale(name="scale")])


def naming_this_module(config):
    for layer in config["config"]["layers"]:
        if layer["config"].get("name") == "scale":
            layer["module"] = __name__
            layer["class_name"] = "Scale"
            layer["registered_name"] = f"{__name__}>Scale"


@pytest.mark.fault
def test_allow_modules_lets_a_trusted_module_through(tmp_path):
    model = own_layer_model()
    source = tmp_path / "saved.keras"
    keras_save(model, source)
    path = edited(source, tmp_path / "own.keras", naming_this_module)
    with pytest.raises(UnsafeKerasConfigError, match=rf"own\.keras.*{__name__}") as e:
        keras_models.load_keras_model(path, custom_objects={"Scale": Scale})
    assert {f.module for f in e.value.findings} == {__name__}

    loaded = keras_models.load_keras_model(
        path, allow_modules=[__name__], custom_objects={"Scale": Scale}
    )
    oracle = keras.models.load_model(str(path), custom_objects={"Scale": Scale})
    x = np.random.default_rng(0).normal(size=(3, 4)).astype("float32")
    np.testing.assert_array_equal(predict(loaded, x), predict(oracle, x))
    np.testing.assert_allclose(predict(loaded, x), predict(model, x), rtol=1e-6)


# --- damaged files -----------------------------------------------------------


@pytest.fixture
def good(tmp_path):
    path = tmp_path / "good.keras"
    keras_save(sequential(), path)
    return path


def damaged_files(good: Path) -> dict[str, Path]:
    data = good.read_bytes()
    files = members(good)
    out = {}
    for cut in (len(data) // 2, len(data) - 10, 30):
        path = good.parent / f"truncated-{cut}.keras"
        path.write_bytes(data[:cut])
        out[f"truncated at {cut}"] = path
    path = good.parent / "random.keras"
    path.write_bytes(np.random.default_rng(7).bytes(2000))
    out["random bytes"] = path
    path = good.parent / "empty.keras"
    path.write_bytes(b"")
    out["empty"] = path
    path = good.parent / "weights-cut.keras"
    write_zip(path, {**files, "model.weights.h5": files["model.weights.h5"][:200]})
    out["weights cut short"] = path
    path = good.parent / "weights-garbage.keras"
    write_zip(path, {**files, "model.weights.h5": b"\x89HDF\r\n\x1a\n" + b"\0" * 300})
    out["weights garbage"] = path
    return out


@pytest.mark.fault
def test_damaged_files_raise_keras_file_error(good):
    for what, path in damaged_files(good).items():
        with pytest.raises((OSError, ValueError, KeyError)):  # the oracle: Keras cannot load it
            keras.models.load_model(str(path))
        with pytest.raises(KerasFileError, match=re.escape(path.name)) as e:
            keras_models.load_keras_model(path)
        assert not isinstance(e.value, UnsafeKerasConfigError), what
        if what.startswith("weights"):  # the config is sound: Keras itself failed, and said so
            assert "Keras cannot load" in str(e.value), what
            assert e.value.__cause__ is not None


@pytest.mark.fault
def test_a_class_keras_cannot_find_says_to_pass_custom_objects(tmp_path):
    source = tmp_path / "saved.keras"
    keras_save(own_layer_model(), source)
    path = edited(source, tmp_path / "own.keras", naming_this_module)
    registered = keras.utils.get_custom_objects()
    key = f"{__name__}>Scale"
    held = registered.pop(key)
    try:
        with pytest.raises(KerasFileError, match=r"own\.keras.*custom_objects"):
            keras_models.load_keras_model(path, allow_modules=[__name__])
    finally:
        registered[key] = held


@pytest.mark.fault
def test_a_weights_file_says_to_load_the_weights_into_a_model(tmp_path):
    model = trained("sequential", 0, False)
    path = tmp_path / "net.weights.h5"
    model.save_weights(str(path))
    with pytest.raises(ValueError, match="No model config"):  # the oracle: Keras's own words
        keras.models.load_model(str(path))
    with pytest.raises(KerasFileError, match=r"net\.weights\.h5.*weights only.*load_weights"):
        keras_models.load_keras_model(path)


@pytest.mark.fault
def test_a_missing_file_is_a_typed_error(tmp_path):
    with pytest.raises(TfPersistError, match=r"missing\.keras"):
        keras_models.load_keras_model(tmp_path / "missing.keras")


def test_a_file_swapped_after_the_audit_is_not_what_keras_loads(tmp_path, monkeypatch):
    """The audit and Keras read one private copy: replacing the file in between changes nothing."""
    safe, hostile = tmp_path / "model.keras", tmp_path / "hostile.keras"
    keras_models.save_keras_model(sequential(), safe)
    keras_models.save_keras_model(lambda_model(), hostile)
    audit = keras_models.check_keras_file

    def audit_then_swap(path, **kwargs):
        audit(path, **kwargs)
        if os.fspath(path) != str(safe):  # the audit of what Keras will load
            os.replace(hostile, safe)  # the attacker's move, right after it

    monkeypatch.setattr(keras_models, "check_keras_file", audit_then_swap)
    loaded = keras_models.load_keras_model(safe)
    assert not any(isinstance(layer, keras.layers.Lambda) for layer in loaded.layers)
