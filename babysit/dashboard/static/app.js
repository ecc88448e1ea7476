// babysit command center: the live dashboard and the self-contained report draw with this one file.
// Live: data from /api/... (polled; only new runs and points cross the wire). Report: the same
// responses embedded as JSON in <script id="babysit-data">. Every string from the store is put
// in the page as text (textContent, plotly text), never parsed as HTML.
// The command center's small multiples are drawn on canvases here (sparkline below), and only for
// the cards shown (their curves are fetched when a card comes into view); plotly.js, whose 4.6 MB
// take seconds to compile, is loaded only when a search view or run page is opened.
(function () {
  "use strict";
  const embedded = document.getElementById("babysit-data");
  const DATA = embedded ? JSON.parse(embedded.textContent) : null;
  const LIVE = DATA === null;
  const POLL_MS = 2000;
  const PAGE = 5000;  // runs' summaries per overview request
  const CURVE_BATCH = 8, CURVE_PARALLEL = 3;  // cards' curves per request, requests at a time: the first cards draw at once
  const STATUS_COLORS = {
    finished: "#2a9d5c", exploded: "#f08c00", diverged: "#d62728", failed: "#7b1e1e",
    stopped: "#6a51a3", interrupted: "#8c8c8c", running: "#1f77b4",
  };
  const STAGE_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf"];
  const PLOT_CONFIG = { displaylogo: false, responsive: true };

  // -- data ------------------------------------------------------------------------------------
  async function api(key, query) {
    if (!LIVE) return key in DATA ? DATA[key] : null;
    const response = await fetch("api/" + key + (query ? "?" + query : ""), { cache: "no-store" });
    if (response.status === 404) return null;
    if (!response.ok) throw new Error("api/" + key + ": HTTP " + response.status);
    return response.json();
  }

  // plotly.js, once, when a view needs it: live from static/plotly.min.js, in the report from the inert
  // <script type="text/plain" id="babysit-plotly"> that holds its text
  let plotlyLoading = null;
  function loadPlotly() {
    if (window.Plotly) return Promise.resolve();
    if (!plotlyLoading) {
      plotlyLoading = new Promise((resolve, reject) => {
        const script = document.createElement("script");
        const inert = document.getElementById("babysit-plotly");
        if (inert) { script.text = inert.textContent; document.head.appendChild(script); resolve(); return; }
        script.src = "static/plotly.min.js";
        script.onload = () => resolve();
        script.onerror = () => { plotlyLoading = null; reject(new Error("could not load static/plotly.min.js")); };
        document.head.appendChild(script);
      });
    }
    return plotlyLoading;
  }

  // the overview's polls and the cards' curve requests run one after the other, never interleaved: a card's
  // curves are asked up to the cursor the overview has reached, so the next poll's new points follow on exactly
  let chain = Promise.resolve();
  function serial(fn) { const p = chain.then(fn); chain = p.catch(() => {}); return p; }

  // -- DOM helpers: text only ----------------------------------------------------------------------
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (k === "className") node.className = v;
      else if (k === "href") node.setAttribute("href", v);
      else if (k === "data") for (const [dk, dv] of Object.entries(v)) node.dataset[dk] = String(dv);
      else if (k === "style") node.setAttribute("style", v);
      else node.setAttribute(k, v);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined) continue;
      node.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }
  function table(header, rows) {
    return el("table", {}, el("tr", {}, header.map((h) => el("th", {}, h))),
      rows.map((row) => el("tr", {}, row.map((c) => {
        const cls = ["pass", "warn", "fail"].includes(c) ? c : "";
        return el("td", cls ? { className: cls } : {}, c instanceof Node ? c : fmt(c));
      }))));
  }
  function fmt(v) {
    if (v === null || v === undefined) return "-";
    if (typeof v === "number") return Number.isInteger(v) ? String(v) : (Math.abs(v) < 1e-3 || Math.abs(v) >= 1e4 ? v.toExponential(3) : v.toPrecision(4));
    if (typeof v === "object") return JSON.stringify(v);
    return String(v);
  }
  function acc(v) { return v === null || v === undefined ? "-" : v.toFixed(4); }
  function main() { return document.getElementById("main"); }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  function plot(div, traces, layout) {
    const base = { margin: { l: 60, r: 60, t: 34, b: 40 }, font: { size: 11 }, showlegend: true, legend: { orientation: "h", y: -0.22 }, height: 340 };
    const drawn = Plotly.newPlot(div, traces, Object.assign(base, layout), PLOT_CONFIG);
    pending.push(drawn);
    return drawn;
  }
  const pending = [];  // the charts of the view being drawn: the view is ready when all are
  function chartBox(name, parent) {
    const div = el("div", { className: "chart-box", data: { chart: name } });
    parent.appendChild(div);
    return div;
  }

  // -- command center ------------------------------------------------------------------------------
  const shown = { status: null, search: null, trials: null };  // what the open run or search page showed when drawn
  function trialsOf(searchId) { let n = 0; for (const r of state.runs.values()) if (r.search_id === searchId && r.stage !== null) n++; return n; }
  const state = { runs: new Map(), curves: new Map(), wanted: new Set(), after: 0, since: 0, topk: null, plotted: new Set(), timer: null };

  function bestOf(r) { return r.best_val_acc === null ? -1 : r.best_val_acc; }
  function ordered() { return [...state.runs.values()].sort((a, b) => bestOf(b) - bestOf(a) || a.id - b.id); }

  function mergeCurves(id, curves) {
    const have = state.curves.get(id);
    if (!have) return false;  // its base is not fetched yet: when it is, it covers these points too
    for (const [kind, s] of Object.entries(curves)) {
      if (!have[kind]) have[kind] = { x: [], y: [], n: 0, bad: [] };
      have[kind].x.push(...s.x); have[kind].y.push(...s.y); have[kind].n += s.n; have[kind].bad.push(...s.bad);
    }
    return true;
  }

  async function loadOverview() {
    for (;;) {
      const open = [...state.runs.values()].filter((r) => r.status === "running").map((r) => r.id);
      const query = "after=" + state.after + "&since=" + state.since + "&limit=" + PAGE + "&open=" + open.join(",");
      const page = await api("overview", LIVE ? query : "");
      if (!page) return false;
      let changed = false;
      for (const r of page.runs) {
        const old = state.runs.get(r.id);
        if (!old || old.status !== r.status || old.best_val_acc !== r.best_val_acc) changed = true;
        state.runs.set(r.id, r);
      }
      if (LIVE) {
        for (const [id, curves] of Object.entries(page.curves)) {
          if (mergeCurves(Number(id), curves)) { state.plotted.delete(Number(id)); changed = true; }
        }
      }
      state.after = page.after; state.since = page.cursor;
      if (!LIVE || !page.more) { mark("runs-listed"); return changed; }
      if (routeName() === "home" && document.getElementById("grid")) renderGrid();  // draw what came so far
    }
  }

  // the curves of the cards shown: asked in small batches, best-ranked cards first (they are observed first)
  let curveTimer = null;
  function wantCurves(id) {
    if (state.curves.has(id) || state.wanted.has(id)) return;
    state.wanted.add(id);
    if (curveTimer === null) curveTimer = setTimeout(() => { curveTimer = null; serial(fetchCurves).catch(showPollError); }, 0);
  }
  async function fetchCurves() {
    while (state.wanted.size) {
      const ids = [...state.wanted].slice(0, CURVE_BATCH * CURVE_PARALLEL);
      const batches = [];
      for (let i = 0; i < ids.length; i += CURVE_BATCH) batches.push(ids.slice(i, i + CURVE_BATCH));
      await Promise.all(batches.map(async (batch) => {
        let got;
        try {
          got = LIVE ? (await api("curves", "ids=" + batch.join(",") + "&upto=" + state.since)).curves : DATA.overview.curves;
        } finally {
          batch.forEach((id) => state.wanted.delete(id));
        }
        for (const id of batch) {
          state.curves.set(id, got[id] || got[String(id)] || {});
          const card = document.querySelector('.run-card[data-run-id="' + id + '"]');
          if (card && card.dataset.visible === "1") drawCard(card);
        }
      }));
    }
  }

  // what the load benchmark reads (benchmarks/bench_dashboard.py): performance marks of the first card drawn
  // and of every run listed
  const marked = new Set();
  function mark(name) { if (!marked.has(name)) { marked.add(name); performance.mark("babysit:" + name); } }

  function drawCard(card) {
    const id = Number(card.dataset.runId);
    const run = state.runs.get(id);
    const curves = state.curves.get(id);
    if (!curves) { wantCurves(id); return; }
    sparkline(card.querySelector("canvas.chart"), curves, STATUS_COLORS[run.status] || "#999");
    state.plotted.add(id);
    mark("first-card");
  }

  // A small multiple on a canvas: the train loss per iteration (left; a log axis when it spans two decades;
  // NaN/inf steps marked with red crosses) and the validation accuracy per epoch (right, 0-1). The series
  // come min/max-reduced from the server, so a spike is drawn, never averaged away.
  function sparkline(canvas, curves, color) {
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth || 220, h = canvas.clientHeight || 110;
    canvas.width = Math.round(w * dpr); canvas.height = Math.round(h * dpr);
    const g = canvas.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    g.font = "9px system-ui, sans-serif";
    const split = Math.round(w * 0.64);
    const panels = [{ s: curves.loss, x0: 34, x1: split - 4, label: "loss" }, { s: curves.val_acc, x0: split + 6, x1: w - 18, label: "val acc", fixed: [0, 1] }];
    const y0 = 4, y1 = h - 13;
    const drawnPoints = [];
    for (const p of panels) {
      const s = p.s;
      const ys = s ? s.y.filter((y) => y !== null) : [];
      let lo = p.fixed ? p.fixed[0] : Math.min(...ys), hi = p.fixed ? p.fixed[1] : Math.max(...ys);
      const log = !p.fixed && ys.length > 0 && lo > 0 && hi / lo >= 100;
      g.strokeStyle = "#ccc"; g.lineWidth = 1;
      g.beginPath(); g.moveTo(p.x0, y0); g.lineTo(p.x0, y1); g.lineTo(p.x1, y1); g.stroke();
      g.fillStyle = "#777"; g.textAlign = "center"; g.fillText(p.label + (log ? " (log axis)" : ""), (p.x0 + p.x1) / 2, h - 2);
      if (!s || !s.x.length) { drawnPoints.push(0); continue; }
      const f = log ? Math.log10 : (v) => v;
      let flo = ys.length ? f(lo) : 0, fhi = ys.length ? f(hi) : 1;
      if (fhi - flo < 1e-12) { flo -= 0.5; fhi += 0.5; }
      const xlo = s.x[0], xhi = s.x[s.x.length - 1] > xlo ? s.x[s.x.length - 1] : xlo + 1;
      const X = (x) => p.x0 + 2 + (x - xlo) / (xhi - xlo) * (p.x1 - p.x0 - 4);
      const Y = (y) => y1 - 2 - (f(y) - flo) / (fhi - flo) * (y1 - y0 - 4);
      g.strokeStyle = p.fixed ? "#555" : color; g.fillStyle = g.strokeStyle;
      g.setLineDash(p.fixed ? [2, 2] : []);
      g.beginPath();
      let pen = false, n = 0;
      for (let i = 0; i < s.x.length; i++) {
        if (s.y[i] === null) { pen = false; continue; }
        if (pen) g.lineTo(X(s.x[i]), Y(s.y[i])); else g.moveTo(X(s.x[i]), Y(s.y[i]));
        pen = true; n++;
      }
      g.stroke();
      g.setLineDash([]);
      if (p.fixed || n === 1) for (let i = 0; i < s.x.length; i++) if (s.y[i] !== null) g.fillRect(X(s.x[i]) - 1, Y(s.y[i]) - 1, 2.5, 2.5);
      g.strokeStyle = "#d62728";
      for (const step of s.bad) {
        const cx = X(step);
        g.beginPath(); g.moveTo(cx - 3, y0); g.lineTo(cx + 3, y0 + 6); g.moveTo(cx + 3, y0); g.lineTo(cx - 3, y0 + 6); g.stroke();
      }
      g.fillStyle = "#666"; g.textAlign = p.fixed ? "left" : "right";
      const tx = p.fixed ? p.x1 + 2 : p.x0 - 2;
      g.fillText(p.fixed ? "1" : fmt(hi), tx, y0 + 7);
      g.fillText(p.fixed ? "0" : fmt(lo), tx, y1);
      drawnPoints.push(n);
    }
    canvas.dataset.points = String(drawnPoints[0]);
    canvas.dataset.valPoints = String(drawnPoints[1]);
    canvas.dataset.drawn = "1";
  }

  let observer = null;
  function renderGrid() {
    const grid = document.getElementById("grid");
    if (!grid) return;
    const runs = ordered();
    const k = state.topk === null ? runs.length : state.topk;
    const existing = new Map([...grid.children].map((c) => [Number(c.dataset.runId), c]));
    // only the top k runs have cards: the page stays light with 10,000 runs
    const top = new Set(runs.slice(0, k).map((r) => r.id));
    for (const [id, card] of existing) if (!top.has(id)) { observer.unobserve(card); card.remove(); existing.delete(id); state.plotted.delete(id); }
    let prev = null;
    runs.slice(0, k).forEach((run) => {
      let card = existing.get(run.id);
      if (!card) {
        card = el("a", { className: "run-card", href: "#/run/" + run.id, data: { runId: run.id } },
          el("div", { className: "title", title: run.label }, run.label),
          el("div", { className: "sub" }), el("canvas", { className: "chart" }));
        observer.observe(card);
      }
      card.style.borderLeftColor = STATUS_COLORS[run.status] || "#999";
      card.dataset.status = run.status;
      card.querySelector(".sub").textContent = run.status + " · best val " + acc(run.best_val_acc) +
        (run.epochs !== null ? " · " + fmt(run.epochs) + " ep" : "");
      const want = prev ? prev.nextElementSibling : grid.firstElementChild;
      if (want !== card) grid.insertBefore(card, want);  // in the order of best validation accuracy, moving only what moved
      prev = card;
      if (card.dataset.visible === "1" && !state.plotted.has(run.id)) drawCard(card);
    });
    const counts = {};
    for (const r of runs) counts[r.status] = (counts[r.status] || 0) + 1;
    const legend = document.getElementById("legend");
    clear(legend);
    for (const [status, color] of Object.entries(STATUS_COLORS)) {
      if (!counts[status]) continue;
      legend.appendChild(el("span", {}, el("span", { className: "swatch", style: "background:" + color }), status + " " + counts[status]));
    }
    document.getElementById("shown").textContent = Math.min(k, runs.length) + " of " + runs.length + " runs, best validation accuracy first";
  }

  // findings as a table; the advice and cause columns only when some finding has one
  function findingsPanel(findings, title, id, tag) {
    const box = el(tag, { className: "panel", id }, el(tag === "details" ? "summary" : "h3", {}, title));
    if (!findings.length) { box.appendChild(el("p", {}, "No findings were recorded for this run.")); return box; }
    const withAdvice = findings.some((f) => f.advice);
    const withCause = findings.some((f) => f.details && f.details.cause);
    const header = ["check", "status", "value", "explanation", ...(withAdvice ? ["advice"] : []), ...(withCause ? ["cause (confidence)"] : [])];
    box.appendChild(table(header, findings.map((f) => [f.check, f.status, fmt(f.value), f.explanation, ...(withAdvice ? [f.advice] : []),
      ...(withCause ? [f.details && f.details.cause ? f.details.cause + (f.details.confidence !== undefined ? " (" + fmt(f.details.confidence) + ")" : "") : "-"] : [])])));
    return box;
  }

  function summaryPanel(sections) {
    const box = el("details", { className: "panel", id: "summary", open: "" }, el("summary", {}, el("b", {}, "this job (babysit run)")));
    for (const sec of sections) {
      box.appendChild(el("h3", {}, sec.title));
      for (const b of sec.blocks) {
        if (b[0] === "p") box.appendChild(el("p", {}, b[1]));
        else if (b[0] === "table") box.appendChild(table(b[1], b[2]));
      }
    }
    return box;
  }

  async function commandCenter() {
    const root = main();
    clear(root);
    const topk = el("input", { type: "number", min: "1", id: "topk", placeholder: "all", style: "width:6em" });
    topk.addEventListener("input", () => { const v = parseInt(topk.value, 10); state.topk = v > 0 ? v : null; renderGrid(); });
    if (!LIVE && DATA.summary) root.appendChild(summaryPanel(DATA.summary));
    // the runs' summaries are asked at once, beside the setup findings (the overview was asked at start-up)
    const [setup] = await Promise.all([api("findings"), state.runs.size === 0 ? (state.first || serial(loadOverview)) : null]);
    if (setup && setup.length && !(DATA && DATA.summary)) root.appendChild(findingsPanel(setup, "the doctor's checks (data and setup)", "setup-findings", "details"));
    root.appendChild(el("div", { className: "controls" }, el("label", {}, "top k ", topk), el("span", { id: "shown" }), el("span", { id: "legend", className: "legend" })));
    root.appendChild(el("p", { className: "muted" }, "Each card: train loss per iteration (left), validation accuracy per epoch (right, 0–1), coloured by status. Click a run for its page."));
    root.appendChild(el("div", { id: "grid" }));
    observer = new IntersectionObserver((entries) => {
      for (const e of entries) {
        e.target.dataset.visible = e.isIntersecting ? "1" : "0";
        if (e.isIntersecting && !state.plotted.has(Number(e.target.dataset.runId))) drawCard(e.target);
      }
    }, { rootMargin: "300px" });
    state.plotted.clear();
    if (state.topk === null) { state.topk = 200; topk.value = "200"; }  // the best 200 first; clear the box for all
    if (state.runs.size === 0) await serial(loadOverview);  // the first load failed: ask again (or it raises)
    renderGrid();
  }

  async function poll() {
    try {
      const changed = await serial(loadOverview);
      document.getElementById("live").textContent = "live · " + state.runs.size + " runs · updated " + new Date().toLocaleTimeString();
      if (changed && routeName() === "home") renderGrid();
      // the navigation lists the searches: asked again only when a run of a search it does not list appears
      if (changed && [...state.runs.values()].some((r) => r.search_id !== null && !navSearches.has(r.search_id))) await refreshNav();
      // an open run page of a run that was running, or a search page whose trials changed: draw it again
      const h = location.hash || "#/";
      if (changed && h.startsWith("#/run/") && shown.status === "running") await route();
      if (changed && h.startsWith("#/search/") && shown.trials !== trialsOf(shown.search)) await route();
    } catch (err) {
      showPollError(err);
    }
  }
  function showPollError(err) { document.getElementById("live").textContent = "live · polling failed: " + err.message; }

  // -- search view ---------------------------------------------------------------------------------
  function stageColor(stage) { return STAGE_COLORS[(stage - 1) % STAGE_COLORS.length]; }

  const WEBGL_TRIALS = 1000;  // from this many trials the scatters draw with WebGL (scattergl): SVG slows down past it
  function searchScatter(div, s, name) {
    const isLog = s.log.includes(name);
    const scatterType = s.trials.length >= WEBGL_TRIALS ? "scattergl" : "scatter";
    const traces = [];
    for (const st of s.stages) {
      const pts = s.trials.filter((t) => t.stage === st.stage && t.status === "finished" && t.val_acc !== null && t.params[name] !== undefined);
      traces.push({ x: pts.map((t) => t.params[name]), y: pts.map((t) => t.val_acc), text: pts.map((t) => t.label), customdata: pts.map((t) => t.id),
        mode: "markers", type: scatterType, name: "stage " + st.stage + " (" + st.epochs + " ep)", marker: { color: stageColor(st.stage), size: 7 },
        hovertemplate: name + " %{x:.3g}<br>val acc %{y:.4f}<br>%{text}<extra></extra>" });
    }
    const bad = s.trials.filter((t) => !(t.status === "finished" && t.val_acc !== null) && t.params[name] !== undefined);
    traces.push({ x: bad.map((t) => t.params[name]), y: bad.map(() => 0), text: bad.map((t) => t.label + " (" + t.status + ")"), customdata: bad.map((t) => t.id),
      mode: "markers", type: scatterType, name: "exploded/diverged/failed", marker: { symbol: "x", color: "#999", size: 7 }, hovertemplate: "%{text}<extra></extra>" });
    const shapes = [], annotations = [];
    s.stages.forEach((st, i) => {
      const r = st.ranges[name];
      if (!r || r.type === "choice") return;
      shapes.push({ type: "rect", xref: "x", yref: "paper", x0: r.low, x1: r.high, y0: 1.0 - 0.035 * (i + 1), y1: 1.0 - 0.035 * i - 0.008,
        fillcolor: stageColor(st.stage), opacity: 0.45, line: { width: 0 } });
    });
    const best = s.trials.find((t) => t.id === s.best_run);
    if (best && best.params[name] !== undefined) {
      annotations.push({ x: isLog ? Math.log10(best.params[name]) : best.params[name], y: best.val_acc, text: "best", showarrow: true, arrowhead: 2, ax: 0, ay: -30 });
    }
    plot(div, traces, { title: { text: "val acc vs " + name + (isLog ? " (log axis)" : "") }, xaxis: { type: isLog ? "log" : "linear", title: { text: name } },
      yaxis: { title: { text: "validation accuracy" } }, shapes, annotations, legend: { orientation: "h", y: -0.25 } });
    div.on("plotly_click", (ev) => { const id = ev.points[0].customdata; if (id !== undefined) location.hash = "#/run/" + id; });
  }

  function parallel(div, s, tableBox) {
    const done = s.trials.filter((t) => t.status === "finished" && t.val_acc !== null && s.names.every((n) => typeof t.params[n] === "number"));
    const dims = s.names.map((n) => {
      const isLog = s.log.includes(n);
      const vals = done.map((t) => (isLog ? Math.log10(t.params[n]) : t.params[n]));
      const dim = { label: n + (isLog ? " (log)" : ""), values: vals };
      if (isLog && vals.length) {
        const lo = Math.floor(Math.min(...vals)), hi = Math.ceil(Math.max(...vals));
        dim.tickvals = []; dim.ticktext = [];
        for (let e = lo; e <= hi; e++) { dim.tickvals.push(e); dim.ticktext.push("1e" + e); }
        dim.range = [lo, hi];
      }
      return dim;
    });
    dims.push({ label: "val acc", values: done.map((t) => t.val_acc) });
    plot(div, [{ type: "parcoords", dimensions: dims, line: { color: done.map((t) => t.val_acc), colorscale: "Viridis", showscale: true } }],
      { title: { text: "parallel coordinates (drag along an axis to filter)" }, margin: { l: 60, r: 60, t: 70, b: 30 } });
    function update() {
      const dimsNow = div.data[0].dimensions;
      const keep = done.filter((t, i) => dimsNow.every((d) => {
        const c = d.constraintrange;
        if (!c || !c.length) return true;
        const ranges = Array.isArray(c[0]) ? c : [c];
        return ranges.some(([a, b]) => d.values[i] >= a && d.values[i] <= b);
      }));
      clear(tableBox);
      tableBox.appendChild(el("p", { id: "selected-count" }, keep.length + " of " + done.length + " finished trials selected"));
      const rows = keep.sort((a, b) => b.val_acc - a.val_acc).slice(0, 100).map((t) =>
        [el("a", { href: "#/run/" + t.id }, t.label), acc(t.val_acc), ...s.names.map((n) => fmt(t.params[n]))]);
      const tbl = table(["run", "val acc", ...s.names], rows);
      tbl.id = "selected-runs";
      tableBox.appendChild(tbl);
    }
    div.on("plotly_restyle", update);
    update();
  }

  async function searchPage(id) {
    await loadPlotly();
    const s = await api("search/" + id);
    const root = main();
    clear(root);
    if (!s) { root.appendChild(el("p", {}, "No search " + id + " in this store.")); return; }
    shown.search = s.id;
    shown.trials = s.trials.length;
    root.appendChild(el("h2", {}, "search " + s.name));
    const spec = s.spec || {};
    root.appendChild(el("p", { className: "muted" }, "model " + fmt(spec.model) + " · data " + fmt((spec.data || {}).source) +
      " · " + s.trials.length + " trials in " + s.stages.length + " stage(s) · seed " + fmt(spec.seed)));
    const imp = el("div", { className: "panel", id: "importance" }, el("h3", {}, "parameter importance"), el("p", {}, s.importance.text),
      el("p", { className: "muted" }, "Measure: " + s.importance.measure + "."));
    if (s.importance.scores.length) imp.appendChild(table(["hyperparameter", "η² (share of variance)"], s.importance.scores.map((x) => [x.name, (100 * x.eta2).toFixed(1) + "%"])));
    root.appendChild(imp);
    root.appendChild(table(["stage", "epochs", "trials run / planned", "ranges", "best val acc"],
      s.stages.map((st) => [st.stage, st.epochs, st.ran + " / " + st.planned, Object.entries(st.ranges).map(([n, r]) => n + " " + r.text).join(", "), acc(st.best_val_acc)])));
    let seedNote = null;
    if (s.seeds) {
      const box = el("div", { className: "panel", id: "seed-spread" }, el("h3", {}, "spread over seeds"), el("p", {}, s.seeds.text));
      if (s.seeds.groups.length) {
        box.appendChild(table(["configuration", "epochs", "seeds", "mean val acc", "std", "min–max", "95% interval of the mean", "runs"],
          s.seeds.groups.map((g) => [g.configuration, g.epochs, g.n, acc(g.mean), acc(g.std), acc(g.min) + "–" + acc(g.max),
            acc(g.mean_low) + "–" + acc(g.mean_high), el("span", {}, g.runs.flatMap((id, i) => [i ? ", " : "", el("a", { href: "#/run/" + id }, String(id))]))])));
      }
      if (s.seeds.groups.length) root.appendChild(box); else seedNote = box;  // nothing to show: at the end, small
    }
    const warn = el("div", { className: "panel", id: "edge-warnings" }, el("h3", {}, "edge warnings"));
    if (s.warnings.length) s.warnings.forEach((w) => warn.appendChild(el("p", { className: "warning" }, w.message)));
    else warn.appendChild(el("p", {}, "No best result sat at the edge of its range."));
    root.appendChild(warn);
    const charts = el("div", { className: "charts" });
    root.appendChild(charts);
    for (const name of s.names) searchScatter(chartBox("scatter-" + name, charts), s, name);
    if (s.names.length) {
      const pc = chartBox("parcoords", root);
      pc.style.height = "420px";
      const sel = el("div", { className: "panel", id: "selection" });
      root.appendChild(sel);
      parallel(pc, s, sel);
    }
    if (s.finals.length) {
      root.appendChild(el("h3", {}, "final run(s) of this search"));
      root.appendChild(table(["run", "status", "val acc"], s.finals.map((r) => [el("a", { href: "#/run/" + r.id }, r.label), r.status, acc(r.val_acc)])));
    }
    if (seedNote) root.appendChild(seedNote);
  }

  // -- run page ------------------------------------------------------------------------------------
  function seriesTrace(s, name, extra) {
    return Object.assign({ x: s.x, y: s.y, mode: s.n > 1 ? "lines" : "markers", name, type: "scatter" }, extra || {});
  }
  function byPrefix(series, prefix) {
    return Object.keys(series).filter((k) => k.startsWith(prefix)).sort().map((k) => [k.slice(prefix.length), series[k]]);
  }
  function noData(div, what) {
    div.appendChild(el("p", { className: "muted", style: "padding:1em" }, what + ": not recorded for this run (runs recorded before monitors were kept, or monitors off)."));
  }

  async function runPage(id) {
    await loadPlotly();
    const v = await api("run/" + id);
    const root = main();
    clear(root);
    if (!v) { root.appendChild(el("p", {}, "No page for run " + id + " (not in the store" + (LIVE ? "" : ", or not embedded in this report") + ").")); return; }
    const r = v.run, S = v.series;
    shown.status = r.status;
    root.appendChild(el("h2", {}, r.label));
    root.appendChild(el("p", {}, "status ", el("b", { style: "color:" + (STATUS_COLORS[r.status] || "#999") }, r.status),
      " · best val acc " + acc(r.best_val_acc) + " · epochs " + fmt(r.epochs) + " · " + fmt(r.seconds) + " s", r.search_id !== null ? el("span", {}, " · ", el("a", { href: "#/search/" + r.search_id }, "search " + r.search)) : null));
    if (r.error) root.appendChild(el("p", { className: "fail" }, "error: " + r.error));
    root.appendChild(table(Object.keys(r.params), [Object.values(r.params)]));
    root.appendChild(el("div", { className: "panel", id: "diagnosis" }, el("b", {}, "loss curve: "), v.diagnosis));
    if (v.compare) root.appendChild(el("div", { className: "panel", id: "compare" }, el("b", {}, "final vs search best: "), v.compare));
    const charts = el("div", { className: "charts" });
    root.appendChild(charts);

    const lossDiv = chartBox("loss", charts);
    if (S.loss) {
      const t = [seriesTrace(S.loss, "loss (raw)", { line: { color: "#9ecae1", width: 1 } })];
      if (S.loss_smooth) t.push(seriesTrace(S.loss_smooth, "smoothed", { line: { color: "#08519c", width: 2 } }));
      if (S.loss.bad.length) t.push({ x: S.loss.bad, y: S.loss.bad.map(() => Math.max(...S.loss.y.filter((y) => y !== null), 1)), mode: "markers", name: "NaN/inf", marker: { symbol: "x", color: "#d62728", size: 9 } });
      plot(lossDiv, t, { title: { text: "training loss (" + S.loss.n + " iterations" + (S.loss.log ? ", log axis: it spans decades" : "") + ")" },
        xaxis: { title: { text: "iteration" } }, yaxis: { title: { text: "loss (cross-entropy)" }, type: S.loss.log ? "log" : "linear" } });
    } else noData(lossDiv, "loss");

    const accDiv = chartBox("accuracy", charts);
    if (S.train_acc || S.val_acc) {
      const t = [];
      if (S.train_acc) t.push(seriesTrace(S.train_acc, "train", { mode: "lines+markers" }));
      if (S.val_acc) t.push(seriesTrace(S.val_acc, "val", { mode: "lines+markers" }));
      plot(accDiv, t, { title: { text: "accuracy per epoch" }, xaxis: { title: { text: "epoch" } }, yaxis: { title: { text: "accuracy (fraction)" } } });
    } else noData(accDiv, "accuracy");
    const accText = el("div", { className: "panel", id: "gap" }, v.accuracy.text);
    for (const [k, iv] of Object.entries(v.accuracy.intervals)) {
      accText.appendChild(el("div", {}, k + " " + acc(iv.value) + " (95% Wilson interval " + acc(iv.low) + "–" + acc(iv.high) + " on " + iv.n + " examples)"));
    }
    if (v.seeds) accText.appendChild(el("div", { id: "seeds" }, v.seeds.text));
    root.insertBefore(accText, charts);

    const lrDiv = chartBox("lr", charts);
    if (S.lr) {
      const last = S.loss ? S.loss.x[S.loss.x.length - 1] : S.lr.x[S.lr.x.length - 1];
      plot(lrDiv, [{ x: [...S.lr.x, last], y: [...S.lr.y, S.lr.y[S.lr.y.length - 1]], mode: "lines", line: { shape: "hv" }, name: "lr" }],
        { title: { text: "learning rate" }, xaxis: { title: { text: "iteration" } }, yaxis: { title: { text: "learning rate" }, type: "log" } });
    } else noData(lrDiv, "learning rate");

    const ratios = byPrefix(S, "update_ratio:");
    const ratioDiv = chartBox("update_ratio", charts);
    if (ratios.length) {
      const [lo, hi] = v.ratio_band;
      plot(ratioDiv, ratios.map(([n, s]) => seriesTrace(s, n)), { title: { text: "update / weight ratio per layer (band " + lo + "–" + hi + ", ~1e-3 ideal)" },
        xaxis: { title: { text: "iteration" } }, yaxis: { title: { text: "||ΔW|| / ||W||" }, type: "log" },
        shapes: [{ type: "rect", xref: "paper", x0: 0, x1: 1, yref: "y", y0: lo, y1: hi, fillcolor: "#2a9d5c", opacity: 0.12, line: { width: 0 } },
          { type: "line", xref: "paper", x0: 0, x1: 1, yref: "y", y0: 1e-3, y1: 1e-3, line: { color: "#2a9d5c", dash: "dash", width: 1 } }] });
    } else noData(ratioDiv, "update/weight ratios");

    const wm = byPrefix(S, "weight_mean:"), ws = byPrefix(S, "weight_std:");
    const wDiv = chartBox("weights", charts);
    if (wm.length || ws.length) {
      plot(wDiv, [...wm.map(([n, s]) => seriesTrace(s, n + " mean", { mode: "lines+markers" })), ...ws.map(([n, s]) => seriesTrace(s, n + " std", { mode: "lines+markers", yaxis: "y2", line: { dash: "dot" } }))],
        { title: { text: "weights over epochs: mean (left), std (right, dotted)" }, xaxis: { title: { text: "epoch (0: at init)" } }, yaxis: { title: { text: "mean" } }, yaxis2: { title: { text: "std" }, overlaying: "y", side: "right" } });
    } else noData(wDiv, "weight statistics");

    const am = byPrefix(S, "act_mean:"), as = byPrefix(S, "act_std:"), dead = byPrefix(S, "dead:"), sat = byPrefix(S, "saturated:");
    const aDiv = chartBox("activations", charts);
    if (am.length) {
      plot(aDiv, [...am.map(([n, s]) => seriesTrace(s, n + " mean")), ...as.map(([n, s]) => seriesTrace(s, n + " std", { line: { dash: "dot" } })),
        ...dead.map(([n, s]) => seriesTrace(s, n + " dead", { yaxis: "y2", line: { dash: "dash" } })), ...sat.map(([n, s]) => seriesTrace(s, n + " saturated", { yaxis: "y2", line: { dash: "dashdot" } }))],
      { title: { text: "activations per layer: mean/std (left), dead/saturated fraction (right)" }, xaxis: { title: { text: "iteration" } }, yaxis: { title: { text: "activation" } }, yaxis2: { title: { text: "fraction of units" }, overlaying: "y", side: "right", range: [0, 1] } });
    } else noData(aDiv, "activation statistics");

    const hBox = el("div", { className: "chart-box" });  // the chart and, below it, its slider
    charts.appendChild(hBox);
    const hDiv = el("div", { data: { chart: "histograms" } });
    hBox.appendChild(hDiv);
    const layers = Object.entries(v.histograms).filter(([, hs]) => hs.length);
    if (layers.length) {
      // the first recorded histogram of each layer (blue) against the one the slider picks (red; the last at first)
      const iterations = [...new Set(layers.flatMap(([, hs]) => hs.map((h) => h.iteration)))].sort((a, b) => a - b);
      const histTraces = (at) => {
        const traces = [];
        layers.forEach(([layer, hs], i) => {
          const later = hs.filter((h) => h.iteration <= at);
          const picks = [hs[0], later.length ? later[later.length - 1] : hs[0]];
          (picks[1] === picks[0] ? [picks[0]] : picks).forEach((h, j) => {
            const centres = h.counts.map((_, b) => (h.edges[b] + h.edges[b + 1]) / 2);
            traces.push({ x: centres, y: h.counts, type: "bar", name: layer + " @ it " + h.iteration, opacity: 0.6, xaxis: "x" + (i + 1), yaxis: "y" + (i + 1), marker: { color: j ? "#d62728" : "#1f77b4" } });
          });
        });
        return traces;
      };
      const layout = { title: { text: "activation histograms: first recorded (blue), the slider's (red)" }, grid: { rows: 1, columns: layers.length, pattern: "independent" }, barmode: "overlay" };
      layers.forEach(([layer], i) => {
        layout["xaxis" + (i + 1)] = { title: { text: layer + " output" } };
        layout["yaxis" + (i + 1)] = { title: { text: i ? "" : "count" } };
      });
      const last = iterations[iterations.length - 1];
      plot(hDiv, histTraces(last), layout);
      if (iterations.length > 1) {
        const slider = el("input", { type: "range", id: "hist-slider", min: "0", max: String(iterations.length - 1), value: String(iterations.length - 1), step: "1", style: "width:55%" });
        const label = el("span", { id: "hist-iteration" }, "iteration " + last);
        slider.addEventListener("input", () => {
          const at = iterations[parseInt(slider.value, 10)];
          label.textContent = "iteration " + at;
          Plotly.react(hDiv, histTraces(at), hDiv.layout);
        });
        hBox.appendChild(el("div", { className: "slider" }, "histograms at ", slider, " ", label));
      }
    } else noData(hDiv, "activation histograms");

    const gn = byPrefix(S, "grad_norm:");
    if (gn.length) {
      plot(chartBox("gradients", charts), gn.map(([n, s]) => seriesTrace(s, n)), { title: { text: "gradient norm per parameter" }, xaxis: { title: { text: "iteration" } }, yaxis: { title: { text: "||dW||" }, type: "log" } });
    }

    if (v.test) {
      const box = el("div", { className: "panel", id: "test" }, el("h3", {}, "test split"));
      if (v.test.per_class) box.appendChild(table(["class", "accuracy"], Object.entries(v.test.per_class).map(([c, a]) => [c, acc(a)])));
      root.appendChild(box);
      if (v.test.confusion) {
        const names = v.test.classes || v.test.confusion.map((_, i) => String(i));
        const cm = chartBox("confusion", root);
        plot(cm, [{ type: "heatmap", z: v.test.confusion, x: names, y: names, colorscale: "Blues", hovertemplate: "true %{y}, predicted %{x}: %{z}<extra></extra>" }],
          { title: { text: "confusion matrix (test split; rows: true class)" }, xaxis: { title: { text: "predicted" } }, yaxis: { title: { text: "true" }, autorange: "reversed" } });
      }
    }

    root.appendChild(findingsPanel(v.findings, "the doctor's findings", "findings", "div"));
    root.appendChild(el("div", { className: "panel", id: "provenance" }, el("h3", {}, "provenance"), table(["what", "value"], v.provenance)));
  }

  // -- routing -------------------------------------------------------------------------------------
  function routeName() { const h = location.hash || "#/"; return h.startsWith("#/run/") ? "run" : h.startsWith("#/search/") ? "search" : "home"; }

  const navSearches = new Set();
  async function refreshNav() {
    const list = await api("searches");
    const nav = document.getElementById("nav");
    clear(nav);
    for (const s of list || []) { navSearches.add(s.id); nav.appendChild(el("a", { href: "#/search/" + s.id }, "search " + s.name)); }
  }

  async function route() {
    const h = location.hash || "#/";
    document.body.dataset.ready = "0";
    try {
      if (h.startsWith("#/run/")) await runPage(parseInt(h.slice(6), 10));
      else if (h.startsWith("#/search/")) await searchPage(parseInt(h.slice(9), 10));
      else await commandCenter();
    } catch (err) {
      const root = main();
      clear(root);
      root.appendChild(el("p", { className: "fail" }, "could not draw this view: " + err.message));
      console.error(err);
    }
    await Promise.all(pending.splice(0));
    document.body.dataset.view = h;
    document.body.dataset.ready = "1";
  }

  async function start() {
    if (!LIVE) document.getElementById("live").textContent = "report · " + DATA.meta.made_by + " · " + DATA.meta.made + " · " + DATA.meta.store;
    const home = routeName() === "home";
    if (home) state.first = serial(loadOverview);  // the command center's data, asked before anything else
    const nav = refreshNav();
    window.addEventListener("hashchange", route);
    await route();
    await nav;
    if (LIVE) state.timer = setInterval(poll, POLL_MS);
  }
  window.babysitDashboard = { state, live: LIVE };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
