"""tfpersist's benchmarks: ``tox -e bench`` runs this file.

Each scenario runs its contenders in fresh processes, alternating A and B,
and reports the median of the runs as a ratio measured in the same run. The
results go to ``docs/benchmarks/results.json`` and, as a plain table the docs
include, ``docs/benchmarks/results.txt``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "docs" / "benchmarks"
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="-1")

MANY_VARIABLES = """
import sys, tensorflow as tf
variables = [tf.Variable(tf.random.uniform([8]), name=f"v{i}") for i in range(10_000)]
tf.train.Checkpoint(variables=variables).write(sys.argv[1])
"""
ONE_GIB = """
import sys, tensorflow as tf
init = tf.keras.initializers.RandomUniform(seed=1)
variables = [tf.Variable(init([4096, 1024])) for _ in range(64)]  # 64 x 16 MiB float32
tf.train.Checkpoint(variables=variables).write(sys.argv[1])
"""
READ_ALL = """
import json, resource, sys, time
import numpy as np
t = time.perf_counter()
{open}
total = 0
for name in reader.get_variable_to_shape_map():
    value = reader.get_tensor(name)
    total += np.asarray(value).nbytes
seconds = time.perf_counter() - t
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"seconds": seconds, "bytes": total, "maxrss_kib": rss}}))
"""
TFPERSIST_READ = READ_ALL.format(
    open="from tfpersist import bundle\nreader = bundle.load_checkpoint(sys.argv[1])"
)
TENSORFLOW_READ = READ_ALL.format(
    open="import tensorflow as tf\nreader = tf.train.load_checkpoint(sys.argv[1])"
)


def python(*args: str, capture: bool = False) -> tuple[float, str]:
    """Run ``python *args`` in a fresh process; return its wall time and stdout."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, *args],
        env=ENV,
        check=True,
        stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    return time.perf_counter() - start, done.stdout if capture else ""


def alternate(a, b, runs: int) -> tuple[list[float], list[float]]:
    """Call *a* and *b* in turn, *runs* times each; return their figures."""
    figures_a, figures_b = [], []
    for _ in range(runs):
        figures_a.append(a())
        figures_b.append(b())
    return figures_a, figures_b


def inspect_many(work: Path, runs: int) -> dict:
    prefix = str(work / "many" / "ckpt")
    python("-c", MANY_VARIABLES, prefix)
    ours, theirs = alternate(
        lambda: python("-m", "tfpersist", "inspect", prefix)[0],
        lambda: python("-m", "tensorflow.python.tools.inspect_checkpoint", f"--file_name={prefix}")[
            0
        ],
        runs,
    )
    return scenario(
        "inspect a checkpoint of 10,000 variables (whole process, seconds)",
        "tfpersist inspect",
        "python -m tensorflow.python.tools.inspect_checkpoint",
        ours,
        theirs,
        ratio=statistics.median(theirs) / statistics.median(ours),
        meaning="times faster",
        target=20.0,
    )


def read_gib(work: Path, runs: int) -> dict:
    prefix = str(work / "gib" / "ckpt")
    python("-c", ONE_GIB, prefix)
    for path in (work / "gib").iterdir():  # start both from the page cache
        path.read_bytes()

    def rate(code: str) -> float:
        report = json.loads(python("-c", code, prefix, capture=True)[1].splitlines()[-1])
        return report["bytes"] / report["seconds"] / 2**30

    ours, theirs = alternate(lambda: rate(TFPERSIST_READ), lambda: rate(TENSORFLOW_READ), runs)
    return scenario(
        "read every tensor of a 1 GiB checkpoint (GiB/s)",
        "tfpersist.bundle.load_checkpoint",
        "tf.train.load_checkpoint",
        ours,
        theirs,
        ratio=statistics.median(ours) / statistics.median(theirs),
        meaning="times the throughput",
        target=0.9,
    )


def scenario(name, a, b, ours, theirs, ratio, meaning, target) -> dict:
    result = {
        "scenario": name,
        "a": a,
        "b": b,
        "runs_a": [round(x, 4) for x in ours],
        "runs_b": [round(x, 4) for x in theirs],
        "median_a": round(statistics.median(ours), 4),
        "median_b": round(statistics.median(theirs), 4),
        "ratio": round(ratio, 2),
        "ratio_means": meaning,
        "target": target,
        "met": ratio >= target,
    }
    print(f"{name}: {a} {result['median_a']}, {b} {result['median_b']}: {ratio:.2f} {meaning}")
    return result


def machine() -> dict:
    import tensorflow as tf  # only for its version; each figure comes from a fresh process

    lines = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((ln.split(":", 1)[1].strip() for ln in lines if "model name" in ln), "unknown")
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(memory, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
    }


def table(results: dict) -> str:
    """The results as plain text for the docs, one block per scenario."""
    lines = []
    for r in results["scenarios"]:
        met = "yes 达到" if r["met"] else "no 未达到"
        width = max(len(r["a"]), len(r["b"]))
        lines += [
            r["scenario"],
            f"  {r['a'].ljust(width)}  {r['median_a']}",
            f"  {r['b'].ljust(width)}  {r['median_b']}",
            f"  ratio 比值 {r['ratio']}x ({r['ratio_means']}), target 目标 >= {r['target']}x: {met}",
            "",
        ]
    m = results["machine"]
    lines += [
        f"{results['date']}, median of {results['runs']} alternated runs per contender",
        f"{m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB RAM",
        f"{m['os']}",
        f"Python {m['python']}, TensorFlow {m['tensorflow']}; reproduce: tox -e bench",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="tfpersist-bench-") as work:
        scenarios = [inspect_many(Path(work), args.runs), read_gib(Path(work), args.runs)]
    results = {
        "date": date.today().isoformat(),
        "runs": args.runs,
        "machine": machine(),
        "scenarios": scenarios,
        "seconds": round(time.perf_counter() - started, 1),
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    (OUT / "results.txt").write_text(table(results), encoding="utf-8")
    print(f"wrote {OUT / 'results.json'} in {results['seconds']} s")


if __name__ == "__main__":
    main()
