"""cli.main: a library parameter is reported by the flag the user typed; a closed pipe is no traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest

from babysit.cli.main import build_parser, error_message
from babysit.errors import ConfigError, DataError
from babysit.validation import AT_LEAST_ONE, check_int, invalid


REQUIRED = {"search": ["--store", "s.sqlite"], "eval": ["--checkpoint", "x"]}


def _flags(command: str) -> dict:
    return build_parser().parse_args([command, *REQUIRED.get(command, [])]).flags


def test_a_parameter_is_named_by_the_commands_flag():
    with pytest.raises(ConfigError) as info:
        check_int("Solver", "batch_size", 0, AT_LEAST_ONE)
    assert error_message(info.value, _flags("train")) == "--batch-size must be an int in [1, inf). Got 0 instead."
    # the same name means another thing for another owner: 'name' of hyperparameter is --param in search
    unknown = invalid("hyperparameter", "name", "the name of a hyperparameter", "lrr")
    assert error_message(unknown, _flags("search")).startswith("--param must be the name of a hyperparameter")
    other = invalid("SomethingElse", "name", "a text", 3)
    assert error_message(other, _flags("search")).startswith("--name must be a text")  # search's own --name


def test_messages_without_a_flag_and_other_errors_are_kept_as_they_are():
    free = ConfigError("a free-form problem")
    assert error_message(free, _flags("train")) == "a free-form problem"
    unmapped = invalid("Layer", "no_such_flag", "positive", -1)
    assert error_message(unmapped, _flags("train")) == str(unmapped)
    assert error_message(DataError("file gone"), _flags("train")) == "file gone"
    about = ConfigError("The model fc has no hidden layer", parameter="hidden")
    assert error_message(about, _flags("search")) == "--hidden: The model fc has no hidden layer"


def test_output_into_a_closed_pipe_ends_quietly():
    # `babysit init-stats | head -1`: head leaves after one line; babysit must not die with a traceback
    proc = subprocess.run(f"{sys.executable} -m babysit init-stats | head -1", shell=True, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0 and len(proc.stdout.splitlines()) == 1
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr, proc.stderr


@pytest.mark.parametrize("argv, prefix", [
    (["train", "--nope"], "babysit train: error: unrecognized arguments: --nope"),
    (["train", "--epochs", "x"], "babysit train: error: argument --epochs: invalid int value: 'x'"),
    (["runs"], "babysit runs: error: the following arguments are required: --store"),
    (["eval", "--checkpoint", "m", "--data", "digits", "--split", "dev"], "babysit eval: error: argument --split"),
    (["bogus"], "babysit: error: argument COMMAND: invalid choice: 'bogus'"),  # no command known: no command
    ([], "babysit: error: the following arguments are required: COMMAND"),
])
def test_usage_errors_carry_the_commands_prefix_like_every_other_error(argv, prefix, capsys):
    from babysit.cli.main import main

    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(prefix) and len(err.strip().splitlines()) == 1, err
