"""The ``babysit`` command: argument parsing and error reporting only.

Each subcommand lives in its own module ``babysit.cli.cmd_<name>`` exposing
``add_parser(subparsers)`` and ``run(args) -> int``. User errors
(``BabysitError``) are printed on one line and exit with status 2, no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from babysit.cli.kernel_option import apply_kernels
from babysit.errors import BabysitError, ConfigError

# subcommand name -> module; a module registers its own arguments.
COMMANDS = {
    "train": "babysit.cli.cmd_train",
    "eval": "babysit.cli.cmd_eval",
    "init-stats": "babysit.cli.cmd_init_stats",
    "search": "babysit.cli.cmd_search",
    "run": "babysit.cli.cmd_run",
    "runs": "babysit.cli.cmd_runs",
    "doctor": "babysit.cli.cmd_doctor",
    "dashboard": "babysit.cli.cmd_dashboard",
    "report": "babysit.cli.cmd_report",
    "zoo": "babysit.cli.cmd_zoo",
    "finetune": "babysit.cli.cmd_finetune",
    "features": "babysit.cli.cmd_features",
}


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors in one line and exits 2."""

    def error(self, message):  # noqa: D401 - argparse API
        if message.endswith("expected one argument"):
            option = message.split()[1].rstrip(":")
            if _followed_by_dash(option):  # e.g. --lr -1:1e-2:log: argparse took the value for an option
                message += f" (a value that starts with '-' needs the = form: {option}=VALUE)"
            else:  # the option ends the command line: its value is missing
                message += f" (give it a value: {option} VALUE)"
        # the prefix of every error: `babysit COMMAND: error:` once the command is known (a subparser's prog)
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")

    def parse_args(self, args=None, namespace=None):
        # argparse reports unknown options from the top parser ("babysit: error:"); the command's parser says it
        _ARGV[:] = sys.argv[1:] if args is None else [str(a) for a in args]
        args, extra = self.parse_known_args(args, namespace)
        if extra:
            commands = getattr(self, "commands", {})
            commands.get(getattr(args, "command", None), self).error(f"unrecognized arguments: {' '.join(extra)}")
        return args


_ARGV: list[str] = []  # the command line being parsed (an error message looks at what followed an option)


def _followed_by_dash(option: str) -> bool:
    """Whether ``option`` is followed on the command line by a word starting with '-' (taken for an option)."""
    names = option.split("/")
    return any(word in names and nxt.startswith("-") for word, nxt in zip(_ARGV, _ARGV[1:]))


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="babysit", description="Train neural networks the way the lecture teaches.")
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    parser.commands = sub.choices  # name -> the command's parser (its errors carry its prefix)
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        module.add_parser(sub, name)
        sub.choices[name].set_defaults(flags=_flags(sub.choices[name], getattr(module, "FLAGS", {})))
    return parser


def _flags(parser: argparse.ArgumentParser, extra: dict) -> dict[str, str]:
    """Library parameter name -> the command's flag: each option's dest (batch_size -> --batch-size), then the
    command's own FLAGS for library names that differ from its dests (num_epochs -> --epochs), keyed by the
    parameter or by 'owner.parameter' where one name means different things (hyperparameter.name -> --param)."""
    flags = {a.dest: max(a.option_strings, key=len) for a in parser._actions if a.option_strings}
    shared = {k: v for k, v in SHARED_FLAGS.items() if v in flags.values()}
    return {**shared, **flags, **extra}


# library 'owner.parameter' -> the flag every command that has it uses (its dest does not say it)
SHARED_FLAGS = {"Preprocessor.kind": "--preprocess"}


def error_message(exc: BabysitError, flags: dict[str, str]) -> str:
    """The one-line message of a user error; a parameter the command has a flag for is named by that flag."""
    if isinstance(exc, ConfigError) and exc.parameter is not None:
        flag = flags.get(f"{exc.owner}.{exc.parameter}", flags.get(exc.parameter))
        if flag is not None:
            return exc.for_flag(flag)
    return str(exc)


def _version() -> str:
    from babysit import __version__

    return f"babysit {__version__}"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        apply_kernels(args)  # --kernels, on the commands that train (cli.kernel_option)
        return int(args.run(args) or 0)
    except BabysitError as exc:
        print(f"babysit {args.command}: error: {error_message(exc, args.flags)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"babysit {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `babysit ... | head`: the reader left; what it wanted it got
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit's flush
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
