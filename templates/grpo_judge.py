"""GRPO (TRL GRPOTrainer) with a judge's preference as the reward: sample a group of completions per
instruction, ask the task's judge how likely each beats the row's reference answer, push up the
better-than-average ones. The judge, its annotator and its reply cache are the grader's own
(TaskSpec.judge_reward), so the reward is the grade's signal; every step's completions go to the judge
in one concurrent batch. Judge calls cost money with a real judge: mind max_steps x batch size.

Run by hand:   TASK=alpacaeval-judge DATA_PATH=data/train.jsonl BASE_MODEL=base_model OUTPUT_DIR=output \
               python templates/grpo_judge.py
DATA_PATH:     JSONL rows {"id", "prompt" (chat messages: the instruction as the user's message), "answer"
               (the reference the judge compares with)}
TASK:          the task whose judge reward is used (the workspace sets it); AUTORL_JUDGE_* choose the judge
               (none configured: the task's FAKE judge, for smoke runs)
Dry run:       AUTORL_DRY_RUN=1: 2 steps, tiny groups, short completions, then save as usual.
The contract every template keeps (environment, AUTORL_CONFIG_JSON overrides, `SAVED <path>` last) and
what the shared CONFIG keys mean: common.py.
"""

import os
import sys

from datasets import Dataset
from trl import GRPOConfig, GRPOTrainer

from rdagent_autorl.tasks import get_task

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # common.py sits next to this file
from common import GRPO_DRY_RUN, apply_overrides, grpo_args, load_tokenizer, lora_config, paths, read_rows, save_checkpoint  # noqa: E402

# ---- The one block to edit (the shared keys are documented in common.SHARED_CONFIG) -----------------
CONFIG = {
    "learning_rate": 1e-6,  # full fine-tuning; ~1e-5 with LoRA
    "max_steps": 200,  # each step generates a fresh batch of groups and judges all of it
    "num_generations": 8,
    "per_device_train_batch_size": 8,  # completions (not prompts) per forward pass
    "gradient_accumulation_steps": 4,  # prompts per step = batch x accumulation / num_generations
    "max_completion_length": 1024,  # longer completions are cut (judges dislike unfinished answers)
    "temperature": 1.0,
    "beta": 0.0,
    "length_penalty": 0.0,  # reward -= this x (completion chars / reference chars - 1) when longer: fights length bias
    "use_vllm": False, "vllm_gpu_memory_utilization": 0.3,
    "use_lora": False, "lora_r": 16, "lora_alpha": 32, "gradient_checkpointing": True, "bf16": "auto",
    "seed": 42, "version": "v1", "max_train_samples": None, "logging_steps": 5,
}
# ------------------------------------------------------------------------------------------------

CONFIG = apply_overrides(CONFIG, dry_run=GRPO_DRY_RUN)
DATA_PATH, BASE_MODEL, OUTPUT_DIR = paths("DATA_PATH", "BASE_MODEL", "OUTPUT_DIR")
task = get_task(os.environ.get("TASK", ""))
if task.judge_reward is None:
    sys.exit(f"task {task.id} has no judge reward (TaskSpec.judge_reward); use its own RL template")


def text_of(x) -> str:
    """A prompt's last message or a completion's text (TRL passes chat rows as message lists)."""
    return x[-1]["content"] if isinstance(x, list) else x


def judge_preference(prompts, completions, answer, **_):
    texts = [text_of(c) for c in completions]
    rewards = task.judge_reward([text_of(p) for p in prompts], texts, answer)
    if CONFIG["length_penalty"]:
        rewards = [r - CONFIG["length_penalty"] * max(0.0, len(t) / max(1, len(a)) - 1)
                   for r, t, a in zip(rewards, texts, answer)]
    return rewards


rows = read_rows(DATA_PATH, CONFIG["max_train_samples"], CONFIG["seed"])
dataset = Dataset.from_list([{"prompt": r["prompt"], "answer": r["answer"]} for r in rows])
tokenizer = load_tokenizer(BASE_MODEL)
args = GRPOConfig(**grpo_args(CONFIG, OUTPUT_DIR))
trainer = GRPOTrainer(model=BASE_MODEL, reward_funcs=[judge_preference], args=args, train_dataset=dataset,
                      processing_class=tokenizer, peft_config=lora_config(CONFIG, dropout=0.0))
trainer.train()

save_checkpoint(trainer, tokenizer, BASE_MODEL, OUTPUT_DIR, CONFIG)
