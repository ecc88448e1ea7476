"""The dashboard and the report in a real headless Chromium (Playwright): what a user sees and does.

One browser for the session (conftest); one live server over the shared store, and one over a
hostile store (HTML/JS in names and values) that the live test also writes into. The fixture
writes docs/screenshots/*.png of the three views, so the README's pictures stay true.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import Server, screenshot, wait_ready
from stores import spec, synthetic_store

MONITOR_CHARTS = ("loss", "accuracy", "lr", "update_ratio", "weights", "activations", "histograms")
XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'


def plotted(page, selector):
    return page.locator(f"{selector}.js-plotly-plot").count()


def open_view(page, url):
    page.goto(url)
    wait_ready(page)


DRAWN = ".run-card canvas.chart[data-drawn='1']"


def all_cards_drawn(page, count):
    """Scroll through the grid (cards draw when they come into view) until ``count`` charts are drawn."""
    page.wait_for_function(f"document.querySelectorAll('.run-card').length === {count}", timeout=120_000)
    for card in page.locator(".run-card").all():
        card.scroll_into_view_if_needed()
    page.wait_for_function(f"document.querySelectorAll(\"{DRAWN}\").length === {count}", timeout=120_000)


def inked_pixels(page, run_id) -> int:
    """Pixels of the run's card canvas that are not blank: the sparkline really drew something."""
    return page.evaluate(f"""() => {{
        const c = document.querySelector('.run-card[data-run-id="{run_id}"] canvas.chart');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n; }}""")


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    path = tmp_path_factory.mktemp("xss") / "runs.sqlite"
    info = synthetic_store(path, trials=(3, 2), search_name=XSS, params_text=XSS, seed=3)
    server = Server(path)
    yield {**info, "path": path, "server": server}
    server.stop()


def test_the_command_center_draws_one_chart_per_run_without_console_errors(page, server, store_info):
    open_view(page, server.url)
    runs = len(store_info["trial_ids"]) + 1
    all_cards_drawn(page, runs)
    ids = [int(c.get_attribute("data-run-id")) for c in page.locator(".run-card").all()]
    assert sorted(ids) == sorted([*store_info["trial_ids"], store_info["final_id"]])
    assert page.locator('.run-card[data-status="exploded"]').count() == 1
    assert page.locator(".run-card").last.get_attribute("data-status") == "exploded"  # no val acc: last
    # every card drew its loss curve (the synthetic runs log 200 iterations: reduced to at most ~120 points)
    for run_id in ids:
        canvas = page.locator(f'.run-card[data-run-id="{run_id}"] canvas.chart')
        assert 60 <= int(canvas.get_attribute("data-points")) <= 130 and int(canvas.get_attribute("data-val-points")) >= 4
        assert inked_pixels(page, run_id) > 300, run_id
    assert page.evaluate("typeof window.Plotly") == "undefined"  # the command center never loads plotly
    page.fill("#topk", "3")
    assert page.locator(".run-card:visible").count() == 3
    page.fill("#topk", "")
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "command_center")
    assert page.errors == []


def test_the_search_view_has_one_point_per_trial_and_brushing_filters_the_runs(page, server, store_info):
    open_view(page, server.url + f"#/search/{store_info['search_id']}")
    assert page.evaluate("typeof window.Plotly") == "object"  # loaded from the server when the view needs it
    points = page.evaluate("""() => document.querySelector('[data-chart="scatter-lr"]').data
                              .reduce((n, t) => n + t.x.length, 0)""")
    assert points == len(store_info["trial_ids"])
    assert page.locator("#edge-warnings .warning").count() >= 1 and "explained most" in page.inner_text("#importance")
    assert "ran once: no spread over seeds" in page.inner_text("#seed-spread")  # random sampling: one seed each
    screenshot(page, "search_view")
    before = page.inner_text("#selected-count")
    assert before == "9 of 9 finished trials selected"
    page.locator('[data-chart="parcoords"]').scroll_into_view_if_needed()
    brush = page.locator('[data-chart="parcoords"] .axis-brush').first.bounding_box()
    x = brush["x"] + brush["width"] / 2
    page.mouse.move(x, brush["y"] + brush["height"] * 0.05)
    page.mouse.down()
    page.mouse.move(x, brush["y"] + brush["height"] * 0.5, steps=8)
    page.mouse.up()
    page.wait_for_function("!document.querySelector('#selected-count').textContent.startsWith('9 of 9')",
                           timeout=120_000)
    selected = int(page.inner_text("#selected-count").split()[0])
    assert 0 <= selected < 9 and page.locator("#selected-runs tr").count() == selected + 1
    assert page.errors == []


def test_clicking_a_run_opens_its_page_with_every_monitor_chart(page, server, store_info):
    open_view(page, server.url)
    page.click(f'.run-card[data-run-id="{store_info["final_id"]}"]')
    page.wait_for_url(f"**#/run/{store_info['final_id']}")
    wait_ready(page)
    for name in MONITOR_CHARTS + ("confusion",):
        assert plotted(page, f'[data-chart="{name}"]') == 1, name
    assert "Wilson" in page.inner_text("#gap") and "search's best trial" in page.inner_text("#compare")
    assert "advice" not in page.inner_text("#findings")  # no findings: no empty advice column
    assert "seeds" not in page.inner_text("#gap")  # its configuration ran once
    screenshot(page, "run_page")
    histogram_names = """() => document.querySelector('[data-chart="histograms"]').data.map((t) => t.name)"""
    assert page.evaluate(histogram_names) == ["relu1 @ it 1", "relu1 @ it 400"]  # first and last recorded
    page.locator("#hist-slider").fill("0")  # the slider back to the first recorded epoch
    page.wait_for_function("document.querySelector('#hist-iteration').textContent === 'iteration 1'")
    assert page.evaluate(histogram_names) == ["relu1 @ it 1"]
    page.locator("#hist-slider").fill("1")
    page.wait_for_function("document.querySelector('[data-chart=\"histograms\"]').data.length === 2")
    trial = store_info["trial_ids"][1]  # an exploded search trial: its monitors are there too
    open_view(page, server.url + f"#/run/{trial}")
    for name in MONITOR_CHARTS:
        assert plotted(page, f'[data-chart="{name}"]') == 1, name
    assert page.inner_text("#diagnosis").startswith("loss curve: fail")
    assert page.errors == []


def test_a_run_added_while_the_page_is_open_appears_without_a_reload(page, hostile):
    from babysit.store import RunStore
    from babysit.store.recording import record_run
    from babysit.train.outcome import RunRecord

    open_view(page, hostile["server"].url)
    all_cards_drawn(page, 6)
    page.evaluate("window.__sameDocument = true")
    with RunStore(hostile["path"]) as store:
        run_id = store.start_run(None, None, None, {"lr": 1e-3})
        page.wait_for_selector(f'.run-card[data-run-id="{run_id}"][data-status="running"]', timeout=120_000)
        record_run(store, run_id, RunRecord("finished", {"val_acc": 0.99}, series={
            "loss": (list(range(1, 51)), [2.0 - 0.03 * i for i in range(50)]), "val_acc": ([1, 2], [0.9, 0.99])}))
    page.wait_for_selector(f'.run-card[data-run-id="{run_id}"][data-status="finished"]', timeout=120_000)
    assert page.locator(".run-card").first.get_attribute("data-run-id") == str(run_id)  # best val acc: first
    page.wait_for_function(f"""document.querySelector('.run-card[data-run-id="{run_id}"] canvas.chart[data-drawn="1"]')
                               && document.querySelector('.run-card[data-run-id="{run_id}"] canvas.chart').dataset.points === '50'""",
                           timeout=120_000)
    assert inked_pixels(page, run_id) > 100
    with RunStore(hostile["path"]) as store:  # a new search: the navigation lists it at the next poll
        search = store.create_or_open_search("arrived later", spec((1, 1)).to_json())
        store.start_run(search, 1, 0, {"lr": 1e-3})
    page.wait_for_function("document.querySelector('#nav').textContent.includes('search arrived later')",
                           timeout=120_000)
    assert page.evaluate("window.__sameDocument") is True  # no reload happened
    assert page.errors == []


def test_names_and_values_holding_html_are_shown_as_text(page, hostile):
    server = hostile["server"]
    for view in ("", f"#/search/{hostile['search_id']}", f"#/run/{hostile['trial_ids'][0]}"):
        open_view(page, server.url + view)
        page.wait_for_timeout(300)
        assert page.evaluate("window.__xss") is None, view
        assert page.locator("main img, main script, #nav img").count() == 0, view
    assert XSS in page.inner_text("main")  # the run page shows the value, literally
    open_view(page, server.url)
    assert XSS in page.inner_text("#nav") and XSS in page.inner_text("#grid")
    assert page.errors == []


def test_the_report_renders_every_view_from_file_with_the_network_off(browser, hostile, tmp_path):
    out = tmp_path / "report.html"
    proc = subprocess.run([sys.executable, "-m", "babysit", "report", "--store", str(hostile["path"]), "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    context = browser.new_context(offline=True, viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(120_000)
    requests = []
    context.route("**/*", lambda route: (requests.append(route.request.url), route.continue_()
                                         if route.request.url.startswith("file:") else route.abort()))
    page = context.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        url = Path(out).resolve().as_uri()
        open_view(page, url)
        from babysit.store import RunStore

        with RunStore(hostile["path"], readonly=True) as store:  # the live test added one
            all_cards_drawn(page, len(store.runs()))
        open_view(page, url + f"#/search/{hostile['search_id']}")
        assert page.evaluate("""() => document.querySelector('[data-chart="scatter-lr"]').data
                                .reduce((n, t) => n + t.x.length, 0)""") == len(hostile["trial_ids"])
        open_view(page, url + f"#/run/{hostile['final_id']}")
        for name in MONITOR_CHARTS:
            assert plotted(page, f'[data-chart="{name}"]') == 1, name
        assert page.evaluate("window.__xss") is None
        assert errors == [] and all(r.startswith("file:") for r in requests), (errors, requests)
    finally:
        context.close()


def test_a_configuration_run_with_several_seeds_shows_its_spread(page, tmp_path):
    from stores import seeds_store

    made = seeds_store(tmp_path / "runs.sqlite")
    server = Server(tmp_path / "runs.sqlite")
    try:
        open_view(page, server.url + f"#/search/{made['search_id']}")
        rows = page.locator("#seed-spread tr")
        assert rows.count() == 2  # the header and the one configuration that ran three times
        cells = [c.inner_text() for c in rows.nth(1).locator("td").all()]
        assert cells[2:6] == ["3", "0.6000", "0.1000", "0.5000–0.7000"]
        rows.nth(1).locator("a").first.click()
        page.wait_for_url(f"**#/run/{made['ids'][0]}")
        wait_ready(page)
        assert "ran with 3 seeds" in page.inner_text("#seeds") and "this run is 3 of 3" in page.inner_text("#seeds")
        assert page.errors == []
    finally:
        server.stop()
