"""Auditing a graph before it is imported: only ops on a reviewed allowlist may run.

TensorFlow's own security policy is that a model is a program: a ``GraphDef``
can hold ops that read and write files, call back into Python or talk to
other machines, and they run as soon as the graph runs. TensorFlow is not a
sandbox, and ``tf.import_graph_def`` imports whatever it is given. tfpersist
reads every graph as data first (a frozen ``.pb``, a ``.meta``, a
SavedModel) and refuses it unless every op in it is one the allowlist
accepts. The allowlist names the ops that touch nothing outside the process:
arithmetic, arrays, control flow, variables and other in-process resources,
random numbers, strings, ``tf.data`` in memory, and so on. Everything else
is refused, including an op that a future TensorFlow release adds: an op is
safe because somebody reviewed it, never because its name looks harmless.
The list is data, ``tfpersist/op_policy.json``, one group per family of
ops, each with its reason; the "Auditing graphs" page of the docs shows it.

The audit walks every node of the graph and of every function in its
library, so nothing hides in the body of a ``While``, a branch of an ``If``
or the ``map`` function of a dataset. It also refuses:

* ops this TensorFlow does not know;
* constants that expand to more than 2 GiB each, or 4 GiB together, counting
  strings by the bytes they hold and refusing shapes that overflow;
* functions that call themselves.

A graph that refers to a function its library lacks is damaged, and raises
:class:`~tfpersist.errors.GraphFormatError`.

>>> import tensorflow as tf
>>> from tfpersist import safety
>>> with tf.Graph().as_default() as graph:
...     path = tf.constant("/etc/passwd", name="path")
...     data = tf.io.read_file(path, name="steal")
>>> safety.audit_graph(graph.as_graph_def())
Traceback (most recent call last):
...
tfpersist.errors.UnsafeGraphError: the graph holds 1 op tfpersist will not import: node 'steal' runs ReadFile (reads, writes or lists files); import only graphs you trust, or pass allow_ops=['ReadFile'] (--allow-op ReadFile) if you trust this one
>>> safety.audit_graph(graph.as_graph_def(), allow_ops=["ReadFile"])

The op is found wherever it sits, here inside a ``tf.function`` called from
a ``tf.cond`` branch:

>>> @tf.function
... def load(p):
...     return tf.io.read_file(p)
>>> @tf.function
... def maybe(flag, p):
...     return tf.cond(flag, lambda: load(p), lambda: tf.constant(""))
>>> spec = (tf.TensorSpec([], tf.bool), tf.TensorSpec([], tf.string))
>>> graph_def = maybe.get_concrete_function(*spec).graph.as_graph_def()
>>> try:
...     safety.audit_graph(graph_def)
... except safety.UnsafeGraphError as e:
...     [(op, function.startswith("__inference_load")) for op, node, function in e.ops]
[('ReadFile', True)]

.. rubric:: Savers

A ``.meta`` file or a SavedModel carries a saver: ``SaveV2`` and
``RestoreV2`` ops that do touch files, by design. tfpersist accepts them only
in the shape TensorFlow's own ``Saver`` builds. Their file name must come
from the filename tensor the saver declares (the tensor tfpersist feeds with
the checkpoint you name), through string ops alone, with nothing appended
but a suffix such as ``_temp/part`` (never ``..``). Nothing else in the graph
may depend on them: what follows a saver op is only the saver's own
assignments, the ``NoOp`` that groups them and the file name passed along.
Restoring may not write, and ``MergeV2Checkpoints`` may merge (and delete)
only the saver's temporary shards. A saver that the file does not declare
is accepted in the same shape as long as nothing depends on it, as
TensorFlow 1 left behind when a graph gained a second saver: it runs only if
you run it by name. Inside a function, where every stateful op runs when the
function does, saver ops are accepted only in the functions the declared
saver calls.

>>> with tf.Graph().as_default() as graph:
...     v = tf.Variable(1.0, name="v")
...     meta = tf.compat.v1.train.Saver().export_meta_graph()
>>> safety.audit_graph(meta.graph_def, saver_def=meta.saver_def)
>>> with tf.Graph().as_default() as graph:
...     secret = tf.raw_ops.RestoreV2(
...         prefix="/home/user/other.ckpt", tensor_names=["w"],
...         shape_and_slices=[""], dtypes=[tf.float32], name="peek")
...     out = tf.identity(secret[0], name="out")
>>> safety.audit_graph(graph.as_graph_def())
Traceback (most recent call last):
...
tfpersist.errors.UnsafeGraphError: the graph holds 1 op tfpersist will not import: node 'peek' runs RestoreV2 (node 'out' (Identity) takes its restored values, which only an assignment may); ...

:func:`audit_file` does all of this without TensorFlow: it decodes the file
itself (:mod:`tfpersist._graphfile`) and checks the ops against those each
TensorFlow release knows (``tfpersist/op_registry.json``). ``tfpersist audit``
runs it on the command line.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tfpersist._graphfile import Function, Graph, MetaGraph, Node, Saver, node_name
from tfpersist._installed import installed_release
from tfpersist.errors import GraphFormatError, UnsafeGraphError, UnsupportedReleaseError

__all__ = [
    "MAX_CONSTANT_BYTES",
    "MAX_TOTAL_CONSTANT_BYTES",
    "SAVER_OPS",
    "FileAudit",
    "Group",
    "Refusal",
    "UnsafeGraphError",
    "audit_file",
    "audit_graph",
    "check_graph",
    "installed_release",
    "known_releases",
    "op_groups",
    "resolve_release",
    "tensor_bytes",
]

_HERE = os.path.dirname(os.path.abspath(__file__))
POLICY_FILE = os.path.join(_HERE, "op_policy.json")
REGISTRY_FILE = os.path.join(_HERE, "op_registry.json")

#: One constant may expand to at most this many bytes; more is a bomb.
MAX_CONSTANT_BYTES = 2**31
#: All constants of a graph together may expand to at most this many bytes.
MAX_TOTAL_CONSTANT_BYTES = 2**32

#: Checkpoint file ops: accepted only in the shape TensorFlow's own savers build.
SAVER_OPS = frozenset(
    {"SaveV2", "RestoreV2", "MergeV2Checkpoints", "ShardedFilename", "ShardedFilespec"}
    | {"Save", "SaveSlices", "Restore", "RestoreSlice"}
)
_WRITERS = frozenset({"SaveV2", "Save", "SaveSlices", "MergeV2Checkpoints"})
#: The inputs of each saver op that name files.
_PATH_INPUTS = {"MergeV2Checkpoints": (0, 1)}
#: Ops that stand for a file name: the saver's filename tensor is one of them.
_FILENAME_OPS = frozenset({"Const", "Placeholder", "PlaceholderV2", "PlaceholderWithDefault"})
#: What may depend on a saver op: its assignments, the NoOps grouping them, the name.
_PLUMBING = frozenset({"Identity", "NoOp", "Assign", "AssignVariableOp", "Pack"}) | SAVER_OPS
_CALLS = frozenset({"PartitionedCall", "StatefulPartitionedCall"})
#: TensorFlow's string tensors cost this much per element, before their bytes.
_STRING_OVERHEAD = 24
_DTYPE_SIZES = {
    1: 4, 2: 8, 3: 4, 4: 1, 5: 2, 6: 1, 8: 8, 9: 8, 10: 1, 11: 1, 12: 1, 13: 4, 14: 2,
    15: 2, 16: 2, 17: 2, 18: 16, 19: 2, 20: 64, 22: 4, 23: 8, 24: 1, 25: 1, 26: 1, 27: 1,
    28: 1, 29: 1, 30: 1, 31: 1, 32: 1,
}  # fmt: skip
_STRING, _VARIANT = 7, 21


@dataclass(frozen=True)
class Group:
    """A family of ops in the policy: its *verdict* (``allow``, ``refuse`` or ``saver``).

    *effect* says, for a refused family, what its ops do; *when* is the
    condition under which an allowed op is accepted, where there is one.

    >>> sorted(g.verdict for g in op_groups() if "ReadFile" in g.ops)
    ['refuse']
    """

    family: str
    verdict: str
    reason: str
    ops: frozenset[str]
    effect: str = ""
    when: dict[str, Any] | None = None


@dataclass(frozen=True)
class Refusal:
    """One thing the audit refuses: the *op*, its *node*, the *function* it sits in, *reason*.

    *function* is ``None`` for a node at the top level.

    >>> print(Refusal("ReadFile", "steal", "load", "reads, writes or lists files"))
    node 'steal' in function 'load' runs ReadFile (reads, writes or lists files)
    """

    op: str
    node: str
    function: str | None
    reason: str

    def __str__(self) -> str:
        inside = f" in function {self.function!r}" if self.function else ""
        return f"node {self.node!r}{inside} runs {self.op} ({self.reason})"

    def to_json(self) -> dict[str, Any]:
        """The JSON form used by ``tfpersist audit --json`` and ``summarize --json``."""
        return {"op": self.op, "node": self.node, "function": self.function, "reason": self.reason}


@functools.cache
def op_groups() -> tuple[Group, ...]:
    """The groups of ``tfpersist/op_policy.json``, in file order.

    >>> [g.family for g in op_groups() if g.verdict == "saver"]
    ['checkpoint files']
    """
    with open(POLICY_FILE, encoding="utf-8") as f:
        document = json.load(f)
    return tuple(
        Group(
            g["family"],
            g["verdict"],
            g["reason"],
            frozenset(g["ops"]),
            g.get("effect", ""),
            g.get("when"),
        )
        for g in document["groups"]
    )


@functools.cache
def _policy() -> dict[str, Group]:
    return {op: group for group in op_groups() for op in group.ops}


@functools.cache
def _plainly_allowed() -> frozenset[str]:
    return frozenset(op for g in op_groups() if g.verdict == "allow" and not g.when for op in g.ops)


@functools.cache
def _registry() -> dict[str, Any]:
    with open(REGISTRY_FILE, encoding="utf-8") as f:
        return json.load(f)


def known_releases() -> tuple[str, ...]:
    """The TensorFlow releases whose ops ``tfpersist/op_registry.json`` records, oldest first.

    >>> known_releases()[0], known_releases()[-1]
    ('2.12', '2.21')
    """
    return tuple(_registry()["releases"])


def _key(release: str) -> tuple[int, int] | None:
    match = re.fullmatch(r"\s*(\d+)\.(\d+)(\.\S*)?\s*", release)
    return (int(match[1]), int(match[2])) if match else None


def resolve_release(release: str | None = None) -> str:
    """The recorded release whose ops count as known: *release*, else the installed one.

    A release newer than the record is checked against the newest recorded;
    without *release* and without TensorFlow, that is the newest too.

    >>> resolve_release("2.15.1"), resolve_release("2.30")
    ('2.15', '2.21')
    >>> resolve_release("1.15")
    Traceback (most recent call last):
    ...
    tfpersist.errors.UnsupportedReleaseError: release '1.15': tfpersist records the ops of TensorFlow 2.12 to 2.21; pick one of those
    """
    releases = known_releases()
    oldest = _key(releases[0])
    if release is None:
        installed = installed_release()
        wanted = max(_key(installed) or oldest, oldest) if installed else _key(releases[-1])
    else:
        wanted = _key(release)
        if wanted is None or wanted < oldest:
            raise UnsupportedReleaseError(
                f"release {release!r}: tfpersist records the ops of TensorFlow {releases[0]} "
                f"to {releases[-1]}; pick one of those"
            )
    return max(r for r in releases if _key(r) <= wanted)  # type: ignore[operator]


@functools.cache
def _recorded_ops(release: str) -> frozenset[str]:
    """The ops a recorded *release* knows."""
    releases = known_releases()
    index = releases.index(release)
    ops = set()
    for op, spans in _registry()["ops"].items():
        for span in spans.split(","):
            first, _, last = span.partition("-")
            if releases.index(first) <= index <= releases.index(last or first):
                ops.add(op)
    return frozenset(ops)


# --- the checks ----------------------------------------------------------------------------


@dataclass
class _Scope:
    """The top level of a graph, or one function body, indexed for the saver rule."""

    nodes: dict[str, Node]
    function: Function | None = None
    args: dict[str, int] = field(default_factory=dict)
    returned: set[str] = field(default_factory=set)
    _consumers: dict[str, list[Node]] | None = None

    @property
    def name(self) -> str | None:
        return self.function.name if self.function else None

    def consumers(self, name: str) -> list[Node]:
        if self._consumers is None:
            found: dict[str, list[Node]] = defaultdict(list)
            for node in self.nodes.values():
                for i in node.inputs:
                    found[i.lstrip("^").split(":", 1)[0]].append(node)
            self._consumers = found
        return self._consumers.get(name, [])


def _data(node: Node) -> list[str]:
    return [i for i in node.inputs if not i.startswith("^")]


def _value_calls(value: dict[str, Any]) -> list[str]:
    """The functions an attribute value names, those in its own attributes included."""
    funcs = [value["func"]] if "func" in value else []
    if "list" in value:
        funcs += value["list"].get("func", [])
    names = []
    for f in funcs:
        names.append(f.get("name", ""))
        for nested in f.get("attr", {}).values():
            names += _value_calls(nested)
    return names


def _tensors(value: dict[str, Any]) -> list[dict[str, Any]]:
    """The tensors an attribute value holds, function attributes' own included."""
    found = [value["tensor"]] if "tensor" in value else []
    if "list" in value:
        found += value["list"].get("tensor", [])
    for f in ([value["func"]] if "func" in value else []) + value.get("list", {}).get("func", []):
        for nested in f.get("attr", {}).values():
            found += _tensors(nested)
    return found


def tensor_bytes(tensor: dict[str, Any]) -> int | None:
    """The bytes a ``TensorProto`` takes once TensorFlow expands it; ``None`` if its shape is invalid.

    A few values can declare a huge shape: the last value fills the rest.
    Strings count the bytes they hold.

    >>> tensor_bytes({"dtype": 1, "tensor_shape": {"dim": [{"size": 1000}, {"size": 1000}]}})
    4000000
    >>> tensor_bytes({"dtype": 7, "tensor_shape": {"dim": [{"size": 3}]}, "string_val": [b"abcd"]})
    84
    >>> tensor_bytes({"dtype": 1, "tensor_shape": {"dim": [{"size": -1}]}}) is None
    True
    """
    shape = tensor.get("tensor_shape", {})
    if shape.get("unknown_rank"):
        return None
    count = 1
    for dim in shape.get("dim", []):
        size = dim.get("size", 0)
        if size < 0:
            return None
        count *= size
        if count >= 2**63:
            return None  # TensorFlow refuses a shape of more than 2**63 - 1 elements
    dtype = tensor.get("dtype", 0)
    if dtype == _STRING:
        values = [len(v) for v in tensor.get("string_val", [])]
        held = sum(values[:count]) + max(count - len(values), 0) * (values[-1] if values else 0)
        return count * _STRING_OVERHEAD + held
    if dtype == _VARIANT:
        costs = [
            sum(tensor_bytes(t) or 2**63 for t in v.get("tensors", []))
            for v in tensor.get("variant_val", [])
        ]
        return sum(costs[:count]) + max(count - len(costs), 0) * (costs[-1] if costs else 0)
    return count * _DTYPE_SIZES.get(dtype, 8)


def _gib(n: int) -> str:
    return f"{n / 2**30:.1f} GiB"


class _Audit:
    """One audit of one graph: collects refusals as it goes."""

    def __init__(
        self,
        graph: Graph,
        saver: Saver | None,
        allow: set[str],
        known: frozenset[str],
        release: str,
        where: str,
    ) -> None:
        self.graph, self.saver, self.allow = graph, saver, allow
        self.known, self.release, self.where = known, release, where
        self.policy = _policy()
        #: Ops that pass on sight: allowed without a condition, and known to this release.
        self.plain = (_plainly_allowed() & known) | allow
        #: Per scope (a function's id, ``None`` at the top), its saver ops and its calls.
        self.saver_ops: dict[int | None, list[Node]] = defaultdict(list)
        self.callers: dict[int | None, list[Node]] = defaultdict(list)
        self.refusals: list[Refusal] = []
        self.library: dict[str, list[Function]] = defaultdict(list)
        for f in graph.functions:
            self.library[f.name].append(f)
        self.top = _Scope({n.name: n for n in graph.nodes})
        #: What each node calls (by id), where it calls anything.
        self._calls: dict[int, list[str]] = {}
        #: The library functions each function's nodes call.
        self.callees: dict[str, set[str]] = defaultdict(set)
        #: The functions (``None``: the top level) that hold saver ops of their own.
        self.direct_savers: set[str | None] = set()
        self._values: dict[int, tuple[list[str], list[dict[str, Any]]]] = {}

    def calls(self, node: Node) -> list[str]:
        """What *node* calls: its op if a library function has that name, and its function attrs."""
        return self._calls.get(id(node), [])

    def _value(self, value: dict[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
        # the decoder shares attribute values between nodes: work each out once
        known = self._values.get(id(value))
        if known is None:
            known = self._values[id(value)] = (_value_calls(value), _tensors(value))
        return known

    def refuse(self, node: Node, scope: _Scope | Function | None, reason: str) -> None:
        name = scope.name if scope is not None else None
        self.refusals.append(Refusal(node.op, node.name, name, reason))

    # ops, constants and calls

    def run(self) -> list[Refusal]:
        self._total = 0
        self._largest: tuple[int, Node, Function | None] | None = None
        self._scan(self.graph.nodes, None)
        for function in self.graph.functions:
            self._scan(function.nodes, function)
        if self._total > MAX_TOTAL_CONSTANT_BYTES and self._largest is not None:
            _, node, where = self._largest
            self.refuse(
                node, where, f"the largest of constants that together expand to {_gib(self._total)}"
            )
        if self._check_recursion():
            self._check_savers()
        return self.refusals

    def _scan(self, nodes: list[Node], function: Function | None) -> None:
        library, allow, plain = self.library, self.allow, self.plain
        scope = id(function) if function else None
        callees = self.callees[function.name] if function else set()
        for node in nodes:
            op = node.op
            names = [op] if op in library else []
            tensors: list[dict[str, Any]] = []
            for value in node.attrs.values():
                if "func" in value or "list" in value or "tensor" in value:
                    found = self._value(value)
                    names += found[0]
                    tensors += found[1]
            if names:
                self._calls[id(node)] = names
                self.callers[scope].append(node)
                for called in names:
                    if called in library:
                        callees.add(called)
                    else:
                        self._called_op(node, called, function)
            if op in allow or op in library:
                continue
            for tensor in tensors:
                self._check_constant(node, tensor, function)
            if op in plain:
                continue
            if op in SAVER_OPS:
                self.direct_savers.add(function.name if function else None)
                self.saver_ops[scope].append(node)
            self._check_op(node, function)

    def _called_op(self, node: Node, op: str, function: Function | None) -> None:
        """A function attribute that names an op, not a library function: that op runs."""
        if op not in self.known and op not in self.allow:
            inside = f" in function {function.name!r}" if function else ""
            raise GraphFormatError(
                f"{self.where}: node {node.name!r}{inside} calls function {op!r}, which the "
                "graph's library does not hold; the file is damaged or incomplete"
            )
        self._check_op(Node(node.name, op, [], "", {}), function)

    def _check_constant(self, node: Node, tensor: dict[str, Any], where: Function | None) -> None:
        size = tensor_bytes(tensor)
        if size is None:
            self.refuse(node, where, "a constant with an invalid shape")
        elif size > MAX_CONSTANT_BYTES:
            self.refuse(node, where, f"a constant that expands to {_gib(size)}")
        else:
            self._total += size
            if self._largest is None or size > self._largest[0]:
                self._largest = (size, node, where)

    def _check_op(self, node: Node, where: Function | None) -> None:
        op = node.op
        if op in self.allow:
            return
        group = self.policy.get(op)
        if group is not None and group.verdict == "refuse":
            self.refuse(node, where, group.effect)
        elif op not in self.known:
            self.refuse(node, where, f"an op TensorFlow {self.release} does not know")
        elif group is None:
            self.refuse(node, where, "an op not on tfpersist's allowlist")
        elif group.when and not _holds(node, group.when):
            self.refuse(node, where, group.effect)

    def _check_recursion(self) -> bool:
        """Refuse a function that reaches itself; ``True`` when none does."""
        state: dict[str, int] = {}  # 1: on the current path, 2: done
        for root in sorted(self.library):
            if state.get(root) == 2:
                continue
            state[root] = 1
            stack = [(root, iter(sorted(self.callees[root])))]
            while stack:
                name, callees = stack[-1]
                callee = next(callees, None)
                if callee is None:
                    state[name] = 2
                    stack.pop()
                elif state.get(callee) == 1:
                    function = self.library[name][0]
                    node = next(n for n in function.nodes if callee in self.calls(n))
                    self.refuse(
                        node,
                        function,
                        f"calls itself: function {callee!r} is reached again through "
                        f"{name!r}, and TensorFlow would recurse without end",
                    )
                    return False
                elif callee not in state:
                    state[callee] = 1
                    stack.append((callee, iter(sorted(self.callees[callee]))))
        return True

    # the saver rule

    def _check_savers(self) -> None:
        holding: set[str] = set()  # functions holding saver ops, directly or through calls

        def holds(name: str) -> bool:
            if name not in checked:
                checked.add(name)
                if name in self.direct_savers or any(holds(c) for c in self.callees[name]):
                    holding.add(name)
            return name in holding

        checked: set[str] = set()
        for name in self.library:
            holds(name)
        if not holding and None not in self.direct_savers:
            return
        summaries: dict[str, tuple[set[int], bool] | None] = {}
        for name in sorted(holding):
            self._summary(name, summaries, holding)
        filename = node_name(self.saver.filename) if self.saver else None
        declared: set[str] = set()
        restoring: set[str] = set()
        if self.saver:
            restoring = self._ancestors(node_name(self.saver.restore))
            declared = restoring | self._ancestors(node_name(self.saver.save))
        owned = self._reachable(declared)
        for name in sorted(holding - owned):
            for function in self.library[name]:
                for node in self._saver_nodes(id(function), holding):
                    self.refuse(
                        node, function, "a checkpoint file op in a function the saver does not call"
                    )
        for node in self._saver_nodes(None, holding):
            self._check_saver_node(
                node, self.top, summaries, filename, node.name in declared, node.name in restoring
            )

    def _saver_nodes(self, scope: int | None, holding: set[str]) -> list[Node]:
        """The saver ops of a scope, and its calls of functions *holding* saver ops."""
        calls = [n for n in self.callers[scope] if any(c in holding for c in self.calls(n))]
        return self.saver_ops[scope] + [n for n in calls if n not in self.saver_ops[scope]]

    def _path_inputs(self, node: Node, summaries: dict[str, Any]) -> tuple[list[int], bool] | None:
        """The data inputs of *node* that name files, and whether it writes; ``None`` if unknown."""
        if node.op in SAVER_OPS and node.op not in self.allow:
            return list(_PATH_INPUTS.get(node.op, (0,))), node.op in _WRITERS
        callees = [c for c in self.calls(node) if summaries.get(c) is not None]
        direct = node.op in self.library or node.op in _CALLS
        if len(callees) != 1 or not direct:
            return None
        args, writes = summaries[callees[0]]
        return sorted(args), writes

    def _summary(
        self, name: str, summaries: dict[str, Any], holding: set[str]
    ) -> tuple[set[int], bool] | None:
        """For a function holding saver ops: the arguments that name files, and if it writes."""
        if name in summaries:
            return summaries[name]
        summaries[name] = None  # recursion was refused before this runs
        for callee in sorted(self.callees[name] & holding):
            self._summary(callee, summaries, holding)
        result: tuple[set[int], bool] = (set(), False)
        for function in self.library[name]:
            scope = _Scope(
                {n.name: n for n in function.nodes},
                function,
                {a: i for i, a in enumerate(function.args)},
                {node_name(t) for t in function.ret.values()},
            )
            for node in self._saver_nodes(id(function), holding):
                args, writes = self._check_saver_node(node, scope, summaries, None, True, False)
                result = (result[0] | args, result[1] or writes)
        summaries[name] = result
        return result

    def _check_saver_node(
        self,
        node: Node,
        scope: _Scope,
        summaries: dict[str, Any],
        filename: str | None,
        declared: bool,
        restoring: bool,
    ) -> tuple[set[int], bool]:
        """Check one saver op or call of a saver function against the saver rule."""
        args: set[int] = set()
        paths = self._path_inputs(node, summaries)
        if paths is None:
            self.refuse(node, scope, "runs a function holding checkpoint file ops")
            return args, False
        positions, writes = paths
        data = _data(node)
        names: set[str] = set()
        for position in positions:
            if position >= len(data):
                self.refuse(node, scope, "a checkpoint file op without a file name")
                continue
            roots = _roots(scope, data[position], filename)
            if roots is None:
                self.refuse(node, scope, "a file name that is not built from a filename tensor")
                continue
            for root, suffixed in roots:
                names.add(root)
                if scope.function is not None:
                    if root in scope.args:
                        args.add(scope.args[root])
                    else:
                        self.refuse(node, scope, "a file name fixed inside the function")
                elif declared and root != filename:
                    shown = self.saver.filename if self.saver else ""
                    self.refuse(
                        node, scope, f"a file name that does not come from the saver's {shown!r}"
                    )
                elif not declared and scope.nodes[root].op not in _FILENAME_OPS:
                    self.refuse(node, scope, "a file name that is not built from a filename tensor")
                if node.op == "MergeV2Checkpoints" and position == 0 and not suffixed:
                    self.refuse(
                        node,
                        scope,
                        "merges and deletes checkpoints other than the saver's own shards",
                    )
        if scope.function is None and not declared and node.op not in SAVER_OPS:
            self.refuse(node, scope, "calls a saver function from outside the saver")
        if restoring and writes:
            self.refuse(node, scope, "writes files while the checkpoint is restored")
        problem = _dependents(scope, node, names)
        if problem:
            self.refuse(node, scope, problem)
        return args, writes

    def _ancestors(self, name: str) -> set[str]:
        seen: set[str] = set()
        todo = [name] if name in self.top.nodes else []
        while todo:
            current = todo.pop()
            if current in seen:
                continue
            seen.add(current)
            todo.extend(
                n for n in map(node_name, self.top.nodes[current].inputs) if n in self.top.nodes
            )
        return seen

    def _reachable(self, names: set[str]) -> set[str]:
        todo = [c for n in names for c in self.calls(self.top.nodes[n])]
        seen: set[str] = set()
        while todo:
            name = todo.pop()
            if name in seen or name not in self.library:
                continue
            seen.add(name)
            todo.extend(c for f in self.library[name] for n in f.nodes for c in self.calls(n))
        return seen


def _holds(node: Node, when: dict[str, Any]) -> bool:
    """Whether the condition of an allowed group holds for *node*."""
    value = node.attrs.get(when["attr"])
    if value is None:
        text = when.get("default", "")
    elif "s" in value:
        text = value["s"].decode("utf-8", "replace")
    elif "list" in value:
        return not value["list"].get("s") and when.get("empty", False)
    else:
        text = ""
    return text in when.get("in", ()) or any(text.startswith(p) for p in when.get("prefix", ()))


def _const_strings(node: Node) -> list[bytes] | None:
    if node.op != "Const":
        return None
    tensor = node.attr("value", "tensor", {})
    return list(tensor.get("string_val", [])) if tensor.get("dtype") == _STRING else None


def _suffix(scope: _Scope, tensor: str, depth: int = 0) -> bool:
    """Whether *tensor* is a constant suffix with no ``..`` in it, built by string ops alone."""
    node = scope.nodes.get(node_name(tensor))
    if node is None or depth > 32:
        return False
    data = _data(node)
    if node.op == "Const":
        values = _const_strings(node)
        return values is not None and not any(b".." in v for v in values)
    if node.op == "Identity" and data:
        return _suffix(scope, data[0], depth + 1)
    if node.op in ("Select", "SelectV2") and len(data) == 3:
        return _suffix(scope, data[1], depth + 1) and _suffix(scope, data[2], depth + 1)
    if node.op == "StringJoin":
        return b".." not in node.attr("separator", "s", b"") and all(
            _suffix(scope, d, depth + 1) for d in data
        )
    return False


def _roots(scope: _Scope, tensor: str, filename: str | None) -> list[tuple[str, bool]] | None:
    """Where a file name comes from: ``(root, suffixed)`` per name, or ``None`` if not a name.

    A root is the saver's filename tensor, a function argument, or a constant
    or placeholder; the name may pass through ``Identity``, ``StringJoin``
    (root first, then constant suffixes), ``ShardedFilename`` and ``Pack``.
    """
    name, suffixed = node_name(tensor), False
    for _ in range(64):
        if name == filename or name in scope.args:
            return [(name, suffixed)]
        node = scope.nodes.get(name)
        if node is None:
            return None
        data = _data(node)
        if node.op in _FILENAME_OPS:
            return [(name, suffixed)]
        if node.op == "Pack" and data:
            found = [_roots(scope, d, filename) for d in data]
            if any(f is None for f in found):
                return None
            return [(r, s or suffixed) for f in found for r, s in f]  # type: ignore[union-attr]
        if node.op == "Identity" and data:
            name = node_name(data[0])
        elif (
            node.op == "StringJoin"
            and data
            and node.attr("separator", "s", b"") == b""
            and all(_suffix(scope, d) for d in data[1:])
        ):
            suffixed = suffixed or len(data) > 1
            name = node_name(data[0])
        elif node.op in ("ShardedFilename", "ShardedFilespec") and data:
            suffixed = True
            name = node_name(data[0])
        else:
            return None
    return None


def _names_file(scope: _Scope, node: Node, roots: set[str]) -> bool:
    """Whether *node* only passes along file names built from *roots*: it leaks nothing else."""
    data = _data(node)
    if node.op not in ("Identity", "Pack", "ShardedFilename", "ShardedFilespec") or not data:
        return False
    if node.op != "Pack":
        data = data[:1]
    found = [_roots(scope, d, None) for d in data]
    return all(f is not None and {r for r, _ in f} <= roots for f in found)


def _dependents(scope: _Scope, saver_node: Node, roots: set[str]) -> str | None:
    """Why what depends on *saver_node* is more than the saver's own plumbing, or ``None``.

    *roots* are where the saver op's file names come from: what follows it
    may pass those names along, and assign what it restored, nothing more.
    """
    seen: dict[str, Node] = {}
    todo = [saver_node.name]
    while todo:
        for consumer in scope.consumers(todo.pop()):
            if consumer.name in seen:
                continue
            if consumer.op not in _PLUMBING:
                return f"node {consumer.name!r} ({consumer.op}) depends on it"
            seen[consumer.name] = consumer
            todo.append(consumer.name)
    for name, node in seen.items():
        if node.op in ("Identity", "Pack") and not _names_file(scope, node, roots):
            takers = [
                c for c in scope.consumers(name) if any(node_name(i) == name for i in _data(c))
            ]
            if (
                name in scope.returned
                or not takers
                or any(c.op not in ("Assign", "AssignVariableOp", "Identity") for c in takers)
            ):
                return (
                    f"node {name!r} ({node.op}) takes its restored values, which only an "
                    "assignment may"
                )
        elif node.op in ("Assign", "AssignVariableOp") and name in scope.returned:
            return f"node {name!r} returns what it restored"
    return None


def check_graph(
    meta: MetaGraph,
    *,
    allow_ops: Iterable[str] = (),
    release: str | None = None,
    where: str = "the graph",
) -> list[Refusal]:
    """Audit one decoded graph and return what it refuses (an empty list if nothing).

    Ops are checked against those *release* knows, by tfpersist's record
    (default: the installed TensorFlow, or the newest release recorded).
    Raises :class:`~tfpersist.errors.GraphFormatError` for a damaged graph.

    >>> from tfpersist._graphfile import parse_graph_def
    >>> check_graph(parse_graph_def(b"\\n\\x0f\\n\\x01x\\x12\\x0aMyCustomOp"), release="2.21")
    [Refusal(op='MyCustomOp', node='x', function=None, reason='an op TensorFlow 2.21 does not know')]
    """
    release = resolve_release(release)
    return _Audit(
        meta.graph, meta.saver, set(allow_ops), _recorded_ops(release), release, where
    ).run()


def _message(where: str, refusals: Sequence[Refusal]) -> str:
    n = len(refusals)
    shown = "; ".join(str(r) for r in refusals[:5]) + (f"; and {n - 5} more" if n > 5 else "")
    ops = sorted({r.op for r in refusals})
    flags = " ".join(f"--allow-op {op}" for op in ops)
    return (
        f"{where} holds {n} op{'s' * (n != 1)} tfpersist will not import: {shown}; "
        f"import only graphs you trust, or pass allow_ops={ops} ({flags}) if you trust this one"
    )


def audit_graph(
    graph_def: Any,
    *,
    allow_ops: Iterable[str] = (),
    saver_def: Any = None,
    where: str = "the graph",
) -> None:
    """Refuse *graph_def* unless every op in it is on the allowlist, as TensorFlow knows it.

    *graph_def* is a ``GraphDef`` message (or its bytes). *saver_def* is the
    ``SaverDef`` of a ``.meta`` or SavedModel, whose saver ops are then
    judged by the saver rule. *allow_ops* names ops to accept all the same.
    *where* names the graph in messages. Ops are checked against this
    TensorFlow's own registry. Raises
    :class:`~tfpersist.errors.UnsafeGraphError` listing each refused op, its
    node and the function it sits in.

    >>> import tensorflow as tf
    >>> graph_def = tf.compat.v1.GraphDef()
    >>> node = graph_def.node.add(name="x", op="MyCustomOp")
    >>> audit_graph(graph_def, where="'model.pb'")
    Traceback (most recent call last):
    ...
    tfpersist.errors.UnsafeGraphError: 'model.pb' holds 1 op tfpersist will not import: node 'x' runs MyCustomOp (an op TensorFlow ... does not know); import only graphs you trust, or pass allow_ops=['MyCustomOp'] (--allow-op MyCustomOp) if you trust this one
    """
    from tfpersist._graphfile import parse_graph_def
    from tfpersist._tf import RELEASE, registered_ops

    data = graph_def if isinstance(graph_def, bytes | memoryview) else graph_def.SerializeToString()
    meta = parse_graph_def(data, where)
    if saver_def is not None and (saver_def.filename_tensor_name or saver_def.restore_op_name):
        meta.saver = Saver(
            saver_def.filename_tensor_name,
            saver_def.save_tensor_name,
            saver_def.restore_op_name,
            saver_def.version,
        )
    release = ".".join(RELEASE.split(".")[:2])
    refusals = _Audit(
        meta.graph, meta.saver, set(allow_ops), registered_ops(), release, where
    ).run()
    if refusals:
        raise UnsafeGraphError(
            _message(where, refusals), [(r.op, r.node, r.function) for r in refusals]
        )


@dataclass(frozen=True)
class FileAudit:
    """The verdict on one graph file: ``clean``, ``refused`` or ``unreadable``.

    >>> print(FileAudit("model.pb", "clean", nodes=12, functions=0, release="2.21"))
    model.pb: clean (12 nodes, 0 functions; ops of TensorFlow 2.21)
    """

    path: str
    verdict: str
    refusals: tuple[Refusal, ...] = ()
    error: str = ""
    nodes: int = 0
    functions: int = 0
    release: str = ""

    def __str__(self) -> str:
        if self.verdict == "unreadable":
            return f"{self.path}: unreadable: {self.error}"
        counts = f"{self.nodes} nodes, {self.functions} functions; ops of TensorFlow {self.release}"
        if self.verdict == "clean":
            return f"{self.path}: clean ({counts})"
        lines = [f"{self.path}: refused ({counts}): {len(self.refusals)} to look at"]
        lines += [f"  {r}" for r in self.refusals]
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        """The JSON form used by ``tfpersist audit --json``."""
        return {
            "path": self.path,
            "verdict": self.verdict,
            "refusals": [r.to_json() for r in self.refusals],
            "error": self.error or None,
            "nodes": self.nodes,
            "functions": self.functions,
            "release": self.release,
        }


def audit_file(
    path: str | os.PathLike[str], *, allow_ops: Iterable[str] = (), release: str | None = None
) -> FileAudit:
    """Audit a ``.pb``, a ``.meta`` or a SavedModel directory without TensorFlow.

    Every meta graph of a SavedModel is audited. *release* picks the
    TensorFlow whose ops count as known (default: the installed one, read
    without importing it, or else the newest release recorded). A file that
    cannot be read is ``unreadable``, with the reason.

    >>> from pathlib import Path
    >>> _ = Path("bad.pb").write_bytes(b"\\x0a\\x05ab")
    >>> print(audit_file("bad.pb"))
    bad.pb: unreadable: 'bad.pb' is not a GraphDef: field 'node' runs past the end of its message; pass a frozen .pb file
    """
    from tfpersist._graphfile import read_graph_file
    from tfpersist.errors import TfPersistError

    text = os.fspath(path)
    release = resolve_release(release)
    try:
        metas = read_graph_file(text)
        refusals: list[Refusal] = []
        for meta in metas:
            for r in check_graph(meta, allow_ops=allow_ops, release=release, where=repr(text)):
                if r not in refusals:
                    refusals.append(r)
    except (TfPersistError, OSError, ValueError) as e:
        return FileAudit(text, "unreadable", error=" ".join(str(e).split()), release=release)
    return FileAudit(
        text,
        "refused" if refusals else "clean",
        tuple(refusals),
        nodes=sum(len(m.graph.nodes) + sum(len(f.nodes) for f in m.graph.functions) for m in metas),
        functions=sum(len(m.graph.functions) for m in metas),
        release=release,
    )
