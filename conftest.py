"""Every doctest and test runs in a fresh, empty working directory.

A doctest that calls ``split_cpu(2)``, or a test that uses the ``two_cpus``
fixture, gets two logical CPU devices. TensorFlow fixes its devices when its
runtime starts, at the first op of whichever test runs first, so the split is
made once, after collection and before the first test, and only when a
selected test asks for it; otherwise TensorFlow keeps its default devices.
"""

import pytest


@pytest.fixture(autouse=True)
def _in_empty_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def _needs_two_cpus(item: pytest.Item) -> bool:
    if isinstance(item, pytest.DoctestItem):
        return any("split_cpu(2)" in example.source for example in item.dtest.examples)
    return "two_cpus" in getattr(item, "fixturenames", ())


def _split_cpu(count: int) -> list[str]:
    from tfpersist.distributed import split_cpu

    return split_cpu(count)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Split the CPU before the first test runs, when a selected test needs two devices."""
    if any(_needs_two_cpus(item) for item in session.items):
        _split_cpu(2)


@pytest.fixture(scope="session")
def two_cpus() -> list[str]:
    """Two logical CPU devices, ``/device:CPU:0`` and ``/device:CPU:1``."""
    return _split_cpu(2)
