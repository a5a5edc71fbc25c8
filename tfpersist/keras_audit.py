"""Auditing a Keras model's config: what would loading it import or run?

A ``.keras`` file is a zip archive whose ``config.json`` describes the
model; a legacy Keras ``.h5`` file holds the same description in its
``model_config`` attribute, and in ``training_config`` the loss, metrics and
optimizer that ``load_model(compile=True)`` rebuilds. Loading turns every
object in those descriptions back into Python: Keras 3 (and the ``.keras``
format of Keras 2) writes each object as ``{"module", "class_name",
"config", "registered_name"}`` and imports ``module`` to find it; Keras 2's
``.h5`` format writes ``{"class_name", "config"}`` and looks the name up
among the classes it ships and those the process has registered.

``load_model(safe_mode=True)`` only refuses the Python bytecode a ``Lambda``
layer stores, and it has been bypassed again and again: a config naming a
function of any module (CVE-2025-1550), a Keras function that is no model
object at all (``keras.utils.get_file``, ``keras.config.set_epsilon``), a
Keras 2 ``TFOpLambda`` layer naming any TensorFlow API, Keras 2's
``mask_type``, ``output_shape_type``, ``residual_fn_type`` keys with the
value ``"lambda"`` beside bytecode, and the ``.h5`` training config, which
old releases loaded without safe mode at all (CVE-2024-3660). So tfpersist
reads the config as data and refuses every object that is not one Keras
itself ships as a serializable object, before Keras sees the file.

Each refusal is a :class:`KerasFinding` with its *rule*:

``lambda``
    Python bytecode: a Keras 3 ``__lambda__`` object, or a Keras 2 key
    ``X_type`` with the value ``"lambda"`` beside the bytecode in ``X``.
``module``
    a ``module``/``class_name`` pair that is not one Keras ships as a
    serializable object: a module outside Keras (``os.system``,
    ``builtins.eval``, ``numpy``, any other package), or a Keras function
    that is no model object (``keras.config.set_epsilon``); also a named
    function a Keras 2 ``Lambda`` layer or cell wrapper imports.
``custom``
    a class name (Keras 2 configs carry no module) that Keras does not ship.
``registered``
    a ``registered_name`` (``"MyPackage>MyLayer"``) Keras does not ship:
    Keras builds whatever the process registered under that name instead.
``tf_function``
    a Keras 2 ``TFOpLambda`` or ``SlicingOpLambda`` layer naming a
    TensorFlow function outside the plain tensor math it accepts
    (``tf.math``, ``tf.nn``, ``tf.linalg``, the operators and a list of array
    functions), or a ``ClassMethod``, ``InstanceMethod`` or
    ``InstanceProperty`` layer naming a method Keras does not delegate.
``external``
    a Keras layer that loads and runs a model from outside the file:
    ``TFSMLayer`` (``ReloadedLayer`` in Keras 2) and ``TorchModuleWrapper``.

What Keras ships is data, ``tfpersist/keras_names.json``, written by
``tests/registry/keras_names.py`` from each release tfpersist supports
(Keras 2.12, 2.15 and the Keras 3 of TensorFlow 2.16 and 2.21): every
class Keras can rebuild from a config, and the functions of the namespaces
whose functions Keras serializes (activations, losses, metrics,
initializers, regularizers, constraints, optimizers and schedules). An
object is accepted because Keras ships it, never because its name looks
harmless.

>>> from tfpersist import keras_audit
>>> config = {
...     "module": "keras", "class_name": "Sequential", "registered_name": None,
...     "config": {"name": "m", "layers": [
...         {"module": "keras.layers", "class_name": "Dense", "registered_name": None,
...          "config": {"units": 2, "activation": {
...              "module": "os", "class_name": "function", "config": "system",
...              "registered_name": "function"}}}]}}
>>> for finding in keras_audit.audit_keras_config(config):
...     print(finding)
config.json at config.layers[0].config.activation: imports os.system, which Keras does not ship as a serializable object

Only the caller can widen the allowlist, with *allow_modules*: module names
whose objects are trusted (``mypkg`` also trusts ``mypkg.layers``, and a
registered name ``mypkg>MyLayer``). Nothing inside a file can.

>>> keras_audit.audit_keras_config(config, allow_modules=["os"])
[]

.. rubric:: What the audit cannot see

The audit judges the names a config gives, not what a trusted object does
with its arguments: Keras's own layers may still read files a config names
(a ``TextVectorization`` vocabulary given as a path), and a module named in
*allow_modules* runs whatever it runs. Nor can it tell a plain name such as
``"myact"`` that your own process added with ``get_custom_objects()`` from
a name Keras ships: Keras 2 looks a string up there first. The weights are
data and are not audited here; :mod:`tfpersist.keras_files` refuses a
weights member Keras would unpickle.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tfpersist.errors import KerasFileError, UnsafeKerasConfigError

__all__ = [
    "RULES",
    "KerasAudit",
    "KerasFinding",
    "audit_keras_config",
    "audit_keras_file",
    "check_keras_file",
    "known_keras_releases",
]

_HERE = os.path.dirname(os.path.abspath(__file__))
#: What each Keras release ships as serializable objects.
NAMES_FILE = os.path.join(_HERE, "keras_names.json")

#: The rules a finding can break, with what the finding means.
RULES = {
    "lambda": "Python bytecode that Keras would run",
    "module": "an object from a module Keras does not ship it in",
    "custom": "a class Keras does not ship",
    "registered": "a registered name Keras does not ship",
    "tf_function": "a TensorFlow function that is not plain tensor math",
    "external": "a Keras layer that loads a model from outside the file",
}

#: Keras 3's special objects: values, not code (``serialization_lib``).
_DATA_CLASSES = frozenset(
    {"__keras_tensor__", "__tensor__", "__numpy__", "__bytes__", "__ellipsis__", "__slice__"}
)
#: Keras layers that load and run a model from a path or a pickle.
_EXTERNAL = {
    "TFSMLayer": "loads and runs the SavedModel at {filepath!r}",
    "ReloadedLayer": "loads and runs the SavedModel at {filepath!r}",
    "TorchModuleWrapper": "unpickles and runs a PyTorch module stored in the config",
}
#: Keras 2 layers that call a TensorFlow function named in their config.
_TF_OP_LAYERS = frozenset({"TFOpLambda", "SlicingOpLambda"})
#: TensorFlow namespaces whose every function is tensor math, with no effect outside the graph.
_TF_MATH_NAMESPACES = ("math.", "nn.", "linalg.", "bitwise.", "__operators__.")
#: Top-level TensorFlow array functions, as Keras 2 names them in a ``TFOpLambda``.
_TF_ARRAY_FUNCTIONS = frozenset(
    [
        "argsort",
        "boolean_mask",
        "broadcast_to",
        "cast",
        "clip_by_norm",
        "clip_by_value",
        "concat",
        "einsum",
        "expand_dims",
        "eye",
        "fill",
        "gather",
        "gather_nd",
        "identity",
        "linspace",
        "meshgrid",
        "one_hot",
        "ones",
        "ones_like",
        "pad",
        "range",
        "rank",
        "repeat",
        "reshape",
        "reverse",
        "roll",
        "scatter_nd",
        "searchsorted",
        "shape",
        "size",
        "slice",
        "sort",
        "split",
        "squeeze",
        "stack",
        "stop_gradient",
        "strided_slice",
        "tensor_scatter_nd_add",
        "tensor_scatter_nd_update",
        "tile",
        "transpose",
        "unique",
        "unstack",
        "where",
        "zeros",
        "zeros_like",
    ]
)
#: What Keras 2 delegates to a ragged or sparse tensor in a functional model (``tf_op_layer``).
_TENSOR_ATTRIBUTES = frozenset(
    [
        "values",
        "flat_values",
        "row_splits",
        "nested_row_splits",
        "value_rowids",
        "nested_value_rowids",
        "nrows",
        "row_starts",
        "row_limits",
        "row_lengths",
        "nested_row_lengths",
        "bounding_shape",
        "with_values",
        "with_flat_values",
        "with_row_splits_dtype",
        "merge_dims",
        "to_tensor",
        "to_sparse",
        "indices",
        "dense_shape",
    ]
)
_RAGGED_CLASS_METHODS = frozenset(
    [
        "from_value_rowids",
        "from_row_splits",
        "from_row_lengths",
        "from_row_starts",
        "from_row_limits",
        "from_uniform_row_length",
        "from_nested_value_rowids",
        "from_nested_row_splits",
        "from_nested_row_lengths",
        "from_tensor",
        "from_sparse",
    ]
)


@dataclass(frozen=True)
class _Names:
    """The union, over the recorded releases, of what Keras ships."""

    classes: frozenset[tuple[str, str]]
    functions: frozenset[tuple[str, str]]
    class_names: frozenset[str]
    function_names: frozenset[str]
    registered_names: frozenset[str]


@functools.cache
def _names() -> _Names:
    with open(NAMES_FILE, encoding="utf-8") as f:
        data = json.load(f)

    def pairs(kind: str) -> frozenset[tuple[str, str]]:
        return frozenset((m, n) for m, _, n in (k.partition(":") for k in data[kind]))

    return _Names(
        pairs("classes"),
        pairs("functions"),
        frozenset(data["class_names"]),
        frozenset(data["function_names"]),
        frozenset(data["registered_names"]),
    )


def known_keras_releases() -> dict[str, str]:
    """The TensorFlow releases whose Keras ``keras_names.json`` records, with their Keras version.

    >>> releases = known_keras_releases()
    >>> list(releases)
    ['2.12', '2.15', '2.16', '2.21']
    >>> releases["2.15"]
    '2.15.0'
    """
    with open(NAMES_FILE, encoding="utf-8") as f:
        return dict(json.load(f)["releases"])


@dataclass(frozen=True)
class KerasFinding:
    """One object in a Keras config that loading would import or run, and tfpersist refuses.

    *rule* is one of :data:`RULES`; *path* says where it sits in the config
    (``config.layers[2].config.function``), *detail* what would be imported
    or run (``os.system``). *source* names the config (``config.json`` of a
    ``.keras`` file; ``model_config`` or ``training_config`` of an ``.h5``).
    *module* is the module (or registered package) the object comes from,
    which ``allow_modules`` matches, or ``None`` where no module can vouch
    for it (bytecode).

    >>> print(KerasFinding("module", "config.layers[1].config.activation", "os.system", module="os"))
    config.json at config.layers[1].config.activation: imports os.system, which Keras does not ship as a serializable object
    """

    rule: str
    path: str
    detail: str
    source: str = "config.json"
    module: str | None = field(default=None)

    def __str__(self) -> str:
        where = f"{self.source} at {self.path}" if self.path else f"{self.source} at its top"
        if self.rule == "lambda":
            what = f"runs Python bytecode stored in the file ({self.detail})"
        elif self.rule == "module":
            what = f"imports {self.detail}, which Keras does not ship as a serializable object"
        elif self.rule == "custom":
            what = f"builds class {self.detail!r}, which Keras does not ship"
        elif self.rule == "registered":
            what = (
                f"builds whatever the process registered as {self.detail!r}, "
                "a name Keras does not ship"
            )
        elif self.rule == "tf_function":
            what = f"calls TensorFlow's tf.{self.detail}, which is not plain tensor math"
        else:
            what = self.detail
        return f"{where}: {what}"

    def to_json(self) -> dict[str, Any]:
        """The JSON form used by ``tfpersist audit --json``."""
        return {
            "rule": self.rule,
            "path": self.path,
            "detail": self.detail,
            "source": self.source,
            "module": self.module,
        }


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _within(module: str, allowed: Iterable[str]) -> bool:
    return any(module == a or module.startswith(a + ".") for a in allowed)


#: A registered name as Keras writes it, ``package>Name``.
_REGISTERED = re.compile(r".*>.*", re.DOTALL)  # Keras takes any package: "", "a b", "a>b"


def _package(registered: str) -> str | None:
    """The package of a registered name ``package>Name``."""
    return registered.rsplit(">", 1)[0] if ">" in registered else None


class _Walk:
    """One pass over a config, collecting findings in document order."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.names = _names()
        self.findings: list[KerasFinding] = []
        self.objects = 0

    def find(self, rule: str, path: str, detail: str, module: str | None = None) -> None:
        self.findings.append(KerasFinding(rule, path, detail, self.source, module))

    def walk(self, node: Any, path: str) -> None:
        if isinstance(node, str):
            self._registered_string(node, path)
            return
        if isinstance(node, list):
            for i, item in enumerate(node):
                self.walk(item, f"{path}[{i}]")
            return
        if not isinstance(node, dict):
            return
        self._typed_functions(node, path)
        class_name = node.get("class_name")
        checked = {"registered_name"}  # keys the object checks below already judged
        if isinstance(class_name, str) and "config" in node:
            self.objects += 1
            self._object(node, path)
            checked.add("class_name")
        else:
            if "class_name" in node and class_name is not None:
                # Keras 3 and 2.15 still build the object its registered_name names
                self.objects += 1
                self.find("custom", path, f"a class_name given as {type(class_name).__name__}")
            self._registered_string(node.get("registered_name"), _join(path, "registered_name"))
        for key, value in node.items():
            if key not in checked:
                self.walk(value, _join(path, str(key)))

    def _registered_string(self, value: Any, path: str) -> None:
        """A string such as ``"package>name"``: Keras looks it up among the registered objects."""
        if (
            isinstance(value, str)
            and _REGISTERED.fullmatch(value)
            and value not in self.names.registered_names
            and value not in self.names.class_names
        ):
            self.find("registered", path, value, _package(value))

    def _typed_functions(self, node: dict[str, Any], path: str) -> None:
        """Keras 2's ``X_type`` keys: ``"lambda"`` means bytecode in ``X``, ``"function"`` a name."""
        for key, value in node.items():
            if not (isinstance(key, str) and key.endswith("_type") and key[:-5] in node):
                continue
            target = key[:-5]
            if value == "lambda":
                self.find("lambda", _join(path, target), f"{key} is 'lambda'")
            elif value == "function" and isinstance(node[target], str):
                module = node.get("module" if target == "function" else f"{target}_module")
                self._function(module, node[target], _join(path, target), bare_ok=False)

    def _object(self, node: dict[str, Any], path: str) -> None:
        class_name: str = node["class_name"]
        if class_name == "__lambda__":
            self.find("lambda", path, "a __lambda__ object")
            return
        if class_name in _DATA_CLASSES:
            return
        module = node.get("module")
        inner = node.get("config")
        if class_name == "function":
            if isinstance(inner, str):
                self._function(module, inner, path, bare_ok=True)
            return
        if class_name == "__typespec__":
            class_name = str(node.get("spec_name"))
        if not self._class(node, module, class_name, path):
            return
        registered = node.get("registered_name")
        if isinstance(registered, str) and not self._known_registered(registered, class_name):
            self.find("registered", path, registered, _package(registered))
            return
        if isinstance(inner, dict):
            self._special(class_name, inner, path)

    def _class(self, node: dict[str, Any], module: Any, class_name: str, path: str) -> bool:
        """Check a class reference; whether it is one Keras ships."""
        if "module" in node and module is not None:
            if not isinstance(module, str):
                self.find("module", path, f"a module given as {type(module).__name__}")
                return False
            if (module, class_name) in self.names.classes or (
                module,
                class_name,
            ) in self.names.functions:
                return True
            self.find("module", path, f"{module}.{class_name}", module)
            return False
        if class_name in self.names.class_names:
            return True
        # Keras 3 writes a registered class as module None, registered_name "package>Name"
        registered = node.get("registered_name")
        name = registered if isinstance(registered, str) and _package(registered) else class_name
        package = _package(name)
        self.find("registered" if package else "custom", path, name, package)
        return False

    def _function(self, module: Any, name: str, path: str, *, bare_ok: bool) -> None:
        """Check a function reference: *module* and *name* (a Keras 2 name has no module)."""
        if module is None or module == "builtins":
            if bare_ok and name in self.names.function_names:
                return
            if module is None and bare_ok:
                package = _package(name)
                self.find("registered" if package else "custom", path, name, package)
                return
            module = module or "builtins"
        if not isinstance(module, str):
            self.find("module", path, f"a module given as {type(module).__name__}")
        elif (module, name) not in self.names.functions:
            self.find("module", path, f"{module}.{name}", module)

    def _known_registered(self, registered: str, class_name: str) -> bool:
        return (
            registered in (class_name, "function")
            or registered in self.names.registered_names
            or registered in self.names.class_names
        )

    def _special(self, class_name: str, inner: dict[str, Any], path: str) -> None:
        """Keras's own layers that call what their config names, or load other files."""
        config_path = _join(path, "config")
        if class_name in _TF_OP_LAYERS:
            function = inner.get("function")
            if not (isinstance(function, str) and _tf_math(function)):
                self.find(
                    "tf_function", _join(config_path, "function"), str(function), "tensorflow"
                )
        elif class_name == "ClassMethod":
            symbol, method = inner.get("cls_symbol"), inner.get("method_name")
            if not (symbol == "RaggedTensor" and method in _RAGGED_CLASS_METHODS):
                self.find("tf_function", config_path, f"{symbol}.{method}", "tensorflow")
        elif class_name in ("InstanceMethod", "InstanceProperty"):
            attribute = inner.get("attr_name")
            if attribute not in _TENSOR_ATTRIBUTES:
                self.find(
                    "tf_function",
                    _join(config_path, "attr_name"),
                    f"Tensor.{attribute}",
                    "tensorflow",
                )
        elif class_name in _EXTERNAL:
            detail = f"{class_name} " + _EXTERNAL[class_name].format(filepath=inner.get("filepath"))
            self.find("external", path, detail)


def _tf_math(function: str) -> bool:
    """Whether a ``TFOpLambda`` function name is plain tensor math."""
    function = function.removeprefix("compat.v1.")  # Keras 2 names tf.transpose so
    return function.startswith(_TF_MATH_NAMESPACES) or function in _TF_ARRAY_FUNCTIONS


def _allowed(finding: KerasFinding, allow_modules: Sequence[str]) -> bool:
    return finding.module is not None and _within(finding.module, allow_modules)


def audit_keras_config(
    config: Any, *, allow_modules: Iterable[str] = (), source: str = "config.json"
) -> list[KerasFinding]:
    """Every object in a parsed Keras config that loading would import or run and Keras does not ship.

    *config* is a model config as Keras writes it: the ``config.json`` of a
    ``.keras`` file, or the ``model_config`` or ``training_config`` of an
    ``.h5`` file, in Keras 3 or Keras 2 style (each object tells by its
    keys). Findings come in the order they appear; an empty list means
    nothing in the config reaches outside what Keras ships. *allow_modules*
    drops the findings of objects from those modules (and their
    submodules, and registered names ``module>Name``); bytecode is never
    allowed. *source* names the config in the findings.

    >>> config = {"class_name": "Sequential", "config": {"layers": [
    ...     {"class_name": "Dense", "config": {"units": 1, "activation": "relu"}},
    ...     {"class_name": "Lambda", "config": {"function": ["4wAAAA...", None, None],
    ...                                         "function_type": "lambda", "module": "__main__"}},
    ...     {"class_name": "MyLayer", "config": {}}]}}
    >>> for finding in audit_keras_config(config, source="model_config"):
    ...     print(finding.rule, finding.path)
    lambda config.layers[1].config.function
    custom config.layers[2]
    """
    allowed = [str(m) for m in allow_modules]
    walk = _Walk(source)
    walk.walk(config, "")
    return [f for f in walk.findings if not _allowed(f, allowed)]


#: How many findings a report prints; ``to_json`` lists them all.
_SHOWN = 20


@dataclass
class KerasAudit:
    """The verdict on one Keras model file: ``clean``, ``refused`` or ``unreadable``.

    The verdicts are those of :class:`tfpersist.safety.FileAudit`.
    *findings* lists what would be imported or run; *objects* counts the
    serialized objects audited; *note* says why a file with nothing to
    audit is clean; *error* why the file or its config could not be read.

    >>> print(KerasAudit("model.keras", [], "clean", kind="keras", objects=7))
    model.keras: clean (7 objects audited; nothing Keras does not ship)
    """

    path: str
    findings: list[KerasFinding]
    verdict: str
    kind: str = ""
    objects: int = 0
    note: str = ""
    error: str = ""

    def __str__(self) -> str:
        if self.error:
            return f"{self.path}: {self.verdict}: {self.error}"
        if self.note:
            return f"{self.path}: {self.verdict} ({self.note})"
        counts = f"{self.objects} object{'s' * (self.objects != 1)} audited"
        if self.verdict == "clean":
            return f"{self.path}: clean ({counts}; nothing Keras does not ship)"
        lines = [f"{self.path}: refused ({counts}): {len(self.findings)} to look at"]
        lines += [f"  {f}" for f in self.findings[:_SHOWN]]
        if len(self.findings) > _SHOWN:
            lines.append(f"  and {len(self.findings) - _SHOWN} more (--json lists them all)")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        """The JSON form used by ``tfpersist audit --json``."""
        return {
            "path": self.path,
            "verdict": self.verdict,
            "kind": self.kind,
            "findings": [f.to_json() for f in self.findings],
            "objects": self.objects,
            "note": self.note or None,
            "error": self.error or None,
        }


def audit_keras_file(
    path: str | os.PathLike[str], *, allow_modules: Iterable[str] = ()
) -> KerasAudit:
    """Audit the model config (and an ``.h5`` file's training config) of a Keras file.

    Reads the file without TensorFlow or Keras. A file that holds no config
    (weights only) is ``clean``, with a note; a config that is not a JSON
    object is ``refused``; a file that cannot be read is ``unreadable``,
    with the reason, as in :func:`tfpersist.safety.audit_file`.

    >>> import json, zipfile
    >>> config = {"module": "keras.layers", "class_name": "Dense", "registered_name": None,
    ...           "config": {"units": 1, "activation": {"module": "keras.config",
    ...           "class_name": "function", "config": "set_epsilon", "registered_name": None}}}
    >>> with zipfile.ZipFile("dense.keras", "w") as z:
    ...     z.writestr("metadata.json", json.dumps({"keras_version": "3.15.1"}))
    ...     z.writestr("config.json", json.dumps(config))
    ...     z.writestr("model.weights.h5", b"")
    >>> print(audit_keras_file("dense.keras"))
    dense.keras: refused (2 objects audited): 1 to look at
      config.json at config.activation: imports keras.config.set_epsilon, which Keras does not ship as a serializable object
    """
    text = os.fspath(path)
    try:
        return _audit(text, list(allow_modules))
    except KerasFileError as e:
        return KerasAudit(text, [], "unreadable", error=" ".join(str(e).split()))


def _audit(text: str, allowed: list[str]) -> KerasAudit:
    """:func:`audit_keras_file`, raising the reader's ``KerasFileError`` for a damaged file."""
    from tfpersist.keras_files import KerasFile

    with KerasFile(text, weights=False) as opened:
        kind = str(opened.kind)
        model, training = opened.model_config, opened.training_config
        source = opened.training_config_source
    if kind == "keras":
        # the training config of a .keras file is the compile config inside config.json
        inside = source == "compile_config" or (
            isinstance(model, dict) and training == model.get("compile_config")
        )
        configs = [
            (model, "config.json", ""),
            (None if inside else training, "config.json", "compile_config"),
        ]
    else:
        configs = [(model, "model_config", ""), (training, "training_config", "training_config")]
    if all(config is None for config, _, _ in configs):
        return KerasAudit(text, [], "clean", kind, note="no model config: weights only")
    findings: list[KerasFinding] = []
    objects = 0
    for config, source, prefix in configs:
        if config is None:
            continue
        if not isinstance(config, dict):
            error = (
                f"its {source} is a JSON {type(config).__name__}, not an object; not a Keras model"
            )
            return KerasAudit(text, [], "refused", kind, error=error)
        walk = _Walk(source)
        walk.walk(config, prefix)
        objects += walk.objects
        findings += [f for f in walk.findings if not _allowed(f, allowed)]
    return KerasAudit(text, findings, "refused" if findings else "clean", kind, objects)


def _message(where: str, findings: Sequence[KerasFinding]) -> str:
    n = len(findings)
    shown = "; ".join(str(f) for f in findings[:5]) + (f"; and {n - 5} more" if n > 5 else "")
    modules = sorted({f.module for f in findings if f.module is not None})
    flags = " ".join(f"--allow-module {m}" for m in modules)
    advice = f", or pass allow_modules={modules} ({flags}) if you trust them" if modules else ""
    return (
        f"{where} holds {n} object{'s' * (n != 1)} Keras would import or run that Keras does "
        f"not ship: {shown}; load only models you trust{advice}"
    )


def check_keras_file(path: str | os.PathLike[str], *, allow_modules: Iterable[str] = ()) -> None:
    """Refuse a Keras file whose config would import or run anything Keras does not ship.

    Loaders call this before Keras sees the file. Raises
    :class:`~tfpersist.errors.UnsafeKerasConfigError` listing every finding
    with its path in the config, or
    :class:`~tfpersist.errors.KerasFileError` for a damaged file.

    >>> import json, zipfile
    >>> config = {"module": "keras.layers", "class_name": "Dense", "registered_name": None,
    ...           "config": {"units": 1, "activation": {"module": "os",
    ...           "class_name": "function", "config": "system", "registered_name": None}}}
    >>> with zipfile.ZipFile("hostile.keras", "w") as z:
    ...     z.writestr("metadata.json", json.dumps({"keras_version": "3.15.1"}))
    ...     z.writestr("config.json", json.dumps(config))
    ...     z.writestr("model.weights.h5", b"")
    >>> check_keras_file("hostile.keras")
    Traceback (most recent call last):
    ...
    tfpersist.errors.UnsafeKerasConfigError: 'hostile.keras' holds 1 object Keras would import or run that Keras does not ship: config.json at config.activation: imports os.system, which Keras does not ship as a serializable object; load only models you trust, or pass allow_modules=['os'] (--allow-module os) if you trust them
    >>> check_keras_file("hostile.keras", allow_modules=["os"])
    """
    text = os.fspath(path)
    audit = _audit(text, list(allow_modules))
    if audit.error:
        raise KerasFileError(f"{text!r}: {audit.error}")
    if audit.findings:
        raise UnsafeKerasConfigError(_message(repr(text), audit.findings), audit.findings)
