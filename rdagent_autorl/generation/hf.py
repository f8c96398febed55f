"""The transformers backend: batched greedy generation with left padding, on CPU or GPU.

Throughput comes from batching and from keeping padding small: prompts are sorted by length so each
batch holds prompts of similar size, and a batch stops as soon as every sequence in it is finished
(EOS or a stop string). `benchmarks/grading_throughput.py` measures this against a sequential loop.

Prefix caching across calls (`prefix_cache_tokens=N`, or `with backend.prefix_cache_session(N):`) is vLLM's
`enable_prefix_caching` idea: a multi-turn rollout sends each game's previous prompt plus a reply and
an observation, so prompts' keys and values are kept and only the new tail is prefilled. The stored
KV belongs to the weights it came from: scope it to rollouts of a fixed model, not across updates.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from contextlib import contextmanager
from pathlib import Path
from typing import ContextManager, Iterator, Sequence

import numpy as np

from rdagent_autorl.checkpoints import checkpoint_identity
from rdagent_autorl.generation.text import cut_at_stop, render_prompt
from rdagent_autorl.types import Prompt


# Below this many shared tokens, a separate prefix pass costs more than it saves.
MIN_SHARED_PREFIX = 8


class HFBackend:
    name = "hf"

    def __init__(self, model_path: str | Path, device: str | None = None, batch_size: int | None = None, dtype=None,
                 prefix_cache_tokens: int = 0, preferred_batch_size: int | None = None):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from rdagent_autorl.settings import get_settings

        self.model_path = Path(model_path)
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.batch_size = batch_size or get_settings().hf_batch_size  # prompts per forward batch
        # Prompts per generate() call a solver should send (games played at once, AUTORL_ROLLOUT_BATCH_SIZE):
        # a call's prompts are padded and decoded together here, so this bounds memory and padding.
        self.preferred_batch_size = preferred_batch_size or get_settings().rollout_batch_size
        self.tokenizer = AutoTokenizer.from_pretrained(str(model_path))
        self.tokenizer.padding_side = "left"  # decoder-only models continue from the right edge
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        # bf16 on GPU as in training; float32 on CPU, where bf16 matmuls are slow on most chips.
        dtype = dtype or (torch.bfloat16 if self.device.startswith("cuda") else torch.float32)
        self.model = AutoModelForCausalLM.from_pretrained(str(model_path), dtype=dtype).to(self.device).eval()
        self.generated_tokens = 0  # real (non-padding) new tokens so far, for throughput measurements
        self.prefix_cache_tokens = prefix_cache_tokens  # most prompt tokens whose KV is kept; 0: off
        # key -> (prompt ids, [(keys, values) of each layer, [heads, tokens, dim]]), least recently used first
        self._prefix_store: OrderedDict[int, tuple[np.ndarray, list]] = OrderedDict()
        self._next_key = 0  # keys only grow: a key >= a remembered value is an entry stored since then
        self.prefix_cache_hits = 0  # prompt tokens whose KV came from an earlier batch's store
        self.prefilled_tokens = 0  # prompt tokens run through the model

    @contextmanager
    def prefix_cache(self, max_tokens: int) -> Iterator["HFBackend"]:
        """Prefix caching on for the block; the store is emptied on exit (it can hold gigabytes)."""
        previous, self.prefix_cache_tokens = self.prefix_cache_tokens, max_tokens
        try:
            yield self
        finally:
            self.prefix_cache_tokens = previous
            self._prefix_store.clear()

    def prefix_cache_session(self, max_tokens: int) -> ContextManager["HFBackend"]:
        """`prefix_cache(max_tokens)`: the GenerationBackend name for it."""
        return self.prefix_cache(max_tokens)

    def identity(self) -> str:
        return checkpoint_identity(self.model_path)

    @property
    def prefix_cache_stored_tokens(self) -> int:
        return sum(len(ids) for ids, _ in self._prefix_store.values())

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
            rows = [encoded[i] for i in idx]
            batch, cache = self._prefix_cached_inputs(rows) if self.prefix_cache_tokens > 0 else self._plain_inputs(rows)
            with torch.inference_mode():
                out = self.model.generate(**batch, past_key_values=cache, generation_config=config, tokenizer=self.tokenizer)
            new_tokens = out[:, batch["input_ids"].shape[1] :]
            self.generated_tokens += self._count_real(new_tokens, config.eos_token_id, config.pad_token_id)
            for i, text in zip(idx, self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)):
                outputs[i] = cut_at_stop(text, stop)
            if self.prefix_cache_tokens > 0:
                self._store(rows, cache, batch["attention_mask"])
        return outputs

    def first_token_top_logprobs(self, prompts: Sequence[Prompt], k: int) -> list[list[dict]]:
        """The `k` likeliest first tokens of each prompt's reply with their log-probabilities, as an
        OpenAI endpoint's `top_logprobs` lists them ([{"token", "logprob"}], likeliest first): what a
        logprob-preference judge reads."""
        import torch

        rendered = [render_prompt(p, self.tokenizer) for p in prompts]
        encoded = [self.tokenizer(text, add_special_tokens=not templated)["input_ids"] for text, templated in rendered]
        out: list[list[dict]] = []
        for start in range(0, len(encoded), self.batch_size):
            padded = self.tokenizer.pad({"input_ids": encoded[start : start + self.batch_size]}, return_tensors="pt")
            with torch.inference_mode():  # left padding: the last position is every row's next token
                logits = self.model(**padded.to(self.device)).logits[:, -1, :].float()
            values, ids = torch.log_softmax(logits, dim=-1).topk(min(k, logits.shape[-1]), dim=-1)
            for row_values, row_ids in zip(values.tolist(), ids.tolist()):
                out.append([{"token": self.tokenizer.decode([i]), "logprob": v} for i, v in zip(row_ids, row_values)])
        return out

    def _plain_inputs(self, rows: list[list[int]]):
        batch, cache = self._batch_inputs(rows)
        self.prefilled_tokens += sum(map(len, rows)) - (cache.get_seq_length() * (len(rows) - 1) if cache is not None else 0)
        return batch, cache

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

    def _prefix_cached_inputs(self, rows: list[list[int]]):
        """Model inputs and a cache holding each row's longest stored prefix; counts hits and prefill."""
        from transformers import DynamicCache

        hits = [self._longest_stored_prefix(e) for e in rows]
        # Every row is padded to the longest tail, which costs real compute: a game that just joined
        # (nothing stored) would make the whole batch prefill its full length. Prefilling the k longest
        # tails on their own first costs k * tails[0] and leaves at most tails[k] per row in the batch.
        # Done only where it at least halves the padded work, as it costs a model call of its own.
        tails = sorted((len(e) - n for e, (_, n) in zip(rows, hits)), reverse=True)
        cost = [k * tails[0] + len(rows) * tails[k] for k in range(len(rows))]
        k, fresh = min(range(len(rows)), key=cost.__getitem__), self._next_key
        if 2 * cost[k] <= cost[0]:
            longest = sorted(range(len(rows)), key=lambda i: len(rows[i]) - hits[i][1], reverse=True)[:k]
            self._prefill([rows[i] for i in longest], [hits[i] for i in longest])
            hits = [self._longest_stored_prefix(e) for e in rows]
        self.prefix_cache_hits += sum(n for key, n in hits if key is not None and key < fresh)
        if any(n for _, n in hits):
            self.prefilled_tokens += sum(len(e) - n for e, (_, n) in zip(rows, hits))
            return self._cached_batch_inputs(rows, hits)
        batch, cache = self._plain_inputs(rows)
        return batch, DynamicCache(config=self.model.config) if cache is None else cache  # ours, to read back

    def _longest_stored_prefix(self, encoding: list[int]) -> tuple[int | None, int]:
        """(store key, tokens to reuse) of the stored prompt sharing the longest prefix with this one."""
        ids = np.asarray(encoding)
        best_key, best = None, 0
        for key, (stored, _) in self._prefix_store.items():
            n = min(len(stored), len(ids))
            diff = np.flatnonzero(stored[:n] != ids[:n])
            common = int(diff[0]) if diff.size else n
            if common > best:
                best_key, best = key, common
        best = min(best, len(ids) - 1)  # the model needs one new token to produce the next logits
        if best < MIN_SHARED_PREFIX:
            return None, 0
        self._prefix_store.move_to_end(best_key)
        return best_key, best

    def _cached_batch_inputs(self, encodings: list[list[int]], hits: list[tuple[int | None, int]]):
        """`_batch_inputs` with a prefix of its own per row: row i is [pad][reused_i][pad][rest_i], the
        cache holds each row's stored KV right-aligned in a block as wide as the longest reuse."""
        import torch
        import torch.nn.functional as F
        from transformers import DynamicCache

        reuse = max(n for _, n in hits)
        width = max(len(e) - n for e, (_, n) in zip(encodings, hits))
        pad = self.tokenizer.pad_token_id
        ids, mask = [], []
        for e, (_, n) in zip(encodings, hits):
            gap = width - (len(e) - n)
            ids.append([pad] * (reuse - n) + e[:n] + [pad] * gap + e[n:])
            mask.append([0] * (reuse - n) + [1] * n + [0] * gap + [1] * (len(e) - n))
        some_key = next((key for key, n in hits if n), None)  # rows without a hit: 0 tokens of any entry
        entries = [self._prefix_store[key if n else some_key][1] for key, n in hits] if reuse else []
        cache = DynamicCache(config=self.model.config)
        with torch.inference_mode():
            for layer in range(len(entries[0]) if entries else 0):
                keys, values = (torch.stack([F.pad(kv[layer][part][:, :n], (0, 0, reuse - n, 0))
                                             for kv, (_, n) in zip(entries, hits)]) for part in (0, 1))
                cache.update(keys, values, layer)
        batch = {"input_ids": torch.tensor(ids, device=self.device), "attention_mask": torch.tensor(mask, device=self.device)}
        return batch, cache

    def _prefill(self, rows: list[list[int]], hits: list[tuple[int | None, int]]) -> None:
        """Run the prompts through the model without generating, to store their KV."""
        import torch

        self.prefix_cache_hits += sum(n for _, n in hits)
        self.prefilled_tokens += sum(len(e) - n for e, (_, n) in zip(rows, hits))
        batch, cache = self._cached_batch_inputs(rows, hits)
        mask, done = batch["attention_mask"], cache.get_seq_length()
        positions = (mask.cumsum(-1) - 1).masked_fill(mask == 0, 0)  # as generate() derives them
        with torch.inference_mode():
            self.model(input_ids=batch["input_ids"][:, done:], attention_mask=mask, position_ids=positions[:, done:],
                       past_key_values=cache, use_cache=True)
        self._store(rows, cache, mask)

    def _store(self, encodings: list[list[int]], cache, attention_mask) -> None:
        """Keep each row's prompt KV (not the reply's: the next prompt re-renders the reply through the
        chat template, which may tokenize it differently), without padding, LRU-bounded in tokens."""
        from transformers.cache_utils import DynamicLayer

        # A sliding-window layer keeps only the window's tail: its slots cannot be reused by position.
        if any(type(layer) is not DynamicLayer for layer in cache.layers):
            return
        for row, encoding in enumerate(encodings):
            ids = np.asarray(encoding)
            if len(ids) > self.prefix_cache_tokens:
                continue
            for key, (stored, _) in list(self._prefix_store.items()):
                if len(stored) >= len(ids) and np.array_equal(stored[: len(ids)], ids):
                    self._prefix_store.move_to_end(key)  # already there, within a longer prompt
                    break
                # The same conversation one turn older. Its last token may differ: the generation
                # prompt's "\n" can merge with a reply that starts with a newline.
                if len(stored) < len(ids) and np.array_equal(stored[:-1], ids[: len(stored) - 1]):
                    del self._prefix_store[key]
            else:
                real = attention_mask[row].nonzero().squeeze(1)
                kv = [(layer.keys[row][:, real], layer.values[row][:, real]) for layer in cache.layers]
                self._prefix_store[self._next_key] = (ids, kv)
                self._next_key += 1
        while self.prefix_cache_stored_tokens > self.prefix_cache_tokens:
            self._prefix_store.popitem(last=False)

    @staticmethod
    def _count_real(new_tokens, eos_token_id, pad_token_id) -> int:
        """Tokens up to and including each row's first EOS; what follows is padding (a row that ended
        on a stop string is padded too)."""
        import torch

        ends = (eos_token_id if isinstance(eos_token_id, list) else [eos_token_id]) + [pad_token_id]
        eos = torch.tensor([e for e in ends if e is not None])
        is_end = torch.isin(new_tokens.cpu(), eos)
        no_end = torch.full_like(is_end[:, 0], new_tokens.shape[1], dtype=torch.long)
        first_end = torch.where(is_end.any(1), is_end.int().argmax(1) + 1, no_end)
        return int(first_end.sum())
