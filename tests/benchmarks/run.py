"""tfpersist's benchmarks: ``tox -e bench`` runs this file.

Every contender runs in a fresh process (``child.py``), five times, and the
contenders of a scenario take turns, their order rotating each round. Each
figure is the median of its runs, and each ratio compares two medians of the
same run on the same machine. The results go to ``docs/benchmarks/``:
``results.json`` (every run's figures) and ``results.png`` (the chart); the
training-step scenario, sync against async saves, goes to ``async.json``; the
renaming of a 4 GiB checkpoint to ``rename.json``; the audit's speed to
``audit.json``; looking inside MobileNetV2's Keras files to ``keras.json``;
and the comparison of scanners on the same SavedModels to ``scanners.json``.
The docs build their tables from these files (docs/_ext/results_tables.py).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "docs" / "benchmarks"
CHILD = str(Path(__file__).with_name("child.py"))
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="-1")
GIB = 2**30

SPEED_TARGET = 0.95  # tfpersist's throughput over raw TensorFlow's, at least
SAVE_TARGETS = {  # a 1 GiB save: twice TensorFlow's throughput, and 0.6 of NumPy's tofile
    "speed_vs_tensorflow": 2.0,
    "tfpersist_vs_numpy": 0.6,
}
MEMORY_TARGET = 1.5  # restore peak above the RSS before, in checkpoint sizes, at most
RENAME_TARGET_MIB = 300  # a tfpersist rename's peak RSS, whole process, at most
RENAME = ["keep", "drop", "tensorflow"]  # contenders of child.py's rename
PERSIST = [
    ("numpy", "raw"),
    ("tf1", "raw"),
    ("tf1", "tfpersist"),
    ("tf2", "raw"),
    ("tf2", "tfpersist"),
]
STYLES = {"tf1": "TF1 Saver", "tf2": "TF2 Checkpoint"}

READ_ALL = """
import json, sys, time
import numpy as np
t = time.perf_counter()
{open}
total = 0
for name in reader.get_variable_to_shape_map():
    value = np.asarray(reader.get_tensor(name))
    total += value.nbytes if value.dtype.kind in "biufc" else 0
print(json.dumps({{"read": time.perf_counter() - t, "bytes": total}}))
"""
TFPERSIST_READ = READ_ALL.format(
    open="from tfpersist import bundle\nreader = bundle.load_checkpoint(sys.argv[1])"
)
TENSORFLOW_READ = READ_ALL.format(
    open="import tensorflow as tf\nreader = tf.train.load_checkpoint(sys.argv[1])"
)


def python(*args: str) -> tuple[float, dict]:
    """Run ``python *args`` in a fresh process; return its wall time and the JSON it printed."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, *args], env=ENV, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - start
    print(f"  {seconds:6.1f} s  {' '.join(args[:4])[-70:]}", file=sys.stderr, flush=True)
    if done.returncode != 0:
        raise SystemExit(f"benchmark process failed: {' '.join(args[:3])}\n{done.stderr[-3000:]}")
    lines = done.stdout.strip().splitlines()
    return seconds, json.loads(lines[-1]) if lines and lines[-1].startswith("{") else {}


def rounds(contenders: Sequence, run: Callable[[object], dict], runs: int) -> dict:
    """Run every contender *runs* times, rotating their order each round."""
    figures: dict = {c: [] for c in contenders}
    for r in range(runs):
        k = r % len(contenders)
        for contender in [*contenders[k:], *contenders[:k]]:
            figures[contender].append(run(contender))
    return figures


def child_rounds(work: Path, benchmark: str, contenders: Sequence[str], runs: int) -> dict:
    """:func:`rounds` of ``child.py BENCHMARK CONTENDER OUT``, removing OUT after each run."""

    def run(who: str) -> dict:
        out = work / benchmark / who
        figures = python(CHILD, benchmark, who, str(out))[1]
        shutil.rmtree(out, ignore_errors=True)
        return figures

    return rounds(contenders, run, runs)


def median(runs: list[dict], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def same(figures: dict, key: str) -> None:
    """Every run of every contender must agree on *key*, or a contender is broken."""
    values = {run[key] for runs in figures.values() for run in runs}
    if len(values) != 1:
        raise SystemExit(f"contenders disagree on {key}: {sorted(values)}")


def persist(work: Path, name: str, count: int, size: int, runs: int) -> dict:
    """Restore, then save, *count* float32 variables of *size* elements."""
    data = work / name
    _, setup = python(CHILD, "setup", str(count), str(size), str(data))
    out = data / "out"

    def run(contender: tuple[str, str]) -> dict:
        style, who = contender
        source = data / style if style == "numpy" else data / style / "ckpt"
        figures = python(
            CHILD, "persist", style, who, str(count), str(size), str(source), str(out / "ckpt")
        )[1]
        shutil.rmtree(out, ignore_errors=True)
        return figures

    figures = rounds(PERSIST, run, runs)
    same(figures, "checksum")
    size_bytes = setup["bytes"]
    numpy = figures[("numpy", "raw")]
    rows = []
    for operation in ("restore", "save"):
        for style, label in STYLES.items():
            ours, theirs = figures[(style, "tfpersist")], figures[(style, "raw")]
            row = {
                "operation": f"{operation}, {label}",
                "seconds": {
                    "tfpersist": median(ours, operation),
                    "tensorflow": median(theirs, operation),
                    "numpy": median(numpy, operation),
                },
                "targets": (
                    {"speed_vs_tensorflow": SPEED_TARGET, "restore_peak_above": MEMORY_TARGET}
                    if operation == "restore"
                    else dict(SAVE_TARGETS)
                    if size_bytes >= GIB
                    else {"speed_vs_tensorflow": SPEED_TARGET}
                ),
            }
            if operation == "restore":
                row["peak_above"] = {
                    "tfpersist": median(ours, "restore_peak_above_kib") * 1024 / size_bytes,
                    "tensorflow": median(theirs, "restore_peak_above_kib") * 1024 / size_bytes,
                    "numpy": median(numpy, "restore_peak_above_kib") * 1024 / size_bytes,
                }
            rows.append(row)
    return {
        "scenario": name,
        "bytes": size_bytes,
        "variables": count,
        "rows": rows,
        "runs": {f"{s} {w}": r for (s, w), r in figures.items()},
    }


def rename(work: Path, mib: int, runs: int) -> dict:
    """Rename every tensor of a checkpoint of *mib* MiB (64 tensors): tfpersist against raw TF."""
    count, source, out = 64, work / "source" / "model.ckpt", work / "out"
    _, setup = python(
        CHILD, "rename-setup", str(count), str(mib * 2**20 // 4 // count), str(source)
    )
    done = dict.fromkeys(RENAME, 0)

    def run(who: str) -> dict:
        figures = python(CHILD, "rename", who, str(source), str(out / "model.ckpt"))[1]
        done[who] += 1
        if done[who] == runs:  # the last run's checkpoint is checked, outside the timing
            python(CHILD, "rename-check", who, str(source), str(out / "model.ckpt"))
        shutil.rmtree(out)
        return figures

    figures = rounds(RENAME, run, runs)
    rows = []
    for who in RENAME:
        row = {
            "contender": who,
            "seconds": median(figures[who], "rename"),
            "peak_mib": median(figures[who], "rename_process_peak_kib") / 1024,
            "peak_above_mib": median(figures[who], "rename_peak_above_kib") / 1024,
        }
        if who != "tensorflow":
            row["target_peak_mib"] = RENAME_TARGET_MIB
            row["memory_met"] = row["peak_mib"] < RENAME_TARGET_MIB
        rows.append(row)
    return {
        "scenario": "rename",
        "bytes": setup["bytes"],
        "tensors": count,
        "rows": rows,
        "runs": figures,
    }


def freeze(work: Path, runs: int) -> dict:
    """Freeze a 196 MiB model, write the .pb, load it and run it."""

    figures = child_rounds(work, "freeze", ["tfpersist", "raw"], runs)
    same(figures, "tf1_output_sum")
    same(figures, "tf2_graph_bytes")
    labels = {
        "tf1_freeze": "freeze, TF1 (convert_variables_to_constants)",
        "tf2_freeze": "freeze, TF2 (convert_variables_to_constants_v2)",
        "tf1_write": "write the .pb (TF1)",
        "tf2_write": "write the .pb (TF2)",
        "tf1_load_and_run": "load the .pb and run it (import_graph_def)",
    }
    rows = [
        {
            "operation": label,
            "seconds": {
                "tfpersist": median(figures["tfpersist"], key),
                "tensorflow": median(figures["raw"], key),
            },
        }
        for key, label in labels.items()
    ]
    return {
        "scenario": "freeze",
        "bytes": figures["raw"][0]["tf2_graph_bytes"],
        "rows": rows,
        "runs": figures,
    }


def inspect_and_read(work: Path, runs: int) -> dict:
    """List the 10,000-variable checkpoint, then read every tensor of the 1 GiB one."""
    many = str(work / "many" / "tf2" / "ckpt")
    gib = str(work / "gib" / "tf2" / "ckpt")
    inspect = {
        "tfpersist": ["-m", "tfpersist", "inspect", many],
        "tensorflow": ["-m", "tensorflow.python.tools.inspect_checkpoint", f"--file_name={many}"],
    }
    listing = rounds(list(inspect), lambda who: {"inspect": python(*inspect[who])[0]}, runs)
    read = {"tfpersist": TFPERSIST_READ, "tensorflow": TENSORFLOW_READ}
    reading = rounds(list(read), lambda who: python("-c", read[who], gib)[1], runs)
    same(reading, "bytes")
    return {
        "scenario": "inspect",
        "rows": [
            {
                "operation": "inspect 10,000 variables (whole process)",
                "seconds": {who: median(listing[who], "inspect") for who in inspect},
            },
            {
                "operation": "read every tensor of 1 GiB",
                "seconds": {who: median(reading[who], "read") for who in read},
            },
        ],
        "runs": {"inspect": listing, "read": reading},
    }


def train_steps(work: Path, runs: int) -> dict:
    """Train 20 steps of a 256 MiB model, saving every 5 steps: no saves, sync, async."""

    figures = child_rounds(work, "train", ["none", "sync", "async"], runs)
    same(figures, "steps")
    loop = {saves: median(figures[saves], "loop") for saves in figures}
    steps, saves = figures["sync"][0]["steps"], figures["sync"][0]["saves"]
    return {
        "scenario": "async",
        "steps": steps,
        "saves": saves,
        "seconds": loop,
        "per_save": {s: (loop[s] - loop["none"]) / saves for s in ("sync", "async")},
        "runs": figures,
    }


TENSORFLOW_AUDIT = """
import sys
import tensorflow
from tfpersist import graphs, safety
for meta in graphs.read_saved_model(sys.argv[1]).meta_graphs:
    safety.audit_graph(meta.graph_def, saver_def=meta.saver_def)
"""
SAVED_MODEL_CLI = ["-m", "tensorflow.python.tools.saved_model_cli", "scan", "--dir"]


def audit_speed(work: Path, runs: int) -> dict:
    """Audit two SavedModels, each contender a whole process, TensorFlow's start included."""
    python(CHILD, "audit-setup", str(work))
    rows = []
    for model in ("small", "large"):
        path = str(work / model)
        contenders = {
            "tfpersist audit": ["-m", "tfpersist", "audit", path],
            "tfpersist summarize": ["-m", "tfpersist", "summarize", path],
            "audit through TensorFlow": ["-c", TENSORFLOW_AUDIT, path],
            "saved_model_cli scan": [*SAVED_MODEL_CLI, path],
        }
        figures = rounds(
            list(contenders), lambda who, c=contenders: {"seconds": python(*c[who])[0]}, runs
        )
        graph = os.path.getsize(work / model / "saved_model.pb")
        total = sum(p.stat().st_size for p in (work / model).rglob("*") if p.is_file())
        rows.append({
            "model": model,
            "graph_bytes": graph,
            "total_bytes": total,
            "seconds": {who: median(figures[who], "seconds") for who in contenders},
            "runs": figures,
        })  # fmt: skip
    return {"scenario": "audit", "rows": rows}


KERAS_LOAD = """
import sys
import keras
keras.models.load_model(sys.argv[1])
"""
KERAS_LOAD_WEIGHTS = """
import sys
import keras
model = keras.applications.MobileNetV2(weights=None)
model.load_weights(sys.argv[1])
"""


def keras_files(work: Path, runs: int) -> dict:
    """Look inside MobileNetV2's ``.keras`` and ``.weights.h5``: tfpersist against Keras loading them."""
    variables = python(CHILD, "keras-setup", str(work))[1]["variables"]
    model, weights = str(work / "mobilenet_v2.keras"), str(work / "mobilenet_v2.weights.h5")
    rows = []
    for kind, path, contenders in (
        (".keras", model, {
            "tfpersist inspect": ["-m", "tfpersist", "inspect", model],
            "tfpersist audit": ["-m", "tfpersist", "audit", model],
            "keras.models.load_model": ["-c", KERAS_LOAD, model],
        }),
        (".weights.h5", weights, {
            "tfpersist inspect": ["-m", "tfpersist", "inspect", weights],
            "tfpersist verify": ["-m", "tfpersist", "verify", weights],
            "model.load_weights": ["-c", KERAS_LOAD_WEIGHTS, weights],
        }),
    ):  # fmt: skip
        figures = rounds(
            list(contenders), lambda who, c=contenders: {"seconds": python(*c[who])[0]}, runs
        )
        rows.append({
            "file": kind,
            "bytes": os.path.getsize(path),
            "seconds": {who: median(figures[who], "seconds") for who in contenders},
            "runs": figures,
        })  # fmt: skip
    return {"scenario": "keras", "model": "MobileNetV2", "variables": variables, "rows": rows}


def scan_verdicts(path: str) -> dict:
    """What each scanner says of one SavedModel: True when it reports something."""
    done = subprocess.run(
        [sys.executable, "-m", "tfpersist", "audit", path], env=ENV, capture_output=True, text=True
    )
    ours = done.returncode != 0
    done = subprocess.run(
        [sys.executable, *SAVED_MODEL_CLI, path], env=ENV, capture_output=True, text=True
    )
    cli = "contains the following denylisted ops" in done.stdout
    modelscan = shutil.which("modelscan", path=os.path.dirname(sys.executable))
    done = subprocess.run(
        [modelscan or "modelscan", "-p", path], env=ENV, capture_output=True, text=True
    )
    flagged = "No issues found" not in done.stdout
    return {"tfpersist audit": ours, "saved_model_cli scan": cli, "modelscan": flagged}


def scanners(work: Path, realworld: str) -> dict:
    """Run tfpersist audit, saved_model_cli scan and modelscan over the same SavedModels."""
    _, corpus = python(CHILD, "scanner-corpus", str(work), realworld)
    for entry in corpus["files"]:
        entry["flagged"] = scan_verdicts(entry["path"])
        print(f"  {entry['kind']:<10}{entry['name'][:50]:<52}{entry['flagged']}", file=sys.stderr)
    return {"scenario": "scanners", "files": corpus["files"], "versions": scanner_versions()}


def scanner_versions() -> dict:
    from importlib import metadata

    import tensorflow as tf

    return {
        "tfpersist audit": metadata.version("tfpersist"),
        "saved_model_cli scan": f"TensorFlow {tf.__version__}",
        "modelscan": metadata.version("modelscan"),
    }


def ratios(row: dict) -> dict:
    """Speed ratios of one row (a time ratio is a throughput ratio inverted), against its targets."""
    s, targets = row["seconds"], row["targets"]
    out = {"speed_vs_tensorflow": s["tensorflow"] / s["tfpersist"]}
    if "numpy" in s:
        out["tfpersist_vs_numpy"] = s["numpy"] / s["tfpersist"]
        out["tensorflow_vs_numpy"] = s["numpy"] / s["tensorflow"]
    out["speed_met"] = out["speed_vs_tensorflow"] >= targets["speed_vs_tensorflow"]
    if "tfpersist_vs_numpy" in targets:
        out["numpy_met"] = out["tfpersist_vs_numpy"] >= targets["tfpersist_vs_numpy"]
    if "restore_peak_above" in targets:
        out["memory_met"] = row["peak_above"]["tfpersist"] <= targets["restore_peak_above"]
    return out


def filesystem(path: str) -> str:
    """The type of the filesystem *path* is on (``ext4``, ``tmpfs``), from /proc/mounts."""
    best, kind = "", "unknown"
    for line in Path("/proc/mounts").read_text().splitlines():
        mount, fstype = line.split()[1:3]
        if os.path.realpath(path).startswith(mount) and len(mount) > len(best):
            best, kind = mount, fstype
    return kind


def scratch() -> str | None:
    """Memory (tmpfs) when it has room: the figures are then the software's, not the disk's."""
    shm = "/dev/shm"
    if os.path.isdir(shm) and shutil.disk_usage(shm).free > 8 * GIB:
        return shm
    return None


def machine() -> dict:
    import tensorflow as tf  # only for its version; every figure comes from a fresh process

    lines = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((ln.split(":", 1)[1].strip() for ln in lines if "model name" in ln), "unknown")
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / GIB
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(memory, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "files": "tmpfs (/dev/shm)" if scratch() else f"disk ({tempfile.gettempdir()})",
    }


def chart(results: dict, path: Path) -> None:
    """Two panels: speed against TensorFlow, and restore memory, from the same run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = {"gib": "1 GiB", "many": "10k vars", "freeze": "196 MiB model", "inspect": ""}
    rows = [
        (f"{row['operation']} {names[s['scenario']]}".strip(), row)
        for s in results["scenarios"]
        for row in s["rows"]
    ]
    gib = next(s for s in results["scenarios"] if s["scenario"] == "gib")
    peaks = [row for row in gib["rows"] if "peak_above" in row]
    fig, (speed, memory) = plt.subplots(
        2, 1, figsize=(9, 9), gridspec_kw={"height_ratios": [len(rows), 2 + len(peaks)]}
    )
    labels = [label for label, _ in rows]
    values = [row["ratios"]["speed_vs_tensorflow"] for _, row in rows]
    colors = ["tab:green" if row["ratios"]["speed_met"] else "tab:red" for _, row in rows]
    speed.barh(labels, values, color=colors)
    speed.axvline(1.0, color="black", linewidth=0.8)
    for target in sorted({row["targets"]["speed_vs_tensorflow"] for _, row in rows}):
        speed.axvline(
            target, color="tab:red", linestyle="--", linewidth=0.8, label=f"target {target:g}x"
        )
    speed.set_xscale("log")
    speed.invert_yaxis()
    speed.set_xlabel("tfpersist speed / raw TensorFlow speed (log scale; > 1 is faster)")
    speed.legend(loc="lower right")
    for y, v in enumerate(values):
        speed.text(v, y, f" {v:.2f}x", va="center", fontsize=8)
    width = 0.27
    for i, (who, color) in enumerate(
        [("tensorflow", "tab:orange"), ("tfpersist", "tab:blue"), ("numpy", "tab:gray")]
    ):
        memory.barh(
            [y + (i - 1) * width for y in range(len(peaks))],
            [row["peak_above"][who] for row in peaks],
            height=width,
            color=color,
            label={"tensorflow": "raw TensorFlow", "numpy": "NumPy fromfile"}.get(who, who),
        )
    memory.set_yticks(range(len(peaks)), [row["operation"] for row in peaks])
    memory.axvline(
        MEMORY_TARGET, color="tab:red", linestyle="--", linewidth=0.8, label="target 1.5x"
    )
    memory.invert_yaxis()
    memory.set_xlabel("restore peak RSS above the RSS before, in sizes of the 1 GiB checkpoint")
    memory.legend(loc="lower right", fontsize=8)
    fig.suptitle(
        f"tfpersist vs TensorFlow {results['machine']['tensorflow']}, {results['date']}, "
        f"median of {results['runs']} runs"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def write(path: Path, result: dict) -> None:
    """Write one scenario's figures; the docs build their tables from them."""
    partial = path.with_name(path.name + ".partial")  # the last run stays whole until this one is
    partial.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    partial.replace(path)
    print(f"wrote {path.relative_to(ROOT)}; `tox -e docs` shows it as tables")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--only",
        choices=["async", "audit", "keras", "scanners", "rename", "persist"],
        help="run one scenario alone (persist: the restores and saves of results.json)",
    )
    parser.add_argument(
        "--rename-mib",
        type=int,
        default=4096,
        help="size of the checkpoint the rename scenario writes, in MiB; default 4096",
    )
    parser.add_argument(
        "--realworld", default="", help="add the SavedModels of this folder to the scanners"
    )
    args = parser.parse_args()
    started = time.perf_counter()
    OUT.mkdir(parents=True, exist_ok=True)
    day, here = date.today().isoformat(), machine()
    if args.only in (None, "audit"):
        with tempfile.TemporaryDirectory(prefix="tfpersist-bench-", dir=scratch()) as tmp:
            result = audit_speed(Path(tmp), args.runs)
        result.update(date=day, machine=here, rounds=args.runs)
        write(OUT / "audit.json", result)
    if args.only in (None, "keras"):
        with tempfile.TemporaryDirectory(prefix="tfpersist-bench-", dir=scratch()) as tmp:
            result = keras_files(Path(tmp), args.runs)
        result.update(date=day, machine=here, rounds=args.runs)
        write(OUT / "keras.json", result)
    if args.only in (None, "scanners"):
        with tempfile.TemporaryDirectory(prefix="tfpersist-bench-") as tmp:
            result = scanners(Path(tmp), args.realworld)
        for entry in result["files"]:
            entry["path"] = os.path.basename(entry["path"])
        result.update(date=day, machine=here)
        write(OUT / "scanners.json", result)
    if args.only in (None, "async"):
        with tempfile.TemporaryDirectory(prefix="tfpersist-bench-") as tmp:  # a disk, not tmpfs
            result = train_steps(Path(tmp), args.runs)
        where = tempfile.gettempdir()
        result.update(
            date=day, machine=here, rounds=args.runs, files=f"{filesystem(where)} ({where})"
        )
        write(OUT / "async.json", result)
    if args.only in (None, "rename"):
        with tempfile.TemporaryDirectory(prefix="tfpersist-bench-") as tmp:  # a disk, not tmpfs
            result = rename(Path(tmp), args.rename_mib, args.runs)
        where = tempfile.gettempdir()
        result.update(
            date=day, machine=here, rounds=args.runs, files=f"{filesystem(where)} ({where})"
        )
        write(OUT / "rename.json", result)
    if args.only not in (None, "persist"):
        return
    with tempfile.TemporaryDirectory(prefix="tfpersist-bench-", dir=scratch()) as tmp:
        work = Path(tmp)
        scenarios = [
            persist(work, "gib", 64, 1 << 22, args.runs),
            persist(work, "many", 10_000, 8, args.runs),
        ]
        if args.only is None:
            scenarios += [freeze(work, args.runs), inspect_and_read(work, args.runs)]
    for scenario in scenarios:
        for row in scenario["rows"]:
            row.setdefault("targets", {"speed_vs_tensorflow": SPEED_TARGET})
            row["ratios"] = ratios(row)
    results = {
        "date": day,
        "runs": args.runs,
        "machine": here,
        "scenarios": scenarios,
        "seconds": round(time.perf_counter() - started, 1),
    }
    write(OUT / "results.json", results)
    chart(results, OUT / "results.png")


if __name__ == "__main__":
    main()
