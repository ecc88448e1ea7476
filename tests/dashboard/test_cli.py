"""``babysit dashboard`` and ``babysit report`` from the command line: errors in one line, the report file, the host warning."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))
from helpers import assert_one_line_error, babysit  # noqa: E402

from babysit.cli.cmd_dashboard import is_loopback  # noqa: E402


@pytest.fixture(scope="module")
def bad_stores(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    (d / "empty.sqlite").write_bytes(b"")
    conn = sqlite3.connect(d / "other.sqlite")
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    (d / "text.sqlite").write_text("not a database at all, just some text" * 50)
    return d


@pytest.mark.parametrize("command", ["dashboard", "report"])
@pytest.mark.parametrize("name, fragment", [("missing.sqlite", "no run store"), ("empty.sqlite", "not a babysit run store"),
                                            ("other.sqlite", "not a babysit run store"),
                                            ("text.sqlite", "not a babysit run store")])
def test_a_missing_empty_or_foreign_store_is_one_line_and_exit_2(bad_stores, command, name, fragment, tmp_path):
    extra = ["--out", tmp_path / "r.html"] if command == "report" else ["--port", "1"]
    proc = babysit(command, "--store", bad_stores / name, *extra, timeout=120)
    assert_one_line_error(proc, fragment)
    assert not (tmp_path / "r.html").exists()


def test_report_writes_one_self_contained_file(store_info, tmp_path):
    out = tmp_path / "report.html"
    proc = babysit("report", "--store", store_info["path"], "--out", out, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "babysit dashboard --store" in proc.stdout and out.stat().st_size > 1_000_000  # plotly inlined
    assert_one_line_error(babysit("report", "--store", store_info["path"], "--out", tmp_path / "no" / "r.html"),
                          "--out", "does not exist")


def test_a_store_written_before_schema_3_gets_a_report_without_being_upgraded(tmp_path):
    from stores import old_schema_store

    store = tmp_path / "v2.sqlite"
    old_schema_store(store, 2)
    proc = babysit("report", "--store", store, "--out", tmp_path / "r.html", timeout=300)
    assert proc.returncode == 0, proc.stderr
    conn = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    assert conn.execute("SELECT version FROM schema_version").fetchone()[0] == 2  # not upgraded
    conn.close()
    assert "old · stage 1 · trial 1" in (tmp_path / "r.html").read_text()


def test_a_bad_port_is_a_one_line_error(store_info):
    assert_one_line_error(babysit("dashboard", "--store", store_info["path"], "--port", "70000"), "--port")


def test_loopback_detection():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost") and is_loopback("127.0.0.2")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.2") and not is_loopback("example.org")


def test_a_host_other_than_loopback_warns(store_info):
    from conftest import free_port

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "babysit", "dashboard", "--store", str(store_info["path"]),
                             "--host", "0.0.0.0", "--port", str(port)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()
        assert "warning: listening on 0.0.0.0" in line and "can read" in line
        time.sleep(0.2)
        assert proc.poll() is None  # it does serve: the warning is a warning
    finally:
        proc.terminate()
        proc.wait(10)
