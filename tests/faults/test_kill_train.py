"""kill -9 of `babysit train` mid-training, then the same command again: the same checkpoint as an
uninterrupted run with the same seed (weights equal), a loadable pair at every moment, the killed run
'interrupted' in the store beside the finished one, `PRAGMA integrity_check` ok. Training with other
settings into that folder is refused (exit 2, one line naming --fresh)."""

from __future__ import annotations

import numpy as np

from babysit.store import RunStore
from babysit.train import load_checkpoint

from tests.cli.helpers import assert_one_line_error, babysit

from .kills import Child, integrity

TRAIN = ("train", "--data", "digits", "--model", "fc:64", "--epochs", "12", "--seed", "2", "--lr", "0.05",
         "--quiet", "--out", "model", "--store", "runs.sqlite")


def _weights(folder):
    model, meta = load_checkpoint(folder / "model.safetensors")
    return {k: v.copy() for k, v in model.params.items()}, meta


def test_a_killed_train_rerun_gives_the_uninterrupted_checkpoint(tmp_path):
    ref = tmp_path / "ref"
    ref.mkdir()
    done = babysit(*TRAIN, cwd=ref)
    assert done.returncode == 0, done.stderr
    expected, expected_meta = _weights(ref / "model")

    cwd = tmp_path / "killed"
    cwd.mkdir()
    child = Child(*TRAIN, cwd=cwd)
    assert child.wait_until(lambda: (cwd / "model" / "model.safetensors").exists(), poll=0.005)
    assert child.kill9(), "the training ended before it was killed"
    _weights(cwd / "model")  # whatever the moment, the pair in place loads
    again = babysit(*TRAIN, cwd=cwd)
    assert again.returncode == 0 and "Traceback" not in again.stderr, again.stderr
    got, meta = _weights(cwd / "model")
    assert got.keys() == expected.keys() and all(np.array_equal(got[k], expected[k]) for k in got)
    assert meta["metrics"]["best_val_acc"] == expected_meta["metrics"]["best_val_acc"]
    with RunStore(cwd / "runs.sqlite", readonly=True) as store:
        assert [r["status"] for r in store.runs()] == ["interrupted", "finished"]
    assert integrity(cwd / "runs.sqlite") == "ok"

    other = [a if a != "0.05" else "0.01" for a in TRAIN]
    assert_one_line_error(babysit(*other, cwd=cwd), "model holds the checkpoint of another training (lr 0.05 there)",
                          "give --fresh to replace it")
    assert all(np.array_equal(_weights(cwd / "model")[0][k], expected[k]) for k in expected)  # left alone
