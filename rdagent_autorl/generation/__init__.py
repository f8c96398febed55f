"""Generation backends: one interface for the grader, judge calls and environment rollouts.

`hf` (transformers, CPU or GPU), `vllm` (GPU; imported only when chosen) and `openai` (any
OpenAI-compatible endpoint). A backend is chosen once per run; the same scorer reads its outputs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, Sequence

from rdagent_autorl.tasks.base import Prompt

BACKENDS = ("hf", "vllm", "openai")


class GenerationBackend(Protocol):
    name: str

    def generate(self, prompts: Sequence[Prompt], max_new_tokens: int, stop: Sequence[str] = ()) -> list[str]:
        """Greedy completions, one per prompt, each cut before the first stop string."""


def render_prompt(prompt: Prompt, tokenizer) -> tuple[str, bool]:
    """Text to feed the model, and whether it came from the chat template (then it already holds the
    special tokens the model expects, so the tokenizer must not add more)."""
    if isinstance(prompt, str):
        return prompt, False
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True), True
    # A base model without a chat template: plain text, roles dropped.
    return "\n\n".join(m["content"] for m in prompt) + "\n", False


def cut_at_stop(text: str, stop: Sequence[str]) -> str:
    """Drop everything from the earliest stop string on (backends may return it or run past it)."""
    cut = min((i for i in (text.find(s) for s in stop if s) if i >= 0), default=len(text))
    return text[:cut]


def load_backend(name: str, model_path: str | Path, device: str | None = None, **options) -> GenerationBackend:
    if name == "hf":
        from rdagent_autorl.generation.hf import HFBackend

        return HFBackend(model_path, device=device, **options)
    if name == "vllm":
        from rdagent_autorl.generation.vllm_backend import VLLMBackend

        return VLLMBackend(model_path, **options)
    if name == "openai":
        from rdagent_autorl.generation.openai_backend import OpenAIBackend

        return OpenAIBackend(str(model_path), **options)
    raise ValueError(f"unknown generation backend '{name}'; choose from: {', '.join(BACKENDS)}")
