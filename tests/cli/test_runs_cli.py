"""`babysit runs` on a store whose writer was killed: the run it left shows `interrupted`, with what to do."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap

from babysit.store import RunStore

# A writer that finishes one trial, starts a second and then hangs until it is killed.
WRITER = textwrap.dedent(
    """
    import sys, time
    from babysit.store import RunStore
    store = RunStore(sys.argv[1])
    sid = store.create_or_open_search("sweep", {"trials": 2})
    store.finish_run(store.start_run(sid, 1, 0, {"lr": 1e-3}), "finished", {"val_acc": 0.5})
    store.start_run(sid, 1, 1, {"lr": 1e-2})
    store.start_run(None, None, None, {"lr": 1e-2})  # a plain train run
    print("running", flush=True)
    time.sleep(600)
    """
)


def babysit(*args, cwd):
    return subprocess.run([sys.executable, "-m", "babysit", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=120)


def test_runs_left_by_a_killed_writer_show_interrupted_and_how_to_resume(tmp_path):
    path = tmp_path / "runs.sqlite"
    child = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "running"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    RunStore(path).close()  # the next writer (a resumed search) marks what the dead one left running

    listed = babysit("runs", "--store", "runs.sqlite", "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert [r["status"] for r in json.loads(listed.stdout)] == ["finished", "interrupted", "interrupted"]

    table = babysit("runs", "--store", "runs.sqlite", cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    assert table.stdout.count("interrupted") >= 2 and "(interrupted)" not in table.stdout
    note = table.stdout.strip().splitlines()[-1]
    assert note.startswith("2 run(s) interrupted: the process writing the store was stopped")
    assert "same `babysit search` command again (same --store and --name) resumes search 'sweep'" in note
