"""What identifies the model behind a backend, for cache keys: content for a local checkpoint, the
endpoint and served model name for an OpenAI-compatible endpoint (no local files to hash)."""

from __future__ import annotations


def endpoint_identity(base_url: str, model: str) -> str:
    """`openai:<base_url>:<model>` for a model served behind an OpenAI-compatible endpoint."""
    return f"openai:{base_url.rstrip('/')}:{model}"
