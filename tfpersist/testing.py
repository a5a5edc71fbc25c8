"""A test harness: a cluster of worker processes on this machine.

:func:`run_workers` runs a multi-worker training script as it would run on
a cluster, with every worker a process on the loopback interface, so the
multi-worker pattern of :mod:`tfpersist.distributed` can be tried and tested
on one machine. It is not meant for training: real clusters start their
workers themselves and set ``TF_CONFIG``. The ports come from
``portpicker`` (``pip install 'tfpersist[test]'``), as in TensorFlow's own
tests.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from tfpersist.errors import WorkerError

try:
    import portpicker
except ImportError as e:  # pragma: no cover - the test extra brings it
    raise ImportError("tfpersist.testing needs portpicker: pip install 'tfpersist[test]'") from e

__all__ = ["WorkerResult", "run_workers"]


def _free_ports(count: int) -> list[int]:
    """*count* distinct ports no one is listening on, from portpicker."""
    ports: list[int] = []
    while len(ports) < count:
        port = portpicker.pick_unused_port()
        if port not in ports:
            ports.append(port)
    return ports


@dataclass(frozen=True)
class WorkerResult:
    """One worker of :func:`run_workers`: its task index, exit code (``None`` if stopped) and output.

    >>> WorkerResult(0, 0, "done\\n", "").stdout
    'done\\n'
    """

    index: int
    returncode: int | None
    stdout: str
    stderr: str


@contextlib.contextmanager
def _killed_on_exit(processes: list[subprocess.Popen]) -> Iterator[None]:
    try:
        yield
    finally:
        for p in processes:  # each worker leads its own process group: its children too
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def run_workers(
    script: str | os.PathLike[str],
    count: int,
    *,
    args: Sequence[str] = (),
    timeout: float = 120.0,
    env: Mapping[str, str] | None = None,
) -> list[WorkerResult]:
    """Run *script* as a cluster of *count* worker processes on this machine.

    Each process gets a ``TF_CONFIG`` naming every worker at
    ``127.0.0.1:PORT`` (free ports, loopback only) and its own index, so
    ``tf.distribute.MultiWorkerMirroredStrategy()`` in the script finds the
    cluster. The results are in task order. A worker that exits with an
    error, or a cluster still running after *timeout* seconds, raises
    :class:`~tfpersist.errors.WorkerError` with the worker's last words;
    no worker process outlives the call. A port taken by another program
    between choosing it and binding it is retried with new ports.

    >>> from pathlib import Path
    >>> _ = Path("hello.py").write_text("import json, os; print(json.loads(os.environ['TF_CONFIG'])['task'])")
    >>> [w.stdout.strip() for w in run_workers("hello.py", 2)]
    ["{'type': 'worker', 'index': 0}", "{'type': 'worker', 'index': 1}"]
    """
    if count < 1:
        raise WorkerError(f"count={count}: a cluster needs at least one worker; pass 1 or more")
    name = os.fspath(script)
    deadline = time.monotonic() + timeout
    for _ in range(3):
        results = _run_cluster([sys.executable, name, *args], count, deadline, env or {})
        if not any(_PORT_TAKEN in r.stderr for r in results):
            break
    for result in results:
        if result.returncode not in (None, 0):
            last = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
            raise WorkerError(
                f"worker {result.index} of {count} running {name!r} exited with code "
                f"{result.returncode}: {last}; the other workers were stopped"
            )
    running = [r.index for r in results if r.returncode is None]
    if running:
        raise WorkerError(
            f"worker {running[0]} of {count} running {name!r} was still running after "
            f"{timeout:g} s and was stopped with the others; a worker that never reaches a "
            "collective step (a save, a training step) leaves the others waiting"
        )
    return results


_PORT_TAKEN = "Could not start gRPC server"


def _run_cluster(
    command: list[str], count: int, deadline: float, env: Mapping[str, str]
) -> list[WorkerResult]:
    """Start *count* workers, wait until all succeed, one fails or *deadline*; stop the rest."""
    workers = [f"127.0.0.1:{port}" for port in _free_ports(count)]
    processes: list[subprocess.Popen] = []
    with tempfile.TemporaryDirectory(prefix="tfpersist-workers-") as logs:
        with _killed_on_exit(processes):
            for index in range(count):
                config = {
                    "cluster": {"worker": workers},
                    "task": {"type": "worker", "index": index},
                }
                with (
                    open(f"{logs}/{index}.out", "wb") as out,
                    open(f"{logs}/{index}.err", "wb") as err,
                ):
                    processes.append(
                        subprocess.Popen(
                            command,
                            env={**os.environ, **env, "TF_CONFIG": json.dumps(config)},
                            stdout=out,
                            stderr=err,
                            start_new_session=True,
                        )
                    )
            codes = [p.poll() for p in processes]
            while None in codes and not any(codes) and time.monotonic() < deadline:
                time.sleep(0.05)
                codes = [p.poll() for p in processes]

        def read(path: str) -> str:
            with open(path, encoding="utf-8", errors="replace") as f:
                return f.read()

        return [
            WorkerResult(i, code, read(f"{logs}/{i}.out"), read(f"{logs}/{i}.err"))
            for i, code in enumerate(codes)
        ]
