"""tfpersist: TensorFlow model persistence, explained and made safe.

The submodules follow the sections of the article, and load on first use, so
``import tfpersist`` does not import TensorFlow:

>>> import sys, tfpersist
>>> tfpersist.saving.__name__
'tfpersist.saving'
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_SUBMODULES = (
    "bundle",
    "checkpoint_state",
    "cli",
    "compat",
    "distributed",
    "errors",
    "exporting",
    "freezer",
    "freezing",
    "graphs",
    "importing",
    "inspecting",
    "keras_audit",
    "keras_files",
    "keras_models",
    "keras_weights",
    "meta_graph",
    "partial",
    "restoring",
    "rewriting",
    "safety",
    "saving",
)
#: Loaded on use but left out of ``import *``: it needs the test extra.
_HARNESS = ("testing",)

__all__ = ["__version__", *_SUBMODULES]


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES or name in _HARNESS:
        return importlib.import_module(f"tfpersist.{name}")
    raise AttributeError(f"module 'tfpersist' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
