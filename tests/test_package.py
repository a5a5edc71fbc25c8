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
    assert public == {*tfpersist._SUBMODULES, *tfpersist._HARNESS}
    assert "testing" not in tfpersist.__all__  # it needs the test extra


def test_the_package_tested_is_the_one_asked_for():
    """tox (which sets TFPERSIST_TEST_INSTALLED) tests the installed wheel; otherwise the checkout."""
    package = pathlib.Path(tfpersist.__file__).resolve().parent
    checkout = pathlib.Path(__file__).resolve().parents[1]
    if os.environ.get("TFPERSIST_TEST_INSTALLED") == "1":
        assert "site-packages" in package.parts and not package.is_relative_to(
            checkout / "tfpersist"
        )
    else:
        assert package == checkout / "tfpersist"
    # The metadata read is that of the package imported, not of another copy.
    located = importlib.metadata.distribution("tfpersist").locate_file("tfpersist/__init__.py")
    assert pathlib.Path(located).resolve().parent == package
