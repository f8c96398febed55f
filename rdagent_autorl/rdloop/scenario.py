"""The scenario: what the driver LLM is told about the task, the model, the machine and the budget."""

from __future__ import annotations

import os
import time

from rdagent.core.scenario import Scenario

from rdagent_autorl.rdloop.conf import RunContext, run_context
from rdagent_autorl.run.templates import TemplateInfo, templates_for
from rdagent_autorl.tasks import TaskSpec, get_task


def hardware() -> str:
    import psutil

    cpu = f"{os.cpu_count()} CPU cores, {psutil.virtual_memory().total / 2**30:.0f} GiB RAM"
    try:
        import torch

        if torch.cuda.is_available():
            gpus = [f"{torch.cuda.get_device_name(i)} ({torch.cuda.get_device_properties(i).total_memory / 2**30:.0f} GiB)"
                    for i in range(torch.cuda.device_count())]
            return f"{cpu}; GPUs: {', '.join(gpus)}"
    except Exception:  # a broken CUDA setup still leaves the CPU to describe
        pass
    return f"{cpu}; no GPU (training runs on CPU: keep models, batches and steps small)"


class AutoRLScenario(Scenario):
    def __init__(self) -> None:
        super().__init__()
        self.ctx: RunContext = run_context()
        task = self.task
        self.task_id, self.level, self.title = task.id, task.level, task.title
        self.description = task.description
        self.metric = "score 0-100 on the held-out split (higher is better)"
        self.hardware = hardware()
        self.templates: dict[str, TemplateInfo] = {t.name: t for t in templates_for(task.templates)}
        self.baseline_score: float | None = None  # set by the session once the grader has scored the base model
        self.baseline_seconds: float = 60.0  # how long grading the base model took (set with the score)

    @property
    def task(self) -> TaskSpec:
        """The task's declaration, looked up again rather than stored: the scenario is pickled with the
        loop for --resume, and a declaration holds functions."""
        return get_task(self.ctx.task)

    # -- the run's clock (one clock: the grader's deadline) ---------------------------------------
    def time_left_s(self) -> float:
        return max(0.0, self.ctx.deadline - time.time())

    def grading_reserve_s(self) -> float:
        """Time kept free after training to grade the checkpoint (from how long the baseline took)."""
        return 1.5 * self.baseline_seconds + 15

    @property
    def base_model(self) -> str:  # read by RD-Agent's RL trace viewer
        return str(self.ctx.base_model)

    @property
    def benchmark(self) -> str:  # read by RD-Agent's RL trace viewer
        return self.task_id

    # -- what prompts get --------------------------------------------------------------------------
    @property
    def background(self) -> str:
        return (
            f"You are an ML research engineer post-training a small language model so that it scores higher on "
            f"the task `{self.task_id}` (level {self.level}: {self.title}). Each experiment trains from a template "
            f"script, the checkpoint is submitted to a grader that scores it on held-out data you never see, and "
            f"the next experiment learns from the score.\n\n{self.description}"
        )

    def templates_desc(self) -> str:
        return "\n".join(f"- `{t.name}`: {t.summary}\n  CONFIG defaults: {t.config}" for t in self.templates.values())

    def get_runtime_environment(self) -> str:
        gpus = ", ".join(self.ctx.gpus) or "none (CPU)"
        return f"{self.hardware}. GPUs given to this run: {gpus}."

    def get_scenario_all_desc(self, task=None, filtered_tag=None, simple_background=None) -> str:
        return (f"{self.background}\n\nBase model: {self.ctx.base_model}\nMetric: {self.metric}\n"
                f"Hardware: {self.get_runtime_environment()}\nTemplates:\n{self.templates_desc()}\n"
                f"Grader: {self.ctx.grader_url} (POST /submit; the runner submits each checkpoint)\n"
                f"Time left: {self.time_left_s():.0f} s")

    @property
    def rich_style_description(self) -> str:
        return f"### AutoRL: {self.task_id}\n\n{self.title}\n\nBase model `{self.ctx.base_model}`; {self.hardware}."
