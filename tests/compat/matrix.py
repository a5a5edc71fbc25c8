"""The compatibility matrix: every release in the tox matrix writes, every release reads.

``tox -e compat`` runs this with the Python of each TensorFlow env
(``tf212`` ... ``tf221``), which must exist (``tox`` makes them first).
Artifacts go to a temporary directory; the results go to
``docs/compat/results.json`` (in git: the last run), from which the docs build
the table (docs/_ext/results_tables.py).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE.parents[1] / "docs" / "compat"


def run(python: Path, script: str, *args: str) -> str:
    done = subprocess.run(
        [str(python), str(HERE / script), *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"{python} {script} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def summary(cells: list[dict]) -> str:
    """A few lines for the terminal; the docs build the table from results.json."""
    counts = Counter(c["status"] for c in cells)
    lines = [
        f"{len(cells)} cells: {counts['ok']} ok, {counts['repaired']} repaired by tfpersist, "
        f"{counts['failed']} failed"
    ]
    lines += [
        f"  failed: {c['writer']} -> {c['reader']}, {c['kind']}: {c['error']}"
        for c in cells
        if c["status"] == "failed"
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--toxworkdir", type=Path, required=True)
    parser.add_argument("envs", nargs="+")
    args = parser.parse_args()
    pythons = {env: args.toxworkdir / env / "bin" / "python" for env in args.envs}
    missing = [env for env, python in pythons.items() if not python.exists()]
    if missing:
        raise SystemExit(
            f"no Python in {', '.join(missing)}: run `tox -e {','.join(args.envs)}` first "
            "(plain `tox` does, before this env)"
        )
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="tfpersist-compat-") as tmp:
        dirs = []
        for env, python in pythons.items():
            dirs.append(str(Path(tmp) / env))
            run(python, "artifacts.py", "write", dirs[-1])
            print(f"{env}: written", file=sys.stderr, flush=True)
        releases = [json.loads((Path(d) / "expected.json").read_text())["release"] for d in dirs]
        cells = []
        for env, python in pythons.items():
            cells += [
                json.loads(line) for line in run(python, "artifacts.py", "read", *dirs).splitlines()
            ]
            print(f"{env}: read", file=sys.stderr, flush=True)
    seconds = time.perf_counter() - started
    OUT.mkdir(parents=True, exist_ok=True)
    results = {"date": date.today().isoformat(), "releases": releases, "cells": cells}
    partial = OUT / "results.json.partial"  # the last run stays whole until this one is
    partial.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    partial.replace(OUT / "results.json")
    print(summary(cells))
    print(
        f"{seconds / 60:.1f} minutes; wrote {OUT / 'results.json'}; `tox -e docs` shows the table"
    )
    if any(c["status"] == "failed" for c in cells):
        raise SystemExit("cells failed: repair them in tfpersist, or document the break")


if __name__ == "__main__":
    main()
