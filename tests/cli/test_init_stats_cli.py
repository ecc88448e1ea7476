"""`babysit init-stats` through a real subprocess."""

import subprocess
import sys


def babysit(*args):
    return subprocess.run([sys.executable, "-m", "babysit", *args], capture_output=True, text=True, timeout=120)


def test_prints_the_lecture_lines(tmp_path):
    r = babysit("init-stats", "--layers", "4", "--width", "100", "--samples", "200", "--activation", "tanh",
                "--init", "xavier", "--plot", str(tmp_path / "p.png"))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("input layer had mean ")
    assert [line.split(" had ")[0] for line in lines[1:5]] == [f"hidden layer {i}" for i in range(1, 5)]
    assert (tmp_path / "p.png").stat().st_size > 1000


def test_bad_option_is_one_line_exit_2():
    r = babysit("init-stats", "--init", "xavier", "--weight-scale", "0.1")
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert "--weight-scale" in r.stderr


def test_unknown_choice_is_one_line_exit_2():
    r = babysit("init-stats", "--activation", "swish")
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "swish" in r.stderr


def test_missing_plot_directory_is_reported(tmp_path):
    r = babysit("init-stats", "--layers", "2", "--width", "10", "--plot", str(tmp_path / "nope" / "p.png"))
    assert r.returncode == 2 and "does not exist" in r.stderr
