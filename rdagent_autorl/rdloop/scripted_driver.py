"""FAKE driver LLM: a scripted, deterministic stand-in for the driver, used by `--smoke` when no LLM is
configured and by the tests. It is not a model: it follows a fixed plan of experiments (SFT warm-up,
SFT continued from the best checkpoint, then GRPO from the best), keeps the rendered code as it is,
and restates the measured result as its analysis. It sits exactly where the real LLM sits (an
RD-Agent `APIBackend`, selected with BACKEND=...), so every prompt is still rendered and logged.
"""

from __future__ import annotations

import json
import re
from typing import Any

from rdagent.oai.backend.base import APIBackend

# Sized for the tiny smoke model on 2 CPU cores (a few minutes per loop); see scenarios/gsm8k-rule.
SFT_SMOKE = {"per_device_train_batch_size": 16, "gradient_accumulation_steps": 1, "max_length": 256,
             "gradient_checkpointing": False, "warmup_ratio": 0.05, "logging_steps": 20}
SMOKE_PLAN: list[dict[str, Any]] = [
    {"hypothesis": "SFT on the reference solutions teaches the base model the solution format and the "
                   "'#### <number>' answer line, which it never produces now.",
     "method": "SFT warm-up", "template": "sft", "init_from": "base",
     "config": {**SFT_SMOKE, "learning_rate": 5e-3, "num_train_epochs": 4},
     "rationale": "A randomly initialised or untuned model scores ~0; imitation is the fastest first gain.",
     "expected_gain": "a few points"},
    {"hypothesis": "Continuing SFT from the best checkpoint at a lower learning rate keeps reducing the "
                   "loss on the solution steps and turns more equations into correct answers.",
     "method": "SFT (continued)", "template": "sft", "init_from": "best",
     "config": {**SFT_SMOKE, "learning_rate": 2e-3, "num_train_epochs": 4},
     "rationale": "The warm-up's loss was still falling when it stopped.", "expected_gain": "+1-3 points"},
    {"hypothesis": "GRPO with the correctness reward from the best checkpoint reinforces the answers it "
                   "already gets right sometimes.",
     "method": "GRPO", "template": "grpo_rule", "init_from": "best",
     "config": {"learning_rate": 1e-4, "max_steps": 20, "num_generations": 8, "per_device_train_batch_size": 16,
                "gradient_accumulation_steps": 1, "max_completion_length": 48, "gradient_checkpointing": False,
                "logging_steps": 5},
     "reward_design": "correctness 1.0 + format 0.1", "rationale": "RL after an SFT warm-up, as in the paper.",
     "expected_gain": "+0-2 points"},
]
# Level 3 (alfworld-online --smoke): SFT warm-up on the planner's trajectories, then online GRPO from it.
ONLINE_SMOKE_PLAN: list[dict[str, Any]] = [
    {"hypothesis": "SFT on the expert trajectories (planner walkthroughs replayed in the engine) teaches the "
                   "base model to answer with one admissible action that moves towards the goal.",
     "method": "SFT warm-up on expert trajectories", "template": "sft_trajectories", "init_from": "base",
     # benchmarks/alfworld_sft_grpo.py's recipe (measured there: 0.0 -> 30.0 on the held-out smoke games)
     "config": {"learning_rate": 3e-3, "num_train_epochs": 8, "per_device_train_batch_size": 4,
                "gradient_accumulation_steps": 1, "search_copies": 2, "renamed_copies": 1,
                "gradient_checkpointing": False, "logging_steps": 60, "collect_workers": 2},
     "rationale": "The base model never produces a valid action; imitation first, as in the paper. The "
                  "planner knows where things are, so copies with wrong guesses teach searching.",
     "expected_gain": "from ~0 to about a third of the games"},
    {"hypothesis": "Online GRPO from the SFT checkpoint reinforces the episodes that reach the goal.",
     "method": "online GRPO", "template": "grpo_online", "init_from": "best",
     "config": {"learning_rate": 2e-4, "max_steps": 6, "num_generations": 4, "per_device_train_batch_size": 16,
                "gradient_accumulation_steps": 1, "gradient_checkpointing": False, "logging_steps": 1},
     "reward_design": "task success 1.0", "rationale": "RL after an SFT warm-up, as in the paper.",
     "expected_gain": "+0-5 points"},
]
PLANS_BY_LEVEL = {1: SMOKE_PLAN, 3: ONLINE_SMOKE_PLAN}
STEP = re.compile(r"# Step: (\w+)")
LEVEL = re.compile(r"\(level (\d):")


def plan_for(system: str) -> list[dict[str, Any]]:
    """The plan for the task level named in the scenario (the prompts' system message)."""
    level = LEVEL.search(system)
    return PLANS_BY_LEVEL.get(int(level.group(1)) if level else 1, SMOKE_PLAN)


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
    """FAKE `APIBackend`: answers the loop's prompts from `PLAN` (default: the plan for the task's level).
    Subclass and set PLAN to change it."""

    PLAN: list[dict[str, Any]] | None = None

    def supports_response_schema(self) -> bool:
        return False

    def _calculate_token_from_messages(self, messages: list[dict[str, Any]]) -> int:
        return sum(len(m["content"]) // 4 for m in messages)

    def _create_embedding_inner_function(self, input_content_list: list[str]) -> list[list[float]]:
        raise RuntimeError("the scripted driver has no embeddings (the loop does not use them)")

    def answer(self, system: str, user: str) -> str:
        return scripted_answer(system, user, self.PLAN or plan_for(system))

    def _create_chat_completion_inner_function(self, messages, response_format=None, *args, **kwargs):
        system = next((m["content"] for m in messages if m["role"] == "system"), "")
        return self.answer(system, messages[-1]["content"]), "stop"
