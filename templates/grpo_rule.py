"""GRPO (TRL GRPOTrainer) with the task's rule reward: sample a group of completions per prompt,
score them with the grader's own checks (templates/rewards.py), push up the better-than-average ones.

Run by hand:   DATA_PATH=data/train.jsonl BASE_MODEL=base_model OUTPUT_DIR=output TASK_REWARD=math \
               python templates/grpo_rule.py
DATA_PATH:     JSONL rows {"id", "prompt" (chat messages or a plain string), "answer", ... task extras such
               as "test"/"entry_point"}; all columns reach the rewards
TASK_REWARD:   the task's reward, a name in rewards.REWARDS ("math", "exact", "humaneval"); the workspace
               sets it; CONFIG["reward"] overrides it. A missing or unknown name is an error.
Dry run:       AUTORL_DRY_RUN=1: 2 steps, tiny groups, short completions, then save as usual.
The contract every template keeps (environment, AUTORL_CONFIG_JSON overrides, `SAVED <path>` last) and
what the shared CONFIG keys mean: common.py.
"""

import os
import sys

from datasets import Dataset
from trl import GRPOConfig, GRPOTrainer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # common.py and rewards.py sit next to this file
from common import GRPO_DRY_RUN, apply_overrides, grpo_args, load_tokenizer, lora_config, paths, read_rows, save_checkpoint  # noqa: E402
from rewards import rewards_for  # noqa: E402

# ---- The one block to edit (the shared keys are documented in common.SHARED_CONFIG) -----------------
CONFIG = {
    "learning_rate": 1e-6,  # full fine-tuning; ~1e-5 with LoRA
    "max_steps": 300,  # each step generates a fresh batch of groups
    "num_generations": 8,
    "per_device_train_batch_size": 8,  # completions (not prompts) per forward pass
    "gradient_accumulation_steps": 4,  # prompts per step = batch x accumulation / num_generations
    "max_completion_length": 512,  # longer completions are cut (and usually score 0)
    "temperature": 1.0,
    "beta": 0.0,
    "reward": None,  # None = the task's reward ($TASK_REWARD); or a name in rewards.REWARDS
    "format_weight": 0.1,  # weight of format rewards (e.g. the '#### N' line); correctness has 1.0
    "use_vllm": False, "vllm_gpu_memory_utilization": 0.3,
    "use_lora": False, "lora_r": 16, "lora_alpha": 32, "gradient_checkpointing": True, "bf16": "auto",
    "seed": 42, "version": "v1", "max_train_samples": None, "logging_steps": 5,
}
# ------------------------------------------------------------------------------------------------

# AUTORL_CONFIG_JSON overrides; AUTORL_DRY_RUN=1 trains just enough to prove the pipeline works.
CONFIG = apply_overrides(CONFIG, dry_run=GRPO_DRY_RUN)
DATA_PATH, BASE_MODEL, OUTPUT_DIR = paths("DATA_PATH", "BASE_MODEL", "OUTPUT_DIR")

rows = read_rows(DATA_PATH, CONFIG["max_train_samples"], CONFIG["seed"])
# Every column is kept: TRL hands the extras (answer, test, entry_point) to the reward functions.
dataset = Dataset.from_list(rows)

reward_funcs = rewards_for(CONFIG["reward"] or os.environ.get("TASK_REWARD"))
reward_weights = [CONFIG["format_weight"] if "format" in f.__name__ else 1.0 for f in reward_funcs]
print("REWARDS", {f.__name__: w for f, w in zip(reward_funcs, reward_weights)}, flush=True)

tokenizer = load_tokenizer(BASE_MODEL)
peft_config = lora_config(CONFIG, dropout=0.0)  # LoRA adapters are merged before saving

# The shared arguments (common.grpo_args) plus this template's own.
args = GRPOConfig(**grpo_args(CONFIG, OUTPUT_DIR, reward_weights=reward_weights))
trainer = GRPOTrainer(model=BASE_MODEL, reward_funcs=reward_funcs, args=args, train_dataset=dataset,
                      processing_class=tokenizer, peft_config=peft_config)
trainer.train()

save_checkpoint(trainer, tokenizer, BASE_MODEL, OUTPUT_DIR, CONFIG)
