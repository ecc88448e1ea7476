"""babysit.__version__: one number (pyproject.toml), read from the package metadata."""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

import babysit
from babysit import _version


def test_version_is_the_installed_package_metadata():
    assert babysit.__version__ == _version.__version__ == metadata.version("babysit")


def test_a_source_tree_that_is_not_installed_reads_its_pyproject_else_says_unknown(monkeypatch, tmp_path):
    def not_installed(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", not_installed)
    pyproject = tomllib.loads((Path(_version.__file__).parent.parent / "pyproject.toml").read_text())
    assert _version._read_version() == pyproject["project"]["version"]
    monkeypatch.setattr(_version, "__file__", str(tmp_path / "babysit" / "_version.py"))  # no pyproject there
    assert _version._read_version() == _version.UNKNOWN == "0+unknown"
