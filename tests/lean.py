"""Checks that a damaged checkpoint is refused before anything is allocated for it."""

from __future__ import annotations

import re
import tracemalloc

import pytest

from tfpersist import bundle
from tfpersist.errors import CorruptCheckpointError


def refused_lean(prefix: str, tensor: str, message: str) -> None:
    """Reading *tensor* raises *message*, names the tensor and file, and allocates under 1 MiB."""
    tracemalloc.start()
    try:
        with pytest.raises(CorruptCheckpointError, match=re.escape(message)) as caught:
            bundle.load_checkpoint(prefix).get_tensor(tensor)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert repr(tensor) in str(caught.value) and repr(prefix) in str(caught.value)
    assert peak < 1 << 20  # nothing allocated in proportion to the declared sizes
