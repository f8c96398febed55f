"""The vLLM backend (GPU). vLLM is imported only here, so CPU-only installs never need it."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import ContextManager, Sequence

from rdagent_autorl.checkpoints import checkpoint_identity
from rdagent_autorl.generation.text import cut_at_stop, render_prompt
from rdagent_autorl.types import Prompt


class VLLMBackend:
    name = "vllm"
    preferred_batch_size: int | None = None  # vLLM schedules its own batches: send every prompt at once

    def __init__(self, model_path: str | Path, gpu_memory_utilization: float = 0.85, max_model_len: int | None = 4096):
        try:
            from vllm import LLM
        except ImportError as exc:
            raise RuntimeError("backend 'vllm' needs the gpu extra: pip install -e '.[gpu]'") from exc
        self.model_path = Path(model_path)
        self.llm = LLM(
            model=str(model_path),
            dtype="bfloat16",
            seed=0,
            gpu_memory_utilization=gpu_memory_utilization,
            max_model_len=max_model_len,
            enable_prefix_caching=True,  # multi-turn rollouts resend each game's previous prompt: reuse its KV
        )
        self.tokenizer = self.llm.get_tokenizer()

    def identity(self) -> str:
        return checkpoint_identity(self.model_path)

    def prefix_cache_session(self, max_tokens: int) -> ContextManager["VLLMBackend"]:
        """A no-op: the engine runs with prefix caching on and manages its own KV blocks."""
        return nullcontext(self)

    def generate(self, prompts: Sequence[Prompt], max_new_tokens: int, stop: Sequence[str] = ()) -> list[str]:
        from vllm import SamplingParams

        params = SamplingParams(temperature=0.0, max_tokens=max_new_tokens, stop=list(stop) or None)
        texts = [render_prompt(p, self.tokenizer)[0] for p in prompts]
        results = self.llm.generate(texts, params, use_tqdm=False)
        return [cut_at_stop(r.outputs[0].text, stop) for r in results]
