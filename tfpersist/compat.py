"""Deprecated: the old name of :mod:`tfpersist.keras_weights`, kept for one release.

Each name taken from here warns with a :class:`DeprecationWarning` and gives
the one in :mod:`tfpersist.keras_weights`:

>>> import warnings
>>> from tfpersist import compat
>>> with warnings.catch_warnings(record=True) as caught:
...     warnings.simplefilter("always")
...     restore = compat.restore_keras_weights
>>> print(caught[0].message)
tfpersist.compat is now tfpersist.keras_weights; import restore_keras_weights from there
"""

from __future__ import annotations

import warnings
from typing import Any

from tfpersist import keras_weights

__all__ = list(keras_weights.__all__)


def __getattr__(name: str) -> Any:
    if name in keras_weights.__all__:
        warnings.warn(
            f"tfpersist.compat is now tfpersist.keras_weights; import {name} from there",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(keras_weights, name)
    raise AttributeError(f"module 'tfpersist.compat' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
