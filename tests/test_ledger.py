"""The ledger trusts only rows the harness signed: a forged run or an edited score never reaches the leaderboard."""

from __future__ import annotations

import logging
import sqlite3

from rdagent_autorl.bench.ledger import COLUMNS, add_run, leaderboard, ledger_path, runs
from rdagent_autorl.bench.run_record import Baseline, RunRecord


def _record(run_id: str) -> RunRecord:
    return RunRecord(run_id=run_id, task="ledger-test-task", agent="example", base_model="tiny", timeout_s=60,
                     start=100.0, end=160.5, baseline=Baseline(score=10.0, ci_low=5.0, ci_high=15.0, n=20))


def test_signed_rows_count_and_forged_or_edited_ones_do_not(caplog):
    add_run(_record("honest-1"), {"best_score": 30.0, "best_ci": [20.0, 40.0], "improvement": 20.0, "n_submissions": 2})
    assert [r["run_id"] for r in runs("ledger-test-task")] == ["honest-1"]

    with sqlite3.connect(ledger_path()) as db:  # what an agent with write access to the home could do
        forged = dict.fromkeys(COLUMNS) | {"run_id": "forged-1", "task": "ledger-test-task", "agent": "example",
                                           "driver": "", "baseline": 10.0, "best": 100.0, "improvement": 90.0,
                                           "success": 1, "finished_at": 200.0, "signature": "f" * 64}
        db.execute(f"INSERT INTO runs ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)})",
                   [forged[c] for c in COLUMNS])
    with caplog.at_level(logging.WARNING):
        assert [r["run_id"] for r in runs("ledger-test-task")] == ["honest-1"]
    assert "forged-1" in caplog.text
    (row,) = leaderboard("ledger-test-task")
    assert row["runs"] == 1 and row["best_selection"] == "30.0"

    with sqlite3.connect(ledger_path()) as db:  # an honest row whose score was edited afterwards
        db.execute("UPDATE runs SET best = 99.0 WHERE run_id = 'honest-1'")
    assert runs("ledger-test-task") == [] and leaderboard("ledger-test-task") == []


def test_a_contaminated_run_is_counted_not_scored_and_its_flag_cannot_be_erased():
    task = "ledger-flag-task"
    honest = _record("clean-1").model_copy(update={"task": task})
    cheat = _record("leak-1").model_copy(update={"task": task})
    add_run(honest, {"best_score": 30.0, "improvement": 20.0, "contamination": {"contaminated": False}})
    row = add_run(cheat, {"best_score": 95.0, "improvement": 85.0, "contamination": {"contaminated": True}})
    assert row["flags"] == "contaminated"
    (board,) = leaderboard(task)
    assert (board["runs"], board["flagged"], board["best_selection"], board["success_rate"]) == (1, 1, "30.0", "100%")

    with sqlite3.connect(ledger_path()) as db:  # an agent erasing the mark keeps the score but breaks the signature
        db.execute("UPDATE runs SET flags = NULL WHERE run_id = 'leak-1'")
    assert [r["run_id"] for r in runs(task)] == ["clean-1"]


def test_rows_signed_before_the_flags_column_existed_stay_trusted():
    from rdagent_autorl.bench.ledger import LATER_COLUMNS, SIGNED
    from rdagent_autorl.installation import sign
    import json

    add_run(_record("new-1").model_copy(update={"task": "ledger-old-task"}), {"best_score": 12.0})
    old = {c: None for c in COLUMNS} | {"run_id": "old-1", "task": "ledger-old-task", "agent": "example", "driver": "",
                                        "baseline": 10.0, "best": 11.0, "success": 1, "finished_at": 1.0}
    # what an earlier version signed: the columns of its time, flags not among them
    old["signature"] = sign(json.dumps([old[c] for c in SIGNED if c not in LATER_COLUMNS], separators=(",", ":")).encode())
    with sqlite3.connect(ledger_path()) as db:
        db.execute(f"INSERT INTO runs ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)})",
                   [old[c] for c in COLUMNS])
    assert sorted(r["run_id"] for r in runs("ledger-old-task")) == ["new-1", "old-1"]
