"""The package as users install it: lazy TensorFlow, metadata, typing marker."""

from __future__ import annotations

import importlib.metadata
import os
import pathlib
import subprocess
import sys

import tfpersist


def imported_modules(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys; print(' '.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    )
    return set(out.stdout.split())


def test_import_tfpersist_does_not_import_tensorflow():
    modules = imported_modules("import tfpersist, tfpersist.errors, tfpersist.checkpoint_state")
    assert "tfpersist.checkpoint_state" in modules
    assert "tensorflow" not in modules


def test_article_modules_load_tensorflow_on_demand():
    assert "tensorflow" in imported_modules("import tfpersist; tfpersist.saving")


def test_version_matches_the_distribution():
    assert importlib.metadata.version("tfpersist") == tfpersist.__version__


def test_ships_py_typed():
    assert (pathlib.Path(tfpersist.__file__).parent / "py.typed").is_file()


def test_every_submodule_is_listed():
    package = pathlib.Path(tfpersist.__file__).parent
    public = {p.stem for p in package.glob("*.py") if not p.stem.startswith("_")}
    assert public == set(tfpersist._SUBMODULES)


def test_tox_tests_the_installed_wheel_not_the_checkout():
    if os.environ.get("TFPERSIST_TEST_INSTALLED") == "1":  # set by tox.ini
        assert "site-packages" in pathlib.Path(tfpersist.__file__).parts
