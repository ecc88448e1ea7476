"""Every verb x malformed options, table-driven: exit 2, one line on stderr naming the option, no traceback;
and ``--help`` of every verb. In-process (``babysit.cli.main.main``) to stay fast; a few rows also as real
subprocesses (``test_a_few_rows_as_real_processes``)."""

from __future__ import annotations

import contextlib
import io

import pytest

from babysit.cli.main import COMMANDS, main

from .helpers import assert_one_line_error, babysit

NUMBER_WORDS = ("abc", "nan", "inf", "-inf", "1e999")

# verb -> (flag, bad values, fragment the message must hold). A value starting with '-' is given as --flag=VALUE.
NUMERIC = {
    "train": [("--lr", NUMBER_WORDS + ("-1", "0"), "--lr"), ("--reg", NUMBER_WORDS + ("-1",), "--reg"),
              ("--epochs", ("abc", "1.5", "-1", "0", "nan"), "--epochs"),
              ("--batch-size", ("abc", "0", "-5", "2.5"), "--batch-size"),
              ("--dropout", ("abc", "nan", "1", "1.5", "-0.1"), "--dropout"),
              ("--weight-scale", ("abc", "nan", "inf", "-1", "0"), "--weight-scale"),
              ("--lr-decay", ("abc", "nan", "0", "-1"), "--lr-decay"),
              ("--seed", ("abc", "-1", "1.5"), "--seed"), ("--monitor-every", ("abc", "-1"), "--monitor-every")],
    "search": [("--stages", ("abc", "0", "-1"), "--stages"), ("--trials", ("abc", "0", "1.5"), "--trials"),
               ("--epochs", ("abc", "0"), "--epochs"), ("--workers", ("abc", "0", "-2"), "--workers"),
               ("--seed", ("abc", "-1"), "--seed"), ("--top", ("abc", "-1"), "--top"),
               ("--lr", ("abc", "1e-3:abc:log", "1e-3:1e-6:log", "nan:1:log", "0:1:log", "1:2:cubic"), "--lr"),
               ("--reg", ("x", "-1:1:log", "1e-3:inf:log"), "--reg")],
    "run": [("--budget-minutes", NUMBER_WORDS + ("0", "-1"), "--budget-minutes"),
            ("--seed", ("abc", "-1"), "--seed"), ("--workers", ("abc", "0"), "--workers")],
    "doctor": [("--lr", NUMBER_WORDS + ("0", "-1"), "--lr"), ("--reg", NUMBER_WORDS + ("-1",), "--reg"),
               ("--batch-size", ("abc", "0"), "--batch-size"), ("--seed", ("abc", "-1"), "--seed"),
               ("--dropout", ("abc", "1.5"), "--dropout")],
    "init-stats": [("--layers", ("abc", "0", "-1"), "--layers"), ("--width", ("abc", "0"), "--width"),
                   ("--samples", ("abc", "0"), "--samples"), ("--weight-scale", ("abc", "nan", "-1"), "--weight-scale"),
                   ("--seed", ("abc", "-1"), "--seed")],
    "eval": [],
    "runs": [],
    "dashboard": [("--port", ("abc", "-1", "70000", "1.5"), "--port")],
    "finetune": [("--lr", NUMBER_WORDS + ("0", "-1"), "--lr"), ("--lr-mult", ("abc", "nan", "-1"), "--lr-mult"),
                 ("--epochs", ("abc", "0", "-1"), "--epochs"), ("--freeze-epochs", ("abc", "-1"), "--freeze-epochs")],
    "features": [("--batch-size", ("abc", "0", "-1"), "--batch-size")],
}

# verb -> (flag, bad choice)
CHOICES = {
    "train": [("--update", "adamw2"), ("--activation", "swish3"), ("--init", "orthogonal9"),
              ("--normalization", "groupnorm"), ("--preprocess", "whiten-all"), ("--schedule", "zigzag"),
              ("--model", "mlp:3"), ("--model", "fc:"), ("--model", "fc:0"), ("--data", "npz")],
    "search": [("--sampler", "bayes"), ("--update", "adamw2"), ("--model", "fc:-3"), ("--data", "npz"),
               ("--param", "lrr=1e-3:1e-1:log")],
    "run": [("--model", "cnn:3"), ("--data", "npz"), ("--preprocess", "whiten-all")],
    "doctor": [("--checks", "nonsense"), ("--update", "adamw2"), ("--model", "fc:"), ("--data", "npz")],
    "init-stats": [("--activation", "swish3"), ("--init", "orthogonal9")],
    "eval": [("--split", "holdout")],
    "finetune": [("--strategy", "middle"), ("--strategy", "top:0"), ("--update", "adamw2")],
    "features": [("--split", "holdout")],
    "runs": [],
}

# verb -> the options every row gives it so that only the malformed one is wrong
BASE = {"train": ["--epochs", "1"], "search": ["--store", "s.sqlite"], "run": [], "doctor": [], "init-stats": [],
        "eval": ["--checkpoint", "CKPT", "--data", "digits"], "runs": ["--store", "STORE"],
        "dashboard": ["--store", "s.sqlite"], "report": ["--store", "s.sqlite", "--out", "r.html"],
        "zoo": ["list"], "finetune": ["--from", "cifar10-convnet", "--data", "digits", "--out", "ft"],
        "features": ["--checkpoint", "cifar10-convnet", "--data", "digits", "--out", "f.npz"]}
VALUE_OPTIONS = {  # every option taking a value, for the "missing value" rows
    "train": ["--data", "--model", "--lr", "--reg", "--epochs", "--batch-size", "--out", "--store", "--seed"],
    "search": ["--data", "--model", "--lr", "--trials", "--store", "--name", "--cluster"],
    "run": ["--data", "--model", "--budget-minutes", "--out", "--seed"],
    "doctor": ["--data", "--model", "--lr", "--checks"],
    "init-stats": ["--layers", "--width", "--plot"],
    "eval": ["--checkpoint", "--data", "--split"],
    "runs": ["--store", "--search"],
    "dashboard": ["--store", "--host", "--port"],
    "report": ["--store", "--out"],
    "finetune": ["--from", "--data", "--strategy", "--lr", "--epochs", "--out"],
    "features": ["--checkpoint", "--data", "--out"],
}


def run_in_process(argv: list[str]) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of ``babysit ARGV`` run in this process."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse's usage errors and --help
            code = exc.code if isinstance(exc.code, int) else 2
    return code, out.getvalue(), err.getvalue()


def _assert_one_line(argv, fragment, cwd):
    code, out, err = run_in_process(argv)
    assert code == 2, (argv, out[-500:], err)
    assert "Traceback" not in err, (argv, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, (argv, err)
    assert lines[0].startswith(f"babysit {argv[0]}: "), (argv, lines[0])
    assert fragment in lines[0], (argv, fragment, lines[0])
    return lines[0]


def _value(flag, value) -> list[str]:
    return [f"{flag}={value}"] if value.startswith("-") else [flag, value]


def _rows():
    for verb, rows in NUMERIC.items():
        for flag, values, fragment in rows:
            for value in values:
                yield pytest.param(verb, _value(flag, value), fragment, id=f"{verb} {flag} {value}")
    for verb, rows in CHOICES.items():
        for flag, value in rows:
            # a data source's message names the source given (and the forms it may take), not the flag
            yield pytest.param(verb, _value(flag, value), f"'{value}'" if flag == "--data" else flag,
                               id=f"{verb} {flag} {value}")
    for verb, flags in VALUE_OPTIONS.items():
        for flag in flags:
            yield pytest.param(verb, [flag], flag, id=f"{verb} {flag} (no value)")
    for verb in COMMANDS:
        yield pytest.param(verb, ["--no-such-option"], "unrecognized arguments: --no-such-option",
                           id=f"{verb} unknown option")


@pytest.fixture
def paths(tmp_path, monkeypatch):
    """A cwd with a file, a folder and a bad store/checkpoint to point options at."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a_file").write_text("not a store, not a checkpoint")
    (tmp_path / "a_dir").mkdir()
    return tmp_path


def _fill(argv, paths):
    return [{"CKPT": str(paths / "a_dir"), "STORE": str(paths / "a_file")}.get(a, a) for a in argv]


@pytest.mark.parametrize("verb, args, fragment", list(_rows()))
def test_malformed_option_is_one_line_exit_2(verb, args, fragment, paths):
    _assert_one_line([verb, *_fill(BASE[verb], paths), *args], fragment, paths)


# verb -> paths that are wrong: missing, a folder where a file is expected, a file where a folder is, a file
# that is not what the option wants, a path under a file (ENOTDIR)
PATH_ROWS = [
    ("train", ["--data", "npz:nothing.npz", "--epochs", "1"], "nothing.npz"),
    ("train", ["--data", "npz:a_dir", "--epochs", "1"], "a_dir"),
    ("train", ["--data", "npz:a_file", "--epochs", "1"], "a_file"),
    ("train", ["--data", "folder:nothing", "--epochs", "1"], "nothing"),
    ("train", ["--data", "cifar10:a_file", "--epochs", "1"], "a_file"),
    ("train", ["--out", "a_file", "--epochs", "1"], "--out"),
    ("train", ["--store", "a_file", "--epochs", "1"], "a_file"),
    ("train", ["--store", "a_dir", "--epochs", "1"], "a_dir"),
    ("train", ["--store", "a_file/x.sqlite", "--epochs", "1"], "a_file/x.sqlite"),
    ("train", ["--plots", "a_file", "--epochs", "1"], "--plots"),
    ("eval", ["--checkpoint", "nothing.safetensors", "--data", "digits"], "nothing.safetensors"),
    ("eval", ["--checkpoint", "a_dir", "--data", "digits"], "a_dir"),
    ("eval", ["--checkpoint", "a_file", "--data", "digits"], "a_file"),
    ("runs", ["--store", "nothing.sqlite"], "nothing.sqlite"),
    ("runs", ["--store", "a_dir"], "a_dir"),
    ("runs", ["--store", "a_file"], "a_file"),
    ("search", ["--store", "a_file", "--trials", "1"], "a_file"),
    ("search", ["--store", "a_dir", "--trials", "1"], "a_dir"),
    ("search", ["--data", "npz:a_dir", "--store", "s.sqlite"], "a_dir"),
    ("run", ["--out", "a_file"], "--out"),
    ("run", ["--data", "folder:a_file"], "a_file"),
    ("doctor", ["--data", "npz:nothing.npz"], "nothing.npz"),
    ("doctor", ["--plots", "a_file"], "--plots"),
    ("init-stats", ["--plot", "a_dir/missing/deeper/x.png"], "--plot"),
]


@pytest.mark.parametrize("verb, args, fragment", PATH_ROWS, ids=[" ".join([r[0], *r[1][:2]]) for r in PATH_ROWS])
def test_a_wrong_path_is_one_line_exit_2(verb, args, fragment, paths):
    _assert_one_line([verb, *args], fragment, paths)


@pytest.mark.parametrize("verb", [*COMMANDS, None])
def test_help_of_every_verb(verb):
    code, out, err = run_in_process([verb, "--help"] if verb else ["--help"])
    assert code == 0 and err == "" and out.startswith("usage: babysit"), (code, err)
    if verb:
        assert f"babysit {verb}" in out.splitlines()[0]


def test_no_verb_and_an_unknown_verb(paths):
    for argv, fragment in (([], "the following arguments are required: COMMAND"), (["trian"], "invalid choice: 'trian'")):
        code, _, err = run_in_process(argv)
        assert code == 2 and len(err.strip().splitlines()) == 1 and fragment in err, err


@pytest.mark.parametrize("args, fragment", [
    (("train", "--lr", "nan"), "--lr"),
    (("runs", "--store"), "--store"),
    (("search", "--trials", "0", "--store", "s.sqlite"), "--trials"),
    (("eval", "--checkpoint", "nothing", "--data", "digits"), "nothing"),
])
def test_a_few_rows_as_real_processes(args, fragment, tmp_path):
    assert_one_line_error(babysit(*args, cwd=tmp_path), fragment)


def test_a_missing_value_is_told_apart_from_a_value_taken_for_an_option(paths):
    """Regression: `babysit runs --store` (nothing after it) used to get the '= form' hint meant for `--lr -1:...`."""
    line = _assert_one_line(["runs", "--store"], "expected one argument", paths)
    assert "give it a value: --store VALUE" in line and "= form" not in line
    line = _assert_one_line(["search", "--store", "s.sqlite", "--reg", "-1:10:log"], "expected one argument", paths)
    assert "needs the = form: --reg=VALUE" in line
