"""The import contracts in pyproject.toml cover every module of the package."""

from __future__ import annotations

import pkgutil
import re
from pathlib import Path

import tomllib

import tfpersist

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def contracts() -> dict[str, dict]:
    config = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))
    return {c["type"] + ":" + c["name"]: c for c in config["tool"]["importlinter"]["contracts"]}


def modules() -> set[str]:
    return {f"tfpersist.{m.name}" for m in pkgutil.iter_modules(tfpersist.__path__)}


def test_every_module_has_its_layer():
    [layers] = [c for key, c in contracts().items() if key.startswith("layers:")]
    named = [m for layer in layers["layers"] for m in re.split(r"[|:]", layer)]
    named = [m.strip() for m in named]
    assert len(named) == len(set(named)), "a module is in two layers"
    assert set(named) == modules()


def test_only_tf_may_import_tensorflow():
    [contract] = [
        c for key, c in contracts().items() if key == "forbidden:Only _tf imports TensorFlow"
    ]
    assert set(contract["source_modules"]) == modules() - {"tfpersist._tf"}
    assert "tensorflow" in contract["forbidden_modules"]
