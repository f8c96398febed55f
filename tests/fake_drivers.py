"""FAKE driver LLMs for the loop tests (selected with BACKEND=fake_drivers.<Class>, as a user would
select any RD-Agent backend). They are scripted stand-ins at the LLM boundary, nothing more."""

from __future__ import annotations

import json
import re

from rdagent_autorl.rdloop.scripted_driver import ScriptedDriver

# Seconds, not minutes: a few optimizer steps on a few rows of the tiny model.
FAST_SFT = {"max_steps": 4, "max_train_samples": 32, "per_device_train_batch_size": 8, "max_length": 128,
            "gradient_checkpointing": False, "logging_steps": 1, "learning_rate": 1e-3, "warmup_ratio": 0.0}
FAST_PLAN = [
    {"hypothesis": "A short SFT warm-up teaches the answer format.", "method": "SFT warm-up", "template": "sft",
     "init_from": "base", "config": FAST_SFT, "rationale": "imitation first", "expected_gain": "+1"},
    {"hypothesis": "More SFT from the best checkpoint.", "method": "SFT (continued)", "template": "sft",
     "init_from": "best", "config": FAST_SFT, "rationale": "loss still falling", "expected_gain": "+1"},
]
# Level 3 (alfworld-online): a few games and steps each.
FAST_ONLINE_PLAN = [
    {"hypothesis": "SFT on expert trajectories teaches admissible actions.", "method": "SFT warm-up",
     "template": "sft_trajectories", "init_from": "base", "rationale": "imitation first", "expected_gain": "+1",
     "config": {"max_train_samples": 12, "max_steps": 4, "per_device_train_batch_size": 8, "learning_rate": 1e-3,
                "gradient_checkpointing": False, "logging_steps": 1, "collect_workers": 2}},
    {"hypothesis": "Online GRPO from the best checkpoint.", "method": "online GRPO", "template": "grpo_online",
     "init_from": "best", "rationale": "RL after SFT", "expected_gain": "+1",
     "config": {"max_train_samples": 4, "max_steps": 1, "num_generations": 2, "per_device_train_batch_size": 8,
                "gradient_accumulation_steps": 1, "max_turns": 4, "gradient_checkpointing": False, "logging_steps": 1}},
]
calls: list[tuple[str, str]] = []  # (step, user prompt) of every call, for assertions


def step_of(system: str) -> str:
    match = re.search(r"# Step: (\w+)", system)
    return match.group(1) if match else ""


class FastPlanDriver(ScriptedDriver):
    """FAKE: the scripted driver with a plan sized for tests."""

    PLAN = FAST_PLAN

    def answer(self, system: str, user: str) -> str:
        calls.append((step_of(system), user))
        return super().answer(system, user)


class FastOnlinePlanDriver(FastPlanDriver):
    """FAKE: the scripted driver with a level-3 plan sized for tests."""

    PLAN = FAST_ONLINE_PLAN


BROKEN_LINE = "this line is not python\n"


class BreaksThenRepairsDriver(FastPlanDriver):
    """FAKE: the first coder answer plants a syntax error in train.py; asked to repair, it removes it."""

    def answer(self, system: str, user: str) -> str:
        if step_of(system) != "coder":
            return super().answer(system, user)
        calls.append(("coder", user))
        script = user.split("===== train.py =====\n", 1)[1].split("\n===== ", 1)[0]
        if "FAILED its checks" in user:
            return json.dumps({"summary": "removed the stray line", "files": {"train.py": script.replace(BROKEN_LINE, "")}})
        return json.dumps({"summary": "planted a bug", "files": {"train.py": BROKEN_LINE + script}})


class InvalidProposalOnceDriver(FastPlanDriver):
    """FAKE: its first proposal names a config key the template does not have, then it complies."""

    def answer(self, system: str, user: str) -> str:
        if step_of(system) == "proposal" and "previous answer was rejected" not in user:
            calls.append(("proposal", user))
            bad = dict(FAST_PLAN[0], config={"learning_rat": 0.1})
            return "Sure! ```json\n" + json.dumps(bad) + "\n```"
        return super().answer(system, user)


class NeverValidDriver(FastPlanDriver):
    """FAKE: answers every proposal with prose, never JSON."""

    def answer(self, system: str, user: str) -> str:
        if step_of(system) == "proposal":
            calls.append(("proposal", user))
            return "I think we should train harder."
        return super().answer(system, user)


CRASH_AFTER_DRY_RUN = ('import os\nif os.environ.get("AUTORL_DRY_RUN") != "1":\n'
                       '    raise SystemExit("simulated crash after the dry run passed")\n')


class CrashesFirstLoopDriver(FastPlanDriver):
    """FAKE: loop 0's code passes its dry run but crashes in the full run; loop 1 is left as rendered."""

    def answer(self, system: str, user: str) -> str:
        if step_of(system) == "coder" and "loop_00" in user and "FAILED its checks" not in user:
            calls.append(("coder", user))
            script = user.split("===== train.py =====\n", 1)[1].split("\n===== ", 1)[0]
            return json.dumps({"summary": "crash planted", "files": {"train.py": CRASH_AFTER_DRY_RUN + script}})
        return super().answer(system, user)
