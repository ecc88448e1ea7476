"""The dashboard at scale: a store of RUNS runs x POINTS loss points each, served by ``babysit dashboard``.

Measures, on a store this script writes (through ``RunStore``: one search, a ``start_run`` /
``log_metrics`` / ``finish_run`` per run, like a search's trials):
- time to first chart and to the first screen of charts in headless Chromium (from navigation start,
  ``performance.now()``), and the time until every run is listed (all pages fetched);
- the API's response sizes: the first overview page, all pages, an empty poll, a run page, the search view;
- the server's memory (VmRSS and its peak VmHWM of the server process after the page loaded);
- the writer's slowdown while the dashboard polls: seconds per run of a simulated search (a fixed
  amount of NumPy work, then start, POINTS points, finish), alone, with the page open (its 2 s poll)
  and with the page plus a client polling the overview 10 times a second, in alternating rounds; and
  the server's CPU time over those rounds' wall time (the share of a core it took from the writer).

Usage: python benchmarks/bench_dashboard.py [--runs 1000] [--points 10000] [--store PATH] [--keep]
       [--writer-runs 20] [--rounds 3] [--work 300]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_info  # noqa: E402

import numpy as np  # noqa: E402

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def generate(path: Path, runs: int, points: int, seed: int = 0) -> float:
    """Write the store; returns the seconds it took."""
    from babysit.search.driver import SearchSpec
    from babysit.search.search_space import SearchSpace
    from babysit.search.spaces import LogUniform
    from babysit.search.trial import DataRef
    from babysit.store import RunStore

    rng = np.random.default_rng(seed)
    spec = SearchSpec(DataRef("digits"), "fc:100", SearchSpace({"lr": LogUniform(1e-6, 1e-1), "reg": LogUniform(1e-5, 1e1)}),
                      (runs,), (10,), seed=seed)
    start = time.perf_counter()
    steps = np.arange(1, points + 1)
    with RunStore(path) as store:
        search = store.create_or_open_search("bench", spec.to_json())
        for i in range(runs):
            lr, reg = 10 ** rng.uniform(-6, -1), 10 ** rng.uniform(-5, 1)
            run_id = store.start_run(search, 1, i, {"lr": lr, "reg": reg})
            loss = 2.3 * np.exp(-steps / (points / 4)) + 0.2 + 0.05 * rng.standard_normal(points)
            if i % 10 == 3:
                loss[points // 2:] *= np.linspace(1, 1e3, points - points // 2)  # an explosion
            store.log_metrics(run_id, "loss", steps.tolist(), loss.tolist())
            val = np.clip(np.linspace(0.2, 0.5 + 0.4 * rng.random(), 10), 0, 1)
            store.log_metrics(run_id, "val_acc", list(range(1, 11)), val.tolist())
            store.finish_run(run_id, "exploded" if i % 10 == 3 else "finished",
                             {"val_acc": float(val.max()), "epochs": 10, "seconds": 1.0})
    return time.perf_counter() - start


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(store: Path):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "babysit", "dashboard", "--store", str(store), "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}/"
    for _ in range(300):
        try:
            urllib.request.urlopen(url + "api/searches", timeout=5).read()
            return proc, url
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not start")


def memory_kib(pid: int) -> dict:
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmRSS", "VmHWM")):
                key, value = line.split(":")
                out[key] = int(value.split()[0])
    return out


def fetch(url: str) -> tuple[int, float, dict]:
    t = time.perf_counter()
    body = urllib.request.urlopen(url, timeout=600).read()
    return len(body), time.perf_counter() - t, json.loads(body)


def api_sizes(url: str, search_id: int = 1) -> dict:
    size, seconds, first = fetch(url + "api/overview?limit=48")
    total, pages, after, since = size, 1, first["after"], first["cursor"]
    t = time.perf_counter()
    page = first
    while page["more"]:
        n, _, page = fetch(url + f"api/overview?after={after}&since={since}&limit=200")
        total, pages, after, since = total + n, pages + 1, page["after"], page["cursor"]
    all_seconds = time.perf_counter() - t + seconds
    empty, empty_seconds, _ = fetch(url + f"api/overview?after={after}&since={since}")
    run_size, run_seconds, _ = fetch(url + "api/run/1")
    search_size, search_seconds, _ = fetch(url + f"api/search/{search_id}")
    return {"first_page_bytes": size, "first_page_seconds": round(seconds, 3), "all_pages_bytes": total,
            "pages": pages, "all_pages_seconds": round(all_seconds, 3), "empty_poll_bytes": empty,
            "empty_poll_seconds": round(empty_seconds, 4), "run_page_bytes": run_size,
            "run_page_seconds": round(run_seconds, 3), "search_view_bytes": search_size,
            "search_view_seconds": round(search_seconds, 3)}


def browser_times(url: str, runs: int) -> dict:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        page.wait_for_selector(".run-card .js-plotly-plot", timeout=600_000)
        first = page.evaluate("performance.now()")
        visible = page.evaluate("""() => [...document.querySelectorAll('.run-card')].filter(c => {
            const r = c.getBoundingClientRect(); return r.top < innerHeight && r.bottom > 0 }).length""")
        page.wait_for_function(f"document.querySelectorAll('.run-card .js-plotly-plot').length >= {visible}",
                               timeout=600_000)
        screen = page.evaluate("performance.now()")
        page.wait_for_function(f"window.babysitDashboard.state.runs.size === {runs}", timeout=600_000, polling=200)
        listed = page.evaluate("performance.now()")
        t = time.perf_counter()
        page.evaluate("window.scrollTo(0, document.body.scrollHeight / 2)")
        page.wait_for_timeout(100)
        page.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
        scroll_ms = (time.perf_counter() - t) * 1000
        heap = page.evaluate("performance.memory ? performance.memory.usedJSHeapSize : null")
        browser.close()
    return {"first_chart_ms": round(first), "first_screen_ms": round(screen), "first_screen_cards": visible,
            "all_runs_listed_ms": round(listed), "scroll_half_ms": round(scroll_ms), "js_heap_bytes": heap}


WRITER = r"""
import sys, time, numpy as np
from babysit.store import RunStore
path, n, points, work = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
steps = list(range(1, points + 1))
values = list(np.linspace(2.3, 0.3, points))
rng = np.random.default_rng(0)
with RunStore(path) as store:
    t = time.perf_counter()
    for i in range(n):
        run_id = store.start_run(None, None, None, {"lr": 1e-3})
        a = rng.standard_normal((200, 200))
        for _ in range(work):  # the trial's training: a fixed amount of NumPy work
            a = np.tanh(a @ a * 0.01)
        store.log_metrics(run_id, "loss", steps, values)
        store.finish_run(run_id, "finished", {"val_acc": 0.5})
    print((time.perf_counter() - t) / n)
"""


def count_runs(store: Path) -> int:
    from babysit.store import RunStore

    with RunStore(store, readonly=True) as s:
        return len(s.runs())


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def writer_seconds(store: Path, runs: int, points: int, work: int) -> float:
    out = subprocess.run([sys.executable, "-c", WRITER, str(store), str(runs), str(points), str(work)],
                         capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def writer_slowdown(store: Path, url: str, server_pid: int, runs: int, points: int, rounds: int, work: int) -> dict:
    """Seconds per run of a simulated search (NumPy work + recording 'points' points) alone, with the
    dashboard page open (its 2 s poll), and with the page plus a client polling 10 times a second."""
    from playwright.sync_api import sync_playwright

    times = {"alone": [], "page": [], "page+10Hz": []}
    server_cpu = {"page": [], "page+10Hz": []}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        for _ in range(rounds):
            times["alone"].append(writer_seconds(store, runs, points, work))
            for mode in ("page", "page+10Hz"):
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.goto(url)
                # measure the polling, not the first load: wait until the page has every run
                page.wait_for_function(f"window.babysitDashboard.state.runs.size >= {count_runs(store)}",
                                       timeout=600_000, polling=500)
                stop = threading.Event()

                def hammer():  # a second client polling the overview 10 times a second
                    first = json.loads(urllib.request.urlopen(url + "api/overview?limit=1", timeout=600).read())
                    since = first["cursor"]
                    while not stop.is_set():
                        answer = json.loads(urllib.request.urlopen(
                            url + f"api/overview?after={10**12}&since={since}", timeout=600).read())
                        since = answer["cursor"]
                        time.sleep(0.1)

                thread = threading.Thread(target=hammer, daemon=True)
                if mode == "page+10Hz":
                    thread.start()
                cpu, wall = cpu_seconds(server_pid), time.perf_counter()
                times[mode].append(writer_seconds(store, runs, points, work))
                server_cpu[mode].append((cpu_seconds(server_pid) - cpu) / (time.perf_counter() - wall))
                stop.set()
                if thread.is_alive():
                    thread.join()
                page.close()
        browser.close()
    base = statistics.median(times["alone"])
    return {"writer_runs_per_round": runs, "points_per_run": points, "numpy_work": work,
            "s_per_run": {k: [round(x, 4) for x in v] for k, v in times.items()},
            "slowdown": {k: f"{statistics.median(v) / base - 1:+.1%}" for k, v in times.items() if k != "alone"},
            "server_cpu_share_of_one_core": {k: round(statistics.median(v), 4) for k, v in server_cpu.items()}}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--store", type=Path, default=None, help="reuse (or keep) the store at this path")
    parser.add_argument("--writer-runs", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--work", type=int, default=300, help="NumPy steps of each simulated trial")
    args = parser.parse_args(argv)
    tmp = None
    store = args.store
    if store is None:
        tmp = tempfile.TemporaryDirectory(prefix="bench-dashboard-")
        store = Path(tmp.name) / "runs.sqlite"
    result = {"machine": machine_info(), "runs": args.runs, "points": args.points,
              "note": "shared machine: other engineers' jobs were running"}
    if not store.exists():
        result["generate_seconds"] = round(generate(store, args.runs, args.points), 1)
    result["store_bytes"] = store.stat().st_size
    proc, url = start_server(store)
    try:
        result["api"] = api_sizes(url)
        result["memory_after_api_kib"] = memory_kib(proc.pid)
        result["browser"] = browser_times(url, args.runs)
        result["memory_after_browser_kib"] = memory_kib(proc.pid)
        if args.writer_runs:
            result["writer"] = writer_slowdown(store, url, proc.pid, args.writer_runs, args.points, args.rounds,
                                               args.work)
    finally:
        proc.terminate()
        proc.wait(30)
        if tmp is not None:
            tmp.cleanup()
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
