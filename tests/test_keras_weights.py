"""restore_keras_weights: layer-by-layer restores, and refusals that assign nothing."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tfpersist import keras_weights
from tfpersist.errors import VariableMismatchError


def _model(bias: bool = True, extra: bool = False) -> tf.keras.Model:
    inputs = tf.keras.Input((8, 8, 3))
    x = tf.keras.layers.Conv2D(4, 3, use_bias=bias)(inputs)
    x = tf.keras.layers.BatchNormalization()(x)
    x = tf.keras.layers.DepthwiseConv2D(3)(x)
    x = tf.keras.layers.GlobalAveragePooling2D()(x)
    if extra:
        x = tf.keras.layers.Dense(4)(x)
    return tf.keras.Model(inputs, tf.keras.layers.Dense(2)(x))


@pytest.fixture
def saved(tmp_path):
    tf.keras.utils.set_random_seed(0)
    model = _model()
    model.layers[2].moving_mean.assign(tf.fill([4], 0.5))  # not the initial value
    return model, tf.train.Checkpoint(model=model).save(str(tmp_path / "ckpt"))


def test_every_weight_is_restored_by_layer_order(saved, tmp_path):
    model, _ = saved
    tf.keras.utils.set_random_seed(1)
    fresh = _model()
    pairs = keras_weights.restore_keras_weights(fresh, str(tmp_path))  # a directory works too
    assert len(pairs) == len(model.weights) == 10  # save_counter is not a weight
    for a, b in zip(fresh.weights, model.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    x = np.random.default_rng(0).random((2, 8, 8, 3), dtype=np.float32)
    np.testing.assert_array_equal(fresh(x).numpy(), model(x).numpy())


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"bias": False}, "in the checkpoint but not restored"),
        ({"extra": True}, "dense.*/kernel: not in the checkpoint"),
    ],
)
def test_a_different_model_is_refused_and_left_alone(saved, kwargs, words):
    _, prefix = saved
    other = _model(**kwargs)
    before = [w.numpy().copy() for w in other.weights]
    with pytest.raises(VariableMismatchError, match=words):
        keras_weights.restore_keras_weights(other, prefix)
    for w, b in zip(other.weights, before, strict=True):
        np.testing.assert_array_equal(w.numpy(), b)
