"""The report's figures, drawn with matplotlib's object API on an Agg canvas.

pyplot is avoided on purpose: it keeps global state and may pick an interactive backend, which breaks
in a headless harness and leaks memory when many reports are drawn in one process.
"""

from __future__ import annotations

from itertools import accumulate
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from rdagent_autorl.bench.run_data import RunData, is_valid


def new_figure(width: float = 8.0, height: float = 4.5):
    fig = Figure(figsize=(width, height), dpi=110)
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def save_figure(fig: Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, format="png")
    return path


def empty_note(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color="gray", fontsize=13)


def _deadline(ax, run: RunData) -> float:
    minutes = (run.deadline - run.start) / 60
    ax.axvline(minutes, color="crimson", linestyle=":", linewidth=1.5, label="deadline")
    ax.set_xlim(left=0, right=max(ax.get_xlim()[1], minutes * 1.03))
    return minutes


def score_vs_time(run: RunData, path: Path) -> Path:
    fig, ax = new_figure()
    valid = sorted((s for s in run.submissions if is_valid(s)), key=lambda s: s.time)
    deadline = (run.deadline - run.start) / 60
    if valid:
        xs = [run.minutes(s) for s in valid]
        ys = [float(s.score) for s in valid]
        # A missing CI (grader without bootstrap) draws as a bare point rather than failing the figure.
        low = [max(0.0, y - s.ci_low) if s.ci_low is not None else 0.0 for y, s in zip(ys, valid)]
        high = [max(0.0, s.ci_high - y) if s.ci_high is not None else 0.0 for y, s in zip(ys, valid)]
        ax.errorbar(xs, ys, yerr=[low, high], fmt="o", capsize=3, color="tab:blue", label="submission (95% CI)")
        best = list(accumulate(ys, max))
        # Held until the deadline: the best score is what the run ends with, not what it had at the last submission.
        ax.step(xs + [max(xs[-1], deadline)], best + [best[-1]], where="post", color="tab:green", label="best so far")
    else:
        empty_note(ax, "no valid submissions")
    if run.baseline is not None:
        ax.axhline(run.baseline, color="gray", linestyle="--", label=f"baseline ({run.baseline:.4g})")
    _deadline(ax, run)
    ax.set_xlabel("minutes since start")
    ax.set_ylabel("score")
    ax.set_title("Score vs time")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    return save_figure(fig, path)


def timeline(run: RunData, path: Path) -> Path:
    fig, ax = new_figure(8.0, 3.2)
    subs = run.submissions
    groups = (("valid", "o", "tab:green", [s for s in subs if is_valid(s)]),
              ("invalid", "X", "tab:red", [s for s in subs if not is_valid(s)]))
    for label, marker, color, group in groups:
        if group:
            ax.scatter([run.minutes(s) for s in group], [1] * len(group), marker=marker, color=color, s=60,
                       zorder=3, label=f"{label} submission")
    copied = [s for s in subs if s.copied_base_model]
    if copied:
        ax.scatter([run.minutes(s) for s in copied], [1] * len(copied), marker="s", s=220, facecolors="none",
                   edgecolors="darkorange", linewidths=2, zorder=4, label="copied base model")
    if len(subs) <= 40:  # numbering beyond that is unreadable; the markers still show the rhythm
        for i, s in enumerate(subs, 1):
            ax.annotate(str(i), (run.minutes(s), 1), textcoords="offset points", xytext=(0, 9), ha="center", fontsize=7)
    revisions = run.revisions
    if revisions:
        changed = [r for r in revisions if r.changes_code]
        quiet = [r for r in revisions if not r.changes_code]
        for label, color, group in (("code revision", "black", changed), ("unchanged snapshot", "silver", quiet)):
            if group:
                ax.scatter([run.minutes(r) for r in group], [0] * len(group), marker="|", s=300, color=color,
                           label=label)
    if not subs and not revisions:
        empty_note(ax, "no submissions and no code revisions")
    _deadline(ax, run)
    ax.set_ylim(-0.7, 1.7)
    ax.set_yticks([0, 1], ["code", "submissions"])
    ax.set_xlabel("minutes since start")
    ax.set_title("Timeline")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="upper left", fontsize=7, ncol=3, markerscale=0.6)
    return save_figure(fig, path)


def code_churn(run: RunData, path: Path) -> Path:
    fig, ax = new_figure(8.0, 3.8)
    revisions = run.revisions
    if revisions:
        xs = list(range(len(revisions)))
        ax.bar(xs, [r.lines_added for r in revisions], color="tab:green", label="lines added")
        ax.bar(xs, [-r.lines_removed for r in revisions], color="tab:red", label="lines removed")
        ax.axhline(0, color="black", linewidth=0.8)
        step = max(1, len(xs) // 25)  # keep tick labels legible for long runs with many polls
        ax.set_xticks(xs[::step], [r.id for r in revisions][::step],
                      rotation=60, ha="right", fontsize=7)
        ax.legend(loc="best", fontsize=8)
    else:
        empty_note(ax, "no code revisions recorded")
        ax.set_xticks([])
    ax.set_ylabel("lines")
    ax.set_title("Code churn per revision")
    ax.grid(axis="y", alpha=0.3)
    return save_figure(fig, path)


def draw_figures(run: RunData, out_dir: Path) -> list[Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return [score_vs_time(run, out_dir / "score_vs_time.png"), timeline(run, out_dir / "timeline.png"),
            code_churn(run, out_dir / "code_churn.png")]
