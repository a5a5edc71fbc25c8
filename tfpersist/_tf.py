"""The one place that imports TensorFlow and knows how its releases differ.

Every other module takes ``tf`` and any version-dependent helper from here.
"""

from __future__ import annotations

import re
from typing import Any

from tfpersist.errors import TensorFlowMissingError

try:
    import tensorflow as tf
except ImportError as e:  # pragma: no cover - exercised only without TensorFlow
    raise TensorFlowMissingError(
        "this part of tfpersist needs TensorFlow, which is not installed: "
        "pip install 'tfpersist[tf]' (or your own TensorFlow build)"
    ) from e

# No public export on any release 2.12-2.21.
from tensorflow.core.protobuf.trackable_object_graph_pb2 import TrackableObjectGraph
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

VERSION: tuple[int, int] = tuple(  # type: ignore[assignment]
    int(x) for x in re.match(r"(\d+)\.(\d+)", tf.__version__).groups()
)

#: Keras 3 (TF >= 2.16) names object-based keys ``_operations/1/_kernel``,
#: Keras 2 ``layer_with_weights-0/kernel``.
KERAS_3: bool = VERSION >= (2, 16)

OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"

__all__ = [
    "KERAS_3",
    "OBJECT_GRAPH_KEY",
    "VERSION",
    "TrackableObjectGraph",
    "convert_variables_to_constants_v2",
    "tf",
    "trackable_children",
]


def trackable_children(obj: Any) -> dict[str, Any]:
    """Return the named dependencies of a trackable object, as a checkpoint sees them."""
    return dict(tf.train.TrackableView(obj).children(obj))
