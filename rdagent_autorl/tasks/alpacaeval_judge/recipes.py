"""alpacaeval-judge's recipes for smoke runs (tiny model, 2 CPU cores, the FAKE judge): the scripted
driver's plan (SFT on the references, then GRPO on the judge's preference) and the example agent's
steps (SFT, then DPO on judge-labelled pairs of its own samples). Measured: see description.md."""

from __future__ import annotations

from rdagent_autorl.tasks.rule_recipes import SFT_SMOKE
from rdagent_autorl.tasks.spec import ExampleStep

SFT = {**SFT_SMOKE, "learning_rate": 5e-3, "num_train_epochs": 8, "max_length": 96}
GRPO = {"learning_rate": 5e-5, "max_steps": 12, "num_generations": 4, "per_device_train_batch_size": 8,
        "gradient_accumulation_steps": 1, "max_completion_length": 32, "gradient_checkpointing": False,
        "logging_steps": 2}
DPO = {"learning_rate": 5e-5, "max_steps": 12, "max_train_samples": 48, "per_device_train_batch_size": 8,
       "gradient_accumulation_steps": 1, "max_length": 96, "max_completion_length": 32, "gradient_checkpointing": False,
       "logging_steps": 2}

PLAN = (
    {"hypothesis": "SFT on the reference answers teaches the base model to answer the instruction on topic and "
                   "without repeating itself, which is what the judge prefers; it writes unrelated tokens now.",
     "method": "SFT warm-up", "template": "sft", "init_from": "base", "config": SFT,
     "rationale": "An untuned model loses every comparison; imitation of the references is the fastest first gain.",
     "expected_gain": "from ~0 to a sizeable share of ties with the references"},
    {"hypothesis": "GRPO on the judge's preference against the reference, from the SFT checkpoint, reinforces the "
                   "sampled answers the judge prefers.",
     "method": "GRPO (judge reward)", "template": "grpo_judge", "init_from": "best", "config": GRPO,
     "reward_design": "P(completion better than the reference) from the grader's judge and annotator",
     "rationale": "RL on the benchmark's own preference signal after an SFT warm-up, as in the paper.",
     "expected_gain": "+0-3 points"},
)
EXAMPLE = (ExampleStep("sft", "v1", SFT),
           ExampleStep("dpo_judge", "v2", DPO, init_from="v1"))
