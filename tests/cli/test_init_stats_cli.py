"""`babysit init-stats` through a real subprocess."""

from .helpers import assert_one_line_error, babysit


def test_prints_the_lecture_lines(tmp_path):
    r = babysit("init-stats", "--layers", "4", "--width", "100", "--samples", "200", "--activation", "tanh",
                "--init", "xavier", "--plot", tmp_path / "p.png", timeout=120)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("input layer had mean ")
    assert [line.split(" had ")[0] for line in lines[1:5]] == [f"hidden layer {i}" for i in range(1, 5)]
    assert (tmp_path / "p.png").stat().st_size > 1000


def test_bad_option_is_one_line_exit_2():
    assert_one_line_error(babysit("init-stats", "--init", "xavier", "--weight-scale", "0.1", timeout=120),
                          "--weight-scale")


def test_unknown_choice_is_one_line_exit_2():
    assert_one_line_error(babysit("init-stats", "--activation", "swish", timeout=120), "swish")


def test_missing_plot_directory_is_reported(tmp_path):
    r = babysit("init-stats", "--layers", "2", "--width", "10", "--plot", tmp_path / "nope" / "p.png", timeout=120)
    assert_one_line_error(r, "does not exist")


def test_plot_into_a_folder_or_without_a_suffix_reports_the_file_it_wrote(tmp_path):
    (tmp_path / "plots").mkdir()
    for given, written in (("plots", "plots/init_stats.png"), ("stats", "stats.png"), ("s.svg", "s.svg")):
        r = babysit("init-stats", "--layers", "2", "--width", "10", "--samples", "20", "--plot", given,
                    cwd=tmp_path, timeout=120)
        assert r.returncode == 0, r.stderr
        assert r.stdout.splitlines()[-1] == f"saved plot to {written}"
        assert (tmp_path / written).is_file() and (tmp_path / written).stat().st_size > 1000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plots", "s.svg", "stats.png"]  # nothing else, no temp files


def test_a_plot_name_of_no_image_format_is_refused_before_the_experiment(tmp_path):
    r = babysit("init-stats", "--plot", tmp_path / "p.txt", timeout=120)
    assert_one_line_error(r, "--plot must be a folder or an image file name ending in", ".png")
    assert r.stdout == ""
