"""A sweep's figures (matplotlib's object API on an Agg canvas, as bench/figures.py draws a run's):
improvement per task with error bars per agent/driver, score-vs-time curves of every seed of a cell,
and the share of final checkpoints per training route."""

from __future__ import annotations

import re
import statistics
from collections import Counter
from pathlib import Path
from rdagent_autorl.bench.figures import empty_note, new_figure, save_figure
from rdagent_autorl.bench.run_data import is_valid, load_run
from rdagent_autorl.sweep.runs import SweepRun


def _label(agent: str, driver: str, model: str) -> str:
    return "/".join(p for p in (agent, driver if driver != "-" else "", model) if p)


def improvement_per_task(runs: list[SweepRun], path: Path) -> Path:
    """Grouped bars: per task, one bar per agent/driver/model, mean improvement ± std over seeds."""
    fig, ax = new_figure(9.0, 4.5)
    scored = [r for r in runs if not r.flagged and r.improvement is not None]
    tasks = sorted({r.group[0] for r in scored})
    series = sorted({r.group[1:] for r in scored})
    if not scored:
        empty_note(ax, "no scored runs")
        return save_figure(fig, path)
    width = 0.8 / len(series)
    for i, key in enumerate(series):
        means, errs = [], []
        for task in tasks:
            vals = [r.improvement for r in scored if r.group == (task, *key)]
            means.append(statistics.fmean(vals) if vals else 0.0)
            errs.append(statistics.stdev(vals) if len(vals) > 1 else 0.0)
        ax.bar([t + i * width - 0.4 + width / 2 for t in range(len(tasks))], means, width, yerr=errs, capsize=3,
               label=_label(*key))
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xticks(range(len(tasks)), tasks)
    ax.set_ylabel("improvement over the base model (points)")
    ax.set_title("Improvement per task (mean ± std over seeds)")
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def score_vs_time(runs: list[SweepRun], group: tuple[str, str, str, str], path: Path) -> Path:
    """Every seed of one cell: its valid submissions' scores over the run's minutes, the baseline dashed."""
    fig, ax = new_figure()
    for r in sorted((r for r in runs if r.group == group), key=lambda r: r.row.get("seed") or 0):
        data = load_run(r.run_dir)
        valid = [s for s in data.submissions if is_valid(s)]
        xs, ys = [0.0] + [data.minutes(s) for s in valid], [data.baseline or 0.0] + [s.score for s in valid]
        line, = ax.step(xs, ys, where="post", marker="o", label=f"seed {r.row.get('seed')}")
        if data.baseline is not None:
            ax.axhline(data.baseline, color=line.get_color(), linestyle=":", linewidth=0.8)
    ax.set_xlabel("minutes since the agent's clock started")
    ax.set_ylabel("selection score")
    ax.set_title(f"{group[0]} · {_label(*group[1:])}: score vs time, all seeds")
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def route_shares(runs: list[SweepRun], path: Path) -> Path:
    """Stacked bars per agent/driver/model: which training route each run's final checkpoint came from."""
    fig, ax = new_figure()
    scored = [r for r in runs if not r.flagged]
    series = sorted({r.group[1:] for r in scored})
    counts = {key: Counter(x for r in scored if r.group[1:] == key for x in (r.metrics.get("final_routes") or ["none"]))
              for key in series}
    routes = sorted({x for c in counts.values() for x in c})
    if not routes:
        empty_note(ax, "no runs")
        return save_figure(fig, path)
    bottoms = [0.0] * len(series)
    for route in routes:
        shares = [counts[key][route] / max(1, sum(counts[key].values())) for key in series]
        ax.bar(range(len(series)), shares, bottom=bottoms, label=route)
        bottoms = [b + s for b, s in zip(bottoms, shares)]
    ax.set_xticks(range(len(series)), [_label(*k) for k in series], fontsize=8)
    ax.set_ylabel("share of runs")
    ax.set_title("Route of the final checkpoint")
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def draw_sweep_figures(runs: list[SweepRun], out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [improvement_per_task(runs, out_dir / "improvement_per_task.png"),
             route_shares(runs, out_dir / "route_shares.png")]
    for group in sorted({r.group for r in runs}):
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", "--".join(group))
        paths.append(score_vs_time(runs, group, out_dir / f"score_vs_time--{name}.png"))
    return paths
