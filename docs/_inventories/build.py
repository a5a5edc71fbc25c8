"""Write the inventories of the objects these docs cite, for offline intersphinx.

The build machine reaches no documentation site, so Sphinx cannot download the
official inventories. These list, in the same format, the objects the pages
cite, with their addresses in the official documentation.

Run from anywhere: ``python docs/_inventories/build.py``.
"""

from __future__ import annotations

import pathlib
import zlib

HERE = pathlib.Path(__file__).parent

PYTHON = {
    # name: (role, page#anchor); "$" in the address stands for the name
    **{
        n: ("py:class", "library/stdtypes.html#$")
        for n in ("str", "list", "dict", "tuple", "bytes", "set")
    },
    **{n: ("py:class", "library/functions.html#$") for n in ("int", "float", "bool")},
    "None": ("py:data", "library/constants.html#$"),
    **{
        n: ("py:exception", "library/exceptions.html#$")
        for n in (
            "Exception",
            "FileNotFoundError",
            "ImportError",
            "LookupError",
            "OSError",
            "TypeError",
            "UserWarning",
            "ValueError",
        )
    },
    "os.PathLike": ("py:class", "library/os.html#$"),
    "argparse.ArgumentParser": ("py:class", "library/argparse.html#$"),
    "re.sub": ("py:function", "library/re.html#$"),
    "pathlib.Path": ("py:class", "library/pathlib.html#$"),
    "warnings.warn": ("py:function", "library/warnings.html#$"),
    "difflib.get_close_matches": ("py:function", "library/difflib.html#$"),
    **{
        f"collections.abc.{n}": ("py:class", "library/collections.abc.html#$")
        for n in ("Iterable", "Iterator", "Mapping", "Sequence")
    },
    "typing.Any": ("py:data", "library/typing.html#$"),
}

# TensorFlow's reference is not built with Sphinx and has no inventory. Type
# hints name classes by their defining module; both names lead to the public page.
_TF_PUBLIC = {
    "tf.function": "py:function",
    "tf.saved_model.load": "py:function",
    "tf.saved_model.save": "py:function",
    "tf.train.Checkpoint": "py:class",
    "tf.train.CheckpointManager": "py:class",
    "tf.train.latest_checkpoint": "py:function",
    "tf.train.list_variables": "py:function",
    "tf.train.load_checkpoint": "py:function",
    "tf.compat.v1.Session": "py:class",
    "tf.compat.v1.train.Saver": "py:class",
    "tf.Graph": "py:class",
    "tf.distribute.Strategy": "py:class",
    "tf.train.CheckpointOptions": "py:class",
}
_TF_DEFINED_AS = {
    "tensorflow.python.checkpoint.checkpoint.Checkpoint": "tf.train.Checkpoint",
    "tensorflow.python.checkpoint.checkpoint_management.CheckpointManager": "tf.train.CheckpointManager",
    "tensorflow.python.client.session.Session": "tf.compat.v1.Session",
    "tensorflow.python.framework.ops.Graph": "tf.Graph",
    "tensorflow.python.training.saver.Saver": "tf.compat.v1.train.Saver",
    "tensorflow.python.distribute.distribute_lib.Strategy": "tf.distribute.Strategy",
    "tensorflow.python.checkpoint.checkpoint_options.CheckpointOptions": "tf.train.CheckpointOptions",
}
TENSORFLOW = {
    **{n: (role, "api_docs/python/" + n.replace(".", "/")) for n, role in _TF_PUBLIC.items()},
    **{
        n: ("py:class", "api_docs/python/" + public.replace(".", "/"))
        for n, public in _TF_DEFINED_AS.items()
    },
}

NUMPY = {
    "numpy.ndarray": ("py:class", "reference/generated/numpy.ndarray.html#$"),
    "numpy.dtype": ("py:class", "reference/generated/numpy.dtype.html#$"),
    "numpy.load": ("py:function", "reference/generated/numpy.load.html#$"),
    # type hints written as np.ndarray, where NumPy is imported only for typing
    "np.ndarray": ("py:class", "reference/generated/numpy.ndarray.html#numpy.ndarray"),
}


def write(
    path: pathlib.Path, project: str, version: str, objects: dict[str, tuple[str, str]]
) -> None:
    lines = [f"{name} {role} 1 {uri} -" for name, (role, uri) in sorted(objects.items())]
    header = (
        "# Sphinx inventory version 2\n"
        f"# Project: {project}\n"
        f"# Version: {version}\n"
        "# The remainder of this file is compressed using zlib.\n"
    )
    path.write_bytes(header.encode() + zlib.compress("\n".join(lines).encode() + b"\n"))


if __name__ == "__main__":
    write(HERE / "python.inv", "Python", "3", PYTHON)
    write(HERE / "numpy.inv", "NumPy", "stable", NUMPY)
    write(HERE / "tensorflow.inv", "TensorFlow", "2", TENSORFLOW)
