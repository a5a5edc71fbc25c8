"""restore_keras_weights: layer-by-layer restores, and refusals that assign nothing.

Keras is the oracle: whatever a file holds, the model tfpersist fills from
it must predict what the model Keras fills from it predicts.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import tensorflow as tf

from tfpersist import keras_weights
from tfpersist._tf import KERAS_3
from tfpersist.errors import CheckpointNotFoundError, TfPersistError, VariableMismatchError

K = tf.keras


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


# Keras files: one small model of each kind, every file kind the running Keras writes.


def sequential() -> tf.keras.Model:
    return K.Sequential(
        [K.Input((3,)), K.layers.Dense(4), K.layers.BatchNormalization(), K.layers.Dense(2)]
    )


def functional() -> tf.keras.Model:
    inputs = K.Input((3,))
    a = K.layers.Dense(4, activation="relu")(inputs)
    b = K.layers.Dense(4)(inputs)
    x = K.layers.BatchNormalization()(K.layers.Add()([a, b]))
    return K.Model(inputs, K.layers.Dense(2)(K.layers.Dropout(0.5)(x)))


def embedding() -> tf.keras.Model:
    inputs = K.Input((3,), dtype="int32")
    x = K.layers.GlobalAveragePooling1D()(K.layers.Embedding(10, 4)(inputs))
    return K.Model(inputs, K.layers.Dense(2)(x))


def nested() -> tf.keras.Model:
    inner = K.Sequential([K.Input((4,)), K.layers.Dense(3), K.layers.BatchNormalization()])
    inputs = K.Input((3,))
    return K.Model(inputs, K.layers.Dense(1)(inner(K.layers.Dense(4)(inputs))))


def sequential_of_functional() -> tf.keras.Model:
    inputs = K.Input((3,))
    block = K.Model(inputs, K.layers.BatchNormalization()(K.layers.Dense(4)(inputs)))
    return K.Sequential([K.Input((3,)), block, K.layers.Dense(2)])


MODELS = {
    f.__name__: f for f in (sequential, functional, embedding, nested, sequential_of_functional)
}
X = np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3)
IDS = np.arange(12, dtype=np.int32).reshape(4, 3) % 10  # the input of a model of token ids


def trained(build) -> tf.keras.Model:
    """A model whose every weight, batch statistics included, is far from its initial value."""
    tf.keras.utils.set_random_seed(0)
    model = build()
    rng = np.random.default_rng(0)
    for w in model.weights:
        w.assign(rng.uniform(0.5, 1.5, w.shape).astype(np.float32))
    return model


def fresh(build, seed: int) -> tf.keras.Model:
    tf.keras.utils.set_random_seed(seed)
    return build()


def save(model: tf.keras.Model, path: str, how: str) -> None:
    """Save *model* as Keras does: ``weights`` (.weights.h5), ``zip`` (.keras), ``h5``, ``weights-h5``."""
    with warnings.catch_warnings():  # Keras 2 warns that .h5 is a legacy format
        warnings.filterwarnings("ignore", "You are saving your model as an HDF5 file")
        if how == "zip" and not KERAS_3:
            model.save(path, save_format="keras_v3")  # Keras 2.12 writes HDF5 without it
        elif how in ("zip", "h5"):
            model.save(path)
        else:
            model.save_weights(path)


SUFFIX = {"weights": ".weights.h5", "zip": ".keras", "h5": ".h5", "weights-h5": ".h5"}
KINDS = [
    "weights",
    "zip",
    "h5",
    pytest.param("weights-h5", marks=pytest.mark.requires_tf("<2.16")),  # Keras 3 refuses it
]


def predict(model: tf.keras.Model) -> np.ndarray:
    x = IDS if "int" in str(model.inputs[0].dtype) else X
    return model(x, training=False).numpy()


@pytest.mark.parametrize("how", KINDS)
@pytest.mark.parametrize("name", MODELS)
def test_a_keras_file_restores_as_keras_loads_it(tmp_path, name, how):
    build = MODELS[name]
    model = trained(build)
    path = str(tmp_path / f"m{SUFFIX[how]}")
    save(model, path, how)

    by_keras = fresh(build, 1)
    by_keras.load_weights(path)
    ours = fresh(build, 2)
    assert not np.array_equal(predict(ours), predict(model))  # a restore that did nothing fails
    pairs = keras_weights.restore_keras_weights(ours, path)

    assert len(pairs) == len(model.weights)
    np.testing.assert_array_equal(predict(ours), predict(by_keras))
    np.testing.assert_array_equal(predict(ours), predict(model))
    if how in ("zip", "h5"):
        loaded = K.models.load_model(path, compile=False)
        np.testing.assert_array_equal(predict(ours), predict(loaded))


@pytest.mark.parametrize("name", MODELS)
def test_a_checkpoint_of_a_nested_model_restores_layer_by_layer(tmp_path, name):
    build = MODELS[name]
    model = trained(build)
    prefix = tf.train.Checkpoint(model=model).write(str(tmp_path / "ckpt"))
    by_keras = fresh(build, 1)
    tf.train.Checkpoint(model=by_keras).read(prefix).assert_existing_objects_matched()
    ours = fresh(build, 2)
    assert len(keras_weights.restore_keras_weights(ours, prefix)) == len(model.weights)
    np.testing.assert_array_equal(predict(ours), predict(by_keras))


def test_the_optimizer_in_a_file_is_left_out(tmp_path):
    model = trained(sequential)
    model.compile("adam", "mse")
    model.fit(X, np.ones((4, 2), np.float32), verbose=0)
    model.save_weights(str(tmp_path / "fit.weights.h5"))
    save(model, str(tmp_path / "fit.h5"), "h5")
    save(model, str(tmp_path / "fit.keras"), "zip")
    for path in tmp_path.iterdir():
        ours = fresh(sequential, 1)
        assert len(keras_weights.restore_keras_weights(ours, path)) == len(model.weights)
        np.testing.assert_array_equal(predict(ours), predict(model))


# Refusals: every problem in one error, and nothing assigned.


def layers(*specs: str) -> tf.keras.Model:
    """A Sequential model of ``dense4``, ``bn``, ``bn64`` (float64), ``dense2``, ``dense3``."""
    made = {
        "dense4": lambda: K.layers.Dense(4),
        "dense2": lambda: K.layers.Dense(2),
        "dense3": lambda: K.layers.Dense(3),
        "bn": lambda: K.layers.BatchNormalization(),
        "bn64": lambda: K.layers.BatchNormalization(dtype="float64"),
    }
    return K.Sequential([K.Input((3,)), *(made[s]() for s in specs)])


def _source(tmp_path, how: str) -> str:
    model = trained(lambda: layers("dense4", "bn", "dense2"))
    if how == "checkpoint":
        return tf.train.Checkpoint(model=model).write(str(tmp_path / "ckpt"))
    path = str(tmp_path / f"m{SUFFIX[how]}")
    save(model, path, how)
    return path


def _refused(model: tf.keras.Model, source: str) -> VariableMismatchError:
    before = [w.numpy().copy() for w in model.weights]
    with pytest.raises(VariableMismatchError) as caught:
        keras_weights.restore_keras_weights(model, source)
    for w, b in zip(model.weights, before, strict=True):
        np.testing.assert_array_equal(w.numpy(), b)
    return caught.value


SOURCES = ["checkpoint", "weights", "zip", "h5"]
CASES = {
    # the model: (the source's dense4, bn, dense2) ...; what the error must say
    "an extra layer": (("dense4", "bn", "dense2", "dense3"), {"missing"}),
    "a missing layer": (("dense4", "dense2"), {"unexpected"}),
    "a wrong unit count": (("dense4", "bn", "dense3"), {"shape"}),
    "a dtype change": (("dense4", "bn64", "dense2"), {"dtype"}),
}


@pytest.mark.parametrize("how", SOURCES)
@pytest.mark.parametrize("case", CASES)
def test_a_different_model_is_refused_whole(tmp_path, how, case):
    specs, kinds = CASES[case]
    error = _refused(layers(*specs), _source(tmp_path, how))
    assert kinds <= {p.kind for p in error.problems}, str(error)
    assert str(error).count("\n") == len(error.problems) + 1  # every problem on its own line


@pytest.mark.parametrize("how", SOURCES)
def test_one_error_lists_every_problem(tmp_path, how):
    error = _refused(layers("dense4", "bn64", "dense3", "dense2"), _source(tmp_path, how))
    kinds = {p.kind for p in error.problems}
    assert {"dtype", "shape", "missing"} <= kinds, str(error)
    assert len(error.wrong_dtype) == 4  # gamma, beta and the two moving statistics


def test_the_message_says_where(tmp_path):
    error = _refused(layers("dense4", "bn", "dense3"), _source(tmp_path, "weights"))
    text = str(error)
    assert "m.weights.h5" in text
    assert "vars/0" in text and "shape [4, 3] expected" in text


def test_a_layer_with_inner_layers_is_refused_from_a_weights_file(tmp_path):
    def build():
        return K.Sequential([K.Input((2, 3)), K.layers.LSTM(2)])

    model = trained(build)
    model.save_weights(str(tmp_path / "m.weights.h5"))
    error = _refused(fresh(build, 1), str(tmp_path / "m.weights.h5"))
    assert "held by an inner layer" in str(error)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "You are saving your model as an HDF5 file")
        model.save(str(tmp_path / "m.h5"))  # a legacy .h5 keeps the layer's weights in one list
    ours = fresh(build, 1)
    keras_weights.restore_keras_weights(ours, str(tmp_path / "m.h5"))
    x = np.ones((1, 2, 3), np.float32)
    np.testing.assert_array_equal(ours(x).numpy(), model(x).numpy())


def test_a_path_that_is_neither_a_keras_file_nor_a_checkpoint_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("not weights")
    model = fresh(sequential, 1)
    for path in ("notes.txt", "absent.weights.h5"):
        with pytest.raises(CheckpointNotFoundError, match="no Keras file"):
            keras_weights.restore_keras_weights(model, tmp_path / path)


def test_a_damaged_keras_file_is_refused_and_nothing_is_assigned(tmp_path):
    path = tmp_path / "m.weights.h5"
    trained(sequential).save_weights(str(path))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    model = fresh(sequential, 1)
    before = [w.numpy().copy() for w in model.weights]
    with pytest.raises(TfPersistError):
        keras_weights.restore_keras_weights(model, path)
    for w, b in zip(model.weights, before, strict=True):
        np.testing.assert_array_equal(w.numpy(), b)


@pytest.mark.parametrize("name", ["sequential", "functional"])
def test_a_checkpoint_written_after_training_restores(tmp_path, name):
    """Trap: once fitted, a Keras 3 model's checkpoint keys its kernels under the optimizer.

    TensorFlow keys a variable by the first path reaching it, and the
    optimizer's ``_trainable_variables`` comes first; the layers' own paths
    are only in the object graph.
    """
    build = MODELS[name]
    model = trained(build)
    model.compile(optimizer="adam", loss="mse")
    x = X
    model.fit(x, model(x, training=False).numpy() + 1, epochs=1, verbose=0)
    prefix = tf.train.Checkpoint(model=model).write(str(tmp_path / "ckpt"))
    ours = fresh(build, 1)
    keras_weights.restore_keras_weights(ours, prefix)
    np.testing.assert_array_equal(predict(ours), predict(model))
    theirs = fresh(build, 1)
    tf.train.Checkpoint(model=theirs).read(prefix).expect_partial()
    np.testing.assert_array_equal(predict(theirs), predict(model))
