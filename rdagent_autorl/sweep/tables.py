"""A sweep's comparison tables, from the ledger's rows of the sweep and each run's report (metrics.json):

- per task x agent x driver x base model, over seeds: baseline, best selection and final score (mean ± std,
  n), improvement in points (final when the task has a final part, else selection), the share of runs
  that improved beyond the baseline's 95% CI, time to first improvement, valid submission rate, the
  training routes the runs used, and which route the run's final checkpoint came from;
- a cross-task score per agent x driver x base model: each task's improvement normalised by
  1 / (reference - base), the weights shown (PostTrainBench's normalisation; the reference is the task's
  `reference_score`, or the sweep file's `references`).

Flagged runs (contaminated, copied or substituted model) are counted and never scored, as on the leaderboard.
Written as summary.md / summary.csv / summary.html with the figures (figures.py) in the sweep's folder.
"""

from __future__ import annotations

import csv
import html
import io
import statistics
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rdagent_autorl.sweep.runs import SweepRun, sweep_runs

if TYPE_CHECKING:
    from rdagent_autorl.sweep.config import SweepConfig

SUMMARY = "summary"  # summary.md, summary.csv, summary.html


def _mean_std(values: list[float]) -> str:
    if not values:
        return "-"
    mean = statistics.fmean(values)
    spread = f" ± {statistics.stdev(values):.1f}" if len(values) > 1 else ""
    return f"{mean:.1f}{spread} (n={len(values)})"


def _shares(counts: Counter, n: int) -> str:
    return ", ".join(f"{k} {v}/{n}" for k, v in sorted(counts.items())) if counts else "-"


def _values(runs: list[SweepRun], key: str) -> list[float]:
    return [r.metrics[key] for r in runs if r.metrics.get(key) is not None]


def cell_table(runs: list[SweepRun]) -> list[dict[str, Any]]:
    """The per task x agent x driver x model table (mean ± std over seeds)."""
    groups: dict[tuple, list[SweepRun]] = {}
    for r in runs:
        groups.setdefault(r.group, []).append(r)
    table = []
    for (task, agent, driver, model), group in sorted(groups.items()):
        scored = [r for r in group if not r.flagged]
        beyond = [b for b in (r.improved_beyond_ci() for r in scored) if b is not None]
        firsts = _values(scored, "time_to_first_improvement_s")
        table.append({
            "task": task, "agent": agent, "driver": driver, "model": model, "runs": len(scored),
            "flagged": len(group) - len(scored),
            "baseline": _mean_std(_values(scored, "baseline_score")),
            "best_selection": _mean_std(_values(scored, "best_score")),
            "final": _mean_std(_values(scored, "final_score")),
            "improvement": _mean_std([r.improvement for r in scored if r.improvement is not None]),
            "improved_beyond_ci": f"{sum(beyond)}/{len(beyond)}" if beyond else "-",
            "time_to_first_improvement_s": (_mean_std(firsts) + f" [{len(firsts)}/{len(scored)} improved]"
                                            if firsts else "-"),
            "valid_submission_rate": _mean_std([100 * v for v in _values(scored, "valid_submission_rate")]),
            "routes_used": _shares(Counter(x for r in scored for x in r.metrics.get("training_routes") or []),
                                   len(scored)),
            "final_from_route": _shares(Counter(x for r in scored for x in r.metrics.get("final_routes") or []),
                                        len(scored)),
        })
    return table


def task_references(config: "SweepConfig") -> dict[str, float]:
    """Each task's reference score by task id: the sweep file's `references`, else the task's declaration (a
    custom task folder that is gone since: the declaration's default)."""
    from rdagent_autorl.tasks import TaskError, TaskSpec, get_task

    refs = {}
    for task in config.tasks:
        try:
            spec = get_task(task)
            refs[spec.id] = float(config.references.get(spec.id, spec.reference_score))
        except TaskError:
            refs[Path(task).name] = float(config.references.get(Path(task).name, TaskSpec.reference_score))
    return refs


def cross_task_table(runs: list[SweepRun], refs: dict[str, float]) -> tuple[list[dict], list[dict]]:
    """(scores, weights): per agent x driver x model, the mean over tasks of improvement / (reference - base),
    in percent of the gap the base model leaves; and each task's weight 1 / (reference - base), base = the
    mean baseline of the task's runs in this sweep."""
    scored = [r for r in runs if not r.flagged and r.improvement is not None]
    weights = []
    for task, ref in sorted(refs.items()):
        bases = [r.metrics["final_baseline"] if r.metrics.get("final_score") is not None else r.metrics["baseline_score"]
                 for r in scored if r.group[0] == task and r.metrics.get("baseline_score") is not None]
        base = statistics.fmean(bases) if bases else None
        gap = None if base is None else ref - base
        weights.append({"task": task, "reference": ref, "base": None if base is None else round(base, 2),
                        "weight": None if not gap or gap <= 0 else round(1 / gap, 5)})
    weight = {w["task"]: w["weight"] for w in weights}
    per: dict[tuple, dict[str, list[float]]] = {}
    for r in scored:
        task, agent, driver, model = r.group
        if weight.get(task):
            per.setdefault((agent, driver, model), {}).setdefault(task, []).append(100 * r.improvement * weight[task])
    scores = []
    for (agent, driver, model), by_task in sorted(per.items()):
        means = [statistics.fmean(v) for v in by_task.values()]
        scores.append({"agent": agent, "driver": driver, "model": model, "tasks": len(by_task),
                       "normalised_improvement_pct": round(statistics.fmean(means), 2),
                       "per_task": ", ".join(f"{t} {statistics.fmean(v):+.1f}" for t, v in sorted(by_task.items()))})
    return scores, weights


def _md(rows: list[dict]) -> str:
    if not rows:
        return "(none)"
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    return "\n".join(lines + ["| " + " | ".join(str(r[k]) for k in keys) + " |" for r in rows])


def _html(rows: list[dict]) -> str:
    if not rows:
        return "<p>(none)</p>"
    keys = list(rows[0])
    head = "".join(f"<th>{html.escape(k)}</th>" for k in keys)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(r[k]))}</td>" for k in keys) + "</tr>" for r in rows)
    return f"<table border=1 cellspacing=0 cellpadding=4><tr>{head}</tr>{body}</table>"


def write_summary(config: "SweepConfig", folder: Path, manifest: dict | None = None) -> dict[str, Any]:
    """The tables and figures of a sweep into `folder`; returns them (the CLI prints the markdown)."""
    from rdagent_autorl.sweep.figures import draw_sweep_figures

    sweep_id = config.name
    runs = sweep_runs(sweep_id)
    cells = cell_table(runs)
    scores, weights = cross_task_table(runs, task_references(config))
    failed = [c for c in (manifest or {}).get("cells", []) if c.get("status") in ("failed", "cancelled")]
    folder.mkdir(parents=True, exist_ok=True)
    figures = draw_sweep_figures(runs, folder / "figures") if runs else []
    note = ("Scores: the final part's when the task has one (graded once per run), else the best selection "
            "score; improvement in points over the base model on the same items; mean ± std over seeds (n). "
            "Flagged runs are counted, never scored.")
    sections = [("Per task, agent, driver and model", cells),
                ("Cross-task score (improvement / (reference - base), mean over tasks, %)", scores),
                ("Task weights", weights),
                ("Failed or cancelled cells", [{"cell": c["key"], "status": c["status"], "error": c.get("error") or ""}
                                               for c in failed])]
    md = [f"# Sweep {sweep_id}", "", note, ""]
    page = [f"<h1>Sweep {html.escape(sweep_id)}</h1><p>{html.escape(note)}</p>"]
    for title, rows in sections:
        md += [f"## {title}", "", _md(rows), ""]
        page.append(f"<h2>{html.escape(title)}</h2>{_html(rows)}")
    for fig in figures:
        md += [f"![{fig.stem}](figures/{fig.name})", ""]
        page.append(f'<p><img src="figures/{html.escape(fig.name)}" alt="{html.escape(fig.stem)}"></p>')
    (folder / f"{SUMMARY}.md").write_text("\n".join(md))
    (folder / f"{SUMMARY}.html").write_text("<html><body>" + "".join(page) + "</body></html>")
    out = io.StringIO()
    if cells:
        writer = csv.DictWriter(out, fieldnames=list(cells[0]))
        writer.writeheader()
        writer.writerows(cells)
    (folder / f"{SUMMARY}.csv").write_text(out.getvalue())
    return {"cells": cells, "cross_task": scores, "weights": weights, "failed": failed,
            "figures": [str(f) for f in figures], "markdown": "\n".join(md)}
