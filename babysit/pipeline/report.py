"""The report of ``babysit run``: DIR/report.md (plots as DIR/plots/*.png) and DIR/report.html.

report.html is the dashboard's self-contained report of the job's run store (``babysit.dashboard.report``:
the command center, the search view with its importance panel, every run's page with its monitors,
provenance and test details; plotly.js and the data embedded, opens offline), with this job's summary
(the sections below) on its first page. report.md keeps the same sections as text with PNG plots:
the result, the doctor's findings, the search plan, each stage's ranges and best trial, the edge
warnings, the ranked trials, the final training curves and the diagnoses of the final run.
"""

from __future__ import annotations

import io
import tempfile

from babysit.fileio import atomic_write
from babysit.pipeline.final_training import RETRY_LR_FACTOR
from babysit.search.driver import varying
from babysit.search.records import ranked
from babysit.search.stages import describe, format_value
from babysit.search.tally import StageTally, stage_tallies, stopped_note, subset_note

TOP_TRIALS = 15
# the doctor's plots of the final run's monitors (babysit.doctor.plots.save_run_plots file stems)
MONITOR_PLOTS = ("update_ratios", "activation_histograms", "weights")


def write_report(result, config) -> None:
    """Write ``result.report_md`` and ``result.report_html`` (and the plots as DIR/plots/*.png)."""
    plots = _plots(result)
    plot_dir = result.out / "plots"
    plot_dir.mkdir(exist_ok=True)
    for name, png in plots.items():
        atomic_write(plot_dir / f"{name}.png", png)
    sections = _sections(result, config)
    md = _markdown(sections, plots)
    atomic_write(result.report_md, md.encode())
    from babysit.dashboard.report import report_html

    summary = [{"title": title, "blocks": [list(b) for b in blocks if b[0] in ("p", "table")]} for title, blocks in sections]
    atomic_write(result.report_html, report_html(result.store, extra={"summary": summary}).encode("utf-8"))


# -- content, shared by both formats ------------------------------------------------------------


def _sections(result, config) -> list[tuple[str, list]]:
    """[(title, blocks)] where a block is ('p', text) or ('table', header, rows) or ('plot', name)."""
    outcome, final = result.search, result.final
    names = varying(outcome.stages[0].space) if outcome.stages else []
    summary = []
    if result.test is not None:
        summary.append(("p", f"Test accuracy {result.test['accuracy']:.4f} on {result.test['num_examples']} held-out "
                             f"examples (the test split of {config.data}, never seen by the search)."))
    metrics = final.metrics()
    if metrics["val_acc"] is not None:
        summary.append(("p", f"Validation accuracy {metrics['val_acc']:.4f} after training the chosen configuration "
                             f"for {metrics['epochs']} epochs ({metrics['seconds']:.1f} s)."))
    for attempt in final.attempts:  # the final trainings not kept (final_training.train_final)
        val = attempt.get("val_acc")
        summary.append(("p", f"A final training with lr {attempt['lr']:.3e} (run {attempt['run_id']}) ended "
                             f"{attempt['status']} at iteration {attempt['iteration']}, "
                             + ("before its first epoch" if val is None else f"val_acc {val:.4f}") + "; it was not kept."))
    if final.attempts:
        summary.append(("p", f"The final run kept trained with lr {final.config.lr:.3e} (an exploding final "
                             f"training is trained again at {RETRY_LR_FACTOR:g}x the rate)."))
    selection = result.selection
    taken = selection.record if selection is not None else outcome.best
    if taken is not None:
        summary.append(("p", "Configuration trained: " + ", ".join(f"{k} {format_value(v)}" for k, v in taken.params.items())
                             + f" (search run {taken.run_id}, val_acc {taken.val_acc:f} after {taken.epochs:g} epochs)."))
    if selection is not None and selection.standard_error is not None:
        summary.append(("p", f"Why this trial: {selection.describe()}."))
    if result.checkpoint is not None:
        summary.append(("p", f"Checkpoint: {result.checkpoint.name} (+ model.json); evaluate it with "
                             f"`babysit eval --checkpoint {result.checkpoint} --data {config.data}`."))
    timings = result.timings
    summary.append(("p", "Time: " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items() if k != "total_before_report")
                         + f" (budget {config.budget_minutes:g} min, {config.workers} worker(s))."))

    doctor = [("p", result.lr_note)]
    if result.findings:
        doctor.append(_findings_table("check", result.findings))

    search = [("p", f"Plan: {result.plan.describe()}."), *_stage_blocks(result)]
    warnings = [("p", w.message()) for w in outcome.warnings] or [
        ("p", "No best result sat at the edge of its range: the ranges bracket the best values.")]
    table = [("table", ["rank", "stage", "trial", "val_acc", "train_acc", *names, "epochs", "seconds", "run"],
              [[str(i), str(r.stage), str(r.index), f"{r.val_acc:f}", _num(r.train_acc, "f"),
                *(format_value(r.params.get(n)) for n in names), _num(r.epochs, "g"), _num(r.seconds, ".1f"),
                str(r.run_id)] for i, r in enumerate(ranked(outcome.records)[:TOP_TRIALS], start=1)]),
             ("plot", "search")]
    curves = [("plot", "final")]
    diagnoses = final.diagnoses
    if diagnoses:
        every = (final.monitor_history or {}).get("every")
        curves.append(("p", f"What the curves and the training monitors (sampled every {every} iterations) say "
                            "about the final run:"))
        curves.append(_findings_table("diagnosis", diagnoses))
        curves += [("plot", name) for name in MONITOR_PLOTS]
    return [("Result", summary), ("Doctor", doctor), ("Search, coarse to fine", search),
            ("Edge warnings", warnings), (f"Best {TOP_TRIALS} trials", table), ("Final training", curves)]


def _findings_table(first: str, findings) -> tuple:
    """A table of findings; the advice column only when some finding gives advice."""
    advice = any(f.advice for f in findings)
    header = [first, "status", "value", "explanation", *(["advice"] if advice else [])]
    return ("table", header, [[f.check, f.status, _short(f.value), f.explanation, *([f.advice or ""] if advice else [])]
                              for f in findings])


ENDED_BADLY = ("exploded", "diverged", "failed")


def _stage_blocks(result) -> list:
    """The per-stage table, from the run store: trials launched, finished, stopped at which rung, exploded /
    diverged / failed, the training examples and the seconds of each stage; then the notes on stopped and
    subset-trained stages (the same as ``babysit runs`` prints)."""
    from babysit.store import RunStore

    outcome = result.search
    with RunStore(result.store, readonly=True) as store:
        runs = store.runs(outcome.search_id)
    tallies = {t.stage: t for t in stage_tallies(runs)}
    rows = []
    for s in outcome.stages:
        t = tallies.get(s.stage, StageTally(outcome.name, s.stage))
        bad = ", ".join(f"{t.statuses[k]} {k}" for k in ENDED_BADLY if t.statuses.get(k)) or "0"
        rows.append([str(s.stage), describe(s.space), str(s.epochs),
                     "whole split" if s.train_examples is None else f"{s.train_examples:,} (subset)",
                     f"{t.launched} / {s.planned}", str(t.statuses.get("finished", 0)), t.stopped_text(), bad,
                     _num(t.seconds, ".1f"), "-" if s.best is None else f"{s.best.val_acc:f}"])
    header = ["stage", "ranges", "epochs", "training examples", "trials launched / planned", "finished",
              "stopped (rung)", "exploded, diverged, failed", "seconds", "best val_acc"]
    notes = [note for note in (stopped_note(runs), subset_note(runs)) if note]
    return [("table", header, rows), *(("p", note) for note in notes)]


def _num(value, fmt) -> str:
    return "-" if value is None else format(value, fmt)


def _short(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_short(v) for v in value) + "]"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_short(v)}" for k, v in value.items())
    return "-" if value is None else str(value)


# -- plots --------------------------------------------------------------------------------------


def _plots(result) -> dict[str, bytes]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    out = {}
    outcome = result.search
    names = [n for n in varying(outcome.stages[0].space)] if outcome.stages else []
    if names:
        fig, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 3.6), squeeze=False)
        for ax, name in zip(axes[0], names):
            for stage in outcome.stages:
                pts = [(r.params[name], r.val_acc) for r in stage.records if r.val_acc is not None]
                bad = [r.params[name] for r in stage.records if r.val_acc is None or r.status != "finished"]
                if pts:
                    ax.scatter(*zip(*pts), s=14, label=f"stage {stage.stage} ({stage.epochs} ep)")
                if bad:
                    ax.scatter(bad, [0.0] * len(bad), marker="x", s=14, color="grey")
            from babysit.search.spaces import LogUniform

            if isinstance(outcome.stages[0].space[name], LogUniform):
                ax.set_xscale("log")
            ax.set_xlabel(name)
            ax.set_ylabel("val_acc")
            ax.grid(alpha=0.3)
        axes[0][0].legend(fontsize=8)
        fig.suptitle("validation accuracy of every trial (x: exploded/diverged/failed)")
        fig.tight_layout()
        out["search"] = _png(fig)
        plt.close(fig)
    solver = result.final.solver
    if solver.loss_history:
        fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6))
        a.plot(range(1, len(solver.loss_history) + 1), solver.loss_history, lw=0.6)
        a.set_xlabel("iteration")
        a.set_ylabel("loss")
        a.set_title("final training: loss")
        epochs = range(1, len(solver.train_acc_history) + 1)
        b.plot(epochs, solver.train_acc_history, marker="o", label="train")
        b.plot(epochs, solver.val_acc_history, marker="o", label="val")
        b.set_xlabel("epoch")
        b.set_ylabel("accuracy")
        b.set_title("final training: accuracy")
        b.legend()
        for ax in (a, b):
            ax.grid(alpha=0.3)
        fig.tight_layout()
        out["final"] = _png(fig)
        plt.close(fig)
        out.update(_monitor_plots(result.final))
    return out


def _monitor_plots(final) -> dict[str, bytes]:
    """The update-ratio, activation-histogram and weight plots of the final run (the doctor draws them)."""
    if not final.monitor_history:
        return {}
    with tempfile.TemporaryDirectory() as tmp:
        return {p.stem: p.read_bytes() for p in final.run.save_plots(tmp) if p.stem in MONITOR_PLOTS}


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    return buf.getvalue()


# -- formats ------------------------------------------------------------------------------------


def _markdown(sections, plots) -> str:
    lines = ["# babysit run report", ""]
    for title, blocks in sections:
        lines += [f"## {title}", ""]
        for block in blocks:
            if block[0] == "p":
                lines += [block[1], ""]
            elif block[0] == "table":
                header, rows = block[1], block[2]
                lines.append("| " + " | ".join(header) + " |")
                lines.append("|" + "---|" * len(header))
                lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
                lines.append("")
            elif block[0] == "plot" and block[1] in plots:
                lines += [f"![{block[1]}](plots/{block[1]}.png)", ""]
    return "\n".join(lines)


def _md_cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")
