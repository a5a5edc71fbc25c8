"""Errors and warnings raised by tfpersist.

Every exception tfpersist raises for a bad input derives from
:class:`TfPersistError`, and also from the built-in exception a Python
programmer would expect (``FileNotFoundError``, ``ValueError``, ...), so both
``except TfPersistError`` and ``except FileNotFoundError`` work. Each message
says what was wrong, where, and what to do. When the cause was an exception
from TensorFlow, it is chained as ``__cause__``.

>>> from tfpersist import errors
>>> try:
...     raise errors.CheckpointNotFoundError("no checkpoint at 'model/model.ckpt'")
... except FileNotFoundError as e:
...     print(type(e).__name__, "is a", errors.TfPersistError.__name__, isinstance(e, errors.TfPersistError))
CheckpointNotFoundError is a TfPersistError True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class TfPersistError(Exception):
    """Base class of every error tfpersist raises on purpose."""


class TensorFlowMissingError(TfPersistError, ImportError):
    """TensorFlow is needed for this call but is not installed."""


class CheckpointNotFoundError(TfPersistError, FileNotFoundError):
    """A path names no checkpoint (or a checkpoint's ``.meta`` is missing)."""


class CorruptCheckpointError(TfPersistError, OSError):
    """A checkpoint file exists but cannot be read: truncated or damaged."""


class UnsupportedCheckpointError(TfPersistError, ValueError):
    """A sound checkpoint holds something only TensorFlow can read (a variant tensor, a newer format)."""


class TensorNotFoundError(TfPersistError, KeyError):
    """A tensor name is not in the checkpoint."""

    def __str__(self) -> str:  # KeyError would quote the message like a key
        return str(self.args[0]) if self.args else ""


class CheckpointLockedError(TfPersistError, TimeoutError):
    """Another process kept a checkpoint directory locked for longer than we would wait."""


class WriteError(TfPersistError, OSError):
    """A file could not be written (disk full, file too large, no permission); nothing was replaced."""


class FilesystemError(TfPersistError):
    """A TensorFlow filesystem URL cannot be used: no filesystem for its scheme, or it is unreachable."""


class UnsupportedReleaseError(TfPersistError, NotImplementedError):
    """The feature asked for needs a newer TensorFlow release than the one installed."""


class WorkerError(TfPersistError, RuntimeError):
    """A worker process of a local cluster failed, or the cluster did not finish in time."""


class NodeNotFoundError(TfPersistError, LookupError):
    """A node or tensor name is not in the graph."""

    def __str__(self) -> str:  # LookupError would quote the message like a key
        return str(self.args[0]) if self.args else ""


class OutputGuessError(TfPersistError, ValueError):
    """The outputs of a graph could not be guessed; *candidates* lists the sinks found."""

    def __init__(self, message: str, candidates: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.candidates = list(candidates)


class GraphTooLargeError(TfPersistError, ValueError):
    """A GraphDef is larger than protobuf's 2 GiB limit and cannot be written."""


class UnsafeGraphError(TfPersistError, ValueError):
    """A graph holds ops that reach outside it (files, Python) or that TensorFlow does not know.

    *ops* lists each refused op as ``(op, node, function)``; *function* is
    ``None`` for a node at the top level.
    """

    def __init__(self, message: str, ops: Sequence[tuple[str, str, str | None]] = ()) -> None:
        super().__init__(message)
        self.ops = list(ops)


class SessionRequiredError(TfPersistError, ValueError):
    """Graph-mode variables were to be assigned now, but no session was given to run the assignment in."""


class DevicePlacementError(TfPersistError, ValueError):
    """A graph places nodes on devices or cluster jobs this machine does not have."""


class GraphFormatError(TfPersistError, ValueError):
    """A file is not a serialised ``GraphDef`` or ``MetaGraphDef``."""


class RewriteError(TfPersistError, ValueError):
    """A rename, drop or conversion that cannot be done as asked."""


class ExportError(TfPersistError, ValueError):
    """A checkpoint cannot be written in the format asked for."""


class KerasFileError(TfPersistError, ValueError):
    """A ``.keras``, ``.weights.h5`` or Keras ``.h5`` file is damaged, hostile or of a layout tfpersist does not know."""


class UnsafeKerasConfigError(TfPersistError, ValueError):
    """A Keras model's config would import or run code that Keras does not ship.

    *findings* lists each refused object with its path in the config.
    """

    def __init__(self, message: str, findings: Sequence[object] = ()) -> None:
        super().__init__(message)
        self.findings = list(findings)


class NothingToRestoreError(TfPersistError, ValueError):
    """A restore or assignment was asked for with no variable to take a value (an empty map)."""


class NothingToSaveError(TfPersistError, ValueError):
    """A save was asked for with no variable to save: an empty graph, list or saver."""


class TfPersistWarning(UserWarning):
    """Base class of tfpersist's warnings: something was off, and tfpersist coped."""


class CheckpointStateWarning(TfPersistWarning):
    """The ``checkpoint`` state file was missing, corrupt, stale or moved."""


@dataclass(frozen=True)
class Mismatch:
    """One variable whose checkpoint entry does not fit.

    *kind* is ``"missing"`` (the model wants it, the checkpoint lacks it),
    ``"unexpected"`` (the checkpoint has it, nothing takes it), ``"shape"``,
    ``"dtype"``, ``"misplaced"`` (the key is there, but the checkpoint's
    object graph gives it to the object at path *found*), ``"duplicate"``
    (the variable is also listed under the name *found*) or ``"type"`` (a
    *found* that is not a variable stands where a variable should).

    >>> print(Mismatch("shape", "v1", expected="[2]", found="[1]"))
    v1: shape [2] expected, checkpoint has [1]
    """

    kind: str
    name: str
    expected: str = ""
    found: str = ""
    hint: str = ""

    def __str__(self) -> str:
        if self.kind == "missing":
            return f"{self.name}: not in the checkpoint{self.hint}"
        if self.kind == "unexpected":
            return f"{self.name}: in the checkpoint but not restored{self.hint}"
        if self.kind == "misplaced":  # *found*: where the checkpoint's object graph puts it
            where = f"at {self.found!r}" if self.found else "at no object"
            return (
                f"{self.name}: in the checkpoint, but its object graph puts that value {where}, "
                "so TensorFlow would not restore it; rename the object graph too"
            )
        if self.kind == "duplicate":
            return (
                f"{self.name}: the same variable as {self.found!r}; a variable takes one value, "
                "so list it under one name"
            )
        if self.kind == "type":
            return f"{self.name}: {self.found} is not a variable; map each name to a tf.Variable"
        return f"{self.name}: {self.kind} {self.expected} expected, checkpoint has {self.found}"


class VariableMismatchError(TfPersistError, ValueError):
    """Variables and a checkpoint do not match; every problem is listed at once.

    >>> err = VariableMismatchError("model/model.ckpt", [Mismatch("missing", "w")])
    >>> print(err)
    variables do not match checkpoint 'model/model.ckpt' (1 problem):
      w: not in the checkpoint
    Fix the names or shapes, pass a name map, or ask for a partial restore.
    >>> [m.name for m in err.missing]
    ['w']
    """

    def __init__(self, prefix: str, problems: Sequence[Mismatch]) -> None:
        self.prefix = prefix
        self.problems = list(problems)
        super().__init__(prefix, self.problems)

    def _of(self, kind: str) -> list[Mismatch]:
        return [p for p in self.problems if p.kind == kind]

    @property
    def missing(self) -> list[Mismatch]:
        """Variables the model wants and the checkpoint lacks."""
        return self._of("missing")

    @property
    def unexpected(self) -> list[Mismatch]:
        """Checkpoint entries nothing takes."""
        return self._of("unexpected")

    @property
    def wrong_shape(self) -> list[Mismatch]:
        """Variables whose checkpoint value has another shape."""
        return self._of("shape")

    @property
    def wrong_dtype(self) -> list[Mismatch]:
        """Variables whose checkpoint value has another dtype."""
        return self._of("dtype")

    def __str__(self) -> str:
        n = len(self.problems)
        lines = [
            f"variables do not match checkpoint {self.prefix!r} ({n} problem{'s' * (n != 1)}):"
        ]
        lines += [f"  {p}" for p in self.problems]
        lines.append("Fix the names or shapes, pass a name map, or ask for a partial restore.")
        return "\n".join(lines)
