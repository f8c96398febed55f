"""Supervised fine-tuning (TRL SFTTrainer) on the task's training data.

Run by hand:   DATA_PATH=data/train.jsonl BASE_MODEL=base_model OUTPUT_DIR=output python templates/sft.py
DATA_PATH:     JSONL rows {"id", "prompt" (chat messages or a plain string), "answer", ...}
Dry run:       AUTORL_DRY_RUN=1: 2 optimizer steps on 4 examples, then save as usual.
The contract every template keeps (environment, AUTORL_CONFIG_JSON overrides, `SAVED <path>` last) and
what the shared CONFIG keys mean: common.py.
"""

import os
import sys

from datasets import Dataset
from trl import SFTConfig, SFTTrainer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # common.py sits next to this file
from common import apply_overrides, load_tokenizer, lora_config, paths, read_rows, save_checkpoint, sft_args  # noqa: E402

# ---- The one block to edit (the shared keys are documented in common.SHARED_CONFIG) -----------------
CONFIG = {
    "learning_rate": 1e-5,  # full fine-tuning; ~1e-4 with LoRA
    "num_train_epochs": 2,
    "max_steps": -1,
    "per_device_train_batch_size": 8,  # examples per forward pass
    "gradient_accumulation_steps": 2,
    "max_length": 1024,  # tokens of prompt + completion
    "warmup_ratio": 0.03,
    "use_lora": False, "lora_r": 16, "lora_alpha": 32, "gradient_checkpointing": True, "bf16": "auto",
    "seed": 42, "version": "v1", "max_train_samples": None, "logging_steps": 10,
}
# ------------------------------------------------------------------------------------------------

# AUTORL_CONFIG_JSON overrides; AUTORL_DRY_RUN=1 trains just enough to prove the pipeline works.
CONFIG = apply_overrides(CONFIG, dry_run=dict(
    max_steps=2, max_train_samples=4, per_device_train_batch_size=2,
    gradient_accumulation_steps=1, max_length=256, warmup_ratio=0.0, logging_steps=1,
))
DATA_PATH, BASE_MODEL, OUTPUT_DIR = paths("DATA_PATH", "BASE_MODEL", "OUTPUT_DIR")


def to_prompt_completion(row):
    """Chat prompts get an assistant message as completion (the chat template wraps it); plain
    prompts get the raw answer text appended (TRL then adds the EOS token)."""
    if isinstance(row["prompt"], list):
        return {"prompt": row["prompt"], "completion": [{"role": "assistant", "content": row["answer"]}]}
    return {"prompt": row["prompt"], "completion": row["answer"]}


rows = read_rows(DATA_PATH, CONFIG["max_train_samples"], CONFIG["seed"])
# Only prompt/completion go to the trainer: the task extras (tests, ids) are not training text.
dataset = Dataset.from_list([to_prompt_completion(r) for r in rows])

tokenizer = load_tokenizer(BASE_MODEL)
peft_config = lora_config(CONFIG, dropout=0.05)  # LoRA adapters are merged before saving

# The shared arguments (common.sft_args) plus this template's own.
args = SFTConfig(**sft_args(CONFIG, OUTPUT_DIR,
                            completion_only_loss=True))  # learn to answer, not to reproduce the question
trainer = SFTTrainer(model=BASE_MODEL, args=args, train_dataset=dataset, processing_class=tokenizer,
                     peft_config=peft_config)
trainer.train()

save_checkpoint(trainer, tokenizer, BASE_MODEL, OUTPUT_DIR, CONFIG)
