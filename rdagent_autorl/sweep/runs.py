"""A sweep's finished cells as the tables and figures read them: each cell's ledger row, its report's
metrics and its run folder."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rdagent_autorl.bench.run_record import read_record


@dataclass
class SweepRun:
    """One finished cell: its ledger row, its report's metrics and its record."""

    row: dict[str, Any]
    metrics: dict[str, Any]
    run_dir: Path

    @property
    def group(self) -> tuple[str, str, str, str]:
        """(task, agent, driver, model) of the cell: its key without the seed."""
        task, agent, driver, model, _seed = self.row["cell"].split("/")
        return task, agent, driver, model

    @property
    def flagged(self) -> bool:
        return bool(self.row.get("flags"))

    @property
    def score(self) -> float | None:
        """The run's score: final when the task has a final part, else the best selection score."""
        final = self.metrics.get("final_score")
        return final if final is not None else self.metrics.get("best_score")

    @property
    def improvement(self) -> float | None:
        final = self.metrics.get("final_improvement")
        return final if final is not None else self.metrics.get("improvement")

    def improved_beyond_ci(self) -> bool | None:
        """Above the base model's 95% CI on the same items (the final part's, or the selection part's)."""
        if self.score is None:
            return None
        if self.metrics.get("final_score") is not None:
            high = self._final_baseline_high()
        else:
            baseline = read_record(self.run_dir).baseline
            high = baseline.ci_high if baseline else None
        return None if high is None else self.score > high

    def _final_baseline_high(self) -> float | None:
        from rdagent_autorl.grading.final import read_final
        from rdagent_autorl.grading.run import records_dir_for

        final = read_final(records_dir_for(self.run_dir / "workspace"))
        return final.baseline_ci_high if final else None


def sweep_runs(sweep_id: str) -> list[SweepRun]:
    """The sweep's finished cells (trusted ledger rows whose report is on disk), in ledger order."""
    from rdagent_autorl.bench.ledger import runs

    out = []
    for row in runs(sweep_id=sweep_id):
        run_dir = Path(row["workspace"]).parent
        metrics_path = run_dir / "reports" / "metrics.json"
        if row.get("cell") and metrics_path.exists():
            out.append(SweepRun(row, json.loads(metrics_path.read_text()), run_dir))
    return out
