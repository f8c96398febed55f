"""Supervised fine-tuning (TRL SFTTrainer) on the task's training data.

Run by hand:   DATA_PATH=data/train.jsonl BASE_MODEL=base_model OUTPUT_DIR=output TASK=gsm8k-rule \
               python templates/sft.py
Environment:   DATA_PATH   JSONL rows {"id", "prompt" (chat messages or a plain string), "answer", ...}
               BASE_MODEL  folder of the model to start from (read-only)
               OUTPUT_DIR  the checkpoint goes to $OUTPUT_DIR/<version>
               TASK        task id (unused by SFT; kept for symmetry with the RL templates)
Overrides:     AUTORL_CONFIG_JSON='{"use_lora": true, "learning_rate": 1e-4}' updates CONFIG below
               (unknown keys are an error, so a typo cannot be silently ignored).
               AUTORL_DRY_RUN=1: 2 optimizer steps on 4 examples, then save as usual (a smoke test).
Last line of stdout: `SAVED <path>` (a full model + tokenizer, safetensors, LoRA already merged).
"""

import os
import sys

from datasets import Dataset
from trl import SFTConfig, SFTTrainer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # common.py sits next to this file
from common import apply_overrides, load_tokenizer, lora_config, read_rows, save_checkpoint  # noqa: E402

# ---- The one block to edit -------------------------------------------------------------------
CONFIG = {
    "learning_rate": 1e-5,  # full fine-tuning of a ~0.5-1.5B model; use ~1e-4 with LoRA
    "num_train_epochs": 2,
    "max_steps": -1,  # > 0 overrides num_train_epochs
    "per_device_train_batch_size": 8,
    "gradient_accumulation_steps": 2,  # effective batch = batch size x accumulation
    "max_length": 1024,  # tokens of prompt + completion; longer rows are truncated
    "use_lora": False,  # LoRA trains small adapters (less memory); they are merged before saving
    "lora_r": 16,
    "lora_alpha": 32,
    "gradient_checkpointing": True,  # recompute activations: less memory, ~20% slower
    "bf16": "auto",  # "auto" = bf16 on a CUDA GPU that supports it, fp32 on CPU; or True / False
    "seed": 42,
    "version": "v1",  # checkpoint folder name under OUTPUT_DIR
    "max_train_samples": None,  # None = all rows; an int keeps a random subset of that size
    "warmup_ratio": 0.03,  # fraction of the steps spent ramping the learning rate up from 0
    "logging_steps": 10,
}
# ------------------------------------------------------------------------------------------------

# AUTORL_CONFIG_JSON overrides; AUTORL_DRY_RUN=1 trains just enough to prove the pipeline works.
CONFIG = apply_overrides(CONFIG, dry_run=dict(
    max_steps=2, max_train_samples=4, per_device_train_batch_size=2,
    gradient_accumulation_steps=1, max_length=256, warmup_ratio=0.0, logging_steps=1,
))
DATA_PATH, BASE_MODEL, OUTPUT_DIR = os.environ["DATA_PATH"], os.environ["BASE_MODEL"], os.environ["OUTPUT_DIR"]


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

args = SFTConfig(
    output_dir=os.path.join(OUTPUT_DIR, f".{CONFIG['version']}-trainer"),  # trainer state, not a checkpoint
    learning_rate=CONFIG["learning_rate"],
    num_train_epochs=CONFIG["num_train_epochs"],
    max_steps=CONFIG["max_steps"],
    per_device_train_batch_size=CONFIG["per_device_train_batch_size"],
    gradient_accumulation_steps=CONFIG["gradient_accumulation_steps"],
    max_length=CONFIG["max_length"],
    completion_only_loss=True,  # learn to answer, not to reproduce the question
    activation_checkpointing=CONFIG["gradient_checkpointing"],  # the new name of gradient_checkpointing
    bf16=CONFIG["bf16"],
    seed=CONFIG["seed"],
    logging_steps=CONFIG["logging_steps"],
    lr_scheduler_type="cosine",
    warmup_steps=CONFIG["warmup_ratio"],  # transformers reads a float < 1 as a fraction of all steps
    save_strategy="no",  # one final save below; intermediate checkpoints only cost disk and time
    report_to="none",
    disable_tqdm=True,  # plain `{'loss': ...}` lines on stdout, readable in a captured log
)
trainer = SFTTrainer(model=BASE_MODEL, args=args, train_dataset=dataset, processing_class=tokenizer,
                     peft_config=peft_config)
trainer.train()

save_checkpoint(trainer, tokenizer, BASE_MODEL, OUTPUT_DIR, CONFIG)
