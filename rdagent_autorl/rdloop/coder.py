"""Coder (CoSTEER): render the proposal's template with its config, let the driver LLM edit the code
(reward functions, data processing), and accept it only after a real check: syntax, imports, the
templates' contract, and a dry run (2 optimizer steps on a few rows, in a subprocess with a limit).
A failed check goes back to the LLM with the evidence for a bounded number of repair rounds."""

from __future__ import annotations

import ast
import importlib.util
import shutil
from pathlib import Path, PurePosixPath

from pydantic import BaseModel, Field
from rdagent.components.coder.CoSTEER import CoSTEER
from rdagent.components.coder.CoSTEER.config import CoSTEERSettings
from rdagent.components.coder.CoSTEER.evaluators import (
    CoSTEEREvaluator, CoSTEERMultiEvaluator, CoSTEERMultiFeedback, CoSTEERSingleFeedback,
)
from rdagent.components.coder.CoSTEER.evolving_strategy import MultiProcessEvolvingStrategy

from rdagent_autorl.rdloop.conf import AUTORL_PROP_SETTING
from rdagent_autorl.rdloop.driver import ask_json
from rdagent_autorl.rdloop.experiment import TrainingTask, TrainingWorkspace
from rdagent_autorl.rdloop.scenario import AutoRLScenario
from rdagent_autorl.run.templates import ENTRY, render_template
from rdagent_autorl.run.sandbox import AgentSandbox, for_training
from rdagent_autorl.run.training import run_training
from rdagent_autorl.run.workspace import agent_env

EDITABLE_SUFFIXES = (".py", ".json", ".yaml", ".txt")


class CodeEdit(BaseModel):
    """The driver LLM's answer to "write/repair the training code"."""

    model_config = {"extra": "forbid"}

    summary: str = Field(min_length=1, description="What changed and why (or why nothing needed to change).")
    files: dict[str, str] = Field(default_factory=dict,
                                  description="Full new content of each file to write, by name; {} keeps the code.")


def check_edit(edit: CodeEdit) -> str | None:
    for name in edit.files:
        path = PurePosixPath(name)
        if path.is_absolute() or ".." in path.parts or not name.endswith(EDITABLE_SUFFIXES):
            return f"file name {name!r} must be a relative path inside the code folder ending in {EDITABLE_SUFFIXES}"
    return None


def training_sandbox(ctx) -> AgentSandbox:
    """Where the driver LLM's code runs (run/sandbox.for_training), chosen once per run and process."""
    key = (str(ctx.run_dir), str(ctx.workspace), str(ctx.base_model), tuple(ctx.gpus))
    if key not in _SANDBOXES:
        _SANDBOXES[key] = for_training(run_dir=ctx.run_dir, workspace=ctx.workspace, base_model=str(ctx.base_model),
                                       gpus=list(ctx.gpus))
    return _SANDBOXES[key]


_SANDBOXES: dict[tuple, AgentSandbox] = {}


def train_env(scen: AutoRLScenario, task: TrainingTask, output_dir: Path) -> dict[str, str]:
    """The script's environment: the workspace contract, starting from the proposal's model."""
    env = agent_env(scen.ctx.workspace, scen.task, scen.ctx.grader_url)
    return {**env, "BASE_MODEL": str(task.init_model), "MODEL_PATH": str(task.init_model), "OUTPUT_DIR": str(output_dir)}


class TemplateCoding(MultiProcessEvolvingStrategy):
    """One evolving step: first render the template, then apply the LLM's edits (or repairs)."""

    scen: AutoRLScenario

    def implement_one_task(self, target_task: TrainingTask, queried_knowledge=None, workspace: TrainingWorkspace | None = None,
                           prev_task_feedback: CoSTEERSingleFeedback | None = None) -> dict[str, str]:
        proposal = target_task.proposal
        if not workspace.file_dict:  # first round: the template with the proposal's config
            shutil.rmtree(workspace.workspace_path, ignore_errors=True)  # a re-run of this step after a resume
            files = render_template(proposal.template, {**proposal.config, "version": target_task.name},
                                    workspace.workspace_path)
            workspace.inject_files(**files)
        edit = ask_json(
            CodeEdit, "coder", max_tries=AUTORL_PROP_SETTING.driver_max_tries, check=check_edit,
            scenario=self.scen.get_scenario_all_desc(), proposal=proposal, task_name=target_task.name,
            files=workspace.file_dict, feedback=str(prev_task_feedback) if prev_task_feedback is not None else None,
        )
        return {**edit.files, self.KEY_CHANGE_SUMMARY: edit.summary}

    def evolve_iter(self, *, evo, queried_knowledge=None, evolving_trace=(), **kwargs):
        # No knowledge base here (with_knowledge=False): the parent's version requires one.
        last: CoSTEERMultiFeedback | None = evolving_trace[-1].feedback if evolving_trace else None
        for i, task in enumerate(evo.sub_tasks):
            if last is not None and last[i] is not None and last[i].final_decision:
                continue
            if evo.sub_workspace_list[i] is None:
                evo.sub_workspace_list[i] = TrainingWorkspace(task, self.scen.ctx.workspace / "code" / task.name)
            ws = evo.sub_workspace_list[i]
            files = self.implement_one_task(task, workspace=ws, prev_task_feedback=last[i] if last is not None else None)
            ws.change_summary = files.pop(self.KEY_CHANGE_SUMMARY, "")
            ws.inject_files(**files)
        yield evo


def static_problems(ws: TrainingWorkspace) -> list[str]:
    """Syntax, imports and the templates' contract, without running anything."""
    problems = []
    for name, text in ws.file_dict.items():
        if name.endswith(".py"):
            try:
                compile(text, name, "exec")
            except SyntaxError as exc:
                problems.append(f"{name}:{exc.lineno}: syntax error: {exc.msg}")
    if ENTRY not in ws.file_dict:
        return problems + [f"{ENTRY} is missing: it is the script the runner starts"]
    if problems:
        return problems
    tree = ast.parse(ws.file_dict[ENTRY])
    # Imports inside functions are optional paths (e.g. vLLM, used only on a GPU): only those the
    # script runs at load time must be importable here.
    in_functions = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                    for n in ast.walk(f)}
    for node in ast.walk(tree):
        if id(node) in in_functions:
            continue
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
            [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else []
        for name in names:
            top = name.split(".")[0]
            if not (ws.workspace_path / f"{top}.py").exists() and importlib.util.find_spec(top) is None:
                problems.append(f"{ENTRY}:{node.lineno}: cannot import {top!r} (not installed, not a file here)")
    strings = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    for var in ("DATA_PATH", "OUTPUT_DIR"):
        if var not in strings:
            problems.append(f"{ENTRY} never reads ${var}: the contract is to train on $DATA_PATH and save under $OUTPUT_DIR")
    return problems


class TrainingScriptEvaluator(CoSTEEREvaluator):
    scen: AutoRLScenario

    def evaluate(self, target_task: TrainingTask, implementation: TrainingWorkspace, gt_implementation=None,
                 queried_knowledge=None, **kwargs) -> CoSTEERSingleFeedback:
        problems = static_problems(implementation)
        if problems:
            return CoSTEERSingleFeedback(execution="not run: the static checks failed", return_checking=None,
                                         code="\n".join(problems), final_decision=False)
        ctx = self.scen.ctx
        attempt = len(list(ctx.logs_dir.glob(f"{target_task.name}-dryrun-*.log"))) + 1
        out_dir = ctx.run_dir / "scratch" / f"{target_task.name}-dryrun-{attempt}"
        outcome = run_training(implementation.script, train_env(self.scen, target_task, out_dir), dry_run=True,
                               log_path=ctx.logs_dir / f"{target_task.name}-dryrun-{attempt}.log",
                               timeout_s=AUTORL_PROP_SETTING.dry_run_timeout_s, gpus=ctx.gpus,
                               sandbox=training_sandbox(ctx))
        shutil.rmtree(out_dir, ignore_errors=True)  # a dry run's checkpoint only proves saving works
        expected = out_dir / target_task.name
        checks = []
        if outcome.ok and Path(outcome.checkpoint) != expected:
            checks.append(f"the model was saved to {outcome.checkpoint}, not to $OUTPUT_DIR/{target_task.name}")
        execution = f"dry run (AUTORL_DRY_RUN=1): {outcome.summary()}"
        if not outcome.ok:
            execution += f"\nlast lines of the log:\n{outcome.tail[-2000:]}"
        return CoSTEERSingleFeedback(
            execution=execution, return_checking="\n".join(checks) or "saved a complete model under $OUTPUT_DIR",
            code="static checks passed (syntax, imports, DATA_PATH/OUTPUT_DIR contract)",
            final_decision=outcome.ok and not checks,
        )


class AutoRLCoder(CoSTEER):
    def __init__(self, scen: AutoRLScenario, *args, **kwargs) -> None:
        settings = CoSTEERSettings()
        super().__init__(
            settings, CoSTEERMultiEvaluator(TrainingScriptEvaluator(scen=scen), scen=scen),
            TemplateCoding(scen=scen, settings=settings), *args, scen=scen,
            max_loop=AUTORL_PROP_SETTING.coder_max_rounds, with_knowledge=False, knowledge_self_gen=False, **kwargs,
        )
