"""Feedback: the score against the best so far and the baseline, a digest of the training log, and
the driver LLM's analysis -> `HypothesisFeedback`. The decision is measured, not asked: it is True
when the score beats the best so far (the baseline counts as the first "best")."""

from __future__ import annotations

from pydantic import BaseModel, Field
from rdagent.core.proposal import Experiment2Feedback, HypothesisFeedback, Trace

from rdagent_autorl.rdloop.conf import AUTORL_PROP_SETTING
from rdagent_autorl.rdloop.driver import ask_json
from rdagent_autorl.rdloop.experiment import TrainingExperiment, best_experiment
from rdagent_autorl.rdloop.scenario import AutoRLScenario


class FeedbackAnalysis(BaseModel):
    """The driver LLM's reading of one experiment."""

    model_config = {"extra": "forbid"}

    observations: str = Field(min_length=1, description="What the numbers and the log show.")
    hypothesis_evaluation: str = Field(min_length=1, description="Was the hypothesis supported, and why.")
    new_hypothesis: str = Field(min_length=1, description="What to try next.")
    reason: str = Field(min_length=1, description="One or two sentences summarising the above.")


def digest(exp: TrainingExperiment | None, exception: Exception | None) -> str:
    """What happened, in a few lines: training outcome, the error, the grader's answer."""
    lines = []
    outcome = getattr(exp, "outcome", None)
    if outcome is not None:
        lines.append(outcome.summary())
        if outcome.losses:
            lines.append(f"loss values ({len(outcome.losses)} logged): {[round(v, 4) for v in outcome.losses[-10:]]}")
        if outcome.rewards:
            lines.append(f"reward values ({len(outcome.rewards)} logged): {[round(v, 4) for v in outcome.rewards[-10:]]}")
    if exception is not None:
        lines.append(f"error ({type(exception).__name__}): {str(exception)[-2500:]}")
    if getattr(exp, "submission", None):
        s = exp.submission
        lines.append(f"grader: score {s['score']} (95% CI {s['ci_low']}-{s['ci_high']}, n={s['n']}), "
                     f"baseline {s['baseline_score']}, copied base model: {s['copied_base_model']}")
    return "\n".join(lines) or "nothing ran"


class AutoRLFeedback(Experiment2Feedback):
    scen: AutoRLScenario

    def generate_feedback(self, exp: TrainingExperiment | None, trace: Trace,
                          exception: Exception | None = None) -> HypothesisFeedback:
        best = best_experiment(trace)
        bar = max([v for v in (self.scen.baseline_score, best.score if best else None) if v is not None], default=None)
        score = getattr(exp, "score", None)
        decision = score is not None and (bar is None or score > bar)
        if score is None:
            verdict = "no score: the experiment failed before the grader scored a checkpoint"
        else:
            verdict = (f"score {score} vs best so far {bar} (baseline {self.scen.baseline_score}): "
                       f"{'new best' if decision else 'not better'}")
        text = digest(exp, exception)
        analysis = ask_json(
            FeedbackAnalysis, "feedback", max_tries=AUTORL_PROP_SETTING.driver_max_tries,
            scenario=self.scen.get_scenario_all_desc(), hypothesis=str(exp.hypothesis) if exp else "(none)",
            verdict=verdict, digest=text,
        )
        workspace = exp.sub_workspace_list[0] if exp and exp.sub_workspace_list else None
        return HypothesisFeedback(
            reason=f"{verdict}. {analysis.reason}\n\n{text}", decision=decision,
            code_change_summary=getattr(workspace, "change_summary", "") or "",
            observations=analysis.observations, hypothesis_evaluation=analysis.hypothesis_evaluation,
            new_hypothesis=analysis.new_hypothesis, acceptable=score is not None, exception=exception,
        )
