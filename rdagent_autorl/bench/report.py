"""Post-hoc analysis of a recorded benchmark run: metrics, figures and a per-submission narrative.

Everything is derived from what the harness left in the run folder (record.json, workspace.records/scores.jsonl,
snapshots/, failures.jsonl), read through their models (bench/run_data.py), so a report can be
regenerated at any time, also for a run that crashed.
    RUN/reports/metrics.json, report.md, report.html, contamination.json, figures/*.png,
                integrity_judge.json (when AUTORL_INTEGRITY_JUDGE is on: bench/integrity_judge.py)
"""

from __future__ import annotations

import html
import json
import logging
import re
from collections import Counter
from pathlib import Path
from typing import Any

from rdagent_autorl.bench.recorder import Revision
from rdagent_autorl.bench.routes import detect_training_routes, final_routes, revision_for
from rdagent_autorl.bench.run_data import RunData, is_valid, load_run
from rdagent_autorl.records import write_json_atomic

logger = logging.getLogger(__name__)

CONTAMINATION = "contamination.json"  # under reports/: the full verdict, every hit listed there
CONTAMINATION_SUMMARY = ("contaminated", "items_hit", "hits_total", "ngram", "files_checked", "error")
HITS_LISTED = 50
DIFF_MAX_LINES = 80
DIFFS_PER_SUBMISSION = 12  # a long stretch of polls would otherwise bury the submissions in diffs
FIGURES = (("score_vs_time.png", "Score vs time (95% CI, baseline, best so far, deadline)"),
           ("timeline.png", "Submissions and code revisions over time"),
           ("code_churn.png", "Lines added / removed per code revision"))


def _metrics(run: RunData) -> dict[str, Any]:
    rec, subs, start, deadline = run.record, run.submissions, run.start, run.deadline
    since = lambda sub: None if sub is None else round(float(sub.time) - start, 1)  # noqa: E731
    valid = [s for s in subs if is_valid(s)]
    baseline = run.baseline
    best = max((s.score for s in valid), default=None)
    best_sub = next((s for s in valid if s.score >= best), None) if best is not None else None
    first_up = next((s for s in valid if s.score > baseline), None) if baseline is not None else None
    pairs = list(zip(valid, valid[1:]))
    used_until = min(float(rec.end), deadline) if rec.end is not None else deadline
    timeout = rec.timeout_s
    failures = Counter(["invalid_submission"] * (len(subs) - len(valid)) + [str(f.kind or "unknown") for f in run.failures]
                       + ([f"agent_exit_{rec.agent_exit}"] if rec.agent_exit not in (0, None) else [])
                       + (["deadline_kill"] if rec.killed_at_deadline else [])
                       + [f"refused_{r.status}" for r in run.refusals])
    return {
        "n_submissions": len(subs),
        "n_valid": len(valid),
        "valid_submission_rate": round(len(valid) / len(subs), 3) if subs else None,
        "first_valid_submission_index": next((i for i, s in enumerate(subs, 1) if is_valid(s)), None),
        "first_valid_submission_delay_s": since(valid[0] if valid else None),
        "baseline_score": baseline,
        "best_score": best,
        "best_ci": [best_sub.ci_low, best_sub.ci_high] if best_sub else None,
        "improvement": round(best - baseline, 2) if best is not None and baseline is not None else None,
        "time_to_first_improvement_s": since(first_up),
        "time_to_best_s": since(best_sub),
        "monotonic_ratio": round(sum(b.score >= a.score for a, b in pairs) / len(pairs), 3) if pairs else None,
        "copied_base_model_submissions": sum(1 for s in subs if s.copied_base_model),
        "copied_model_submissions": sum(1 for s in subs if s.copied_model),
        "model_substituted_submissions": sum(1 for s in subs if s.model_substituted),
        "refused_submissions": len(run.refusals),
        "time_used_ratio": round(max(0.0, used_until - start) / timeout, 3) if timeout else None,
        "last_submission_gap_s": round(deadline - float(subs[-1].time), 1) if subs else None,
        "code_revisions": sum(1 for r in run.revisions if r.changes_code),
        "training_routes": detect_training_routes(run),
        "final_routes": final_routes(run),
        "failure_types": dict(sorted(failures.items())),
        **_final_metrics(run.final),
        "task": rec.task, "agent": rec.agent, "driver": rec.driver, "run_id": rec.run_id,
        "sandbox": rec.sandbox or None,
        **({"judge": rec.judge, "judge_usage": _judge_usage(subs)} if rec.judge else {}),
    }


def _final_metrics(final) -> dict[str, Any]:
    """The run's score: its chosen checkpoint on the held-out final part (grading/final.py)."""
    if final is None or not final.available:
        return {"final_score": None, "final_note": final.reason if final else "no final grade recorded"}
    return {"final_score": final.score, "final_ci": [final.ci_low, final.ci_high], "final_n": final.n,
            "final_baseline": final.baseline_score, "final_improvement": final.improvement,
            "final_submission": final.submission_id, "final_declared": final.declared}


def _judge_usage(subs) -> dict[str, Any]:
    """What the run's grades cost in judge calls (a re-graded submission answered from caches costs none)."""
    total: dict[str, Any] = {"calls": 0, "cache_hits": 0, "prompt_tokens": 0, "completion_tokens": 0, "cost_usd": None}
    for s in subs:
        usage = getattr(s, "judge", None) or {}
        for key in ("calls", "cache_hits", "prompt_tokens", "completion_tokens"):
            total[key] += int(usage.get(key) or 0)
        if usage.get("cost_usd") is not None:
            total["cost_usd"] = (total["cost_usd"] or 0.0) + usage["cost_usd"]
    return total


def compute_metrics(run_dir: Path) -> dict[str, Any]:
    return _metrics(load_run(run_dir))


# -- narrative: one list of blocks, rendered to both Markdown and HTML so the two never disagree ---------
# blocks: ("h", level, text) ("p", segs) ("ul", [segs]) ("table", header, rows) ("img", alt, src) ("pre", text)
# segs: list of str | ("code", str) | ("b", str)

def _num(x: Any) -> str:
    return "—" if x is None else f"{x:.4g}" if isinstance(x, float) else str(x)


def _score_text(obj) -> str:
    """A score with its interval: of a Submission or a Baseline."""
    text = _num(obj.score)
    if obj.ci_low is not None and obj.ci_high is not None:
        text += f" (95% CI {_num(obj.ci_low)}–{_num(obj.ci_high)}"
        text += f", n={obj.n})" if obj.n is not None else ")"
    return text


def _final_text(final) -> str:
    return final.summary() if final is not None else "none (no final grade recorded)"


def _read_diff(run: RunData, rel: str) -> str:
    root = (run.run_dir / "snapshots").resolve()
    path = (root / rel).resolve()
    if root not in path.parents or not path.is_file():
        return f"(diff file not available: {rel})"
    lines = path.read_bytes().decode("utf-8", "replace").splitlines()
    if len(lines) > DIFF_MAX_LINES:
        lines = lines[:DIFF_MAX_LINES] + [f"... ({len(lines) - DIFF_MAX_LINES} more lines)"]
    return "\n".join(lines)


def _code_delta(run: RunData, prev: int, cur: int | None) -> list[tuple]:
    if cur is None:
        return [("p", ["No code snapshot was recorded up to this submission."])]
    if cur <= prev:
        return [("p", ["No code changes since the previous submission."])]
    between = run.revisions[prev + 1:cur + 1]
    # The net effect between the two snapshots: a file changed and then reverted in between is no change.
    old, new = run.revisions[prev].files if prev >= 0 else {}, run.revisions[cur].files
    added, removed = sorted(set(new) - set(old)), sorted(set(old) - set(new))
    changed = sorted(p for p in set(new) & set(old) if new[p] != old[p])
    items: list[list] = []
    for label, names in (("Added", added), ("Removed", removed), ("Changed", changed)):
        if names:
            items.append([f"{label}: "] + [seg for i, n in enumerate(names) for seg in ([", "] if i else []) + [("code", n)]])
    plus, minus = sum(r.lines_added for r in between), sum(r.lines_removed for r in between)
    items.append([f"Lines: +{plus} / -{minus} over {len(between)} revision(s)"])
    blocks: list[tuple] = [("ul", items)]
    with_diff: list[Revision] = [r for r in between if r.diff]
    for r in with_diff[:DIFFS_PER_SUBMISSION]:
        blocks += [("p", [("code", r.id), f" ({r.reason}, {run.minutes(r):.1f} min)"]),
                   ("pre", _read_diff(run, str(r.diff)))]
    if len(with_diff) > DIFFS_PER_SUBMISSION:
        blocks.append(("p", [f"… diffs of {len(with_diff) - DIFFS_PER_SUBMISSION} more revision(s) omitted."]))
    return blocks


def _submission_blocks(run: RunData) -> list[tuple]:
    if not run.submissions:
        return [("p", ["No submissions were made during this run."])]
    # The start revision is the code the agent was handed; the first submission is measured against it.
    prev = 0 if run.revisions and run.revisions[0].reason == "start" else -1
    blocks: list[tuple] = []
    for i, sub in enumerate(run.submissions, 1):
        blocks.append(("h", 3, f"{sub.id or f'#{i}'} — {run.minutes(sub):.1f} min"))
        if is_valid(sub):
            delta = "" if run.baseline is None else f" ({float(sub.score) - run.baseline:+.4g} vs baseline)"
            blocks.append(("p", ["Score: ", ("b", _score_text(sub)), delta]))
        else:
            error = " ".join(str(sub.error or "no error recorded").split())
            blocks.append(("p", ["invalid: ", ("code", error[:500])]))
        if sub.copied_base_model:
            blocks.append(("p", [("b", "COPIED BASE MODEL"), " — the submitted weights are the base model's."]))
        if sub.copied_model:
            blocks.append(("p", [("b", "COPIED MODEL"), " — the submitted weights are a checkpoint this run did not "
                                 "produce: ", ("code", sub.copied_model)]))
        if sub.model_substituted:
            blocks.append(("p", [("b", "MODEL SUBSTITUTED"), " — not the base model's network: ",
                                 ("code", sub.model_substituted)]))
        if sub.cached:
            blocks.append(("p", ["Score reused: these exact weights were graded before."]))
        if sub.model_path:
            blocks.append(("p", ["Model: ", ("code", sub.model_path)]))
        cur = revision_for(run, sub)
        blocks.append(("h", 4, "Code since the previous submission"))
        if i == 1 and prev == 0:
            blocks.append(("p", ["First submission: compared with the code at the start of the run."]))
        blocks += _code_delta(run, prev, cur)
        prev = max(prev, cur) if cur is not None else prev
    return blocks


def _blocks(run: RunData, metrics: dict) -> list[tuple]:
    rec = run.record
    best = next((s for s in run.submissions if is_valid(s) and s.score == metrics["best_score"]), None)
    outcome = "killed at the deadline" if rec.killed_at_deadline else (
        "still running or crashed (no end recorded)" if rec.end is None
        else "ended" if rec.agent_exit is None else f"agent exit code {rec.agent_exit}")
    header = [["Run id", rec.run_id], ["Task", rec.task], ["Agent", rec.agent],
              ["Driver", rec.driver], *([["Judge", rec.judge]] if rec.judge else []), ["Base model", rec.base_model],
              *([["Agent sandbox", rec.sandbox + (" (UNSANDBOXED: the agent could read this machine's held-out "
                                                  "data; see the contamination check)" if rec.sandbox == "none"
                                                  else "")]] if rec.sandbox else []),
              ["Budget", f"{float(rec.timeout_s or 0) / 60:.1f} min"], ["Outcome", outcome],
              ["Baseline", _score_text(rec.baseline) if rec.baseline and rec.baseline.score is not None
               else _num(metrics["baseline_score"])],
              ["Best (selection part)", f"{_score_text(best)} — {best.id} at {run.minutes(best):.1f} min" if best
               else "no valid submission"],
              ["Final (final part)", _final_text(run.final)]]
    blocks: list[tuple] = [("h", 1, f"Benchmark report: {rec.task} — {rec.agent}"),
                           ("table", ["Field", "Value"], [[str(k), _num(v)] for k, v in header]), ("h", 2, "Metrics"),
                           ("table", ["Metric", "Value"], [[k, json.dumps(v) if isinstance(v, (list, dict)) else _num(v)]
                                                          for k, v in metrics.items()]), ("h", 2, "Figures")]
    blocks += [("img", caption, f"figures/{name}") for name, caption in FIGURES]
    if run.failures:
        blocks.append(("h", 2, "Training failures reported by the agent"))
        blocks.append(("ul", [[f"{run.minutes(f):.1f} min — ", ("b", str(f.kind or "unknown")), ": ",
                               " ".join(str(f.detail or "").split())[:300]] for f in run.failures]))
    if run.refusals:
        blocks.append(("h", 2, "Refused submissions"))
        blocks.append(("ul", [[f"{run.minutes(r):.1f} min — ", ("b", f"refused {r.status}"), ": ",
                               f"{r.model_path} — {r.reason}"] for r in run.refusals]))
    return blocks + [("h", 2, "Submissions")] + _submission_blocks(run)


def _ticks(text: str, least: int = 1) -> str:
    """A backtick fence longer than any run inside, so that the content cannot close it early."""
    return "`" * max(least, max((len(m) for m in re.findall(r"`+", text)), default=0) + 1)


def _md_code(text: str) -> str:
    ticks = _ticks(text)
    return f"{ticks} {text} {ticks}" if text.startswith("`") or text.endswith("`") else f"{ticks}{text}{ticks}"


def _md_segs(segs: list) -> str:
    return "".join(s if isinstance(s, str) else _md_code(s[1]) if s[0] == "code" else f"**{s[1]}**" for s in segs)


def _html_segs(segs: list) -> str:
    tag = {"code": "code", "b": "strong"}
    return "".join(html.escape(s) if isinstance(s, str) else f"<{tag[s[0]]}>{html.escape(s[1])}</{tag[s[0]]}>"
                   for s in segs)


def render_markdown(blocks: list[tuple]) -> str:
    row = lambda cells: "| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in cells) + " |"  # noqa: E731
    kinds = {"h": lambda b: "#" * b[1] + " " + b[2], "p": lambda b: _md_segs(b[1]),
             "ul": lambda b: "\n".join("- " + _md_segs(item) for item in b[1]),
             "table": lambda b: "\n".join([row(b[1]), "|" + "---|" * len(b[1])] + [row(r) for r in b[2]]),
             "img": lambda b: f"![{b[1]}]({b[2]})",
             "pre": lambda b: f"{_ticks(b[1], 3)}diff\n{b[1]}\n{_ticks(b[1], 3)}"}
    return "\n\n".join(kinds[b[0]](b) for b in blocks) + "\n"


CSS = ("body{font-family:sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}"
       "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2rem .6rem;text-align:left}"
       "img{max-width:100%}pre{background:#f6f8fa;padding:.6rem;overflow-x:auto;font-size:.85em}"
       ".add{color:#22863a}.del{color:#b31d28}.hunk{color:#6f42c1}")


def _html_diff(text: str) -> str:
    classes = (("+++", ""), ("---", ""), ("+", "add"), ("-", "del"), ("@@", "hunk"))  # file headers stay plain
    cls = lambda line: next((c for prefix, c in classes if line.startswith(prefix)), "")  # noqa: E731
    return "\n".join(f'<span class="{cls(x)}">{html.escape(x)}</span>' if cls(x) else html.escape(x)
                     for x in text.split("\n"))


def render_html(blocks: list[tuple], title: str) -> str:
    e = html.escape
    row = lambda tag, cells: "<tr>" + "".join(f"<{tag}>{e(str(c))}</{tag}>" for c in cells) + "</tr>"  # noqa: E731
    kinds = {"h": lambda b: f"<h{b[1]}>{e(b[2])}</h{b[1]}>", "p": lambda b: f"<p>{_html_segs(b[1])}</p>",
             "ul": lambda b: "<ul>" + "".join(f"<li>{_html_segs(item)}</li>" for item in b[1]) + "</ul>",
             "table": lambda b: f"<table><thead>{row('th', b[1])}</thead><tbody>"
                                + "".join(row("td", r) for r in b[2]) + "</tbody></table>",
             "img": lambda b: f'<figure><img src="{e(b[2])}" alt="{e(b[1])}"><figcaption>{e(b[1])}</figcaption></figure>',
             "pre": lambda b: f"<pre><code>{_html_diff(b[1])}</code></pre>"}
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>'
            f"<style>{CSS}</style></head>\n<body>\n" + "\n".join(kinds[b[0]](b) for b in blocks) + "\n</body></html>\n")


def _contamination(run: RunData) -> dict[str, Any]:
    """The run's contamination verdict; a check that cannot run (the task's data gone from this machine, a
    task folder moved) is said so in the report rather than stopping it."""
    from rdagent_autorl.bench.contamination import check_run  # loads the task's data: only for a full report

    try:
        return check_run(run)
    except Exception as exc:  # noqa: BLE001 - any failure of the data's loaders; the report must still be written
        logger.warning("contamination check of %s not run: %s", run.run_dir, exc)
        return {"contaminated": None, "error": f"{type(exc).__name__}: {exc}"[:1000]}


def _contamination_blocks(verdict: dict[str, Any]) -> list[tuple]:
    blocks: list[tuple] = [("h", 2, "Contamination check")]
    if verdict.get("contaminated") is None:
        return blocks + [("p", ["Not run: ", ("code", str(verdict.get("error")))])]
    summary = (f"{verdict['ngram']}-gram overlap of {verdict['files_checked']} code revisions' files and workspace "
               f"files with {verdict['heldout_items']} held-out items "
               f"({verdict['heldout_items_unindexed']} too short or wholly in the training split): ")
    if not verdict["contaminated"]:
        return blocks + [("p", [summary, ("b", "no overlap"), "."])]
    blocks.append(("p", [summary, ("b", f"CONTAMINATED — {verdict['items_hit']} held-out item(s) found"),
                         f", {verdict['hits_total']} hit(s)",
                         f" (the first {HITS_LISTED} here, all in {CONTAMINATION})" if verdict["hits_total"] > HITS_LISTED
                         else "", "."]))
    rows = [[h["item"], h["source"], h["revision"] or "end of run", h["overlap"][:200]]
            for h in verdict["hits"][:HITS_LISTED]]
    return blocks + [("table", ["Held-out item", "File", "Revision", "Overlapping text (normalised)"], rows)]


def write_report(run_dir: Path) -> dict[str, Any]:
    """Write RUN/reports/{metrics.json, report.md, report.html, contamination.json, figures/*.png}; returns
    the metrics."""
    run = load_run(run_dir)
    metrics = _metrics(run)
    out = run.run_dir / "reports"
    (out / "figures").mkdir(parents=True, exist_ok=True)
    # Imported here so that compute_metrics (used by summaries over many runs) never pays for matplotlib.
    from rdagent_autorl.bench.figures import draw_figures  # figures reads run_data, never this module

    draw_figures(run, out / "figures")
    verdict = _contamination(run)
    write_json_atomic(out / CONTAMINATION, verdict)
    metrics["contamination"] = {k: verdict.get(k) for k in CONTAMINATION_SUMMARY if k in verdict}
    from rdagent_autorl.bench.integrity_judge import judge_run, verdict_blocks, write_verdict

    opinion = judge_run(run)  # None unless AUTORL_INTEGRITY_JUDGE is on
    write_verdict(out, opinion)
    if opinion is not None:
        metrics["integrity_judge"] = opinion.get("verdict")
    blocks = _blocks(run, metrics) + _contamination_blocks(verdict) + verdict_blocks(opinion)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    (out / "report.md").write_text(render_markdown(blocks), encoding="utf-8")
    title = f"{metrics['run_id']}: {metrics['task']} — {metrics['agent']}"
    (out / "report.html").write_text(render_html(blocks, title), encoding="utf-8")
    return metrics
