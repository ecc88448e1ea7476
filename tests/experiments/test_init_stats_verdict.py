"""init-stats says in words what its table shows (issue 10), with the lecture's verdicts."""

import pytest

from babysit.experiments.init_stats import init_stats_verdict, run_init_stats

from tests.cli.helpers import babysit


@pytest.mark.parametrize("activation, init, scale, cause, words", [
    ("tanh", "small", 0.01, "init_too_small", "collapse towards zero by layer 3"),
    ("tanh", "small", 1.0, "init_too_large", "saturate by layer 1"),
    ("tanh", "xavier", None, "healthy", "keep their scale"),
    ("relu", "xavier", None, "init_too_small", "use he"),
    ("relu", "he", None, "healthy", "keep their scale"),
    ("tanh", "zeros", None, "init_too_small", "every activation is 0"),
])
def test_the_lectures_inits_get_the_lectures_verdicts(activation, init, scale, cause, words):
    stats = run_init_stats(activation=activation, init=init, weight_scale=scale, samples=300)
    got, text = init_stats_verdict(stats)
    assert got == cause and words in text, text


def test_the_command_prints_the_verdict_after_the_table():
    proc = babysit("init-stats", "--samples", "200")
    assert proc.returncode == 0
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("input layer had mean") and lines[-1].startswith("verdict (init_too_small): ")
