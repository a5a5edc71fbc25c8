"""Every doctest and test runs in a fresh, empty working directory."""

import pytest


@pytest.fixture(autouse=True)
def _in_empty_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
