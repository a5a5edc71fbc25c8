"""Record the objects each Keras release ships as serializable: ``tfpersist/keras_names.json``.

``tfpersist.keras_audit`` accepts a ``module``/``class_name`` pair in a
model's config only if Keras itself ships that object as one it serializes:
a layer, model, loss, metric, optimizer, schedule, initializer, regularizer,
constraint, dtype policy, and the functions of the namespaces Keras looks
built-in function names up in (``activations``, ``losses``, ``metrics``...).
This script asks each installed Keras what that set is::

    python tests/registry/keras_names.py            # every .tox/tf2* env, then write the file
    python tests/registry/keras_names.py --python .tox/tf221/bin/python
    python tests/registry/keras_names.py --dump     # this interpreter's Keras, as JSON on stdout

The file records, for each name, the releases that ship it, so the test
suite can regenerate the set of the installed Keras and compare.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import os
import pkgutil
import re
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tfpersist" / "keras_names.json"
#: The namespaces whose functions Keras serializes as objects: what
#: ``serialization_lib`` searches built-in function names in, and their kin.
FUNCTION_NAMESPACES = (
    "activations",
    "constraints",
    "initializers",
    "losses",
    "metrics",
    "optimizers",
    "optimizers.schedules",
    "regularizers",
)
#: Functions of those namespaces that are tools, not objects a model holds.
NOT_OBJECTS = frozenset({"deserialize", "get", "serialize"})


def _release() -> tuple[str, str]:
    """The TensorFlow release (``2.16``) and the Keras version (``3.15.1``) of this interpreter."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    major, minor = tf.__version__.split(".")[:2]
    version = tf.keras.__version__ if hasattr(tf.keras, "__version__") else ""
    import keras

    return f"{major}.{minor}", getattr(keras, "__version__", version)


def _exported() -> dict[str, Any]:
    """Every public Keras name (``keras.layers.Dense``) and its object."""
    try:
        from keras.src import api_export  # Keras 3

        return {
            n: o for n, o in api_export.REGISTERED_NAMES_TO_OBJS.items() if n.startswith("keras")
        }
    except ImportError:
        from tensorflow.python.util import tf_export  # Keras 2 exports into TensorFlow's registry

        mapping = tf_export._NAME_TO_SYMBOL_MAPPING
        return {n: o for n, o in mapping.items() if n.startswith("keras.")}


def _is_serializable_class(obj: Any) -> bool:
    """A class Keras can rebuild from a config: it has ``from_config`` and ``get_config``."""
    return (
        inspect.isclass(obj)
        and callable(getattr(obj, "from_config", None))
        and callable(getattr(obj, "get_config", None))
        and obj.__module__.split(".")[0] == "keras"
    )


def _registered() -> dict[str, Any]:
    """The objects Keras registers under a name of its own (Keras 2's ``Custom>Adam``)."""
    for where in ("keras.src.saving.object_registration", "keras.saving.object_registration"):
        try:
            module = importlib.import_module(where)
        except ImportError:
            continue
        table = getattr(module, "GLOBAL_CUSTOM_OBJECTS", None) or getattr(
            module, "_GLOBAL_CUSTOM_OBJECTS", {}
        )
        return dict(table)
    return {}


def _legacy_objects() -> dict[str, Any]:
    """The name -> object tables Keras's legacy (``.h5``) loaders look class names up in."""
    tables: dict[str, Any] = {}
    for where, attribute in [
        ("keras.src.layers.serialization", "populate_deserializable_objects"),  # Keras 2.13+
        ("keras.layers.serialization", "populate_deserializable_objects"),  # Keras 2.12
    ]:
        try:
            module = importlib.import_module(where)
        except ImportError:
            continue
        getattr(module, attribute)()
        tables.update(module.LOCAL.ALL_OBJECTS)
    try:  # Keras 3's reader of legacy .h5 files looks names up in keras.src.layers
        from keras.src import layers, models
        from keras.src.legacy.saving import saving_utils  # noqa: F401
    except ImportError:
        return tables
    tables.update(vars(layers))
    tables.update(Functional=models.Functional, Model=models.Model, Sequential=models.Sequential)
    return tables


#: Modules not imported: tests, benchmarks, and backends whose framework is not installed.
SKIPPED = re.compile(
    r"(^|\.|_)(tests?|testing|benchmarks?|integration_test)(\.|_|$)|\.backend\.(jax|torch|numpy|openvino)"
)


def _import_all() -> None:
    """Import every module of the Keras package, so the set does not depend on what ran before."""
    import keras

    for info in pkgutil.walk_packages(keras.__path__, "keras."):
        if SKIPPED.search(info.name):
            continue
        try:
            importlib.import_module(info.name)
        except Exception:
            continue


def dump() -> dict[str, Any]:
    """What this interpreter's Keras ships as serializable objects."""
    release, version = _release()
    _import_all()

    classes: set[tuple[str, str]] = set()
    functions: set[tuple[str, str]] = set()
    for name, obj in _exported().items():
        module, _, leaf = name.rpartition(".")
        if _is_serializable_class(obj):
            classes.add((module, leaf))
            classes.add((obj.__module__, obj.__name__))
        elif (
            isinstance(obj, types.FunctionType)
            and module.removeprefix("keras.") in FUNCTION_NAMESPACES
            and leaf not in NOT_OBJECTS
        ):
            functions.add((module, leaf))
            functions.add((obj.__module__, obj.__name__))
    for module_name, loaded in list(sys.modules.items()):
        if loaded is None or module_name.split(".")[0] != "keras":
            continue
        for obj in list(vars(loaded).values()):
            if _is_serializable_class(obj) and obj.__module__ == module_name:
                classes.add((module_name, obj.__name__))
    registered = {}
    for name, obj in _registered().items():
        if getattr(obj, "__module__", "").split(".")[0] == "keras":
            registered[name] = obj
            if inspect.isclass(obj):
                classes.add((obj.__module__, obj.__name__))
    bare = {leaf for _, leaf in classes} | set(registered)
    bare_functions = {leaf for _, leaf in functions}
    for name, obj in _legacy_objects().items():
        if _is_serializable_class(obj):
            bare.add(name)
    return {
        "release": release,
        "keras": version,
        "classes": sorted(f"{m}:{n}" for m, n in classes),
        "functions": sorted(f"{m}:{n}" for m, n in functions),
        "class_names": sorted(bare),
        "function_names": sorted(bare_functions),
        "registered_names": sorted(registered),
    }


KINDS = ("classes", "functions", "class_names", "function_names", "registered_names")


def merge(dumps: list[dict[str, Any]]) -> dict[str, Any]:
    """The file's content: each name with the releases that ship it (``2.12,2.15``)."""
    dumps = sorted(dumps, key=lambda d: tuple(int(p) for p in d["release"].split(".")))
    out: dict[str, Any] = {
        "comment": (
            "Objects each Keras release ships as serializable, by tests/registry/keras_names.py; "
            "do not edit by hand."
        ),
        "releases": {d["release"]: d["keras"] for d in dumps},
    }
    for kind in KINDS:
        names: dict[str, list[str]] = {}
        for d in dumps:
            for name in d[kind]:
                names.setdefault(name, []).append(d["release"])
        out[kind] = {n: ",".join(names[n]) for n in sorted(names)}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dump", action="store_true", help="print this interpreter's set")
    parser.add_argument("--python", action="append", help="an interpreter with TensorFlow")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    if args.dump:
        json.dump(dump(), sys.stdout)
        return 0
    pythons = args.python or sorted(
        str(p) for p in ROOT.glob(".tox/tf2*/bin/python") if re.search(r"tf2\d+/", str(p))
    )
    dumps = []
    for python in pythons:
        found = subprocess.run(
            [python, __file__, "--dump"], check=True, capture_output=True, text=True
        )
        dumps.append(json.loads(found.stdout))
        print(f"{python}: TensorFlow {dumps[-1]['release']}, Keras {dumps[-1]['keras']}")
    text = json.dumps(merge(dumps), indent=0, sort_keys=False) + "\n"
    temporary = args.out.with_name(args.out.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
