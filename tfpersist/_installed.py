"""What is installed beside tfpersist, read without importing it.

The graph decoder follows the parser of the TensorFlow and protobuf
installed, and the audit judges ops against the release installed; neither
may import TensorFlow to find out which that is.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import sys

__all__ = ["installed_release", "protobuf_major", "release_key"]

#: The distributions TensorFlow ships as, by their ``.dist-info`` folders.
_DISTRIBUTION = re.compile(
    r"(tensorflow|tensorflow_cpu|tensorflow_gpu|tensorflow_intel|tensorflow_macos|"
    r"tensorflow_aarch64|tensorflow_rocm|tf_nightly|tf_nightly_cpu)-(\d+)\.(\d+)\..*\.dist-info"
)


def installed_release() -> str | None:
    """The installed TensorFlow's release (``2.21``), read without importing it; ``None`` if none.

    It is read off the first ``.dist-info`` folder of a TensorFlow
    distribution on ``sys.path``, the way Python finds installed packages.

    >>> installed_release() is None or installed_release().count(".") == 1
    True
    """
    for entry in sys.path:
        try:
            names = sorted(os.listdir(entry or "."))
        except OSError:
            continue
        for name in names:
            found = _DISTRIBUTION.fullmatch(name)
            if found:
                return f"{found[2]}.{found[3]}"
    return None


def protobuf_major() -> int | None:
    """The major version of the installed protobuf package; ``None`` if there is none.

    >>> protobuf_major() is None or protobuf_major() >= 3
    True
    """
    try:
        return int(importlib.metadata.version("protobuf").split(".")[0])
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return None


def release_key(release: str) -> tuple[int, ...]:
    """A release as numbers, to compare: ``2.9`` comes before ``2.13``.

    >>> release_key("2.9") < release_key("2.13")
    True
    """
    return tuple(int(part) for part in release.split("."))
