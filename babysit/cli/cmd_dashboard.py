"""``babysit dashboard``: the live command center over a run store (read-only; safe while a search writes it)."""

from __future__ import annotations

import ipaddress
import sys
from pathlib import Path

LOOPBACK = ("localhost",)


def add_parser(sub, name):
    p = sub.add_parser(name, help="open the live web dashboard of a run store",
                       description="Serve the command center (every run's curves), the search view and each run's "
                                   "page over a run store, read-only, updating while a search writes it. "
                                   "Open the printed URL in a browser; Ctrl-C stops it.")
    p.add_argument("--store", type=Path, required=True, help="the run store (SQLite file)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only; anything else exposes the "
                        "store's contents to the network)")
    p.add_argument("--port", type=int, default=8050, help="TCP port (default 8050)")
    p.set_defaults(run=run)


def is_loopback(host: str) -> bool:
    if host in LOOPBACK:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run(args) -> int:
    from babysit.dashboard.app import make_app
    from babysit.validation import Interval, check_int

    check_int("dashboard", "port", args.port, Interval(1, 65535))
    app = make_app(args.store)  # a missing, empty or foreign store fails here, in one line
    if not is_loopback(args.host):
        print(f"babysit dashboard: warning: listening on {args.host}, not on this machine only: anyone who can reach "
              f"port {args.port} can read {args.store}", file=sys.stderr)
    shown = f"[{args.host}]" if ":" in args.host else args.host
    print(f"babysit dashboard: serving {args.store} read-only at http://{shown}:{args.port}/ (Ctrl-C to stop)",
          flush=True)
    import uvicorn

    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    except OSError as err:
        from babysit.errors import BabysitError

        raise BabysitError(f"cannot listen on {args.host}:{args.port}: {err.strerror}; give another --port") from None
    return 0
