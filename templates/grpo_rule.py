"""GRPO (TRL GRPOTrainer) with the task's rule reward: sample a group of completions per prompt,
score them with the grader's own checks (templates/rewards.py), push up the better-than-average ones.

Run by hand:   DATA_PATH=data/train.jsonl BASE_MODEL=base_model OUTPUT_DIR=output TASK=gsm8k-rule \
               python templates/grpo_rule.py
Environment:   DATA_PATH   JSONL rows {"id", "prompt" (chat messages or a plain string), "answer", ...
                           task extras such as "test"/"entry_point"}; all columns reach the rewards
               BASE_MODEL  folder of the model to start from (read-only)
               OUTPUT_DIR  the checkpoint goes to $OUTPUT_DIR/<version>
               TASK        task id; picks the reward functions (rewards.REWARDS)
Overrides:     AUTORL_CONFIG_JSON='{"use_lora": true, "max_steps": 50}' updates CONFIG below
               (unknown keys are an error, so a typo cannot be silently ignored).
               AUTORL_DRY_RUN=1: 2 steps, tiny groups, short completions, then save as usual.
Last line of stdout: `SAVED <path>` (a full model + tokenizer, safetensors, LoRA already merged).
"""

import os
import sys

from datasets import Dataset
from trl import GRPOConfig, GRPOTrainer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # common.py and rewards.py sit next to this file
from common import apply_overrides, load_tokenizer, lora_config, read_rows, save_checkpoint  # noqa: E402
from rewards import rewards_for  # noqa: E402

# ---- The one block to edit -------------------------------------------------------------------
CONFIG = {
    "learning_rate": 1e-6,  # RL drifts fast: full fine-tuning wants ~1e-6, LoRA ~1e-5
    "max_steps": 300,  # optimizer steps (each one generates a fresh batch of groups)
    "num_generations": 8,  # group size: completions per prompt, compared with each other
    "per_device_train_batch_size": 8,  # completions (not prompts) per forward pass
    "gradient_accumulation_steps": 4,  # prompts per step = batch x accumulation / num_generations
    "max_completion_length": 512,  # longer completions are cut (and usually score 0)
    "temperature": 1.0,  # sampling temperature: groups need diverse completions to learn from
    "beta": 0.0,  # KL penalty to the base model; 0 skips loading a reference model
    "use_vllm": False,  # GPU only: generate with vLLM inside this process (much faster)
    "vllm_gpu_memory_utilization": 0.3,  # share of GPU memory vLLM may take when use_vllm
    "use_lora": False,  # LoRA trains small adapters (less memory); they are merged before saving
    "lora_r": 16,
    "lora_alpha": 32,
    "gradient_checkpointing": True,  # recompute activations: less memory, ~20% slower
    "bf16": "auto",  # "auto" = bf16 on a CUDA GPU that supports it, fp32 on CPU; or True / False
    "seed": 42,
    "version": "v1",  # checkpoint folder name under OUTPUT_DIR
    "max_train_samples": None,  # None = all rows; an int keeps a random subset of that size
    "logging_steps": 5,
    "reward": None,  # None = by TASK; or a key of rewards.REWARDS ("math", "exact", ...)
    "format_weight": 0.1,  # weight of format rewards (e.g. the '#### N' line); correctness has 1.0
}
# ------------------------------------------------------------------------------------------------

# AUTORL_CONFIG_JSON overrides; AUTORL_DRY_RUN=1 trains just enough to prove the pipeline works.
CONFIG = apply_overrides(CONFIG, dry_run=dict(
    max_steps=2, max_train_samples=4, num_generations=4, per_device_train_batch_size=4,
    gradient_accumulation_steps=1, max_completion_length=24, logging_steps=1, use_vllm=False,
))
DATA_PATH, BASE_MODEL, OUTPUT_DIR = os.environ["DATA_PATH"], os.environ["BASE_MODEL"], os.environ["OUTPUT_DIR"]
TASK = os.environ.get("TASK", "")

rows = read_rows(DATA_PATH, CONFIG["max_train_samples"], CONFIG["seed"])
# Every column is kept: TRL hands the extras (answer, test, entry_point) to the reward functions.
dataset = Dataset.from_list(rows)

reward_funcs = rewards_for(CONFIG["reward"] or TASK)
reward_weights = [CONFIG["format_weight"] if "format" in f.__name__ else 1.0 for f in reward_funcs]
print("REWARDS", {f.__name__: w for f, w in zip(reward_funcs, reward_weights)}, flush=True)

tokenizer = load_tokenizer(BASE_MODEL)
peft_config = lora_config(CONFIG, dropout=0.0)  # LoRA adapters are merged before saving

vllm_args = {}
if CONFIG["use_vllm"]:  # colocate: vLLM shares this process and GPU, no separate server to start
    vllm_args = dict(use_vllm=True, vllm_mode="colocate",
                     vllm_gpu_memory_utilization=CONFIG["vllm_gpu_memory_utilization"])
args = GRPOConfig(
    output_dir=os.path.join(OUTPUT_DIR, f".{CONFIG['version']}-trainer"),  # trainer state, not a checkpoint
    learning_rate=CONFIG["learning_rate"],
    max_steps=CONFIG["max_steps"],
    num_generations=CONFIG["num_generations"],
    per_device_train_batch_size=CONFIG["per_device_train_batch_size"],
    gradient_accumulation_steps=CONFIG["gradient_accumulation_steps"],
    max_completion_length=CONFIG["max_completion_length"],
    temperature=CONFIG["temperature"],
    beta=CONFIG["beta"],
    reward_weights=reward_weights,
    activation_checkpointing=CONFIG["gradient_checkpointing"],  # the new name of gradient_checkpointing
    bf16=CONFIG["bf16"],
    seed=CONFIG["seed"],
    logging_steps=CONFIG["logging_steps"],
    save_strategy="no",  # one final save below; intermediate checkpoints only cost disk and time
    report_to="none",
    disable_tqdm=True,  # plain `{'loss': ..., 'reward': ...}` lines on stdout, readable in a captured log
    **vllm_args,
)
trainer = GRPOTrainer(model=BASE_MODEL, reward_funcs=reward_funcs, args=args, train_dataset=dataset,
                      processing_class=tokenizer, peft_config=peft_config)
trainer.train()

save_checkpoint(trainer, tokenizer, BASE_MODEL, OUTPUT_DIR, CONFIG)
