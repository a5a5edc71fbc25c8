"""Harmless stand-ins for hostile code in a Keras config: what Keras runs of them is recorded.

A test points a model's config at this module, loads the model with Keras
and then looks at :data:`EVENTS`. Importing the module afresh empties it, so
a test drops the module from ``sys.modules`` before loading: if it is back
afterwards, Keras imported it.
"""

from __future__ import annotations

from typing import Any

#: What Keras did with the stand-ins, in order: ``"hit"``, ``"from_config"``, ``"call"``.
EVENTS: list[str] = []


def hit(x: Any = None, *args: Any, **kwargs: Any) -> Any:
    """A function a config names (an activation, a Lambda's function): records each call."""
    EVENTS.append("hit")
    return x


def hit_mask(inputs: Any = None, mask: Any = None) -> Any:
    """A Lambda layer's mask function."""
    EVENTS.append("hit")
    return mask


class Marker:
    """A class a config names: records being rebuilt and being called."""

    def __init__(self, **config: Any) -> None:
        self.config = config

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: Any = None) -> Marker:
        EVENTS.append("from_config")
        return cls(**config)

    def get_config(self) -> dict[str, Any]:
        return dict(self.config)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        EVENTS.append("call")
        return args[0] if args else None
