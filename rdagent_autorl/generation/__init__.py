"""Generation backends: one interface for the grader, judge calls and environment rollouts.

`hf` (transformers, CPU or GPU), `vllm` (GPU; imported only when chosen) and `openai` (any
OpenAI-compatible endpoint). A backend is chosen once per run; the same scorer reads its outputs.
What differs between backends and matters to a solver (how many prompts to send at once, whether
prompts' keys and values are kept across calls, what identifies the model) is asked of the backend,
never read off its name.
"""

from __future__ import annotations

from pathlib import Path
from typing import ContextManager, Protocol, Sequence

from rdagent_autorl.checkpoints import checkpoint_identity
from rdagent_autorl.generation.identity import endpoint_identity
from rdagent_autorl.generation.text import cut_at_stop, render_prompt
from rdagent_autorl.types import Prompt

BACKENDS = ("hf", "vllm", "openai")

__all__ = ["BACKENDS", "GenerationBackend", "cut_at_stop", "load_backend", "model_identity", "render_prompt"]


class GenerationBackend(Protocol):
    name: str
    # Prompts per generate() call a solver should send (e.g. games played at once); None: all at once.
    preferred_batch_size: int | None

    def generate(self, prompts: Sequence[Prompt], max_new_tokens: int, stop: Sequence[str] = ()) -> list[str]:
        """Greedy completions, one per prompt, each cut before the first stop string."""

    def prefix_cache_session(self, max_tokens: int) -> ContextManager:
        """A block within which prompts' keys and values are kept across generate() calls (at most
        `max_tokens` prompt tokens), for multi-turn play where each prompt extends an earlier one.
        hf: its prefix cache, emptied on exit; vllm: a no-op (vLLM caches prefixes by itself); openai:
        a no-op. Scope it to one fixed model: stored KV belongs to the weights it came from."""

    def identity(self) -> str:
        """What identifies the model behind the backend, for cache keys: `sha256:<hex>` of a local
        checkpoint's content (hf, vllm), `openai:<base_url>:<model>` for an endpoint."""


def model_identity(name: str, model_path: str | Path) -> str:
    """`load_backend(name, model_path).identity()` without loading anything (a grade cache is checked
    before the model is loaded)."""
    if name == "openai":
        from rdagent_autorl.generation.openai_backend import policy_endpoint

        return endpoint_identity(*policy_endpoint(str(model_path))[:2])
    if name in BACKENDS:
        return checkpoint_identity(model_path)
    raise ValueError(f"unknown generation backend '{name}'; choose from: {', '.join(BACKENDS)}")


def load_backend(name: str, model_path: str | Path, device: str | None = None, **options) -> GenerationBackend:
    """The policy's backend: for `openai`, `model_path` is the served model's name and the endpoint
    comes from the AUTORL_OPENAI_* settings unless given in `options`."""
    if name == "hf":
        from rdagent_autorl.generation.hf import HFBackend

        return HFBackend(model_path, device=device, **options)
    if name == "vllm":
        from rdagent_autorl.generation.vllm_backend import VLLMBackend

        return VLLMBackend(model_path, **options)
    if name == "openai":
        from rdagent_autorl.generation.openai_backend import OpenAIBackend

        return OpenAIBackend.for_policy(str(model_path), **options)
    raise ValueError(f"unknown generation backend '{name}'; choose from: {', '.join(BACKENDS)}")
