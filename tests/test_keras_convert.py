"""convert_keras_weights: files and checkpoints of one Keras, written for the running one.

What is written must load in Keras itself (``load_weights``, or
``tf.train.Checkpoint.read``) and predict what the source's model predicts.
Files crossing releases are the compatibility matrix's job (tests/compat).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from test_keras_weights import MODELS, SUFFIX, fresh, layers, predict, save, trained

from tfpersist import keras_weights
from tfpersist.errors import ExportError, VariableMismatchError

ROOT = Path(__file__).resolve().parents[1]
OUTS = ["out.weights.h5", "out/ckpt"]


def _source(tmp_path: Path, model: tf.keras.Model, how: str) -> str:
    if how == "checkpoint":
        return tf.train.Checkpoint(model=model).write(str(tmp_path / "src" / "ckpt"))
    path = str(tmp_path / f"src{SUFFIX[how]}")
    save(model, path, how)
    return path


def _loaded_by_keras(build, out: str) -> tf.keras.Model:
    """What Keras itself makes of *out*: ``load_weights``, or the checkpoint's every object matched."""
    model = fresh(build, 3)
    if out.endswith(".weights.h5"):
        model.load_weights(out)
    else:
        tf.train.Checkpoint(model=model).read(out).assert_existing_objects_matched()
    return model


@pytest.mark.parametrize("out", OUTS)
@pytest.mark.parametrize("how", ["checkpoint", "weights", "zip", "h5"])
@pytest.mark.parametrize("name", MODELS)
def test_converted_weights_load_in_keras(tmp_path, name, how, out):
    build = MODELS[name]
    model = trained(build)
    source = _source(tmp_path, model, how)
    written = keras_weights.convert_keras_weights(fresh(build, 1), source, str(tmp_path / out))
    assert written == str(tmp_path / out)
    np.testing.assert_array_equal(predict(_loaded_by_keras(build, written)), predict(model))


def test_a_checkpoint_is_written_in_the_checkpoint_layout(tmp_path):
    model = trained(MODELS["nested"])
    model.save_weights(str(tmp_path / "m.weights.h5"))
    prefix = keras_weights.convert_keras_weights(
        fresh(MODELS["nested"], 1), tmp_path / "m.weights.h5", tmp_path / "c" / "ckpt"
    )
    ours = sorted(name for name, _ in tf.train.list_variables(prefix))
    keras = tf.train.Checkpoint(model=model).write(str(tmp_path / "k" / "ckpt"))
    assert ours == sorted(name for name, _ in tf.train.list_variables(keras))
    assert sorted(os.listdir(tmp_path / "c")) == ["ckpt.data-00000-of-00001", "ckpt.index"]


def test_a_refused_conversion_writes_nothing(tmp_path):
    source = str(tmp_path / "m.weights.h5")
    trained(lambda: layers("dense4", "bn", "dense2")).save_weights(source)
    old = trained(lambda: layers("dense4", "dense3"))
    old.save_weights(str(tmp_path / "out.weights.h5"))
    before = (tmp_path / "out.weights.h5").read_bytes()
    other = fresh(lambda: layers("dense4", "dense3"), 1)
    kept = [w.numpy().copy() for w in other.weights]
    for out in ("out.weights.h5", "ckpt"):
        with pytest.raises(VariableMismatchError):
            keras_weights.convert_keras_weights(other, source, str(tmp_path / out))
    assert (tmp_path / "out.weights.h5").read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["m.weights.h5", "out.weights.h5"]
    for w, b in zip(other.weights, kept, strict=True):
        np.testing.assert_array_equal(w.numpy(), b)


@pytest.mark.parametrize("out", ["m.h5", "m.keras", "m.hdf5"])
def test_a_file_kind_that_is_not_written_is_refused_first(tmp_path, out):
    model = trained(MODELS["sequential"])
    model.save_weights(str(tmp_path / "m.weights.h5"))
    other = fresh(MODELS["sequential"], 1)
    kept = [w.numpy().copy() for w in other.weights]
    with pytest.raises(ExportError, match=r"\.weights\.h5"):
        keras_weights.convert_keras_weights(other, tmp_path / "m.weights.h5", tmp_path / out)
    for w, b in zip(other.weights, kept, strict=True):
        np.testing.assert_array_equal(w.numpy(), b)  # not restored either
    assert not (tmp_path / out).exists()


def test_a_file_is_replaced_whole_and_no_temporary_file_stays(tmp_path):
    build = MODELS["functional"]
    first, second = trained(build), fresh(build, 7)
    first.save_weights(str(tmp_path / "a.weights.h5"))
    second.save_weights(str(tmp_path / "b.weights.h5"))
    out = str(tmp_path / "out.weights.h5")
    for source, model in (("a", first), ("b", second)):
        keras_weights.convert_keras_weights(fresh(build, 1), tmp_path / f"{source}.weights.h5", out)
        np.testing.assert_array_equal(predict(_loaded_by_keras(build, out)), predict(model))
    assert sorted(os.listdir(tmp_path)) == ["a.weights.h5", "b.weights.h5", "out.weights.h5"]
