"""Text helpers every generation backend shares: rendering a prompt for a tokenizer, cutting at stops."""

from __future__ import annotations

from typing import Sequence

from rdagent_autorl.types import Prompt


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
