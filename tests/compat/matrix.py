"""The compatibility matrix: every release in the tox matrix writes, every release reads.

``tox -e compat`` runs this with the Python of each TensorFlow env
(``tf212`` ... ``tf221``), which must exist (``tox`` makes them first).
Artifacts go to a temporary directory; the results go to ``docs/compat/``
(not in git): ``results.json`` and ``table.txt``, which the docs include.
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
MARKS = {"ok": "ok", "repaired": "repaired 已修复", "failed": "FAILED 失败"}


def run(python: Path, script: str, *args: str) -> str:
    done = subprocess.run(
        [str(python), str(HERE / script), *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"{python} {script} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def table(cells: list[dict], releases: list[str], seconds: float) -> str:
    kinds = list(dict.fromkeys(c["kind"] for c in cells))
    at = {(c["writer"], c["kind"], c["reader"]): c for c in cells}
    width = max(len(k) for k in kinds) + 10
    lines = [
        "writer -> reader 写入版本 -> 读取版本",
        "",
        f"  {'written by 写入 / artifact 产物':<{width}}" + "".join(f"{r:>16}" for r in releases),
    ]
    for writer in releases:
        for kind in kinds:
            row = "".join(f"{MARKS[at[(writer, kind, r)]['status']]:>16}" for r in releases)
            lines.append(f"  {writer + '  ' + kind:<{width}}{row}")
        lines.append("")
    counts = Counter(c["status"] for c in cells)
    lines.append(
        f"{len(cells)} cells 格: {counts['ok']} ok, {counts['repaired']} repaired by tfpersist "
        f"由 tfpersist 修复, {counts['failed']} failed 失败"
    )
    compared = [c for c in cells if c.get("max_difference") is not None]
    identical = sum(c["max_difference"] == 0 for c in compared)
    repaired = [c["max_difference"] for c in cells if c["status"] == "repaired"]
    lines.append(
        f"{identical} of {len(compared)} cells that compare outputs match the writer's exactly "
        f"输出与写入方完全一致; repaired cells differ by at most 修复的格最大差异 "
        f"{max(repaired, default=0):.3g}"
    )
    failed = [c for c in cells if c["status"] == "failed"]
    if failed:
        lines += ["", "failures 失败:"]
        for c in failed:
            lines.append(f"  {c['writer']} -> {c['reader']}, {c['kind']}: {c['error']}")
    lines += [
        "",
        f"{date.today().isoformat()}: TensorFlow {', '.join(releases)}; outputs compared with "
        "rtol 1e-5, atol 1e-6; checkpoint values must be equal",
        f"{seconds / 60:.1f} minutes; reproduce: tox (or tox -e compat after the TensorFlow envs)",
    ]
    return "\n".join(lines) + "\n"


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
    (OUT / "results.json").write_text(
        json.dumps(results, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    text = table(cells, releases, seconds)
    (OUT / "table.txt").write_text(text, encoding="utf-8")
    print(text)
    if any(c["status"] == "failed" for c in cells):
        raise SystemExit("cells failed: repair them in tfpersist, or document the break")


if __name__ == "__main__":
    main()
