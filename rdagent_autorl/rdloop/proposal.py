"""Proposal: ask the driver LLM for the next experiment, as a validated `TrainingProposal`."""

from __future__ import annotations

from pathlib import Path

from rdagent.core.proposal import ExpGen, Trace

from rdagent_autorl.rdloop.conf import AUTORL_PROP_SETTING
from rdagent_autorl.rdloop.driver import ask_json
from rdagent_autorl.rdloop.experiment import (
    TrainingExperiment, TrainingHypothesis, TrainingProposal, TrainingTask, best_experiment, history,
)
from rdagent_autorl.rdloop.scenario import AutoRLScenario
from rdagent_autorl.run.templates import check_overrides


def loop_name(loop_idx: int) -> str:
    return f"loop_{loop_idx:02d}"


class AutoRLExpGen(ExpGen):
    scen: AutoRLScenario

    def check(self, proposal: TrainingProposal, trace: Trace) -> str | None:
        if proposal.template not in self.scen.templates:
            return f"template must be one of {sorted(self.scen.templates)}, not {proposal.template!r}"
        if "version" in proposal.config:
            return "config must not set 'version': the loop names checkpoints itself"
        if proposal.init_from == "best" and best_experiment(trace) is None:
            return "init_from 'best' needs a scored checkpoint; none exists yet, use 'base'"
        return check_overrides(self.scen.templates[proposal.template], proposal.config)

    def gen(self, trace: Trace, loop_idx: int = 0) -> TrainingExperiment:
        best = best_experiment(trace)
        proposal = ask_json(
            TrainingProposal, "proposal", max_tries=AUTORL_PROP_SETTING.driver_max_tries,
            check=lambda p: self.check(p, trace),
            scenario=self.scen.get_scenario_all_desc(), loop_idx=loop_idx, history=history(trace),
            baseline=self.scen.baseline_score, best=best.score if best else None,
            time_left_s=round(self.scen.time_left_s()), loops_left=self.scen.ctx.loop_n and self.scen.ctx.loop_n - loop_idx,
        )
        init_model = self.scen.ctx.workspace / best.submission["model_path"] if proposal.init_from == "best" else \
            Path(self.scen.ctx.base_model)
        task = TrainingTask(loop_name(loop_idx), proposal, init_model)
        return TrainingExperiment(task, TrainingHypothesis(proposal), loop_idx)
