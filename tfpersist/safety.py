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
or the ``map`` function of a dataset. An op whose safety depends on an
attribute (``PrintV2`` prints to a file only if ``output_stream`` says so)
passes only if the attribute is set in the file: one left for a caller to
fill in could say anything. A function attribute may name an op instead of
a function (``If(then_branch=PrintV2)``), and TensorFlow may then build that
op as a node with the attribute's settings: such an op passes only if it is
allowed without a condition and is no saver op. The audit also refuses:

* ops this TensorFlow does not know;
* constants that expand to more than 2 GiB each, or 4 GiB together. Every
  constant counts: a node's attributes, a function's own attributes and its
  signature's defaults, a signature's default inputs, and a tensor
  serialized in a string constant that ``ParseTensor`` expands. Strings
  count the bytes they hold, each element of a string, variant or resource
  tensor what TensorFlow keeps for it (a tensor list also the elements its
  metadata declares), and a shape that overflows is refused. What ops
  compute as they run is not bounded: ``tf.fill`` with a huge shape is an
  op like any other;
* functions that call themselves, whether through a call, a function
  attribute or its default, a function a caller binds to an attribute, the
  gradient the library registers for a function, or another function that
  implements the same API (``api_implements``), which TensorFlow may run in
  its place: TensorFlow recurses until its stack overflows, and no
  ``allow_ops`` can accept that.

A graph that refers to a function its library lacks, or holds two different
functions of one name, is damaged, and raises
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
assignments, the ``NoOp`` that groups them and the file name passed along,
and, for a lookup table the saver restores, the ``LookupTableImportV2`` that
takes its keys and values straight from the restore op.
Restoring may not write, and ``MergeV2Checkpoints`` may merge (and delete)
only the saver's temporary shards. A saver that the file does not declare
is accepted in the same shape as long as nothing depends on it, as
TensorFlow 1 left behind when a graph gained a second saver: it runs only if
you run one of its nodes by name, and neither
:func:`~tfpersist.freezing.import_graph` nor
:func:`~tfpersist.freezing.load_frozen_function` hands out a node that
would. Inside a function, where every stateful op runs when the function
does, saver ops are accepted only in the functions the declared saver
calls, and only in functions whose every argument is one tensor: where an
argument takes a list, which input a file name arrives on is up to the
call. A file also names what its loader runs or hands out: the collections
of a ``.meta`` or a TF1 SavedModel (its main op, its table initializers,
and what TensorFlow decodes from the others as it imports them: each
variable's initializer and value, queue runners, other savers, control flow
contexts), the tensors of its signatures, and every function of a TF2
SavedModel's object graph, some of which run as it loads. None of them may
reach a saver op, which would then run without the file name tfpersist
feeds.

>>> with tf.Graph().as_default() as graph:
...     v = tf.Variable(1.0, name="v")
...     meta = tf.compat.v1.train.Saver().export_meta_graph()
>>> safety.audit_graph(meta)
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
itself (``tfpersist._graphfile``) and checks the ops against those each
TensorFlow release knows (``tfpersist/op_registry.json``). ``tfpersist audit``
runs it on the command line. The decoder reads a file as the TensorFlow and
protobuf installed beside it do: a field the installed release's protos lack
is skipped, as TensorFlow skips it, and the few wire-format rules protobuf 7
changed follow the protobuf installed. Where TensorFlow's own two parsers
disagree, the file is damaged: a map entry that holds anything besides its
key and value is left out by the Python parser and kept by the C++ parser
that imports the graph, so an attribute hidden that way would run unseen.

.. rubric:: What the audit cannot see

An op may name a resource that lives in the process rather than in the
graph: a lookup table or a variable with a ``shared_name``. A graph that
names one reads what other code in the same process has put there, with ops
that touch no file. If your process holds tables or variables an untrusted
graph must not read, load that graph in a process of its own.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from tfpersist._graphfile import Function, MetaGraph, Node, Saver, node_name, parse_tensor
from tfpersist._installed import installed_release, release_key
from tfpersist._protobuf import DecodeError, read_varint
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
#: How a saver restores a lookup table (a saveable object): it imports keys and values.
_TABLE_IMPORTS = frozenset({"LookupTableImportV2", "LookupTableImport"})
_RESTORES = frozenset({"RestoreV2", "Restore", "RestoreSlice"})
_DTYPE_SIZES = {
    1: 4, 2: 8, 3: 4, 4: 1, 5: 2, 6: 1, 8: 8, 9: 8, 10: 1, 11: 1, 12: 1, 13: 4, 14: 2,
    15: 2, 16: 2, 17: 2, 18: 16, 19: 2, 22: 4, 23: 8, 24: 1, 25: 1, 26: 1, 27: 1,
    28: 1, 29: 1, 30: 1, 31: 1, 32: 1,
}  # fmt: skip
_STRING, _RESOURCE, _VARIANT = 7, 20, 21


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

    *function* is ``None`` for a node at the top level. *allowable* is
    ``False`` where naming the op in ``allow_ops`` cannot accept it: a
    function that calls itself, a constant held outside any node, or a
    node the saver rule refuses that is not itself a saver op.

    >>> print(Refusal("ReadFile", "steal", "load", "reads, writes or lists files"))
    node 'steal' in function 'load' runs ReadFile (reads, writes or lists files)
    """

    op: str
    node: str
    function: str | None
    reason: str
    allowable: bool = field(default=True, repr=False)

    def __str__(self) -> str:
        inside = f" in function {self.function!r}" if self.function else ""
        return f"node {self.node!r}{inside} runs {self.op} ({self.reason})"

    def to_json(self) -> dict[str, Any]:
        """The JSON form used by ``tfpersist audit --json`` and ``summarize --json``."""
        return {
            "op": self.op,
            "node": self.node,
            "function": self.function,
            "reason": self.reason,
            "allowable": self.allowable,
        }


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
    keys = {r: release_key(r) for r in releases}  # the record's own names are well-formed
    oldest = keys[releases[0]]
    wanted: tuple[int, ...] | None
    if release is None:
        installed = installed_release()
        wanted = max(_key(installed) or oldest, oldest) if installed else keys[releases[-1]]
    else:
        wanted = _key(release)
        if wanted is None or wanted < oldest:
            raise UnsupportedReleaseError(
                f"release {release!r}: tfpersist records the ops of TensorFlow {releases[0]} "
                f"to {releases[-1]}; pick one of those"
            )
    return max(r for r in releases if keys[r] <= wanted)


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
    #: What :func:`_roots` found for each tensor, per filename tensor it was asked about.
    roots: dict[Any, dict[str, Any]] = field(default_factory=dict)

    @property
    def name(self) -> str | None:
        return self.function.name if self.function else None

    def consumers(self, name: str) -> list[Node]:
        if self._consumers is None:
            found: dict[str, list[Node]] = defaultdict(list)
            for node in self.nodes.values():
                for i in node.inputs:
                    found[node_name(i)].append(node)
            self._consumers = found
        return self._consumers.get(name, [])


def _data(node: Node) -> list[str]:
    return [i for i in node.inputs if not i.startswith("^")]


def _output(tensor: str) -> int:
    """The output index a top-level tensor name gives: ``"a:1"`` is 1, ``"a"`` is 0."""
    _, _, index = tensor.partition(":")
    return int(index) if index.isdigit() else 0


class _Value(NamedTuple):
    """What an attribute value holds that the audit looks at."""

    calls: list[str]  # functions or ops it names
    bindings: list[tuple[str, str]]  # (function, function bound to one of its attributes)
    tensors: list[dict[str, Any]]


def _inspect_value(value: dict[str, Any]) -> _Value:
    """The functions, bindings and tensors of an attribute value, nested attributes included."""
    found = _Value([], [], [value["tensor"]] if "tensor" in value else [])
    listed = value.get("list", {})
    found.tensors.extend(listed.get("tensor", []))
    for f in ([value["func"]] if "func" in value else []) + listed.get("func", []):
        name = f.get("name", "")
        found.calls.append(name)
        for nested in f.get("attr", {}).values():
            inner = _inspect_value(nested)
            found.calls.extend(inner.calls)
            found.bindings.extend(inner.bindings)
            found.bindings.extend((name, bound) for bound in inner.calls)
            found.tensors.extend(inner.tensors)
    return found


#: What TensorFlow keeps per element of a string, variant or resource tensor,
#: rounded up from the resident memory measured on 2.21 (about 26, 67 and 209 bytes).
_ELEMENT_BYTES = {_STRING: 32, _VARIANT: 96, _RESOURCE: 256}


def tensor_bytes(tensor: dict[str, Any]) -> int | None:
    """The bytes a ``TensorProto`` takes once TensorFlow expands it; ``None`` if its shape is invalid.

    A few values can declare a huge shape: the last value fills the rest.
    Strings count the bytes they hold, and every element of a string,
    variant or resource tensor costs what TensorFlow keeps for it.

    >>> tensor_bytes({"dtype": 1, "tensor_shape": {"dim": [{"size": 1000}, {"size": 1000}]}})
    4000000
    >>> tensor_bytes({"dtype": 20, "tensor_shape": {"dim": [{"size": 2**23}]}}) >= 2**31
    True
    >>> tensor_bytes({"dtype": 7, "tensor_shape": {"dim": [{"size": 3}]}, "string_val": [b"abcd"]})
    108
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
    dtype = tensor.get("dtype", 0) % 100
    if dtype == _STRING:
        held = [len(v) for v in tensor.get("string_val", [])]
    elif dtype == _VARIANT:
        held = [_variant_bytes(v) for v in tensor.get("variant_val", [])]
    elif dtype == _RESOURCE:
        held = [
            sum(len(v.get(k, b"")) for k in ("device", "container", "name", "maybe_type_name"))
            for v in tensor.get("resource_handle_val", [])
        ]
    else:
        return count * _DTYPE_SIZES.get(dtype, 8)
    filled = sum(held[:count]) + max(count - len(held), 0) * (held[-1] if held else 0)
    return count * _ELEMENT_BYTES.get(dtype, 0) + filled


#: What a ``TensorList`` keeps per element its metadata declares: an index and a tensor.
_LIST_ELEMENT_BYTES = 40


def _variant_bytes(value: dict[str, Any]) -> int:
    """What TensorFlow allocates to decode one variant: its tensors, and a list's declared size.

    A ``TensorList`` reads a count of elements left unset from the start of
    its metadata and makes room for them before reading anything else.
    """
    sizes = [tensor_bytes(t) for t in value.get("tensors", [])]
    held = sum(2**63 if size is None else size for size in sizes)
    if value.get("type_name") == "tensorflow::TensorList":
        try:
            unset, _ = read_varint(value.get("metadata", b""), 0)
        except (IndexError, DecodeError):
            unset = 0  # TensorFlow fails to decode it, and allocates nothing
        held += (unset + len(sizes)) * _LIST_ELEMENT_BYTES
    return held


def _gib(n: int) -> str:
    return f"{n / 2**30:.1f} GiB"


class _Audit:
    """One audit of one graph: collects refusals as it goes."""

    def __init__(
        self, meta: MetaGraph, allow: set[str], known: frozenset[str], release: str, where: str
    ) -> None:
        self.meta, self.graph, self.saver = meta, meta.graph, meta.saver
        self.allow, self.known, self.release, self.where = allow, known, release, where
        self.policy = _policy()
        #: Ops that pass on sight: allowed without a condition, and known to this release.
        self.plain = (_plainly_allowed() & known) | allow
        #: Per scope (a function's id, ``None`` at the top), its saver ops and its calls.
        self.saver_ops: dict[int | None, list[Node]] = defaultdict(list)
        self.callers: dict[int | None, list[Node]] = defaultdict(list)
        self.refusals: list[Refusal] = []
        self.library: dict[str, Function] = {}
        for f in self.graph.functions:
            if self.library.setdefault(f.name, f) != f:
                raise GraphFormatError(
                    f"{where}: the library holds two different functions named {f.name!r}; "
                    "TensorFlow refuses such a graph, and so the file is damaged"
                )
        self.top = _Scope({n.name: n for n in self.graph.nodes})
        #: What each node calls (by id), where it calls anything.
        self._calls: dict[int, list[str]] = {}
        #: The library functions each function may run: its calls, the functions bound
        #: to its attributes, its gradient.
        self.callees: dict[str, set[str]] = defaultdict(set)
        for function, gradient in self.graph.gradients:
            for name in (function, gradient):
                if name not in self.library:
                    raise GraphFormatError(
                        f"{where}: the library names a gradient of or by function {name!r}, "
                        "which it does not hold; the file is damaged or incomplete"
                    )
            self.callees[function].add(gradient)
        for op, gradient in self.graph.registered_gradients:
            if op in self.library and gradient in self.library:  # an op type is no call
                self.callees[op].add(gradient)
        #: The functions implementing each API (``api_implements``): TensorFlow's
        #: implementation selector may swap a call of one for a call of another.
        self.implementing: dict[str, list[str]] = defaultdict(list)
        for f in self.library.values():
            if f.implements:
                self.implementing[f.implements].append(f.name)
        for api, names in list(self.implementing.items()):
            if len(names) > _MAX_ALIKE:  # each call would stand for every one of them
                del self.implementing[api]
                self.refuse(
                    Node(names[0], "function", [], "", {}),
                    self.library[names[0]],
                    f"one of {len(names)} functions that implement API {api!r}, more than "
                    f"the audit follows ({_MAX_ALIKE}): TensorFlow may run any of them "
                    "in place of another",
                    False,
                )
        self._scopes: dict[str, _Scope] = {}
        self._parsed: dict[bytes, dict[str, Any] | None] = {}
        self._sizes: dict[int, Any] = {}
        #: The functions (``None``: the top level) that hold saver ops of their own.
        self.direct_savers: set[str | None] = set()
        self._values: dict[int, _Value] = {}

    def calls(self, node: Node) -> list[str]:
        """What *node* calls: its op if a library function has that name, and its function attrs."""
        return self._calls.get(id(node), [])

    def _value(self, value: dict[str, Any]) -> _Value:
        # the decoder shares attribute values between nodes: work each out once
        known = self._values.get(id(value))
        if known is None:
            known = self._values[id(value)] = _inspect_value(value)
        return known

    def refuse(
        self, node: Node, scope: _Scope | Function | None, reason: str, allowable: bool = True
    ) -> None:
        name = scope.name if scope is not None else None
        self.refusals.append(Refusal(node.op, node.name, name, reason, allowable))

    def refuse_saver(self, node: Node, scope: _Scope | Function | None, reason: str) -> None:
        """Refuse *node* by the saver rule: allowing its op accepts it only if it is a saver op."""
        self.refuse(node, scope, reason, node.op in SAVER_OPS)

    # ops, constants and calls

    def run(self) -> list[Refusal]:
        self._total = 0
        #: The bytes the constants of each op hold: allowing the op takes them away.
        self._by_op: dict[str, int] = defaultdict(int)
        self._largest: tuple[int, Node, Function | None, bool] | None = None
        self._scan(self.graph.nodes, None)
        for function in self.library.values():
            self._scan(function.nodes, function)
            # its signature's defaults and its own attributes: calls and constants too
            held = Node(f"{function.name} (attributes)", "function attribute", [], "", {})
            names, tensors = self._references(function.attr_values)
            self._follow(held, names, function)
            self._constants(held, tensors, function, False)
        kept = Node("signature defaults", "SignatureDef", [], "", {})
        self._constants(kept, self.meta.tensors, None, False)
        if self._total > MAX_TOTAL_CONSTANT_BYTES and self._largest is not None:
            _, node, where, in_node = self._largest
            rest = self._total - self._by_op[node.op]  # what allowing its op leaves
            self.refuse(
                node,
                where,
                f"the largest of constants that together expand to {_gib(self._total)}",
                in_node and rest <= MAX_TOTAL_CONSTANT_BYTES,
            )
        if self._check_recursion():
            self._check_savers()
        return self.refusals

    def _scan(self, nodes: list[Node], function: Function | None) -> None:
        library, plain = self.library, self.plain
        scope = id(function) if function else None
        for node in nodes:
            op = node.op
            names, tensors = self._references(node.attrs.values())
            if op in library:
                names.insert(0, op)
            if names:
                self._calls[id(node)] = self._follow(node, names, function)
                self.callers[scope].append(node)
            if op == "ParseTensor":  # a constant serialized inside a string constant
                tensors += self._serialized(node, function)
            self._constants(node, tensors, function)
            if op in plain or op in library:
                continue
            if op in SAVER_OPS:
                self.direct_savers.add(function.name if function else None)
                self.saver_ops[scope].append(node)
            self._check_op(node, function)

    def _follow(self, node: Node, names: list[str], function: Function | None) -> list[str]:
        """Record what *node* calls by *names*, with their API twins, and return them all.

        Each library function becomes a callee of *function*; each op is judged.
        """
        names = self._alike(names)
        for called in names:
            if called not in self.library:
                self._called_op(node, called, function)
            elif function is not None:
                self.callees[function.name].add(called)
        return names

    def _references(
        self, values: Iterable[dict[str, Any]]
    ) -> tuple[list[str], list[dict[str, Any]]]:
        """The functions or ops attribute *values* name, and the tensors they hold.

        A function bound to another's attribute may run when that one does.
        """
        names: list[str] = []
        tensors: list[dict[str, Any]] = []
        for value in values:
            if "func" in value or "list" in value or "tensor" in value:
                found = self._value(value)
                names += found.calls
                tensors += found.tensors
                for callee, bound in found.bindings:
                    if callee in self.library and bound in self.library:
                        self.callees[callee].add(bound)
        return names, tensors

    def _alike(self, names: list[str]) -> list[str]:
        """*names*, and with each function every other that implements the same API."""
        if not self.implementing:
            return names
        found = dict.fromkeys(names)
        for name in names:
            function = self.library.get(name)
            if function is not None and function.implements:
                found.update(dict.fromkeys(self.implementing.get(function.implements, ())))
        return list(found)

    def _scope(self, function: Function) -> _Scope:
        """The body of *function*, indexed once for the saver rule."""
        scope = self._scopes.get(function.name)
        if scope is None:
            scope = self._scopes[function.name] = _Scope(
                {n.name: n for n in function.nodes},
                function,
                {a: i for i, a in enumerate(function.args)},
                {node_name(t) for t in function.ret.values()},
            )
        return scope

    def _serialized(self, node: Node, function: Function | None) -> list[dict[str, Any]]:
        """The tensors ``ParseTensor`` *node* makes of strings its graph holds as constants."""
        scope = self.top if function is None else self._scope(function)
        data = _data(node)
        strings = _constant_strings(scope, data[0]) if data else None
        found = []
        for text in strings or ():
            if text not in self._parsed:  # many nodes may parse one constant
                self._parsed[text] = parse_tensor(text)
            found.append(self._parsed[text])
        return [t for t in found if t is not None]

    def _called_op(self, node: Node, op: str, function: Function | None) -> None:
        """A function attribute that names an op, not a library function: that op runs."""
        if op not in self.known and op not in self.allow:
            inside = f" in function {function.name!r}" if function else ""
            raise GraphFormatError(
                f"{self.where}: node {node.name!r}{inside} calls function {op!r}, which the "
                "graph's library does not hold; the file is damaged or incomplete"
            )
        group = self.policy.get(op)
        named = Node(node.name, op, [], "", {})
        if op in self.plain or group is None or group.verdict == "refuse" or op not in self.known:
            self._check_op(named, function)
        else:  # TensorFlow may build it as a node with the attribute's settings (If lowered)
            self.refuse(
                named,
                function,
                "a saver op, or an op allowed only on a condition, that a function attribute "
                "names: the audit judges those only as nodes",
            )

    def _constants(
        self,
        node: Node,
        tensors: list[dict[str, Any]],
        where: Function | None,
        in_node: bool = True,
    ) -> None:
        """Size the constants a node holds, or (not *in_node*) a signature holds."""
        if in_node and node.op in self.allow:
            return
        for tensor in tensors:
            size = self._sizes.get(id(tensor), _PENDING)
            if size is _PENDING:  # a tensor shared between nodes is sized once
                size = self._sizes[id(tensor)] = tensor_bytes(tensor)
            if size is None:
                self.refuse(node, where, "a constant with an invalid shape", in_node)
            elif size > MAX_CONSTANT_BYTES:
                self.refuse(node, where, f"a constant that expands to {_gib(size)}", in_node)
            else:
                self._total += size
                if in_node:
                    self._by_op[node.op] += size
                if self._largest is None or size > self._largest[0]:
                    self._largest = (size, node, where, in_node)

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
            stack = [(root, iter(sorted(self.callees[root] & self.library.keys())))]
            while stack:
                name, callees = stack[-1]
                callee = next(callees, None)
                if callee is None:
                    state[name] = 2
                    stack.pop()
                elif state.get(callee) == 1:
                    function = self.library[name]
                    node = next(
                        (n for n in function.nodes if callee in self.calls(n)),
                        Node(name, "function", [], "", {}),
                    )
                    self.refuse(
                        node,
                        function,
                        f"calls itself: function {callee!r} is reached again through "
                        f"{name!r}, and TensorFlow would recurse without end",
                        False,
                    )
                    return False
                elif callee not in state:
                    state[callee] = 1
                    stack.append((callee, iter(sorted(self.callees[callee] & self.library.keys()))))
        return True

    # the saver rule

    def _holding(self) -> set[str]:
        """The functions that run saver ops, of their own or through what they call."""
        callers: dict[str, set[str]] = defaultdict(set)
        for name, callees in self.callees.items():
            for callee in callees:
                callers[callee].add(name)
        holding: set[str] = set()
        todo = [name for name in self.direct_savers if name is not None]
        while todo:
            name = todo.pop()
            if name in holding:
                continue
            holding.add(name)
            todo.extend(callers[name])
        return holding

    def _check_savers(self) -> None:
        holding = self._holding()
        if not holding and None not in self.direct_savers:
            return
        summaries = self._summaries(holding)
        filename = None
        declared: set[str] = set()
        restoring: set[str] = set()
        if self.saver:
            filename = (node_name(self.saver.filename), _output(self.saver.filename))
            restoring = self._ancestors(node_name(self.saver.restore))
            declared = restoring | self._ancestors(node_name(self.saver.save))
        owned = self._reachable(declared)
        for name in sorted(holding - owned):
            function = self.library[name]
            for node in self._saver_nodes(id(function), holding):
                self.refuse_saver(
                    node, function, "a checkpoint file op in a function the saver does not call"
                )
        for name in sorted(holding & self.meta.run_functions):
            function = self.library[name]
            for node in self._saver_nodes(id(function), holding):
                self.refuse_saver(
                    node,
                    function,
                    "a checkpoint file op in a function the file asks a loader to run",
                )
        nodes = self._saver_nodes(None, holding)
        named = [
            self._check_saver_node(
                node, self.top, summaries, filename, node.name in declared, node.name in restoring
            )
            for node in nodes
        ]
        region = self._check_dependents(self.top, nodes, named) | {n.name for n in nodes}
        for name in sorted(region & self.meta.run_nodes):
            self.refuse_saver(
                self.top.nodes[name],
                None,
                "a saver's node that the file asks a loader to run, without the file name "
                "tfpersist would give it",
            )
        for name in sorted(region & self.meta.asked - self.meta.run_nodes):
            self.refuse_saver(
                self.top.nodes[name], None, "a saver's node: running it, as asked, runs the saver"
            )

    def _saver_nodes(self, scope: int | None, holding: set[str]) -> list[Node]:
        """The saver ops of a scope, and its calls of functions *holding* saver ops."""
        own = self.saver_ops[scope]
        mine = {id(n) for n in own}
        calls = [n for n in self.callers[scope] if any(c in holding for c in self.calls(n))]
        return own + [n for n in calls if id(n) not in mine]

    def _path_inputs(self, node: Node, summaries: dict[str, Any]) -> tuple[list[int], bool] | None:
        """The data inputs of *node* that name files, and whether it writes; ``None`` if unknown."""
        if node.op in SAVER_OPS and node.op not in self.allow:
            return list(_PATH_INPUTS.get(node.op, (0,))), node.op in _WRITERS
        callees = [c for c in self.calls(node) if c in summaries]
        direct = node.op in self.library or node.op in _CALLS
        if len(callees) != 1 or not direct or summaries[callees[0]] is None:
            return None
        args, writes = summaries[callees[0]]
        return sorted(args), writes

    def _summaries(self, holding: set[str]) -> dict[str, tuple[set[int], bool] | None]:
        """For each function holding saver ops: the arguments that name files, and if it writes.

        Callees come before callers (recursion was refused before this runs).
        """
        summaries: dict[str, tuple[set[int], bool] | None] = {}
        order: list[str] = []
        state: dict[str, int] = {}
        for root in sorted(holding):
            stack = [(root, iter(sorted(self.callees[root] & holding)))]
            state.setdefault(root, 1)
            while stack:
                name, callees = stack[-1]
                callee = next(callees, None)
                if callee is None:
                    order.append(name)
                    stack.pop()
                elif callee not in state:
                    state[callee] = 1
                    stack.append((callee, iter(sorted(self.callees[callee] & holding))))
        for name in order:
            if name in summaries:
                continue
            function = self.library[name]
            nodes = self._saver_nodes(id(function), holding)
            seen = {c for n in nodes for c in self.calls(n)}
            if function.list_args or (self.callees[name] & holding) - seen:
                # one argument may be many inputs, or a saver function runs by another
                # way than a call in the body (an attribute's default): which file?
                summaries[name] = None
                continue
            scope = self._scope(function)
            named = [self._check_saver_node(n, scope, summaries, None, True, False) for n in nodes]
            self._check_dependents(scope, nodes, named)
            summaries[name] = (
                {a for found in named for a in found[0]},
                any(found[1] for found in named),
            )
        return summaries

    def _check_saver_node(
        self,
        node: Node,
        scope: _Scope,
        summaries: dict[str, Any],
        filename: tuple[str, int] | None,
        declared: bool,
        restoring: bool,
    ) -> tuple[set[int], bool, bool, set[str]]:
        """Check the file names of one saver op or call of a saver function.

        Returns the function arguments its file names come from, whether it
        writes, whether it passed, and the roots of its file names.
        """
        args: set[int] = set()
        paths = self._path_inputs(node, summaries)
        if paths is None:
            self.refuse_saver(node, scope, "runs a function holding checkpoint file ops")
            return args, False, False, set()
        positions, writes = paths
        refused = len(self.refusals)
        data = _data(node)
        names: set[str] = set()
        for position in positions:
            if position >= len(data):
                self.refuse_saver(node, scope, "a checkpoint file op without a file name")
                continue
            roots = _roots(scope, data[position], filename)
            if roots is None:
                self.refuse_saver(
                    node, scope, "a file name that is not built from a filename tensor"
                )
                continue
            for root, suffixed in roots:
                names.add(root)
                if scope.function is not None:
                    if root in scope.args:
                        args.add(scope.args[root])
                    else:
                        self.refuse_saver(node, scope, "a file name fixed inside the function")
                elif declared and (filename is None or root != filename[0]):
                    shown = self.saver.filename if self.saver else ""
                    self.refuse_saver(
                        node, scope, f"a file name that does not come from the saver's {shown!r}"
                    )
                elif not declared and (
                    root not in scope.nodes or scope.nodes[root].op not in _FILENAME_OPS
                ):
                    self.refuse_saver(
                        node, scope, "a file name that is not built from a filename tensor"
                    )
                if node.op == "MergeV2Checkpoints" and position == 0 and not suffixed:
                    self.refuse_saver(
                        node,
                        scope,
                        "merges and deletes checkpoints other than the saver's own shards",
                    )
        if scope.function is None and not declared and node.op not in SAVER_OPS:
            self.refuse_saver(node, scope, "calls a saver function from outside the saver")
        if restoring and writes:
            self.refuse_saver(node, scope, "writes files while the checkpoint is restored")
        return args, writes, len(self.refusals) == refused, names

    def _check_dependents(
        self, scope: _Scope, nodes: list[Node], named: list[tuple[set[int], bool, bool, set[str]]]
    ) -> set[str]:
        """Refuse saver *nodes* that more than the saver's plumbing depends on; return it all.

        A node already refused for its file names (*named*) says enough.
        """
        roots = {node.name: found[3] for node, found in zip(nodes, named, strict=True)}
        problems, reached = _dependents(scope, nodes, roots)
        for node, found in zip(nodes, named, strict=True):
            if found[2] and node.name in problems:
                self.refuse_saver(node, scope, problems[node.name])
        return reached

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
            todo.extend(self.callees[name])
        return seen


def _holds(node: Node, when: dict[str, Any]) -> bool:
    """Whether the condition of an allowed group holds for *node*.

    An attribute left to a placeholder, filled in by whoever calls the
    function, could hold anything: the condition does not hold.
    """
    value = node.attrs.get(when["attr"])
    if value is None:
        text = when.get("default", "")
    elif "s" in value:
        text = value["s"].decode("utf-8", "replace")
    else:
        return False
    return text in when.get("in", ()) or any(text.startswith(p) for p in when.get("prefix", ()))


#: At most this many functions may implement one API (``api_implements``).
_MAX_ALIKE = 64
#: A suffix built from constants has at most this many possible values,
_MAX_SUFFIXES = 64
#: holding at most this many bytes in all.
_MAX_SUFFIX_BYTES = 2**16


def _constant_strings(
    scope: _Scope, tensor: str, memo: dict[str, set[bytes] | None] | None = None
) -> set[bytes] | None:
    """Every value *tensor* can take, if string ops build it from constants alone; else ``None``.

    Each node is worked out once (*memo*), so a chain of nodes that each use
    the next twice costs no more than a chain that uses it once; a cycle, or
    more than :data:`_MAX_SUFFIXES` values, gives ``None``.
    """
    memo = {} if memo is None else memo
    name = node_name(tensor)
    if name in memo or len(memo) > 4 * _MAX_SUFFIXES:
        return memo.get(name)
    memo[name] = None  # until worked out: a cycle back here finds None
    node = scope.nodes.get(name)
    data = _data(node) if node else []
    found: set[bytes] | None = None
    if node is None:
        pass
    elif node.op == "Const":
        value = node.attr("value", "tensor", {})
        if value.get("dtype") == _STRING and not value.get("tensor_content"):
            found = set(value.get("string_val", [])) or {b""}
        # strings packed in tensor_content are not read here: not a suffix
    elif node.op == "Identity" and data:
        found = _constant_strings(scope, data[0], memo)
    elif node.op in ("Select", "SelectV2") and len(data) == 3:
        sides = [_constant_strings(scope, d, memo) for d in data[1:]]
        found = None if None in sides else sides[0] | sides[1]  # type: ignore[operator]
    elif node.op == "StringJoin":
        found = _joined([_constant_strings(scope, d, memo) for d in data], node)
    memo[name] = found if found is None or len(found) <= _MAX_SUFFIXES else None
    return memo[name]


def _joined(parts: list[set[bytes] | None], join: Node) -> set[bytes] | None:
    """Every string ``StringJoin`` makes of *parts*, or ``None`` if there are too many."""
    separator = join.attr("separator", "s", b"")
    found: set[bytes] = {b""}
    for i, part in enumerate(parts):
        if part is None or len(found) * len(part) > _MAX_SUFFIXES:
            return None
        glue = separator if i else b""
        size = sum(map(len, found)) * len(part) + (sum(map(len, part)) + len(glue)) * len(found)
        if size > _MAX_SUFFIX_BYTES:  # counted before anything is built
            return None
        found = {a + glue + b for a in found for b in part}
    return found


_PENDING = object()


def _roots(
    scope: _Scope, tensor: str, filename: tuple[str, int] | None
) -> list[tuple[str, bool]] | None:
    """Where a file name comes from: ``(root, suffixed)`` per name, or ``None`` if not a name.

    A root is the saver's filename tensor (that very output), a function
    argument, or a constant or placeholder; the name may pass through
    ``Identity``, ``StringJoin`` (root first, then constant suffixes that hold
    no ``..``), ``ShardedFilename`` and ``Pack``. A cycle is not a file name.
    Each tensor is worked out once per scope, so long chains cost linear time.
    """
    memo = scope.roots.setdefault(filename, {})
    stack = [tensor]
    while stack:
        current = stack[-1]
        if memo.get(current, _PENDING) is not _PENDING:
            stack.pop()
            continue
        inputs, combine = _name_step(scope, current, filename)
        if current not in memo:
            memo[current] = _PENDING
            missing = [i for i in inputs if i not in memo]
            if missing:
                stack.extend(missing)
                continue
        parts = [memo[i] for i in inputs]
        ok = all(p is not None and p is not _PENDING for p in parts)  # pending: a cycle
        memo[current] = combine(parts) if ok else None
        stack.pop()
    return memo[tensor]


def _name_step(
    scope: _Scope, tensor: str, filename: tuple[str, int] | None
) -> tuple[list[str], Callable[[list[Any]], list[tuple[str, bool]] | None]]:
    """What a file name at *tensor* is made of, and how its roots follow from theirs."""
    name = node_name(tensor)
    if filename is not None and name == filename[0]:
        leaf = [(name, False)] if _output(tensor) == filename[1] else None
        return [], lambda _: leaf
    node = scope.nodes.get(name)
    if name in scope.args or (node is not None and node.op in _FILENAME_OPS):
        return [], lambda _: [(name, False)]
    if node is None:
        return [], lambda _: None
    data = _data(node)
    if not data:
        return [], lambda _: None
    if node.op == "Pack":
        return data, lambda parts: list(dict.fromkeys(root for part in parts for root in part))
    if node.op == "Identity":
        return data[:1], lambda parts: parts[0]
    if node.op in ("ShardedFilename", "ShardedFilespec"):
        return data[:1], lambda parts: [(r, True) for r, _ in parts[0]]
    if node.op == "StringJoin" and node.attr("separator", "s", b"") == b"":
        memo: dict[str, set[bytes] | None] = {}
        suffixes = _joined([_constant_strings(scope, d, memo) for d in data[1:]], node)
        if suffixes is None or any(b".." in s for s in suffixes):
            return [], lambda _: None
        return data[:1], lambda parts: [(r, s or len(data) > 1) for r, s in parts[0]]
    return [], lambda _: None


def _names_file(scope: _Scope, node: Node, roots: set[str]) -> bool:
    """Whether *node* only passes along file names built from *roots*: it leaks nothing else."""
    data = _data(node)
    if node.op not in ("Identity", "Pack", "ShardedFilename", "ShardedFilespec") or not data:
        return False
    found = [_roots(scope, d, None) for d in (data if node.op == "Pack" else data[:1])]
    return all(f is not None and {r for r, _ in f} <= roots for f in found)


def _dependents(
    scope: _Scope, savers: list[Node], roots: dict[str, set[str]]
) -> tuple[dict[str, str], set[str]]:
    """Why what depends on each of *savers* is more than the saver's own plumbing.

    What follows a saver op may pass its file names (built from its *roots*)
    along, and assign what it restored, nothing more. Returns the reason by
    saver node (for those with one), and the names of every node that depends
    on them. One walk from all of them at once: each node is looked at once,
    against the saver node that reached it first.
    """
    owner: dict[str, str] = {}
    todo = deque((s.name, s.name) for s in savers)
    while todo:
        name, source = todo.popleft()
        for consumer in scope.consumers(name):
            if consumer.name not in owner:
                owner[consumer.name] = source
                if consumer.op in _PLUMBING:
                    todo.append((consumer.name, source))
    problems: dict[str, str] = {}
    for name, source in owner.items():
        node = scope.nodes[name]
        if node.op not in _PLUMBING and not _imports_restored(scope, node, owner):
            problems.setdefault(source, f"node {name!r} ({node.op}) depends on it")
    for name, source in owner.items():
        node = scope.nodes[name]
        if source in problems:
            continue
        if node.op in ("Identity", "Pack") and not _names_file(scope, node, roots[source]):
            takers = [
                c for c in scope.consumers(name) if any(node_name(i) == name for i in _data(c))
            ]
            if (
                name in scope.returned
                or not takers
                or any(c.op not in ("Assign", "AssignVariableOp", "Identity") for c in takers)
            ):
                problems[source] = (
                    f"node {name!r} ({node.op}) takes its restored values, which only an "
                    "assignment may"
                )
        elif node.op in ("Assign", "AssignVariableOp") and name in scope.returned:
            problems[source] = f"node {name!r} returns what it restored"
    return problems, set(owner)


def _imports_restored(scope: _Scope, node: Node, owner: dict[str, str]) -> bool:
    """Whether *node* is a saver's restore of a lookup table, as ``Saver`` builds it.

    Keys and values come straight from restore ops, into a table that no
    saver op gives; the import has no outputs to pass them on.
    """
    data = [node_name(i) for i in _data(node)]
    if node.op not in _TABLE_IMPORTS or len(data) != 3 or node.name in scope.returned:
        return False
    table, *values = data
    made = scope.nodes.get(table)
    return (
        table not in owner
        and (made is None or made.op not in SAVER_OPS)
        and all(v in scope.nodes and scope.nodes[v].op in _RESTORES for v in values)
    )


def check_graph(
    meta: MetaGraph | Sequence[MetaGraph],
    *,
    allow_ops: Iterable[str] = (),
    release: str | None = None,
    where: str = "the graph",
) -> list[Refusal]:
    """Audit a decoded graph, or each of several, and return what they refuse.

    The list is empty if nothing is refused; what two meta graphs of one
    SavedModel share is listed once.

    Ops are checked against those *release* knows, by tfpersist's record
    (default: the installed TensorFlow, or the newest release recorded).
    Raises :class:`~tfpersist.errors.GraphFormatError` for a damaged graph.

    >>> from tfpersist._graphfile import parse_graph_def
    >>> check_graph(parse_graph_def(b"\\n\\x0f\\n\\x01x\\x12\\x0aMyCustomOp"), release="2.21")
    [Refusal(op='MyCustomOp', node='x', function=None, reason='an op TensorFlow 2.21 does not know')]
    """
    release = resolve_release(release)
    found: dict[Refusal, None] = {}
    for one in [meta] if isinstance(meta, MetaGraph) else meta:
        found.update(
            dict.fromkeys(_Audit(one, set(allow_ops), _recorded_ops(release), release, where).run())
        )
    return list(found)


def _message(where: str, refusals: Sequence[Refusal]) -> str:
    n = len(refusals)
    shown = "; ".join(str(r) for r in refusals[:5]) + (f"; and {n - 5} more" if n > 5 else "")
    ops = sorted({r.op for r in refusals if r.allowable})
    flags = " ".join(f"--allow-op {op}" for op in ops)
    advice = f", or pass allow_ops={ops} ({flags}) if you trust this one" if ops else ""
    return (
        f"{where} holds {n} op{'s' * (n != 1)} tfpersist will not import: {shown}; "
        f"import only graphs you trust{advice}"
    )


def audit_graph(
    graph: Any,
    *,
    allow_ops: Iterable[str] = (),
    saver_def: Any = None,
    run: Iterable[str] = (),
    where: str = "the graph",
) -> None:
    """Refuse *graph* unless every op in it is on the allowlist, as this TensorFlow knows it.

    *graph* is a ``MetaGraphDef`` message (from a ``.meta`` or a SavedModel),
    whose saver, collections and signatures are judged with its graph; or a
    ``GraphDef`` message, or its bytes. *saver_def* gives a ``GraphDef`` the
    saver its ``.meta`` declares. *allow_ops* names ops to accept all the
    same. *run* names the tensors or ops the caller will run: none may be a
    saver's node. *where* names the graph in messages. Ops are checked against this
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
    from tfpersist._graphfile import parse_graph_def, parse_meta_graph
    from tfpersist._tf import RELEASE, registered_ops

    if isinstance(graph, bytes | memoryview):
        meta = parse_graph_def(bytes(graph), where)
    elif hasattr(graph, "graph_def"):
        meta = parse_meta_graph(graph.SerializeToString(), where)
    else:
        meta = parse_graph_def(graph.SerializeToString(), where)
    if saver_def is not None and (saver_def.filename_tensor_name or saver_def.restore_op_name):
        meta.saver = Saver(
            saver_def.filename_tensor_name,
            saver_def.save_tensor_name,
            saver_def.restore_op_name,
            saver_def.version,
        )
    meta.asked = {node_name(t) for t in run}
    release = ".".join(RELEASE.split(".")[:2])
    refusals = _Audit(meta, set(allow_ops), registered_ops(), release, where).run()
    if refusals:
        raise UnsafeGraphError(
            _message(where, refusals), [(r.op, r.node, r.function) for r in refusals]
        )


#: How many refusals a file's verdict prints; ``--json`` lists them all.
_SHOWN = 20


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
        lines += [f"  {r}" for r in self.refusals[:_SHOWN]]
        if len(self.refusals) > _SHOWN:
            lines.append(f"  and {len(self.refusals) - _SHOWN} more (--json lists them all)")
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
        refusals = check_graph(metas, allow_ops=allow_ops, release=release, where=repr(text))
    except (TfPersistError, OSError, ValueError) as e:
        return FileAudit(text, "unreadable", error=" ".join(str(e).split()), release=release)
    except MemoryError:
        error = f"{text!r} needs more memory to audit than there is; audit it on a larger machine"
        return FileAudit(text, "unreadable", error=error, release=release)
    return FileAudit(
        text,
        "refused" if refusals else "clean",
        tuple(refusals),
        nodes=sum(len(m.graph.nodes) + sum(len(f.nodes) for f in m.graph.functions) for m in metas),
        functions=sum(len(m.graph.functions) for m in metas),
        release=release,
    )
