"""FAKE driver LLM: a scripted, deterministic stand-in for the driver, used by `--smoke` when no LLM is
configured and by the tests. It is not a model: it follows the fixed plan of experiments the task
declares for smoke runs (its `smoke.plan`, e.g. SFT warm-up then GRPO), keeps the rendered code as it is,
and restates the measured result as its analysis. It sits exactly where the real LLM sits (an
RD-Agent `APIBackend`, selected with BACKEND=...), so every prompt is still rendered and logged.
"""

from __future__ import annotations

import json
import re
from typing import Any

from rdagent.oai.backend.base import APIBackend

STEP = re.compile(r"# Step: (\w+)")


def plan_for_run() -> list[dict[str, Any]]:
    """The smoke plan the run's task declares (TaskSpec.smoke.plan), from the run context the session
    set up before building the loop: the same object the scenario is built from."""
    from rdagent_autorl.rdloop.conf import run_context
    from rdagent_autorl.tasks import get_task

    plan = list(get_task(run_context().task).require_smoke().plan)
    if not plan:
        raise ValueError(f"task {run_context().task_id} declares no smoke plan for the scripted driver")
    return plan


def scripted_answer(system: str, user: str, plan: list[dict[str, Any]]) -> str:
    """The fake's answer to one of the loop's prompts (see prompts/*.yaml)."""
    step = STEP.search(system)
    step = step.group(1) if step else ""
    if step == "proposal":
        loop_idx = int(re.search(r"Loop index: (\d+)", user).group(1))
        proposal = dict(plan[loop_idx % len(plan)])
        if "Best so far: none" in user:
            proposal["init_from"] = "base"
        return json.dumps(proposal)
    if step == "coder":
        repair = "FAILED its checks" in user
        return json.dumps({"summary": "scripted driver: kept the rendered template unchanged"
                           + (" (it cannot repair code)" if repair else ""), "files": {}})
    if step == "feedback":
        verdict = re.search(r"Result: (.*)", user)
        verdict = verdict.group(1) if verdict else "no result"
        return json.dumps({"observations": verdict, "hypothesis_evaluation": "measured, not judged: " + verdict,
                           "new_hypothesis": "follow the next step of the fixed plan",
                           "reason": "scripted driver (a fake, no LLM): " + verdict})
    raise ValueError(f"the scripted driver does not know this prompt: {system[:80]!r}")


class ScriptedDriver(APIBackend):
    """FAKE `APIBackend`: answers the loop's prompts from `PLAN` (default: the run's task's smoke plan).
    Subclass and set PLAN to change it."""

    PLAN: list[dict[str, Any]] | None = None

    def supports_response_schema(self) -> bool:
        return False

    def _calculate_token_from_messages(self, messages: list[dict[str, Any]]) -> int:
        return sum(len(m["content"]) // 4 for m in messages)

    def _create_embedding_inner_function(self, input_content_list: list[str]) -> list[list[float]]:
        raise RuntimeError("the scripted driver has no embeddings (the loop does not use them)")

    def answer(self, system: str, user: str) -> str:
        return scripted_answer(system, user, self.PLAN or plan_for_run())

    def _create_chat_completion_inner_function(self, messages, response_format=None, *args, **kwargs):
        system = next((m["content"] for m in messages if m["role"] == "system"), "")
        return self.answer(system, messages[-1]["content"]), "stop"
