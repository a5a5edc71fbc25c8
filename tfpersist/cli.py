"""The ``tfpersist`` command: checkpoint and graph jobs without a throwaway script.

Each subcommand is a thin layer over one Python function, documented with
the section it belongs to. ``inspect``, ``diff``, ``export`` and ``verify``
read Keras files (``.keras``, ``.weights.h5`` and Keras 2's ``.h5``) as well
as checkpoints, without TensorFlow (:mod:`tfpersist.keras_files`).
``tfpersist COMMAND --help`` describes each.

======================================  ================================================================
command                                 does
======================================  ================================================================
``inspect PATH [--values] [--json]``    list every tensor with dtype, shape and bytes
``diff A B [--rtol R] [--atol T]``      compare two checkpoints; exit 1 when they differ
``rename SRC DST --map OLD=NEW``        write a copy with tensors renamed or dropped
``export SRC OUT``                      write the tensors to ``.npz`` or ``.safetensors``
``convert SRC DST --to tf2|tf1``        turn a TF1 checkpoint into a TF2 one, or back
``import FILE PREFIX [--to tf1|tf2]``   write a ``.safetensors`` or ``.npz`` file as a checkpoint
``freeze SRC -o OUT.pb``                freeze a checkpoint's ``.meta``, or a SavedModel
``summarize GRAPH [--json]``            inputs, outputs, op census, unsafe ops; exit 1 if unsafe
``audit FILE... [--json]``              the safety verdict on graph and Keras files, no TensorFlow
``verify PATH``                         read every tensor and check its checksum; exit 1 if corrupt
======================================  ================================================================

Exit codes: 0 when all is well, 1 for a finding (a difference, an unsafe op,
corruption), 2 for a usage or input error, which prints one line on stderr and
never a traceback. ``--json`` prints one JSON document on stdout.

In what the command prints, no control character but tab and newline
reaches the terminal, where it could act, nor a format character (a
bidirectional control such as ``U+202E``, which shows what follows it
reversed, or a zero-width one), nor a line or paragraph separator, nor a
byte of a file name that is not UTF-8: all are written as JSON's escapes
(``\\u001b``). So names that
a file chose (of tensors, nodes, ops, the file itself) can neither redraw
the screen nor break the JSON document. An op of a graph that a command
runs (``freeze`` runs what a SavedModel runs as it loads) may print to
standard error itself, as ``tf.print`` does: TensorFlow writes that,
unescaped.

The examples below are real runs. :func:`run` takes a command line as you
would type it, prints what the command prints, and returns its exit code:

>>> import tensorflow as tf
>>> from tfpersist.cli import run
>>> with tf.Graph().as_default() as graph:
...     v1 = tf.Variable(tf.constant(1.0, shape=[1]), name="v1")
...     v2 = tf.Variable(tf.constant(2.0, shape=[1]), name="v2")
...     result = v1 + v2
...     with tf.compat.v1.Session(graph=graph) as sess:
...         sess.run(tf.compat.v1.global_variables_initializer())
...         _ = tf.compat.v1.train.Saver().save(sess, "model/model.ckpt")
>>> run("tfpersist inspect model --values")
model/model.ckpt
  name  dtype    shape  bytes
  v1    float32  [1]        4  = [1.0]
  v2    float32  [1]        4  = [2.0]
2 tensors, 8 bytes
0

Rename the variables for another model, then compare:

>>> run("tfpersist rename model/model.ckpt other/model.ckpt --map v1=other-v1 --map v2=other-v2")
model/model.ckpt -> other/model.ckpt
  v1 -> other-v1
  v2 -> other-v2
0
>>> run("tfpersist diff model/model.ckpt other/model.ckpt")
only in A: v1, v2
only in B: other-v1, other-v2
1

Freeze the article's graph; the output node is guessed from the graph, and the
frozen file is summarized. ``--output NODE`` names the outputs instead, and
always wins; a SavedModel's outputs are those of its ``serving_default``
signature, or of the one ``--signature NAME`` names:

>>> run("tfpersist freeze model -o model/frozen.pb")
model/frozen.pb: 5 nodes, ... bytes, output add (guessed)
0
>>> run("tfpersist summarize model/frozen.pb")
inputs: none
outputs: add (float32)
ops: 5 nodes: AddV2 1, Const 2, Identity 2
unsafe ops: none
0

Audit a graph before anyone loads it: ``audit`` needs no TensorFlow, and
exits 0 when every file is clean, 1 when one is refused and 2 when one
cannot be read:

>>> run("tfpersist audit model/frozen.pb model/model.ckpt.meta")
model/frozen.pb: clean (5 nodes, 0 functions; ops of TensorFlow ...)
model/model.ckpt.meta: clean (... nodes, 0 functions; ops of TensorFlow ...)
0

Mistakes get one line and exit code 2:

>>> run("tfpersist inspect model/model.ckpt.index")
tfpersist: error: 'model/model.ckpt.index' is one file of a checkpoint; pass its prefix 'model/model.ckpt'
2
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import sys
import warnings
from collections.abc import Sequence
from typing import Any

from tfpersist import __version__
from tfpersist.errors import TfPersistError

__all__ = ["build_parser", "main", "run"]


def _table(rows: list[list[str]], right: set[int] = frozenset()) -> list[str]:  # type: ignore[assignment]
    columns = [list(c) for c in zip(*rows, strict=True)]
    for i, column in enumerate(columns):
        width = max(map(len, column))
        columns[i] = [c.rjust(width) if i in right else c.ljust(width) for c in column]
    return ["  ".join(cells).rstrip() for cells in zip(*columns, strict=True)]


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _print_json(document: Any) -> None:
    print(json.dumps(document, indent=2, ensure_ascii=False))


def _inspect(args: argparse.Namespace) -> int:
    from tfpersist.inspecting import format_value, list_checkpoint, read_values

    listing = list_checkpoint(args.path)
    values = dict(read_values(listing.prefix)) if args.values else {}
    if args.json:
        document = listing.to_json()
        if args.values:
            for var in document["variables"]:
                var["value"] = format_value(values[var["name"]])
        _print_json(document)
        return 0
    rows = [["name", "dtype", "shape", "bytes"]]
    rows += [[v.name, v.dtype, str(list(v.shape)), str(v.bytes)] for v in listing.variables]
    lines = _table(rows, right={3})
    out = [listing.prefix, "  " + lines[0]]
    for line, var in zip(lines[1:], listing.variables, strict=True):
        value = f"  = {format_value(values[var.name])}" if args.values else ""
        out.append("  " + line + value)
    count = len(listing.variables)
    out.append(f"{count} tensor{'s' * (count != 1)}, {listing.total_bytes} bytes")
    print("\n".join(out))  # one write: a listing can have many thousands of lines
    return 0


def _diff(args: argparse.Namespace) -> int:
    from tfpersist.inspecting import diff_checkpoints

    diff = diff_checkpoints(args.a, args.b, rtol=args.rtol, atol=args.atol)
    if args.json:
        _print_json(diff.to_json())
    elif diff.equal:
        print("equal")
    else:
        if diff.only_in_a:
            print("only in A: " + ", ".join(diff.only_in_a))
        if diff.only_in_b:
            print("only in B: " + ", ".join(diff.only_in_b))
        for change in diff.changed:
            extra = (
                "" if change.max_abs_diff is None else f", max |a - b| = {change.max_abs_diff:g}"
            )
            print(f"changed: {change.name} ({change.reason}{extra})")
    return 0 if diff.equal else 1


def _pairs(items: Sequence[str]) -> dict[str, str]:
    mapping = {}
    for item in items:
        old, sep, new = item.partition("=")
        if not sep or not old:
            raise TfPersistError(f"--map {item!r}: write OLD=NEW, e.g. --map dense=encoder/dense")
        mapping[old] = new
    return mapping


def _rename(args: argparse.Namespace) -> int:
    from tfpersist.rewriting import rename_checkpoint

    plan = rename_checkpoint(
        args.src,
        args.dst,
        _pairs(args.map),
        regex=args.regex,
        drop=args.drop,
        dry_run=args.dry_run,
        overwrite=args.overwrite,
    )
    print(plan)
    if args.dry_run:
        print("(dry run: nothing written)")
    return 0


def _export(args: argparse.Namespace) -> int:
    from tfpersist.exporting import export_checkpoint

    names = export_checkpoint(args.src, args.out)
    print(f"wrote {_count(len(names), 'tensor')} to {args.out}")
    return 0


def _convert(args: argparse.Namespace) -> int:
    from tfpersist.rewriting import convert_checkpoint

    prefix = convert_checkpoint(args.src, args.dst, to=args.to, overwrite=args.overwrite)
    print(f"wrote {args.to.upper()} checkpoint {prefix}")
    return 0


def _import(args: argparse.Namespace) -> int:
    from tfpersist.importing import import_weights

    names = import_weights(
        args.file,
        args.prefix,
        to=args.to,
        mapping=_pairs(args.map),
        transpose=args.transpose,
        overwrite=args.overwrite,
    )
    print(f"wrote {_count(len(names), 'tensor')} to {args.to.upper()} checkpoint {args.prefix}")
    return 0


def _freeze(args: argparse.Namespace) -> int:
    from tfpersist.freezer import freeze_checkpoint

    frozen = freeze_checkpoint(
        args.src,
        args.output_file,
        args.output or None,
        signature=args.signature,
        allow_ops=args.allow_op,
    )
    print(frozen)
    return 0


def _summarize(args: argparse.Namespace) -> int:
    from tfpersist.graphs import summarize_graph

    summary = summarize_graph(args.graph, allow_ops=args.allow_op)
    if args.json:
        _print_json(summary.to_json())
        return 1 if summary.unsafe_ops else 0

    def describe(t: Any) -> str:
        shape = "" if t.shape is None else f" {list(t.shape)}".replace("None", "?")
        return f"{t.name} ({t.dtype or '?'}{shape})"

    print("inputs: " + (", ".join(describe(t) for t in summary.inputs) or "none"))
    print("outputs: " + (", ".join(describe(t) for t in summary.outputs) or "none"))
    census = ", ".join(f"{op} {n}" for op, n in summary.ops.items())
    print(f"ops: {sum(summary.ops.values())} nodes: {census}")
    if not summary.unsafe_ops:
        print("unsafe ops: none")
        return 0
    print(f"unsafe ops: {len(summary.unsafe_ops)}")
    for refusal in summary.unsafe_ops:
        print(f"  {refusal}")
    return 1


def _audit(args: argparse.Namespace) -> int:
    from tfpersist.keras_audit import audit_keras_file
    from tfpersist.keras_files import is_keras_file
    from tfpersist.safety import audit_file

    audits = [
        audit_keras_file(f, allow_modules=args.allow_module)
        if is_keras_file(f)
        else audit_file(f, allow_ops=args.allow_op, release=args.release)
        for f in args.files
    ]
    if args.json:
        _print_json({"files": [a.to_json() for a in audits]})
    else:
        print("\n".join(str(a) for a in audits))
    verdicts = {a.verdict for a in audits}
    return 2 if "unreadable" in verdicts else 1 if "refused" in verdicts else 0


def _verify(args: argparse.Namespace) -> int:
    from tfpersist.errors import CorruptCheckpointError
    from tfpersist.inspecting import verify_checkpoint

    try:
        listing = verify_checkpoint(args.path)
    except CorruptCheckpointError as e:
        print(f"corrupt: {e}")
        return 1
    print(f"ok: {listing.prefix}: {len(listing.variables)} tensors, {listing.total_bytes} bytes")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser of the ``tfpersist`` command.

    >>> build_parser().parse_args(["diff", "a", "b", "--atol", "1e-6"]).atol
    1e-06
    """
    parser = argparse.ArgumentParser(
        prog="tfpersist",
        description="Inspect, compare, rewrite, export, freeze and check TensorFlow checkpoints and graphs.",
        epilog="Exit codes: 0 ok, 1 a finding, 2 a usage or input error.",
    )
    parser.add_argument("--version", action="version", version=f"tfpersist {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, handler: Any, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        p.set_defaults(handler=handler)
        return p

    def allow_op(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--allow-op",
            action="append",
            default=[],
            metavar="OP",
            help="accept this op although the safety audit refuses it (only for graphs you trust)",
        )

    path_help = (
        "a checkpoint prefix (model/model.ckpt-3), a directory (its latest checkpoint), "
        "or a .keras, .weights.h5 or Keras .h5 file"
    )
    p = command(
        "inspect",
        _inspect,
        "List every tensor of a checkpoint or Keras file with dtype, shape and bytes.",
    )
    p.add_argument("path", metavar="PATH", help=path_help)
    p.add_argument("--values", action="store_true", help="print values too, shortened when large")
    p.add_argument("--json", action="store_true", help="print one JSON document")

    p = command("diff", _diff, "Compare two checkpoints or Keras files; exit 1 when they differ.")
    p.add_argument("a", metavar="A", help=path_help)
    p.add_argument("b", metavar="B", help=path_help)
    p.add_argument("--rtol", type=float, default=0.0, help="relative tolerance (default 0)")
    p.add_argument("--atol", type=float, default=0.0, help="absolute tolerance (default 0)")
    p.add_argument("--json", action="store_true", help="print one JSON document")

    p = command("rename", _rename, "Write a copy of a checkpoint with tensors renamed or dropped.")
    p.add_argument("src", metavar="SRC", help=path_help + "; never modified")
    p.add_argument("dst", metavar="DST", help="the prefix of the new checkpoint")
    p.add_argument(
        "--map", action="append", default=[], metavar="OLD=NEW", help="rename a tensor or scope"
    )
    p.add_argument("--regex", action="store_true", help="OLD and --drop are regular expressions")
    p.add_argument(
        "--drop", action="append", default=[], metavar="PATTERN", help="leave tensors out"
    )
    p.add_argument("--dry-run", action="store_true", help="show the plan and write nothing")
    p.add_argument("--overwrite", action="store_true", help="replace a checkpoint already at DST")

    p = command(
        "export",
        _export,
        "Write the tensors of a checkpoint or Keras file to .npz or .safetensors.",
    )
    p.add_argument("src", metavar="SRC", help=path_help)
    p.add_argument("out", metavar="OUT", help="the output file, ending in .npz or .safetensors")

    p = command(
        "convert",
        _convert,
        "Convert a TF1 name-based checkpoint to a TF2 object-based one, or back.",
    )
    p.add_argument("src", metavar="SRC", help=path_help)
    p.add_argument("dst", metavar="DST", help="the prefix of the new checkpoint")
    p.add_argument("--to", required=True, choices=["tf2", "tf1"], help="the kind to write")
    p.add_argument("--overwrite", action="store_true", help="replace a checkpoint already at DST")

    p = command(
        "import", _import, "Write the tensors of a .safetensors or .npz file as a checkpoint."
    )
    p.add_argument("file", metavar="FILE", help="a .safetensors or .npz file")
    p.add_argument("prefix", metavar="PREFIX", help="the prefix of the new checkpoint")
    p.add_argument(
        "--to", default="tf1", choices=["tf1", "tf2"], help="the kind to write (default tf1)"
    )
    p.add_argument(
        "--map", action="append", default=[], metavar="OLD=NEW", help="rename a tensor or scope"
    )
    p.add_argument(
        "--transpose",
        action="append",
        default=[],
        metavar="PATTERN",
        help="transpose these 2-D tensors (new names, or fnmatch patterns such as '*/kernel')",
    )
    p.add_argument(
        "--overwrite", action="store_true", help="replace a checkpoint already at PREFIX"
    )

    p = command(
        "freeze", _freeze, "Freeze a checkpoint with its .meta, or a SavedModel, into one .pb."
    )
    p.add_argument(
        "src", metavar="SRC", help="a checkpoint prefix with its .meta, or a SavedModel directory"
    )
    p.add_argument(
        "-o", dest="output_file", required=True, metavar="OUT.pb", help="the .pb to write"
    )
    p.add_argument(
        "--output",
        action="append",
        default=[],
        metavar="NODE",
        help="an output node; wins over --signature and the guess",
    )
    p.add_argument(
        "--signature",
        metavar="NAME",
        help="freeze the outputs of this signature (SavedModel default: serving_default; "
        "a checkpoint's outputs are guessed)",
    )
    allow_op(p)

    p = command("summarize", _summarize, "Summarize a graph; exit 1 when it holds unsafe ops.")
    p.add_argument("graph", metavar="GRAPH", help="a .pb, a .meta or a SavedModel directory")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    allow_op(p)

    p = command(
        "audit",
        _audit,
        "Audit graph files and Keras model files without TensorFlow: exit 0 if all are clean, "
        "1 if one is refused, 2 if one cannot be read.",
    )
    p.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="a .pb, a .meta, a SavedModel directory, or a .keras or Keras .h5 file",
    )
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.add_argument(
        "--release",
        metavar="X.Y",
        help="check the ops against this TensorFlow release (default: the installed one)",
    )
    allow_op(p)
    p.add_argument(
        "--allow-module",
        action="append",
        default=[],
        metavar="MODULE",
        help="accept Keras objects from this Python module and its submodules "
        "(only for files you trust)",
    )

    p = command("verify", _verify, "Read every tensor and check its checksum; exit 1 when corrupt.")
    p.add_argument("path", metavar="PATH", help=path_help)
    return parser


def _json_escape(c: int) -> str:
    """*c* as JSON writes it escaped: a surrogate pair beyond U+FFFF."""
    if c <= 0xFFFF:
        return f"\\u{c:04x}"
    c -= 0x10000
    return f"\\u{0xD800 + (c >> 10):04x}\\u{0xDC00 + (c & 0x3FF):04x}"


#: What a terminal would act on or shows as nothing (control and format
#: characters: bidirectional controls such as U+202E, zero-width characters,
#: U+FEFF; line and paragraph separators), or cannot encode (the halves of a
#: file name's non-UTF-8 bytes): written as JSON's escapes, so that names a
#: file chose can neither redraw, reorder nor hide what is shown, nor break
#: ``--json``.
_UNPRINTABLE = {
    c: _json_escape(c)
    for first, last in (
        # Unicode's categories Cc, Cf, Cs, Zl and Zp, but tab and newline (a test
        # checks them against unicodedata)
        (0x0000, 0x0008),
        (0x000B, 0x001F),
        (0x007F, 0x009F),
        (0x00AD, 0x00AD),
        (0x0600, 0x0605),
        (0x061C, 0x061C),
        (0x06DD, 0x06DD),
        (0x070F, 0x070F),
        (0x0890, 0x0891),
        (0x08E2, 0x08E2),
        (0x180E, 0x180E),
        (0x200B, 0x200F),
        (0x2028, 0x202E),
        (0x2060, 0x2064),
        (0x2066, 0x206F),
        (0xD800, 0xDFFF),
        (0xFEFF, 0xFEFF),
        (0xFFF9, 0xFFFB),
        (0x110BD, 0x110BD),
        (0x110CD, 0x110CD),
        (0x13430, 0x1343F),
        (0x1BCA0, 0x1BCA3),
        (0x1D173, 0x1D17A),
        (0xE0001, 0xE0001),
        (0xE0020, 0xE007F),
    )
    for c in range(first, last + 1)
}


class _Escaped:
    """A text stream that writes what it is given with :data:`_UNPRINTABLE` escaped."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(text.translate(_UNPRINTABLE))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())


def _warn(message: Any, category: Any, *args: Any, **kwargs: Any) -> None:
    print(f"tfpersist: warning: {_one_line(message)}", file=sys.stderr)


def _input_errors() -> tuple[type[BaseException], ...]:
    errors: tuple[type[BaseException], ...] = (TfPersistError, OSError)
    tf = sys.modules.get("tensorflow")
    if tf is not None and hasattr(tf, "errors"):
        errors += (tf.errors.OpError,)
    return errors


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``tfpersist`` command with *argv* (default ``sys.argv[1:]``) and return its exit code.

    >>> main(["inspect", "no/such/model.ckpt"])  # the error line goes to stderr
    2
    """
    with (
        contextlib.redirect_stdout(_Escaped(sys.stdout)),
        contextlib.redirect_stderr(_Escaped(sys.stderr)),
    ):
        return _main(argv)


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # TensorFlow's C++ logs and Python deprecation notices are not ours to print.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # _tf.py quiets the Python logger too
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        # notices for programmers about the libraries underneath, not for the command's user
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        warnings.showwarning = _warn
        try:
            return args.handler(args)
        except _input_errors() as e:
            print(f"tfpersist: error: {_one_line(e)}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("tfpersist: interrupted", file=sys.stderr)
            return 130


def run(command_line: str) -> int:
    """Run a ``tfpersist`` command line in this process, printing its output and errors.

    Both stdout and stderr are printed to stdout, so examples show everything
    a terminal would. Returns the exit code.

    >>> run("tfpersist diff --help")
    usage: tfpersist diff [-h] [--rtol RTOL] [--atol ATOL] [--json] A B
    ...
    0
    """
    words = shlex.split(command_line)
    if words and words[0] == "tfpersist":
        words = words[1:]
    with contextlib.redirect_stderr(sys.stdout):
        try:
            code = main(words)
        except SystemExit as e:  # argparse: --help, --version and usage errors
            code = e.code if isinstance(e.code, int) else 2
    return code
