"""``babysit report``: the dashboard's views of a run store in one self-contained HTML file (opens offline)."""

from __future__ import annotations

from pathlib import Path


def add_parser(sub, name):
    p = sub.add_parser(name, help="write a self-contained HTML report of a run store",
                       description="Write the command center, the search views and the run pages of a run store into "
                                   "one HTML file (plotly.js and the data embedded) that opens offline, without a "
                                   "server. Opens the store read-only.")
    p.add_argument("--store", type=Path, required=True, help="the run store (SQLite file)")
    p.add_argument("--out", type=Path, required=True, help="the HTML file to write (e.g. report.html)")
    p.set_defaults(run=run)


def run(args) -> int:
    from babysit.dashboard.report import write_report
    from babysit.errors import ConfigError

    if args.out.is_dir():
        raise ConfigError(f"--out: {args.out} is a folder; give the path of the HTML file to write")
    if not args.out.parent.exists():
        raise ConfigError(f"--out: folder {args.out.parent} does not exist; create it or give another path")
    path = write_report(args.store, args.out)
    print(f"babysit report: wrote {path} ({path.stat().st_size / 1e6:.1f} MB); open it in a browser (works offline)")
    print(f"live view: babysit dashboard --store {args.store}")
    return 0
