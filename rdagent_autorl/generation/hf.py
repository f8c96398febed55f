"""The transformers backend: batched greedy generation with left padding, on CPU or GPU.

Throughput comes from batching and from keeping padding small: prompts are sorted by length so each
batch holds prompts of similar size, and a batch stops as soon as every sequence in it is finished
(EOS or a stop string). `benchmarks/grading_throughput.py` measures this against a sequential loop.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from rdagent_autorl.generation import cut_at_stop, render_prompt
from rdagent_autorl.tasks.base import Prompt


# Below this many shared tokens, a separate prefix pass costs more than it saves.
MIN_SHARED_PREFIX = 8


class HFBackend:
    name = "hf"

    def __init__(self, model_path: str | Path, device: str | None = None, batch_size: int | None = None, dtype=None):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from rdagent_autorl.settings import get_settings

        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.batch_size = batch_size or get_settings().hf_batch_size
        self.tokenizer = AutoTokenizer.from_pretrained(str(model_path))
        self.tokenizer.padding_side = "left"  # decoder-only models continue from the right edge
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        # bf16 on GPU as in training; float32 on CPU, where bf16 matmuls are slow on most chips.
        dtype = dtype or (torch.bfloat16 if self.device.startswith("cuda") else torch.float32)
        self.model = AutoModelForCausalLM.from_pretrained(str(model_path), dtype=dtype).to(self.device).eval()
        self.generated_tokens = 0  # real (non-padding) new tokens so far, for throughput measurements

    def _generation_config(self, max_new_tokens: int, stop: Sequence[str]):
        from transformers import GenerationConfig

        base = self.model.generation_config
        return GenerationConfig(
            max_new_tokens=max_new_tokens,
            do_sample=False,  # greedy: the grade of a checkpoint must not depend on luck
            num_beams=1,
            eos_token_id=base.eos_token_id if base.eos_token_id is not None else self.tokenizer.eos_token_id,
            pad_token_id=self.tokenizer.pad_token_id,
            stop_strings=list(stop) or None,
        )

    def generate(self, prompts: Sequence[Prompt], max_new_tokens: int, stop: Sequence[str] = ()) -> list[str]:
        import torch

        rendered = [render_prompt(p, self.tokenizer) for p in prompts]
        encoded = [self.tokenizer(text, add_special_tokens=not templated)["input_ids"] for text, templated in rendered]
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]), reverse=True)
        config = self._generation_config(max_new_tokens, stop)
        outputs: list[str] = [""] * len(prompts)
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            batch, cache = self._batch_inputs([encoded[i] for i in idx])
            with torch.inference_mode():
                out = self.model.generate(**batch, past_key_values=cache, generation_config=config, tokenizer=self.tokenizer)
            new_tokens = out[:, batch["input_ids"].shape[1] :]
            self.generated_tokens += self._count_real(new_tokens, config.eos_token_id, config.pad_token_id)
            for i, text in zip(idx, self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)):
                outputs[i] = cut_at_stop(text, stop)
        return outputs

    def _batch_inputs(self, encodings: list[list[int]]):
        """Model inputs for one batch, and a KV cache of the prompts' shared prefix when there is one.

        Grading prompts share a long prefix (the system prompt and chat markup: 46 of ~80 tokens on
        gsm8k-rule). Its keys and values are computed once and repeated across the batch, and each
        row is laid out as [prefix][padding][own suffix] so the cached slots line up; positions
        come from the attention mask, so the padding in the middle changes nothing for the model.
        """
        import torch

        shared = len(os.path.commonprefix(encodings)) if len(encodings) > 1 else 0
        shared = min(shared, min(map(len, encodings)) - 1)  # every row keeps one token to prefill
        if shared < MIN_SHARED_PREFIX:
            padded = self.tokenizer.pad({"input_ids": encodings}, return_tensors="pt")
            return padded.to(self.device), None
        prefix = encodings[0][:shared]
        with torch.inference_mode():
            cache = self.model(input_ids=torch.tensor([prefix], device=self.device), use_cache=True).past_key_values
        cache.batch_repeat_interleave(len(encodings))
        width = max(len(e) for e in encodings) - shared
        pad = self.tokenizer.pad_token_id
        ids = [prefix + [pad] * (width - len(e) + shared) + e[shared:] for e in encodings]
        mask = [[1] * shared + [0] * (width - len(e) + shared) + [1] * (len(e) - shared) for e in encodings]
        batch = {"input_ids": torch.tensor(ids, device=self.device), "attention_mask": torch.tensor(mask, device=self.device)}
        return batch, cache

    @staticmethod
    def _count_real(new_tokens, eos_token_id, pad_token_id) -> int:
        """Tokens up to and including each row's first EOS; what follows is padding (a row that ended
        on a stop string is padded too)."""
        import torch

        ends = (eos_token_id if isinstance(eos_token_id, list) else [eos_token_id]) + [pad_token_id]
        eos = torch.tensor([e for e in ends if e is not None])
        is_end = torch.isin(new_tokens.cpu(), eos)
        first_end = torch.where(is_end.any(1), is_end.int().argmax(1) + 1, torch.full_like(is_end[:, 0], new_tokens.shape[1], dtype=torch.long))
        return int(first_end.sum())
