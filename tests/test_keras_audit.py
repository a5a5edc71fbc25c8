"""Auditing Keras configs, with Keras as the oracle.

Every model Keras saves cleanly must audit clean. Every hostile config
(a genuine saved config, edited to point at ``tests/keras_marker.py``) is
loaded by the installed Keras with ``safe_mode=True``: whenever Keras
imported or ran the marker, the audit must have reported it at the right
path, and it must report it anyway. With ``TFPERSIST_KERAS_TABLE`` set to a
file name, each hostile case appends a line ``case, format, release, ran,
caught`` to it.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import warnings
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import pytest

from tfpersist import keras_audit
from tfpersist._tf import KERAS_3, VERSION, tf
from tfpersist.errors import KerasFileError, UnsafeKerasConfigError
from tfpersist.keras_audit import KerasFinding, audit_keras_config, audit_keras_file

keras = tf.keras
L = keras.layers
RELEASE = f"{VERSION[0]}.{VERSION[1]}"
FORMATS = (".keras", ".h5")
ROOT = Path(__file__).resolve().parents[1]


# --- reading and editing saved configs ------------------------------------------------------


def read_configs(path: Path) -> dict[str, Any]:
    """The configs Keras wrote: ``model`` and (``.h5``) ``training``."""
    if path.suffix == ".keras":
        with zipfile.ZipFile(path) as z:
            return {"model": json.loads(z.read("config.json"))}
    with h5py.File(path, "r") as f:
        found = {"model": json.loads(f.attrs["model_config"])}
        if "training_config" in f.attrs:
            found["training"] = json.loads(f.attrs["training_config"])
        return found


def write_configs(path: Path, configs: dict[str, Any]) -> None:
    if path.suffix == ".keras":
        with zipfile.ZipFile(path) as z:
            members = {name: z.read(name) for name in z.namelist()}
        members["config.json"] = json.dumps(configs["model"]).encode()
        with zipfile.ZipFile(path, "w") as z:
            for name, data in members.items():
                z.writestr(name, data)
        return
    with h5py.File(path, "r+") as f:
        f.attrs["model_config"] = json.dumps(configs["model"])
        if "training" in configs:
            f.attrs["training_config"] = json.dumps(configs["training"])


def paths_where(node: Any, wanted: Callable[[dict[str, Any]], bool], path: str = "") -> list[str]:
    """The paths of the dicts in *node* that *wanted* accepts, spelled as the audit spells them."""
    found = []
    if isinstance(node, dict):
        if wanted(node):
            found.append(path)
        for key, value in node.items():
            found += paths_where(value, wanted, f"{path}.{key}" if path else key)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += paths_where(value, wanted, f"{path}[{i}]")
    return found


def at(node: Any, path: str) -> Any:
    """The value at *path* in *node*."""
    for part in path.replace("[", ".[").split("."):
        if part:
            node = node[int(part[1:-1])] if part.startswith("[") else node[part]
    return node


def named(name: str) -> Callable[[dict[str, Any]], bool]:
    """A layer dict whose config's name ends with *name* (Keras 3 prefixes wrapped layers)."""

    def wanted(d: dict[str, Any]) -> bool:
        config = d.get("config")
        return (
            "class_name" in d
            and isinstance(config, dict)
            and str(config.get("name", "")).endswith(name)
        )

    return wanted


def audit_file(path: Path, **kwargs: Any) -> keras_audit.KerasAudit:
    return audit_keras_file(path, **kwargs)


def findings(path: Path, **kwargs: Any) -> list[KerasFinding]:
    return audit_file(path, **kwargs).findings


def save(model: Any, path: Path) -> bool:
    """Save *model*; ``False`` where this Keras cannot save it in that format."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the legacy .h5 format, Lambda layers
            if path.suffix == ".keras" and VERSION < (2, 13):  # 2.12 writes a SavedModel else
                model.save(str(path), save_format="keras_v3")
            else:
                model.save(str(path))
    except (ValueError, TypeError, NotImplementedError):
        return False
    return True


# --- the oracle: what Keras does when it loads ----------------------------------------------


def _epsilon() -> Any:
    return keras.backend.epsilon()


@dataclass
class Loaded:
    imported: bool
    events: list[str]
    epsilon_changed: bool
    error: str

    @property
    def ran(self) -> bool:
        return self.imported or bool(self.events) or self.epsilon_changed


def load(path: Path, *, custom: bool = False, preimport: bool = False) -> Loaded:
    """Load *path* with Keras (``safe_mode=True``, compiled) and see what of the marker ran.

    *custom* hands the marker class to Keras as the caller's custom objects
    ``Marker`` and ``MarkerPkg>Marker``; *preimport* has the marker module
    imported beforehand, as another module of the process may have done.
    """
    sys.modules.pop("keras_marker", None)
    fresh = importlib.import_module("keras_marker") if preimport or custom else None
    before = _epsilon()
    marker_class = fresh.Marker if fresh is not None else None
    objects = {"Marker": marker_class, "MarkerPkg>Marker": marker_class}
    error = ""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            keras.models.load_model(
                str(path), custom_objects=objects if custom else None, safe_mode=True
            )
    except Exception as e:
        error = f"{type(e).__name__}: {e}"[:300]
    after = _epsilon()
    changed = type(after) is not type(before) or after != before
    if changed:
        keras.backend.set_epsilon(before)
    marker = sys.modules.get("keras_marker")
    events = list(marker.EVENTS) if marker is not None else []
    imported = marker is not None and fresh is None
    return Loaded(imported, events, changed, error)


_TABLE: list[dict[str, Any]] = []


@pytest.fixture(scope="module", autouse=True)
def _table() -> Iterator[None]:
    yield
    out = os.environ.get("TFPERSIST_KERAS_TABLE")
    if out and _TABLE:
        with open(out, "a", encoding="utf-8") as f:
            for row in _TABLE:
                f.write(json.dumps(row) + "\n")


# --- models Keras saves cleanly: no finding -------------------------------------------------


def conv_model() -> Any:
    return keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            L.Rescaling(1 / 255),
            L.Conv2D(
                4,
                3,
                activation="relu",
                kernel_initializer=keras.initializers.HeNormal(),
                kernel_regularizer=keras.regularizers.L2(0.01),
                kernel_constraint=keras.constraints.MaxNorm(2.0),
                bias_initializer=keras.initializers.Constant(0.1),
            ),
            L.BatchNormalization(),
            L.MaxPooling2D(),
            L.DepthwiseConv2D(3, padding="same"),
            L.SeparableConv2D(4, 1, activation=keras.activations.elu),
            L.ZeroPadding2D(1),
            L.UpSampling2D(),
            L.AveragePooling2D(2),
            L.GlobalAveragePooling2D(),
            L.Dropout(0.1),
            L.Dense(4, activation=keras.activations.gelu),
            L.LeakyReLU(),
            L.PReLU(),
            L.ActivityRegularization(l1=0.01),
            L.Dense(3, activation=keras.activations.softmax),
        ]
    )


def rnn_model() -> Any:
    return keras.Sequential(
        [
            keras.Input((5, 4)),
            L.Conv1D(4, 2, padding="same", activation="swish"),
            L.Masking(),
            L.LSTM(4, return_sequences=True, recurrent_regularizer=keras.regularizers.L1L2(0.01)),
            L.Bidirectional(L.GRU(3, return_sequences=True)),
            L.TimeDistributed(L.Dense(2, kernel_constraint=keras.constraints.NonNeg())),
            L.SimpleRNN(2, activation=keras.activations.tanh),
            L.RepeatVector(2),
            L.Flatten(),
            L.Reshape((2, 2)),
            L.Permute((2, 1)),
            L.GlobalMaxPooling1D(),
            L.Dense(1, activation="sigmoid"),
        ]
    )


def functional_model() -> Any:
    a = keras.Input((4,), name="a")
    b = keras.Input((3,), name="b")
    words = keras.Input((5,), dtype="int32", name="words")
    x = L.Dense(
        4,
        activation="selu",
        kernel_initializer=keras.initializers.RandomNormal(stddev=0.1),
        activity_regularizer=keras.regularizers.L1(0.01),
    )(a)
    inner = keras.Sequential([keras.Input((3,)), L.Dense(4), L.LayerNormalization()])
    y = inner(b)
    i = keras.Input((4,))
    nested = keras.Model(i, L.Dense(4, activation=keras.activations.relu)(i))
    z = L.Concatenate()([x, nested(y)])
    z = L.Add()([z, L.Multiply()([z, z])])
    q = L.Reshape((2, 4))(z)
    q = L.MultiHeadAttention(2, 2)(q, q)
    e = L.GlobalAveragePooling1D()(L.Embedding(10, 4)(words))
    out = L.Dense(2, activation=keras.activations.linear)(L.Concatenate()([L.Flatten()(q), e]))
    return keras.Model([a, b, words], out)


def tf_op_model() -> Any:
    """Keras 2: TensorFlow functions on KerasTensors become TFOpLambda layers; Keras 3: ops."""
    inputs = keras.Input((3,))
    if KERAS_3:
        ops = keras.ops
        x = ops.reshape(ops.add(inputs, 1.0), (-1, 3))[:, :2]
        x = ops.mean(ops.concatenate([ops.abs(x), x * 2.0], axis=1), axis=1, keepdims=True)
        return keras.Model(inputs, ops.expand_dims(ops.transpose(x), 0))
    x = tf.reshape(tf.math.add(inputs, 1.0), (-1, 3))[:, :2]
    x = tf.nn.relu(x) + tf.abs(x) * 2.0
    x = tf.reduce_mean(tf.concat([x, x], axis=1), axis=1, keepdims=True)
    return keras.Model(inputs, tf.expand_dims(tf.transpose(x), 0))


def compiled(model: Any, optimizer: Any, loss: Any, metrics: list[Any]) -> Any:
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
    return model


def small_model() -> Any:
    return keras.Sequential([keras.Input((3,)), L.Dense(2, activation="relu"), L.Dense(1)])


SCHEDULES = keras.optimizers.schedules
CLEAN: dict[str, Callable[[], Any]] = {
    "conv": conv_model,
    "rnn": rnn_model,
    "functional": functional_model,
    "tf ops": tf_op_model,
    "adam+schedule": lambda: compiled(
        functional_model(),
        keras.optimizers.Adam(SCHEDULES.ExponentialDecay(0.1, 10, 0.9)),
        keras.losses.MeanSquaredError(),
        ["mae", keras.metrics.AUC(), keras.metrics.RootMeanSquaredError()],
    ),
    "sgd": lambda: compiled(
        small_model(),
        keras.optimizers.SGD(0.01, momentum=0.9, nesterov=True),
        "binary_crossentropy",
        ["accuracy", keras.metrics.Precision()],
    ),
    "rmsprop": lambda: compiled(
        small_model(),
        keras.optimizers.RMSprop(SCHEDULES.PiecewiseConstantDecay([10], [0.1, 0.01])),
        keras.losses.Huber(),
        [keras.metrics.MeanAbsoluteError()],
    ),
    "adagrad": lambda: compiled(
        small_model(),
        keras.optimizers.Adagrad(SCHEDULES.CosineDecay(0.1, 100)),
        keras.losses.get("mean_absolute_error"),  # a function
        ["mse"],
    ),
    "nadam": lambda: compiled(
        small_model(), keras.optimizers.Nadam(), keras.losses.LogCosh(), ["mape"]
    ),
}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", list(CLEAN))
def test_models_keras_saves_audit_safe(tmp_path: Path, name: str, fmt: str) -> None:
    path = tmp_path / f"model{fmt}"
    if not save(CLEAN[name](), path):
        assert fmt == ".h5", f"Keras could not save {name} as .keras"
        return
    configs = read_configs(path)
    audit = audit_file(path)
    assert audit.findings == [], str(audit)
    assert audit.verdict == "clean" and audit.objects > 1
    if name == "tf ops" and not KERAS_3:  # the TFOpLambda allowlist takes what Keras 2 writes
        functions = [
            at(configs["model"], p)["config"]["function"]
            for p in paths_where(configs["model"], lambda d: "OpLambda" in str(d.get("class_name")))
        ]
        assert len(functions) >= 8, functions
    if name == "adam+schedule" and fmt == ".h5":
        assert "training" in configs


# --- hostile configs ------------------------------------------------------------------------


#: The Keras module holding ``set_epsilon``, a Keras function that is no model object.
CONFIG_MODULE = "keras.config" if KERAS_3 else "keras.backend"


def _function_ref(module: str, name: str) -> dict[str, Any]:
    return {
        "module": module,
        "class_name": "function",
        "config": name,
        "registered_name": "function",
    }


def _marker_lambda(x: Any) -> Any:  # pragma: no cover - replaced by a lambda below
    return x


def lambda_model() -> Any:
    run = lambda x: __import__("keras_marker").hit(x)  # noqa: E731  (bytecode is the point)
    return keras.Sequential([keras.Input((3,)), L.Lambda(run, name="target"), L.Dense(1)])


def lambda_mask_model() -> Any:
    mask = lambda inputs, mask=None: __import__("keras_marker").hit_mask(inputs, mask)  # noqa: E731
    return keras.Sequential(
        [keras.Input((3,)), L.Lambda(lambda x: x, mask=mask, name="target"), L.Dense(1)]
    )


def lambda_shape_model() -> Any:
    shape = lambda s: __import__("keras_marker").hit(s)  # noqa: E731
    return keras.Sequential(
        [keras.Input((3,)), L.Lambda(lambda x: x, output_shape=shape, name="target")]
    )


def residual_model() -> Any:
    residual = lambda i, o: __import__("keras_marker").hit(o)  # noqa: E731
    cell = tf.nn.RNNCellResidualWrapper(L.SimpleRNNCell(3), residual_fn=residual)
    return keras.Sequential([keras.Input((2, 3)), L.RNN(cell, name="target")])


def target_model() -> Any:
    return compiled(
        keras.Sequential([keras.Input((3,)), L.Dense(2, name="target"), L.Dense(1)]),
        "adam",
        "mse",
        ["mae"],
    )


def tf_op_target() -> Any:
    inputs = keras.Input((3,))
    return keras.Model(inputs, L.Dense(1)(tf.math.add(inputs, 1.0)))


def bidirectional_model() -> Any:
    return keras.Sequential([keras.Input((2, 3)), L.Bidirectional(L.LSTM(2, name="target"))])


def time_distributed_model() -> Any:
    return keras.Sequential([keras.Input((2, 3)), L.TimeDistributed(L.Dense(2, name="target"))])


def model_in_model() -> Any:
    i = keras.Input((3,))
    inner = keras.Model(i, L.Dense(2, name="target")(i), name="inner")
    middle = keras.Sequential([keras.Input((3,)), inner, L.Dense(2)], name="middle")
    o = keras.Input((3,))
    return keras.Model(o, L.Dense(1)(middle(o)))


def lambda_in_model_in_model() -> Any:
    i = keras.Input((3,))
    inner = keras.Model(i, L.Lambda(lambda x: x, name="target")(i), name="inner")
    middle = keras.Sequential([keras.Input((3,)), inner, L.Dense(2)], name="middle")
    o = keras.Input((3,))
    return keras.Model(o, L.Dense(1)(middle(o)))


def lambda_in_time_distributed() -> Any:
    return keras.Sequential(
        [keras.Input((2, 3)), L.TimeDistributed(L.Lambda(lambda x: x, name="target"))]
    )


Edit = Callable[[dict[str, Any]], list[str]]


def _targets(configs: dict[str, Any]) -> list[str]:
    found = paths_where(configs["model"], named("target"))
    assert found, "no layer named target"
    return found


def edit_activation(ref: dict[str, Any]) -> Edit:
    def edit(configs: dict[str, Any]) -> list[str]:
        paths = _targets(configs)
        for p in paths:
            at(configs["model"], p)["config"]["activation"] = dict(ref)
        return [f"{p}.config.activation" for p in paths]

    return edit


def edit_layer(layer: dict[str, Any]) -> Edit:
    def edit(configs: dict[str, Any]) -> list[str]:
        (p,) = _targets(configs)
        at(configs["model"], p).clear()
        at(configs["model"], p).update(json.loads(json.dumps(layer)))
        return [p]

    return edit


def edit_lambda_function(module: str, name: str) -> Edit:
    """Point a Lambda layer at a named function, as a config may."""

    def edit(configs: dict[str, Any]) -> list[str]:
        (p,) = _targets(configs)
        config = at(configs["model"], p)["config"]
        config["function"] = _function_ref(module, name)
        if "function_type" in config:  # Keras 2
            config["function_type"] = "function"
        return [f"{p}.config.function"]

    return edit


def edit_root(configs: dict[str, Any]) -> list[str]:
    configs["model"].update(module="keras_marker", class_name="Marker", registered_name=None)
    return [""]


def edit_registered(configs: dict[str, Any]) -> list[str]:
    (p,) = _targets(configs)
    at(configs["model"], p)["registered_name"] = "MarkerPkg>Marker"
    return [p]


def edit_lambda(key: str) -> Edit:
    def edit(configs: dict[str, Any]) -> list[str]:
        return [f"{p}.config.{key}" for p in _targets(configs)]

    return edit


def edit_residual(configs: dict[str, Any]) -> list[str]:
    return [f"{p}.config.cell.config.residual_fn" for p in _targets(configs)]


def edit_tf_op(configs: dict[str, Any]) -> list[str]:
    (p,) = paths_where(configs["model"], lambda d: d.get("class_name") == "TFOpLambda")
    layer = at(configs["model"], p)
    layer["config"]["function"] = "keras.backend.set_epsilon"
    for keywords in paths_where(layer["inbound_nodes"], lambda d: True):
        at(
            layer["inbound_nodes"], keywords
        ).clear()  # call it with the tensor alone: set_epsilon(x)
    return [f"{p}.config.function"]


_MARKER_CLASS: dict[str, Any] = {
    "module": "keras_marker",
    "class_name": "Marker",
    "config": {},
    "registered_name": None,
}


def edit_training(key: str, bare: bool) -> Edit:
    """Put the marker class into the training config (``.h5``) or compile config (``.keras``)."""

    def edit(configs: dict[str, Any]) -> list[str]:
        if "training" in configs:
            value: Any = {"class_name": "Marker", "config": {}} if bare else dict(_MARKER_CLASS)
            root, prefix = configs["training"], "training_config"
            key_here = "optimizer_config" if key == "optimizer" else key
        else:
            value = dict(_MARKER_CLASS)
            root, prefix = configs["model"]["compile_config"], "compile_config"
            key_here = key
        if key == "metrics":
            root[key_here] = [value]
            return [f"{prefix}.{key_here}[0]"]
        root[key_here] = value
        return [f"{prefix}.{key_here}"]

    return edit


@dataclass(frozen=True)
class Case:
    rule: str
    build: Callable[[], Any]
    edit: Edit
    keras_rule: str = ""  # the rule in a .keras file, where it differs
    formats: tuple[str, ...] = FORMATS
    keras2_only: bool = False
    custom: bool = False
    preimport: bool = False


CASES = {
    "Lambda bytecode": Case("lambda", lambda_model, edit_lambda("function")),
    "Lambda mask bytecode (mask_type)": Case("lambda", lambda_mask_model, edit_lambda("mask")),
    "Lambda output_shape bytecode": Case("lambda", lambda_shape_model, edit_lambda("output_shape")),
    "cell wrapper residual_fn_type": Case(
        "lambda", residual_model, edit_residual, keras2_only=True
    ),
    "module: function outside Keras": Case(
        "module", target_model, edit_activation(_function_ref("keras_marker", "hit"))
    ),
    "module: class outside Keras": Case(
        "module", target_model, edit_layer(dict(_MARKER_CLASS, config={"name": "target"}))
    ),
    "module: builtins function": Case(
        "module", target_model, edit_activation(_function_ref("builtins", "print"))
    ),
    "Keras function that is no object": Case(
        "module", target_model, edit_activation(_function_ref(CONFIG_MODULE, "set_epsilon"))
    ),
    "Lambda naming a function outside Keras": Case(
        "module", lambda_model, edit_lambda_function("keras_marker", "hit")
    ),
    "Lambda naming a Keras function that is no object": Case(
        "module", lambda_model, edit_lambda_function(CONFIG_MODULE, "set_epsilon")
    ),
    "module: the model class itself": Case("module", target_model, edit_root),
    "registered_name of a custom class": Case(
        "registered", target_model, edit_registered, custom=True
    ),
    "custom class_name (no module)": Case(
        "custom",
        target_model,
        edit_layer({"class_name": "Marker", "config": {"name": "target"}}),
        custom=True,
    ),
    "TFOpLambda naming keras.backend.set_epsilon": Case(
        "tf_function", tf_op_target, edit_tf_op, keras2_only=True
    ),
    "training config: loss": Case(
        "custom", target_model, edit_training("loss", True), "module", custom=True
    ),
    "training config: optimizer": Case(
        "custom", target_model, edit_training("optimizer", True), "module", custom=True
    ),
    "training config: metrics": Case(
        "custom", target_model, edit_training("metrics", True), "module", custom=True
    ),
    "compile config: loss from a module": Case(
        "module", target_model, edit_training("loss", False), formats=(".keras",)
    ),
    "nested: Lambda naming set_epsilon, Model in Sequential in Model": Case(
        "module", lambda_in_model_in_model, edit_lambda_function(CONFIG_MODULE, "set_epsilon")
    ),
    "nested: Lambda naming set_epsilon in TimeDistributed": Case(
        "module", lambda_in_time_distributed, edit_lambda_function(CONFIG_MODULE, "set_epsilon")
    ),
    "nested: Bidirectional": Case(
        "module", bidirectional_model, edit_activation(_function_ref("keras_marker", "hit"))
    ),
    "nested: TimeDistributed": Case(
        "module", time_distributed_model, edit_activation(_function_ref("keras_marker", "hit"))
    ),
    "nested: Model in Sequential in Model": Case(
        "module", model_in_model, edit_activation(_function_ref("keras_marker", "hit"))
    ),
}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", list(CASES))
def test_hostile_configs_are_caught_wherever_keras_runs_them(
    tmp_path: Path, name: str, fmt: str
) -> None:
    case = CASES[name]
    if fmt not in case.formats or (case.keras2_only and KERAS_3):
        return  # the release writes no such config
    path = tmp_path / f"model{fmt}"
    if not save(case.build(), path):
        assert fmt == ".h5", f"Keras could not save the {name} model as .keras"
        return
    if "lambda" not in case.build.__name__ and case.build is not residual_model:
        assert findings(path) == []  # genuine, before the edit
    configs = read_configs(path)
    expected = case.edit(configs)
    write_configs(path, configs)
    found = findings(path)
    where = {f.path: f for f in found}
    outcome = load(path, custom=case.custom, preimport=case.preimport)
    rule = case.keras_rule if fmt == ".keras" and case.keras_rule else case.rule
    caught = all(p in where and where[p].rule == rule for p in expected)
    _TABLE.append(
        {"case": name, "format": fmt, "release": RELEASE, "ran": outcome.ran, "caught": caught}
    )
    assert caught, f"expected {rule} at {expected}, audit found {[str(f) for f in found]}"
    for p in expected:
        assert where[p].source == (
            "config.json"
            if fmt == ".keras"
            else "training_config"
            if p.startswith("training_config")
            else "model_config"
        )


def test_a_lambda_that_keras_runs_is_refused_before(tmp_path: Path) -> None:
    """Keras 2 runs a Lambda's bytecode from an ``.h5`` even with ``safe_mode=True``: the audit refuses it first."""
    path = tmp_path / "lambda.h5"
    assert save(lambda_model(), path)
    with pytest.raises(UnsafeKerasConfigError) as raised:
        keras_audit.check_keras_file(path)
    assert [f.rule for f in raised.value.findings] == ["lambda"]
    assert "config.layers[" in str(raised.value) and "load only models you trust" in str(
        raised.value
    )


# --- allow_modules --------------------------------------------------------------------------


MIXED = {
    "module": "keras",
    "class_name": "Sequential",
    "registered_name": None,
    "config": {
        "layers": [
            {"module": "mypkg.layers", "class_name": "A", "config": {}, "registered_name": None},
            {"module": "mypkgx", "class_name": "B", "config": {}, "registered_name": None},
            {
                "module": "keras.layers",
                "class_name": "Dense",
                "config": {"activation": _function_ref("os", "system")},
                "registered_name": "mypkg>Dense",
            },
            {"class_name": "Lambda", "config": {"function": "x", "function_type": "lambda"}},
            {"class_name": "__lambda__", "config": {"value": "AAAA"}},
            {"class_name": "Mine", "config": {}},
        ]
    },
}


@pytest.mark.parametrize(
    "allow",
    [[], ["mypkg"], ["os"], ["mypkg", "os"], ["mypkg.layers"], ["mypk"], ["mypkgx", "os", "mypkg"]],
)
def test_allow_modules_drops_exactly_their_findings(allow: list[str]) -> None:
    everything = audit_keras_config(MIXED)
    kept = audit_keras_config(MIXED, allow_modules=allow)

    def trusted(f: KerasFinding) -> bool:
        return f.module is not None and any(
            f.module == a or f.module.startswith(a + ".") for a in allow
        )

    assert kept == [f for f in everything if not trusted(f)]
    modules = {f.module for f in everything}
    assert {"mypkg.layers", "mypkgx", "os", "mypkg", None} <= modules
    assert sum(f.rule == "lambda" for f in kept) == 2  # bytecode is never allowed


def test_allow_modules_on_a_file(tmp_path: Path) -> None:
    path = tmp_path / "m.keras"
    assert save(target_model(), path)
    configs = read_configs(path)
    expected = edit_activation(_function_ref("keras_marker", "hit"))(configs)
    configs["model"]["compile_config"]["loss"] = _function_ref("os", "system")
    write_configs(path, configs)
    assert {f.path for f in findings(path)} == {*expected, "compile_config.loss"}
    assert [f.path for f in findings(path, allow_modules=["keras_marker"])] == [
        "compile_config.loss"
    ]
    keras_audit.check_keras_file(path, allow_modules=["keras_marker", "os"])
    with pytest.raises(
        UnsafeKerasConfigError, match=r"--allow-module keras_marker --allow-module os"
    ):
        keras_audit.check_keras_file(path)


# --- the record of what Keras ships ---------------------------------------------------------


def test_keras_names_cover_the_installed_keras() -> None:
    """Regenerate what the installed Keras ships: the record holds all of it for this release."""
    script = ROOT / "tests" / "registry" / "keras_names.py"
    dumped = json.loads(
        subprocess.run(
            [sys.executable, str(script), "--dump"], check=True, capture_output=True, text=True
        ).stdout
    )
    recorded = json.loads(Path(keras_audit.NAMES_FILE).read_text(encoding="utf-8"))
    assert dumped["release"] == RELEASE
    for kind in ("classes", "functions", "class_names", "function_names", "registered_names"):
        here = {n for n, releases in recorded[kind].items() if RELEASE in releases.split(",")}
        missing = sorted(set(dumped[kind]) - here)
        assert not missing, f"{kind} missing; run tests/registry/keras_names.py: {missing[:10]}"
        if recorded["releases"].get(RELEASE) == dumped["keras"]:
            assert set(dumped[kind]) == here, f"{kind}: regenerate tfpersist/keras_names.json"


def test_tf_math_allowlist_names_tensorflow_functions() -> None:
    """Each top-level array function the TFOpLambda rule accepts is a TensorFlow function."""
    from tensorflow.python.util import tf_export

    for name in sorted(keras_audit._TF_ARRAY_FUNCTIONS):
        assert callable(tf_export.get_symbol_from_name(name)), name
    hostile = ["io.write_file", "print", "py_function"] + (
        [] if KERAS_3 else ["keras.backend.set_epsilon"]
    )
    for name in hostile:
        assert tf_export.get_symbol_from_name(name) is not None
        assert not keras_audit._tf_math(name)


# --- reports --------------------------------------------------------------------------------


def test_report_and_json(tmp_path: Path) -> None:
    path = tmp_path / "m.h5"
    assert save(lambda_model(), path)
    audit = audit_file(path)
    assert audit.verdict == "refused"
    lines = str(audit).splitlines()
    assert lines[0].startswith(f"{path}: refused (") and lines[0].endswith("1 to look at")
    assert "model_config at config.layers[" in lines[1]
    data = json.loads(json.dumps(audit.to_json()))
    assert data["verdict"] == "refused" and data["findings"][0]["rule"] == "lambda"
    assert data["findings"] == [f.to_json() for f in audit.findings]


def test_a_config_that_is_no_object_is_refused() -> None:
    assert [f.rule for f in audit_keras_config([{"class_name": "Nope", "config": {}}])] == [
        "custom"
    ]
    assert audit_keras_config("just a string") == []


def test_a_weights_file_has_nothing_to_audit(tmp_path: Path) -> None:
    path = tmp_path / "model.weights.h5"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        small_model().save_weights(str(path))
    audit = audit_file(path)
    assert (audit.verdict, audit.findings) == ("clean", [])
    assert str(audit) == f"{path}: clean (no model config: weights only)"
    keras_audit.check_keras_file(path)


def test_a_damaged_file_raises(tmp_path: Path) -> None:
    path = tmp_path / "model.keras"
    assert save(small_model(), path)
    path.write_bytes(path.read_bytes()[:100])
    audit = keras_audit.audit_keras_file(path)
    assert (audit.verdict, audit.findings) == ("unreadable", [])
    assert str(audit).startswith(f"{path}: unreadable: ") and str(path) in audit.error
    with pytest.raises(KerasFileError):
        keras_audit.check_keras_file(path)


def test_the_audit_imports_no_tensorflow_keras_or_h5py() -> None:
    code = (
        "import sys, tfpersist.keras_audit as a; "
        "a.audit_keras_config({'class_name': 'Dense', 'config': {}}); "
        "print(sorted(m for m in ('tensorflow', 'keras', 'h5py') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=ROOT
    ).stdout
    assert out.strip() == "[]"


@keras.utils.register_keras_serializable(package="tfpersist_test")
class Doubling(L.Layer):
    """A registered custom layer: Keras 3 writes its module and ``tfpersist_test>Doubling``."""

    def call(self, x: Any) -> Any:
        return x * 2


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_registered_class_is_allowed_by_its_package_or_module(tmp_path: Path, fmt: str) -> None:
    model = keras.Sequential([keras.Input((3,)), Doubling()])
    path = tmp_path / f"model{fmt}"
    assert save(model, path)
    findings = audit_keras_file(path).findings
    assert len(findings) == 1 and findings[0].detail.endswith("Doubling"), findings
    trusted = findings[0].module
    assert trusted in ("tfpersist_test", __name__), findings  # by package, or by module
    assert audit_keras_file(path, allow_modules=[trusted]).verdict == "clean"
    assert audit_keras_file(path, allow_modules=[trusted[:-1]]).verdict == "refused"


def _dense(**config: Any) -> dict[str, Any]:
    return {
        "module": "keras.layers",
        "class_name": "Dense",
        "registered_name": None,
        "config": {"units": 1, **config},
    }


@pytest.mark.parametrize(
    ("config", "path"),
    [
        # Keras 2 looks any string up among the registered objects: a registered function runs
        (_dense(activation="mypkg>relu"), "config.activation"),
        (_dense(activation=["x", "mypkg>relu"]), "config.activation[1]"),
        # Keras 2.15 and 3 build what registered_name names, whatever class_name holds
        ({"class_name": 1, "config": {}, "registered_name": "mypkg>Thing"}, "registered_name"),
        ({"class_name": ["Thing"], "config": {}, "registered_name": "mypkg>Thing"}, ""),
    ],
)
def test_registered_names_are_found_wherever_they_hide(config: dict, path: str) -> None:
    findings = audit_keras_config(config)
    assert path in [f.path for f in findings], findings
    assert all(f.rule in ("registered", "custom") for f in findings)
    assert not [f for f in audit_keras_config(config) if f.module == "mypkg"] or all(
        f.rule == "custom" for f in audit_keras_config(config, allow_modules=["mypkg"])
    )


@pytest.mark.parametrize("name", [">fn", "my pkg>fn", "a>b>fn"])
def test_any_package_of_a_registered_name_is_found(name: str) -> None:
    """``register_keras_serializable`` takes any package, even "" or one holding ``>``."""
    [finding] = audit_keras_config(_dense(activation=name))
    assert (finding.rule, finding.detail, finding.module) == (
        "registered",
        name,
        name[: -len(">fn")],
    )


def test_a_weights_member_keras_2_would_unpickle_is_refused(tmp_path: Path) -> None:
    """Keras 2.12 and 2.15 load ``model.weights.npz`` with ``np.load(allow_pickle=True)``."""
    path = tmp_path / "npz.keras"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("metadata.json", json.dumps({"keras_version": "2.15.0"}))
        z.writestr("config.json", json.dumps(_dense()))
        z.writestr("model.weights.npz", b"\x80\x04pickled")
    audit = audit_keras_file(path)
    assert audit.verdict == "unreadable" and "unpickling" in audit.error
    with pytest.raises(KerasFileError, match="unpickling"):
        keras_audit.check_keras_file(path)
