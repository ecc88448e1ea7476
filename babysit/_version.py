"""babysit's version, read once from the installed package's metadata (pyproject.toml holds the number).

A bottom module: ``babysit.__version__`` re-exports it, and lower layers (checkpoints) import
it from here rather than from the package root.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

UNKNOWN = "0+unknown"


def _read_version() -> str:
    try:
        return metadata.version("babysit")
    except metadata.PackageNotFoundError:
        pass
    # Not installed (a source tree on sys.path): the pyproject.toml beside the package, if any.
    try:
        import tomllib

        project = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text("utf-8"))
        if project["project"]["name"] == "babysit":
            return str(project["project"]["version"])
    except (OSError, KeyError, TypeError, ValueError):
        pass
    return UNKNOWN


__version__ = _read_version()
