"""The ledger: one SQLite row per finished run (in the autorl home), and the leaderboard built from it:
task x agent/driver, mean and spread over runs, like the paper's comparison tables. A run's score is its
final one (grading/final.py: the chosen checkpoint on the held-out final part); the best selection score
stays beside it. Runs with flags (run_flags) are counted and left out of the scores.

Every row is signed with the installation key (installation.py) when the harness writes it. The file is
reachable by any process of the same user, so a row without a valid signature (a forged run, an edited
score) is left out of `runs()` and the leaderboard, with a warning naming it.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import sqlite3
import statistics
import time
from pathlib import Path

from rdagent_autorl.bench.run_record import RunRecord
from rdagent_autorl.installation import sign, verify
from rdagent_autorl.settings import get_settings

logger = logging.getLogger(__name__)

COLUMNS = ("run_id", "task", "agent", "driver", "base_model", "baseline", "best", "improvement", "ci_low", "ci_high",
           "submissions", "duration_s", "success", "workspace", "finished_at", "entry", "judge", "flags", "final",
           "final_baseline", "final_improvement", "seed", "sweep_id", "cell", "signature")
SIGNED = COLUMNS[:-1]  # what the signature covers: every column but itself
# Columns added after rows were first signed: a row written before one existed has it NULL and was signed
# without it, so a NULL there is left out of the payload (a flag set and then erased still breaks it).
LATER_COLUMNS = ("flags", "final", "final_baseline", "final_improvement", "seed", "sweep_id", "cell")


def ledger_path() -> Path:
    return get_settings().home_dir / "ledger.sqlite"


def _connect() -> sqlite3.Connection:
    path = ledger_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path)
    db.execute(f"CREATE TABLE IF NOT EXISTS runs ({', '.join(c + (' PRIMARY KEY' if c == 'run_id' else '') for c in COLUMNS)})")
    have = {r[1] for r in db.execute("PRAGMA table_info(runs)")}
    for column in COLUMNS:  # a ledger of an older version lacks the newer columns
        if column not in have:
            db.execute(f"ALTER TABLE runs ADD COLUMN {column}")
    return db


def add_run(record: RunRecord, metrics: dict) -> dict:
    """Insert (or replace, for a re-reported run) the row of a finished run.

    `entry` is the command that started the run (bench or loop); the leaderboard does not split on it:
    the loop run by `rdagent autorl --task` and by `bench --agent rdagent` is one agent."""
    baseline = record.baseline.score if record.baseline else None
    best, ci = metrics.get("best_score"), metrics.get("best_ci") or [None, None]
    row = {
        "run_id": record.run_id, "task": record.task, "agent": record.agent, "driver": record.driver or "",
        "base_model": record.base_model, "baseline": baseline, "best": best,
        "improvement": metrics.get("improvement"), "ci_low": ci[0], "ci_high": ci[1],
        "submissions": metrics.get("n_submissions", 0),
        "duration_s": round((record.end or time.time()) - (record.start or time.time()), 1),
        "success": int(best is not None and baseline is not None and best > baseline),
        "workspace": record.workspace, "finished_at": time.time(), "entry": record.entry, "judge": record.judge,
        "flags": ",".join(run_flags(metrics)),
        # The run's score: its chosen checkpoint on the final part, which no submission was scored on.
        "final": metrics.get("final_score"), "final_baseline": metrics.get("final_baseline"),
        "final_improvement": metrics.get("final_improvement"),
        "seed": record.seed, "sweep_id": record.sweep_id, "cell": record.cell,
    }
    row["signature"] = sign(_payload(row))
    with _connect() as db:
        db.execute(f"INSERT OR REPLACE INTO runs ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)})",
                   [row[c] for c in COLUMNS])
    return row


def run_flags(metrics: dict) -> list[str]:
    """What marks a run's scores as not earned honestly (the leaderboard leaves such runs out of its scores):
    held-out items in what the agent wrote, a submission that copies a checkpoint the run did not produce,
    or one that is another network than the base model."""
    flags = ["contaminated"] if (metrics.get("contamination") or {}).get("contaminated") else []
    return flags + [flag for flag in ("copied_model", "model_substituted") if metrics.get(f"{flag}_submissions")]


def _payload(row: dict) -> bytes:
    # SQLite gives back what was stored (ints, floats, text), so the JSON of the values read equals the written one.
    values = [row.get(c) for c in SIGNED if not (c in LATER_COLUMNS and row.get(c) is None)]
    return json.dumps(values, separators=(",", ":")).encode()


def runs(task: str | None = None, sweep_id: str | None = None) -> list[dict]:
    """The ledger's rows the harness wrote (signature valid), oldest first; of one task, of one sweep."""
    where = {"task": task, "sweep_id": sweep_id}
    where = {k: v for k, v in where.items() if v}
    with _connect() as db:
        db.row_factory = sqlite3.Row
        query = "SELECT * FROM runs" + (" WHERE " + " AND ".join(f"{k} = ?" for k in where) if where else "")
        rows = [dict(r) for r in db.execute(query + " ORDER BY finished_at", tuple(where.values()))]
    trusted = [r for r in rows if r.get("signature") and verify(_payload(r), r["signature"])]
    if len(trusted) < len(rows):
        forged = [str(r.get("run_id")) for r in rows if r not in trusted]
        logger.warning("ledger %s: ignoring %d row(s) the harness did not write or that were edited since "
                       "(bad or missing signature): %s", ledger_path(), len(forged), ", ".join(forged[:10]))
    return trusted


def _spread(values: list[float]) -> str:
    if not values:
        return "-"
    mean = statistics.fmean(values)
    return f"{mean:.1f} ± {statistics.stdev(values):.1f}" if len(values) > 1 else f"{mean:.1f}"


def leaderboard(task: str | None = None) -> list[dict]:
    groups: dict[tuple, list[dict]] = {}
    for r in runs(task):
        # Scores under different judges are not comparable: a judge-scored task's runs group by judge too.
        groups.setdefault((r["task"], r["agent"], r["driver"], r.get("judge") or ""), []).append(r)
    table = []
    for (t, agent, driver, judge), group in sorted(groups.items()):
        # A flagged run (run_flags: contaminated, copied or substituted model) is counted, never scored.
        rs = [r for r in group if not r.get("flags")]
        scored = [r for r in rs if r["best"] is not None]
        table.append({"task": t, "agent": agent, "driver": driver or "-", "judge": judge or "-", "runs": len(rs),
                      "flagged": len(group) - len(rs),
                      "final": _spread([r["final"] for r in rs if r.get("final") is not None]),
                      "final_improvement": _spread([r["final_improvement"] for r in rs
                                                    if r.get("final_improvement") is not None]),
                      "baseline": _spread([r["baseline"] for r in rs if r["baseline"] is not None]),
                      "best_selection": _spread([r["best"] for r in scored]),
                      "selection_improvement": _spread([r["improvement"] for r in scored
                                                        if r["improvement"] is not None]),
                      "success_rate": f"{sum(r['success'] for r in rs) / len(rs):.0%}" if rs else "-"})
    return table


def format_table(rows: list[dict], fmt: str = "md") -> str:
    if not rows:
        return "no finished runs in the ledger yet"
    keys = list(rows[0])
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)
        return out.getvalue()
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(r[k]) for k in keys) + " |" for r in rows]
    return "\n".join(lines)
