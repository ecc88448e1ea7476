"""The dashboard at scale: a store of RUNS runs x POINTS loss points each, served by ``babysit dashboard``;
and whether a running search slows down while a page polls the dashboard.

Measures, on a store this script writes (through ``RunStore``: one search, a ``start_run`` /
``log_metrics`` / ``finish_run`` per run, like a search's trials):
- in headless Chromium, twice (as soon as the server answers, and again ``--settle`` s later, once
  it has reduced the best runs' curves at start-up), from navigation start (``performance.now()``): time to the first drawn card,
  to the first screen of cards, to every run listed, and to *interactive* (the first screen drawn and
  no long task (> 50 ms, the browser's own PerformanceObserver) after it); opening a run page
  (plotly loaded then); scrolling half-way;
- the API's response sizes, plain and gzipped: the overview (runs' summaries), one batch of cards'
  curves, an empty poll, a run page, the search view; the server's memory (VmRSS / VmHWM);
- with ``--writer-rounds N``: a real search (``babysit search``, digits, one stage) writing a fresh
  store, N times alone and N times with a headless page of the command center open on that store
  (polling it every 2 s), interleaved ABBA; the slowdown of the search's wall time, and the
  dashboard server's CPU share over the rounds with the page.

Every page wait has a timeout (``--wait``), and the whole script stops after ``--max-seconds``
(printing what it measured so far).

Usage: python benchmarks/bench_dashboard.py [--runs 1000] [--points 10000] [--store PATH]
       [--writer-rounds 0] [--writer-trials 6] [--writer-epochs 3] [--wait 120] [--max-seconds 1500]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_info  # noqa: E402

import numpy as np  # noqa: E402

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
DRAWN = ".run-card canvas.chart[data-drawn='1']"
# long tasks of the page's main thread, recorded from the start (Chromium's Long Tasks API)
LONG_TASKS = """window.__long = [];
try { new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__long.push([e.startTime, e.duration]); })
      .observe({ type: "longtask", buffered: true }); } catch (e) {}"""


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


def fetch(url: str, gz: bool = False) -> tuple[int, float, dict]:
    """(bytes on the wire, seconds, decoded JSON) of one GET."""
    request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"} if gz else {})
    t = time.perf_counter()
    with urllib.request.urlopen(request, timeout=300) as response:
        body = response.read()
        encoded = response.headers.get("Content-Encoding") == "gzip"
    seconds = time.perf_counter() - t
    return len(body), seconds, json.loads(gzip.decompress(body) if encoded else body)


def api_sizes(url: str, search_id: int = 1) -> dict:
    out = {}
    size, seconds, first = fetch(url + "api/overview")
    gz, _, _ = fetch(url + "api/overview", gz=True)
    pages, after, since, page = 1, first["after"], first["cursor"], first
    total, total_gz = size, gz
    while page["more"]:
        n, s2, page = fetch(url + f"api/overview?after={after}&since={since}")
        total, pages, seconds, after = total + n, pages + 1, seconds + s2, page["after"]
    out["overview_all_runs"] = {"bytes": total, "first_page_gzip_bytes": total_gz, "pages": pages,
                                "seconds": round(seconds, 3), "runs": len(first["runs"])}
    ranked = sorted(first["runs"], key=lambda r: -(r["best_val_acc"] if r["best_val_acc"] is not None else -1))
    top = ",".join(str(r["id"]) for r in ranked[:12])  # reduced by the server's start-up warm-up (or cached)
    worst = ",".join(str(r["id"]) for r in ranked[-12:])  # far below the warmed best: read from the store
    for label, query in (("curves_12_cards_never_asked", worst), ("curves_12_cards_again", worst),
                         ("curves_12_best_cards", top)):
        n, secs, _ = fetch(url + f"api/curves?ids={query}&upto={since}")
        out[label] = {"bytes": n, "seconds": round(secs, 3)}
    out["curves_12_best_cards"]["gzip_bytes"] = fetch(url + f"api/curves?ids={top}&upto={since}", gz=True)[0]
    n, secs, _ = fetch(url + f"api/overview?after={after}&since={since}")
    out["empty_poll"] = {"bytes": n, "seconds": round(secs, 4)}
    for label, path in (("run_page", f"api/run/{ranked[0]['id']}"), ("search_view", f"api/search/{search_id}")):
        n, secs, _ = fetch(url + path)
        out[label] = {"bytes": n, "gzip_bytes": fetch(url + path, gz=True)[0], "seconds": round(secs, 3)}
    return out


def browser_times(url: str, runs: int, wait_ms: int) -> dict:
    from playwright.sync_api import sync_playwright

    out = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            context.set_default_timeout(wait_ms)
            context.add_init_script(LONG_TASKS)
            page = context.new_page()
            page.goto(url, timeout=wait_ms)

            def when(condition: str) -> float:  # performance.now() at the moment the condition first held
                return page.wait_for_function(f"({condition}) ? performance.now() : 0", timeout=wait_ms,
                                              polling="raf").json_value()

            def marked(name: str) -> float:  # app.js's performance.mark of that moment
                page.wait_for_function(f"performance.getEntriesByName('babysit:{name}').length > 0", timeout=wait_ms)
                return page.evaluate(f"performance.getEntriesByName('babysit:{name}')[0].startTime")

            out["first_chart_ms"] = round(marked("first-card"))
            visible = """[...document.querySelectorAll('.run-card')].filter(c => {
                const r = c.getBoundingClientRect(); return r.top < innerHeight && r.bottom > 0 })"""
            out["first_screen_ms"] = round(when(f"(() => {{ const v = {visible}; return v.length > 0 && "
                                                f"v.every(c => c.querySelector(\"canvas[data-drawn='1']\")) }})()"))
            out["first_screen_cards"] = page.evaluate(f"{visible}.length")
            out["all_runs_listed_ms"] = round(marked("runs-listed"))
            page.wait_for_function(f"window.babysitDashboard.state.runs.size >= {runs}", timeout=wait_ms)
            page.wait_for_timeout(3000)  # then: no long task for 3 s (or the load's last one ended before)
            longs = page.evaluate("window.__long")
            end_of_last = max([s + d for s, d in longs], default=0)
            out["interactive_ms"] = round(max(out["first_screen_ms"], end_of_last))
            out["long_tasks"] = {"count": len(longs), "total_ms": round(sum(d for _, d in longs)),
                                 "longest_ms": round(max([d for _, d in longs], default=0))}
            out["js_heap_bytes"] = page.evaluate("performance.memory ? performance.memory.usedJSHeapSize : null")
            t = time.perf_counter()
            page.evaluate("window.scrollTo(0, document.body.scrollHeight / 2)")
            page.wait_for_function(f"(() => {{ const v = {visible}; return v.length > 0 && "
                                   f"v.every(c => c.querySelector(\"canvas[data-drawn='1']\")) }})()",
                                   timeout=wait_ms, polling="raf")
            out["scroll_half_and_draw_ms"] = round((time.perf_counter() - t) * 1000)
            page.evaluate("window.scrollTo(0, 0)")
            t = time.perf_counter()
            page.locator(".run-card").first.click()
            page.wait_for_function("location.hash.startsWith('#/run/') && document.body.dataset.ready === '1'",
                                   timeout=wait_ms)
            out["open_run_page_ms"] = round((time.perf_counter() - t) * 1000)  # includes loading plotly.js
        finally:
            browser.close()
    return out


def count_runs(store: Path) -> int:
    from babysit.dashboard.source import StoreSource

    with StoreSource(store) as source:
        return len(source.runs())


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def search_seconds(store: Path, name: str, trials: int, epochs: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds: user + system) of a real search (``babysit search``: digits, fc:100, one
    stage) writing ``store``."""
    import resource

    cmd = [sys.executable, "-m", "babysit", "search", "--store", str(store), "--name", name, "--stages", "1",
           "--trials", str(trials), "--epochs", str(epochs), "--seed", "0", "--lr", "1e-3:1e-1:log",
           "--reg", "1e-5:1e-2:log"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, timeout=600)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def descendants(pid: int) -> list[int]:
    """The processes below ``pid`` (Chromium's browser, renderer and GPU processes below this script)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def tree_cpu(pids) -> float:
    total = 0.0
    for pid in pids:
        try:
            total += cpu_seconds(pid)
        except OSError:
            pass
    return total


def writer_slowdown(rounds: int, trials: int, epochs: int, wait_ms: int) -> dict:
    """A real search alone (A) and with a page of the command center polling its store (B), ABBA-interleaved;
    each round writes a fresh search into the same store, which a dashboard server serves throughout.
    The search's wall time carries the machine's noise (other users' jobs); its CPU time does not."""
    from playwright.sync_api import sync_playwright

    tmp = tempfile.TemporaryDirectory(prefix="bench-dashboard-writer-")
    store = Path(tmp.name) / "runs.sqlite"
    search_seconds(store, "warm-up", 2, 1)  # creates the store; imports warm
    proc, url = start_server(store)
    wall = {"alone": [], "page": []}
    cpu = {"alone": [], "page": []}
    server_cpu, browser_cpu = [], []
    stopped = None
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            order = [m for k in range(rounds) for m in (("alone", "page") if k % 2 == 0 else ("page", "alone"))]
            idle = idle_cost(browser, proc, url, wait_ms)
            try:
                measure_rounds(browser, order, proc, url, store, trials, epochs, wait_ms, wall, cpu, server_cpu,
                               browser_cpu)
            except OutOfTime:  # --max-seconds: keep the pairs measured so far
                stopped = f"stopped by --max-seconds after {len(wall['page'])} pairs"
            browser.close()
    finally:
        proc.terminate()
        proc.wait(30)
        tmp.cleanup()
    pairs_done = min(len(wall["alone"]), len(wall["page"]))
    for d in (wall, cpu):
        d["alone"], d["page"] = d["alone"][:pairs_done], d["page"][:pairs_done]
    if not pairs_done:
        return {"stopped": stopped}

    def summary(times):
        pairs = [b / a - 1 for a, b in zip(times["alone"], times["page"])]
        return {"seconds": {k: [round(x, 3) for x in v] for k, v in times.items()},
                "median_alone_s": round(statistics.median(times["alone"]), 3),
                "median_page_s": round(statistics.median(times["page"]), 3),
                "slowdown_of_medians": f"{statistics.median(times['page']) / statistics.median(times['alone']) - 1:+.2%}",
                "median_paired_slowdown": f"{statistics.median(pairs):+.2%}"}
    return {"rounds": rounds, "pairs": pairs_done, "trials": trials, "epochs": epochs, "order": "ABBA...",
            "wall": summary(wall), "writer_cpu": summary(cpu), **({"stopped": stopped} if stopped else {}),
            "server_cpu_share_of_one_core": round(statistics.median(server_cpu), 4),
            "browser_cpu_share_of_one_core": round(statistics.median(browser_cpu), 4),
            "idle_page_cpu_share_of_one_core": idle}


def idle_cost(browser, proc, url, wait_ms, seconds: float = 10.0) -> dict:
    """The server's and Chromium's CPU share with the page open and polling, nothing being written."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(url, timeout=wait_ms)
    page.wait_for_function(f"document.querySelectorAll(\"{DRAWN}\").length >= 1", timeout=wait_ms)
    page.wait_for_timeout(2000)
    chrome = [p for p in descendants(os.getpid()) if p != proc.pid]
    server0, chrome0, t0 = cpu_seconds(proc.pid), tree_cpu(chrome), time.perf_counter()
    time.sleep(seconds)
    span = time.perf_counter() - t0
    out = {"server": round((cpu_seconds(proc.pid) - server0) / span, 4),
           "chromium": round((tree_cpu(chrome) - chrome0) / span, 4), "seconds": seconds}
    page.close()
    return out


def measure_rounds(browser, order, proc, url, store, trials, epochs, wait_ms, wall, cpu, server_cpu, browser_cpu):
    """The rounds of ``writer_slowdown``, appending to its lists as each ends."""
    for i, mode in enumerate(order):
        page = None
        if mode == "page":
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(wait_ms)
            page.goto(url, timeout=wait_ms)
            page.wait_for_function(f"document.querySelectorAll(\"{DRAWN}\").length >= 1", timeout=wait_ms)
            page.wait_for_timeout(2000)  # past the page's load: what follows is its polling
            chrome = [p for p in descendants(os.getpid()) if p != proc.pid]
            server0, chrome0, t0 = cpu_seconds(proc.pid), tree_cpu(chrome), time.perf_counter()
        w, c = search_seconds(store, f"round-{i}", trials, epochs)
        wall[mode].append(w)
        cpu[mode].append(c)
        if page is not None:
            span = time.perf_counter() - t0
            server_cpu.append((cpu_seconds(proc.pid) - server0) / span)
            browser_cpu.append((tree_cpu(chrome) - chrome0) / span)
            # the page saw the search's runs arrive (it really polled while the search wrote)
            page.wait_for_function(f"window.babysitDashboard.state.runs.size >= {count_runs(store)}",
                                   timeout=wait_ms)
            page.close()


class OutOfTime(Exception):
    pass


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--store", type=Path, default=None, help="reuse (or keep) the store at this path")
    parser.add_argument("--no-browser", action="store_true", help="the API figures only")
    parser.add_argument("--settle", type=float, default=10, help="seconds before the second browser load")
    parser.add_argument("--writer-rounds", type=int, default=0, help="A/B rounds of the writer measurement (0: none)")
    parser.add_argument("--writer-trials", type=int, default=6)
    parser.add_argument("--writer-epochs", type=int, default=3)
    parser.add_argument("--wait", type=float, default=120, help="seconds any one page wait may take")
    parser.add_argument("--max-seconds", type=int, default=1500, help="stop (printing what was measured) after this")
    args = parser.parse_args(argv)

    def out_of_time(*_):
        raise OutOfTime(f"stopped after --max-seconds {args.max_seconds}")

    signal.signal(signal.SIGALRM, out_of_time)
    signal.alarm(args.max_seconds)
    wait_ms = int(args.wait * 1000)
    result = {"machine": machine_info(), "runs": args.runs, "points": args.points,
              "load_before": os.getloadavg()}
    tmp, proc = None, None
    try:
        if args.runs:
            store = args.store
            if store is None:
                tmp = tempfile.TemporaryDirectory(prefix="bench-dashboard-")
                store = Path(tmp.name) / "runs.sqlite"
            if not store.exists():
                result["generate_seconds"] = round(generate(store, args.runs, args.points), 1)
            result["store_bytes"] = store.stat().st_size
            result["store_runs"] = count_runs(store)
            proc, url = start_server(store)
            if not args.no_browser:  # a browser opened as soon as the server answers (its warm-up still running)
                result["browser_fresh_server"] = browser_times(url, result["store_runs"], wait_ms)
            result["api"] = api_sizes(url)
            result["memory_after_api_kib"] = memory_kib(proc.pid)
            if not args.no_browser:  # and once the server has reduced the best runs' curves (views.warm_curves)
                time.sleep(args.settle)
                result["browser_settled_server"] = browser_times(url, result["store_runs"], wait_ms)
                result["memory_after_browser_kib"] = memory_kib(proc.pid)
            proc.terminate()
            proc.wait(30)
            proc = None
        if args.writer_rounds:
            result["writer"] = writer_slowdown(args.writer_rounds, args.writer_trials, args.writer_epochs, wait_ms)
    except OutOfTime as err:
        result["stopped"] = str(err)
    finally:
        signal.alarm(0)
        if proc is not None:
            proc.terminate()
            proc.wait(30)
        if tmp is not None:
            tmp.cleanup()
        result["load_after"] = os.getloadavg()
        print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
