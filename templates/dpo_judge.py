"""DPO (TRL DPOTrainer) on pairs the judge labels: sample a few completions per instruction from the
current model, ask the task's judge how likely each beats the row's reference answer, keep the best as
`chosen` and the worst as `rejected` (when the judge separates them by at least `min_margin`), then
train DPO on those pairs. Off-policy after the sampling: one round per run; run it again from its own
checkpoint for another. The judge, annotator and reply cache are the grader's (TaskSpec.judge_reward).

Run by hand:   TASK=alpacaeval-judge DATA_PATH=data/train.jsonl BASE_MODEL=base_model OUTPUT_DIR=output \
               python templates/dpo_judge.py
DATA_PATH:     JSONL rows {"id", "prompt" (chat messages), "answer" (the reference the judge compares with)}
TASK:          the task whose judge reward is used; AUTORL_JUDGE_* choose the judge (none: the task's FAKE one)
Dry run:       AUTORL_DRY_RUN=1: a handful of prompts and steps, then save as usual.
The contract every template keeps (environment, AUTORL_CONFIG_JSON overrides, `SAVED <path>` last) and
what the shared CONFIG keys mean: common.py.
"""

import os
import sys

import torch
from datasets import Dataset
from transformers import AutoModelForCausalLM
from trl import DPOConfig, DPOTrainer

from rdagent_autorl.tasks import get_task

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # common.py sits next to this file
from common import apply_overrides, load_tokenizer, lora_config, paths, read_rows, save_checkpoint, trainer_args  # noqa: E402

# ---- The one block to edit (the shared keys are documented in common.SHARED_CONFIG) -----------------
CONFIG = {
    "learning_rate": 5e-7,  # full fine-tuning; ~5e-6 with LoRA
    "max_steps": -1,  # -1: num_train_epochs over the labelled pairs
    "num_train_epochs": 1,
    "per_device_train_batch_size": 4,  # pairs per forward pass
    "gradient_accumulation_steps": 4,
    "samples_per_prompt": 4,  # completions sampled per instruction; the judge ranks them
    "max_completion_length": 1024,  # tokens sampled per completion
    "max_length": 2048,  # tokens of prompt + completion in training
    "temperature": 1.0,
    "min_margin": 0.05,  # judge preferences closer than this make no pair
    "beta": 0.1,  # DPO's KL strength
    "use_lora": False, "lora_r": 16, "lora_alpha": 32, "gradient_checkpointing": True, "bf16": "auto",
    "seed": 42, "version": "v1", "max_train_samples": 2000, "logging_steps": 5,
}
# ------------------------------------------------------------------------------------------------

CONFIG = apply_overrides(CONFIG, dry_run=dict(
    max_steps=2, max_train_samples=4, samples_per_prompt=2, per_device_train_batch_size=2,
    gradient_accumulation_steps=1, max_completion_length=16, max_length=64, logging_steps=1, min_margin=0.0,
))
DATA_PATH, BASE_MODEL, OUTPUT_DIR = paths("DATA_PATH", "BASE_MODEL", "OUTPUT_DIR")
task = get_task(os.environ.get("TASK", ""))
if task.judge_reward is None:
    sys.exit(f"task {task.id} has no judge reward (TaskSpec.judge_reward); use its own training template")
torch.manual_seed(CONFIG["seed"])

rows = read_rows(DATA_PATH, CONFIG["max_train_samples"], CONFIG["seed"])
tokenizer = load_tokenizer(BASE_MODEL)
tokenizer.padding_side = "left"  # sampling continues from the right edge
model = AutoModelForCausalLM.from_pretrained(BASE_MODEL)
device = "cuda" if torch.cuda.is_available() else "cpu"
model.to(device).eval()


def sample(prompts: list, n: int) -> list[list[str]]:
    """n sampled completions per chat prompt, in batches."""
    out = []
    for start in range(0, len(prompts), CONFIG["per_device_train_batch_size"]):
        chunk = prompts[start:start + CONFIG["per_device_train_batch_size"]]
        texts = [tokenizer.apply_chat_template(p, tokenize=False, add_generation_prompt=True) for p in chunk]
        batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(device)
        with torch.inference_mode():
            ids = model.generate(**batch, do_sample=True, temperature=CONFIG["temperature"], num_return_sequences=n,
                                 max_new_tokens=CONFIG["max_completion_length"], pad_token_id=tokenizer.pad_token_id)
        decoded = tokenizer.batch_decode(ids[:, batch["input_ids"].shape[1]:], skip_special_tokens=True)
        out += [decoded[i * n:(i + 1) * n] for i in range(len(chunk))]
    return out


n = CONFIG["samples_per_prompt"]
samples = sample([r["prompt"] for r in rows], n)
instructions = [r["prompt"][-1]["content"] if isinstance(r["prompt"], list) else r["prompt"] for r in rows]
rewards = task.judge_reward([i for i in instructions for _ in range(n)], [c for cs in samples for c in cs],
                            [r["answer"] for r in rows for _ in range(n)])
pairs = []
for k, (row, completions) in enumerate(zip(rows, samples)):
    scored = sorted(zip(rewards[k * n:(k + 1) * n], completions), key=lambda x: x[0])
    (low, rejected), (high, chosen) = scored[0], scored[-1]
    if high - low >= CONFIG["min_margin"] and chosen != rejected:
        pairs.append({"prompt": row["prompt"], "chosen": [{"role": "assistant", "content": chosen}],
                      "rejected": [{"role": "assistant", "content": rejected}]})
print(f"PAIRS {len(pairs)} of {len(rows)} prompts (mean judge reward of the samples {sum(rewards) / len(rewards):.3f})",
      flush=True)
if not pairs:
    sys.exit("the judge separated no pair of samples; sample more per prompt (samples_per_prompt) or lower min_margin")

model.train()
args = DPOConfig(**trainer_args(CONFIG, OUTPUT_DIR, num_train_epochs=CONFIG["num_train_epochs"], beta=CONFIG["beta"],
                                max_length=CONFIG["max_length"]))
trainer = DPOTrainer(model=model, args=args, train_dataset=Dataset.from_list(pairs), processing_class=tokenizer,
                     peft_config=lora_config(CONFIG, dropout=0.05))
trainer.train()

save_checkpoint(trainer, tokenizer, BASE_MODEL, OUTPUT_DIR, CONFIG)
