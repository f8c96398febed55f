"""The benchmark dashboard (Streamlit): runs, the leaderboard, and one run's trajectory and report.

    rdagent autorl ui --bench          (streamlit run this file; reads AUTORL_HOME)

Shows what `bench`, the RD-Agent loop, `report` and `sweep` wrote: the ledger, each run's record.json,
reports/metrics.json, figures and report.md, each sweep's summary.md and figures. Nothing here computes scores.
"""

from __future__ import annotations

import json
from pathlib import Path

import streamlit as st

from rdagent_autorl.bench.ledger import leaderboard, runs
from rdagent_autorl.bench.run_record import RECORD, read_record
from rdagent_autorl.settings import get_settings


def recorded_runs() -> list[Path]:
    """Run folders with a record, newest first: benchmark runs and the RD-Agent loop's own runs."""
    home = get_settings().home_dir
    folders = [p.parent for base in (home / "bench", home / "runs") if base.exists() for p in base.glob(f"*/{RECORD}")]
    return sorted(folders, key=lambda p: p.stat().st_mtime, reverse=True)


def show_run(run_dir: Path) -> None:
    record = read_record(run_dir)
    metrics_path = run_dir / "reports" / "metrics.json"
    st.header(f"{record.task} — {record.agent}")
    st.caption(f"{run_dir}  ·  driver {record.driver or '-'}  ·  base model {record.base_model}")
    if not metrics_path.exists():
        st.warning(f"no report yet: run `rdagent autorl report {run_dir}`")
        return
    metrics = json.loads(metrics_path.read_text())
    cols = st.columns(4)
    cols[0].metric("Baseline", metrics["baseline_score"])
    cols[1].metric("Best", metrics["best_score"], delta=metrics["improvement"])
    cols[2].metric("Submissions", f"{metrics['n_valid']}/{metrics['n_submissions']} valid")
    cols[3].metric("Code revisions", metrics["code_revisions"])
    for figure in ("score_vs_time", "timeline", "code_churn"):
        path = run_dir / "reports" / "figures" / f"{figure}.png"
        if path.exists():
            st.image(str(path), caption=figure.replace("_", " "))
    with st.expander("Metrics", expanded=False):
        st.json(metrics)
    with st.expander("Report", expanded=True):
        # Figures are shown above; the report's image links are relative to its folder.
        st.markdown("\n".join(line for line in (run_dir / "reports" / "report.md").read_text().splitlines()
                              if not line.startswith("![")))


def recorded_sweeps() -> list[Path]:
    """Sweep folders whose tables were written (`rdagent autorl sweep`, `leaderboard --sweep`), newest first."""
    base = get_settings().sweeps_dir
    found = [p.parent for p in base.glob("*/summary.md")] if base.exists() else []
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


def show_sweep(folder: Path) -> None:
    """A sweep's tables and figures as its folder holds them (sweep/tables.py wrote them)."""
    st.header(f"Sweep {folder.name}")
    text = (folder / "summary.md").read_text()
    st.markdown("\n".join(line for line in text.splitlines() if not line.startswith("![")))
    for path in sorted((folder / "figures").glob("*.png")):
        st.image(str(path), caption=path.stem.replace("_", " "))


def main() -> None:
    st.set_page_config(page_title="AutoRL bench", layout="wide")
    st.title("AutoRL benchmark")
    folders = recorded_runs()
    sweeps = recorded_sweeps()
    with st.sidebar:
        task = st.selectbox("Task", ["all"] + sorted({r["task"] for r in runs()}))
        labels = [p.name for p in folders]
        chosen = st.selectbox("Run", labels) if labels else None
        sweep = st.selectbox("Sweep", ["-"] + [p.name for p in sweeps]) if sweeps else "-"
    st.subheader("Leaderboard")
    table = leaderboard(None if task == "all" else task)
    if table:
        st.dataframe(table, hide_index=True)
    else:
        st.info("No finished runs yet: `rdagent autorl bench --task gsm8k-rule --agent example --smoke`")
    if sweep != "-":
        show_sweep(next(p for p in sweeps if p.name == sweep))
    elif chosen:
        show_run(folders[labels.index(chosen)])


main()
