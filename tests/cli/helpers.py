"""What every CLI test shares: running ``python -m babysit ...`` as a real subprocess, and the check
that a user's mistake is reported the way the CLI promises (exit 2, one line on stderr, no traceback)."""

from __future__ import annotations

import os
import subprocess
import sys


def babysit(*args, cwd=None, timeout: float = 300, encoding: str | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m babysit ARGS`` in ``cwd`` and capture its output as text.

    ``encoding`` sets the child's PYTHONIOENCODING (the doctor's marks depend on it); None keeps the
    inherited environment. Output is decoded as UTF-8 so that a stray byte is shown, not raised.
    """
    env = None if encoding is None else {**os.environ, "PYTHONIOENCODING": encoding}
    return subprocess.run([sys.executable, "-m", "babysit", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, encoding="utf-8", errors="replace", timeout=timeout, env=env)


def assert_one_line_error(proc: subprocess.CompletedProcess, *fragments: str) -> str:
    """Assert the CLI's error contract: exit 2, no traceback, exactly one line on stderr holding every
    fragment. Returns that line."""
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]
