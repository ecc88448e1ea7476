"""``babysit runs``: list the runs of a run store (read-only; safe while a search is writing it)."""

from __future__ import annotations

from pathlib import Path

JSON_KEYS = ("id", "search", "stage", "status", "params", "val_acc", "train_acc", "loss", "epochs", "seconds")


def add_parser(sub, name):
    p = sub.add_parser(name, help="list the runs recorded in a run store",
                       description="List every run (search trials and train runs) of a run store: status, "
                                   "hyperparameters and final metrics. Opens the store read-only.")
    p.add_argument("--store", type=Path, required=True, help="the run store (SQLite file)")
    p.add_argument("--search", default=None, help="only the runs of this search")
    p.add_argument("--json", action="store_true",
                   help="print a JSON list of {id, search, stage, status, params, val_acc, train_acc, loss, "
                        "epochs, seconds}")
    p.set_defaults(run=run)


def run(args) -> int:
    from babysit.errors import ConfigError
    from babysit.fileio import dumps
    from babysit.search.tally import stopped_note, subset_note
    from babysit.store import RunStore

    with RunStore(args.store, readonly=True) as store:
        runs = store.runs()
        names = [s["name"] for s in store.searches()]
    if args.search is not None:
        if args.search not in names:
            raise ConfigError(f"--search: no search {args.search!r} in {args.store}; it holds: "
                              f"{', '.join(names) or 'no searches'}")
        runs = [r for r in runs if r["search"] == args.search]
    if args.json:
        print(dumps([{k: r[k] for k in JSON_KEYS} for r in runs]))
        return 0
    _print_table(runs, args.store)
    for note in (interrupted_note(runs), stopped_note(runs), subset_note(runs)):
        if note:
            print(note)
    return 0


def interrupted_note(runs) -> str | None:
    """What to do about interrupted runs, or None when there are none."""
    from babysit.store import INTERRUPTED

    stopped = [r for r in runs if r["status"] == INTERRUPTED]
    if not stopped:
        return None
    searches = sorted({r["search"] for r in stopped if r["search"] is not None})
    text = (f"{len(stopped)} run(s) interrupted: the process writing the store was stopped before they "
            f"finished.")
    if searches:
        text += (f" Running the same `babysit search` command again (same --store and --name) resumes "
                 f"{'search' if len(searches) == 1 else 'searches'} {', '.join(map(repr, searches))}: "
                 f"only the unfinished trials run again.")
    return text


def _print_table(runs, path) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{len(runs)} run(s) in {path}")
    for column in ("id", "search", "stage", "status", "val_acc", "train_acc", "loss", "epochs", "examples", "seconds",
                   "params"):
        table.add_column(column, justify="left" if column in ("search", "status", "params") else "right")
    for r in runs:
        params = ", ".join(f"{k}={_fmt(v)}" for k, v in r["params"].items())
        table.add_row(
            str(r["id"]), r["search"] or "-", "-" if r["stage"] is None else str(r["stage"]),
            r["status"] + (f" ({r['error']})" if r["status"] == "failed" and r["error"] else ""),
            _num(r["val_acc"], "f"), _num(r["train_acc"], "f"), _num(r["loss"], "f"), _num(r["epochs"], "g"),
            _num((r.get("extra") or {}).get("train_examples"), ","), _num(r["seconds"], ".1f"), params,
        )
    console = Console(highlight=False)
    if not console.is_terminal:
        console.width = max(console.width, 200)  # pipes and logs: don't squeeze the columns
    console.print(table)


def _num(value, fmt) -> str:
    return "-" if value is None else format(value, fmt)


def _fmt(value) -> str:
    return f"{value:.3e}" if isinstance(value, float) else str(value)
