"""Regenerate what tfpersist records of each TensorFlow release; list ops nobody has classified.

``tox -e registry`` runs this. For each release from 2.12 to 2.21 it makes a
virtual environment with that ``tensorflow-cpu`` (once; later runs reuse
it), dumps the release's op registry and graph protos with
``tests/registry/dump.py``, and writes:

* ``tfpersist/op_registry.json``: the ops each release knows;
* ``tfpersist/_proto_schema.py``: the graph file schema, every release's fields.

Then it lists the ops that ``tfpersist/op_policy.json`` does not classify,
with a family each *might* belong to. That guess is a starting point for a
reviewer, never a decision: nothing is added to the policy here, and the
run fails until a person has put every op in a group.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "tfpersist"
#: The release of each minor version whose ops are recorded, with the NumPy it needs.
RELEASES = {
    "2.12": ("2.12.1", "numpy<1.24"),
    "2.13": ("2.13.1", "numpy<2"),
    "2.14": ("2.14.1", "numpy<2"),
    "2.15": ("2.15.1", "numpy<2"),
    "2.16": ("2.16.2", "numpy<2"),
    "2.17": ("2.17.1", "numpy<2"),
    "2.18": ("2.18.1", "numpy"),
    "2.19": ("2.19.1", "numpy"),
    "2.20": ("2.20.0", "numpy"),
    "2.21": ("2.21.0", "numpy"),
}
#: Hints for a reviewer: a name or an input that often means the op reaches outside.
HINTS = [
    (r"File|Reader|Writer|Save|Restore|Snapshot|Checkpoint|Dump|Record|Vocab", "files?"),
    (r"Send|Recv|Collective|Nccl|Rpc|Remote|Service|Host|Infeed|Outfeed", "other processes?"),
    (r"TPU|Tpu|SparseCore|DTensor|Mesh|Layout", "accelerators?"),
    (r"Py|Python|Func$", "Python?"),
    (r"Module|Graph|Mlir|Custom|TfLite", "a program inside?"),
    (r"Debug|Print|Summary|Log", "debugging output?"),
    (r"Dataset|Iterator", "tf.data: in memory or files?"),
]
SUSPECT_INPUTS = re.compile(r"file|path|prefix|pattern|dir|url|address|target|server|vocab", re.I)


def interpreter(release: str, work: Path) -> Path:
    """The Python of a virtual environment holding this release's ``tensorflow-cpu``."""
    build, numpy = RELEASES[release]
    home = work / release
    python = home / "bin" / "python"
    marker = home / f"tensorflow-cpu-{build}"
    if not marker.exists():
        venv.create(home, with_pip=True, clear=True)
        subprocess.run(
            [python, "-m", "pip", "install", "--quiet", f"tensorflow-cpu=={build}", numpy],
            check=True,
        )
        marker.touch()
    return python


def dump(python: Path, out: Path) -> dict:
    subprocess.run([python, str(Path(__file__).with_name("dump.py")), str(out)], check=True)
    return json.loads(out.read_text())


def spans(present: list[bool], names: list[str]) -> str:
    """``2.12-2.21``, or ``2.12-2.13,2.16`` for an op that came and went."""
    out, start = [], None
    for i, here in enumerate([*present, False]):
        if here and start is None:
            start = i
        elif not here and start is not None:
            out.append(names[start] if start == i - 1 else f"{names[start]}-{names[i - 1]}")
            start = None
    return ",".join(out)


def write_registry(dumps: dict[str, dict]) -> None:
    names = list(dumps)
    ops = sorted({op for d in dumps.values() for op in d["ops"]})
    document = {
        "about": "The ops each TensorFlow release registers (tensorflow-cpu, Linux), written "
        "by tox -e registry: op -> the releases that know it.",
        "releases": names,
        "builds": {r: dumps[r]["release"] for r in names},
        "ops": {op: spans([op in dumps[r]["ops"] for r in names], names) for op in ops},
    }
    text = json.dumps(document, indent=0, ensure_ascii=False)
    (PACKAGE / "op_registry.json").write_text(text + "\n", encoding="utf-8")


def write_schema(dumps: dict[str, dict]) -> None:
    merged: dict[str, dict] = {}
    since: dict[str, dict[int, str]] = {}
    first = next(iter(dumps))
    for release, d in dumps.items():  # oldest first: a later release's definition wins
        for message, fields in d["schema"].items():
            known = merged.setdefault(message, {})
            for number, spec in fields.items():
                if int(number) not in known and release != first:
                    since.setdefault(message, {})[int(number)] = release
                merged[message][int(number)] = spec
    lines = [
        '"""The protocol buffer messages of a graph file, from SavedModel down.',
        "",
        "Generated from TensorFlow's own descriptors by ``tox -e registry``; do not edit.",
        "Each message maps a field number to ``[name, kind, repeated, oneof, message, map]``.",
        "A string of a proto2 file is ``bytes``: protobuf checks UTF-8 in proto3 files only.",
        f"``SINCE`` gives the release that added a field, for fields {first} lacks.",
        '"""',
        "",
        "# fmt: off",
        "SCHEMA: dict[str, dict[int, list]] = {",
    ]
    for message in sorted(merged):
        lines.append(f"    {message!r}: {{")
        lines += [f"        {n}: {merged[message][n]!r}," for n in sorted(merged[message])]
        lines.append("    },")
    lines += ["}", "SINCE: dict[str, dict[int, str]] = {"]
    for message in sorted(since):
        lines.append(f"    {message!r}: {dict(sorted(since[message].items()))!r},")
    lines += ["}", "# fmt: on", ""]
    (PACKAGE / "_proto_schema.py").write_text("\n".join(lines), encoding="utf-8")


def unclassified(dumps: dict[str, dict]) -> list[str]:
    policy = json.loads((PACKAGE / "op_policy.json").read_text(encoding="utf-8"))
    classified = {op for group in policy["groups"] for op in group["ops"]}
    seen: dict[str, dict] = {}
    for release, d in dumps.items():
        for op, info in d["ops"].items():
            seen.setdefault(op, {**info, "first": release})
    report = []
    for op in sorted(set(seen) - classified):
        info = seen[op]
        hints = [h for pattern, h in HINTS if re.search(pattern, op)]
        hints += [f"input {i!r}?" for i in info["inputs"] if SUSPECT_INPUTS.search(i)]
        report.append(
            f"  {op} (from {info['first']}, {'stateful' if info['stateful'] else 'stateless'}; "
            f"{', '.join(hints) or 'no hint'}): {info['doc'] or '(no docstring)'}"
        )
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, default=ROOT / ".tox" / "registry-envs")
    parser.add_argument("releases", nargs="*", default=list(RELEASES))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    dumps = {r: dump(interpreter(r, args.work), args.work / f"{r}.json") for r in args.releases}
    if list(dumps) == list(RELEASES):
        write_registry(dumps)
        write_schema(dumps)
        print(f"wrote {PACKAGE / 'op_registry.json'} and {PACKAGE / '_proto_schema.py'}")
    report = unclassified(dumps)
    if report:
        print(f"{len(report)} ops are in no group of tfpersist/op_policy.json. Review each and add")
        print("it to the group it belongs in; the hints below are guesses, not decisions:")
        print("\n".join(report))
        return 1
    print("every op of every release is classified")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.exit(main())
