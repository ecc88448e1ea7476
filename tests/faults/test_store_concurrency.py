"""Two writers, one store: the second search is refused in one line naming the first's pid and leaves
the store as it was; readers (`babysit runs`, RunStore readonly) work while the writer runs; after the
writer is killed, the store is whole (`PRAGMA integrity_check`)."""

from __future__ import annotations

import pytest

from babysit.errors import StoreError
from babysit.store import RunStore

from tests.cli.helpers import assert_one_line_error, babysit

from .kills import Child, integrity, trials

SEARCH = ("search", "--data", "digits", "--model", "fc:256,256", "--lr", "1e-3:1e0:log", "--reg", "1e-5:1e-1:log",
          "--stages", "1", "--trials", "200", "--epochs", "5", "--seed", "5", "--store", "runs.sqlite")


@pytest.mark.slow
def test_a_second_writer_is_refused_and_readers_work_while_the_writer_runs(tmp_path):
    store = tmp_path / "runs.sqlite"
    writer = Child(*SEARCH, cwd=tmp_path)
    assert writer.wait_until(lambda: len(trials(store)) >= 1), "the search ended too soon"
    second = babysit(*SEARCH, cwd=tmp_path)
    assert_one_line_error(second, f"store {store.name} is being written by another process (pid {writer.proc.pid})",
                          "wait for it to finish or use another --store")
    with pytest.raises(StoreError, match=f"being written by another process \\(pid {writer.proc.pid}\\)"):
        RunStore(store)  # any writer, e.g. a search with another spec
    listed = babysit("runs", "--store", store.name, cwd=tmp_path)
    assert listed.returncode == 0 and "Traceback" not in listed.stderr, listed.stderr
    with RunStore(store, readonly=True) as reader:
        assert reader.searches() and reader.runs()
    assert writer.kill9(), "the search ended before the checks were done; make it longer"
    assert integrity(store) == "ok"
    with RunStore(store, readonly=True) as reader:
        assert [s["name"] for s in reader.searches()] == ["search"]  # the refused ones wrote nothing
