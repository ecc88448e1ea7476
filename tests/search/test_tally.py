"""stage_tallies: how a search's trials ended, per stage, from the store's rows (a rerun trial counts once)."""

from __future__ import annotations

from babysit.search.tally import stage_tallies, stopped_note


def _row(run_id, stage, index, status, started, finished, search="s", **extra):
    return {"id": run_id, "search_id": 1, "search": search, "stage": stage, "trial_index": index, "status": status,
            "started": started, "finished": finished, "extra": extra}


def test_each_stage_counts_its_trials_by_how_they_ended_and_a_rerun_trial_once():
    runs = [
        _row(1, 1, 0, "finished", 100.0, 104.0, rung=1, train_examples=500),
        _row(2, 1, 1, "stopped", 100.5, 101.0, rung=1, rung_epochs=1, train_examples=500),
        _row(3, 1, 2, "interrupted", 101.0, None, train_examples=500),  # killed, then run again (row 5)
        _row(4, 1, 3, "exploded", 101.5, 102.0, train_examples=500),
        _row(5, 1, 2, "stopped", 110.0, 111.0, rung=1, rung_epochs=1, train_examples=500),
        _row(6, 2, 0, "finished", 112.0, 120.0, train_examples=4000),
        {"id": 7, "search_id": None, "search": None, "stage": None, "trial_index": None, "status": "finished",
         "started": 121.0, "finished": 130.0, "extra": {}},  # the final training: no stage
    ]
    first, second = stage_tallies(runs)
    assert (first.stage, first.launched, first.statuses) == (1, 4, {"finished": 1, "stopped": 2, "exploded": 1})
    assert first.stopped_text() == "2 at rung 1 (epoch 1)" and first.train_examples == 500
    assert first.seconds == 111.0 - 100.0
    assert (second.stage, second.launched, second.stopped_text(), second.seconds) == (2, 1, "0", 8.0)
    assert stopped_note(runs) == ("2 trial(s) stopped early at a rung of their stage: 2 in stage 1 of 's' at rung 1 "
                                  "(epoch 1). Their rows show the rung's result.")
    assert stage_tallies([]) == [] and stopped_note(runs[-1:]) is None
