"""An OpenAI-compatible endpoint as a backend: API models, judges, or a vLLM/TGI server elsewhere."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from typing import ContextManager, Sequence

from rdagent_autorl.generation.identity import endpoint_identity
from rdagent_autorl.generation.text import cut_at_stop
from rdagent_autorl.types import Prompt

MAX_API_STOPS = 4  # the OpenAI API accepts at most four stop strings; the rest are applied here


def policy_endpoint(model: str, base_url: str | None = None, api_key: str | None = None) -> tuple[str, str, str]:
    """(base URL, served model name, key) of the policy's endpoint: the AUTORL_OPENAI_* settings where
    not given (AUTORL_OPENAI_MODEL, when set, names the served model instead of `model`)."""
    from rdagent_autorl.settings import get_settings

    s = get_settings()
    return (base_url or s.openai_base_url).rstrip("/"), s.openai_model or model, api_key or s.openai_api_key


class OpenAIBackend:
    name = "openai"
    preferred_batch_size: int | None = None  # requests run concurrently: send every prompt at once

    def __init__(self, model: str, base_url: str, api_key: str = "", concurrency: int = 8, timeout_s: float = 120,
                 temperature: float = 0.0):
        """An endpoint given in full; nothing is read from settings (`for_policy` fills in the policy's)."""
        import httpx

        self.model, self.base_url = model, base_url.rstrip("/")
        self.concurrency, self.temperature = concurrency, temperature
        self.client = httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {api_key}"} if api_key else {},
            timeout=timeout_s,
        )

    @classmethod
    def for_policy(cls, model: str, base_url: str | None = None, api_key: str | None = None, **options) -> "OpenAIBackend":
        """The policy's endpoint, from the AUTORL_OPENAI_* settings where not given."""
        base_url, model, api_key = policy_endpoint(model, base_url, api_key)
        return cls(model, base_url, api_key, **options)

    def identity(self) -> str:
        return endpoint_identity(self.base_url, self.model)

    def prefix_cache_session(self, max_tokens: int) -> ContextManager["OpenAIBackend"]:
        """A no-op: prefix caching, if any, is the server's business."""
        return nullcontext(self)

    def _one(self, prompt: Prompt, max_new_tokens: int, stop: Sequence[str]) -> str:
        body = {"model": self.model, "max_tokens": max_new_tokens, "temperature": self.temperature}
        if stop:
            body["stop"] = list(stop)[:MAX_API_STOPS]
        if isinstance(prompt, str):
            response = self.client.post("/completions", json={**body, "prompt": prompt})
            response.raise_for_status()
            text = response.json()["choices"][0]["text"]
        else:
            response = self.client.post("/chat/completions", json={**body, "messages": prompt})
            response.raise_for_status()
            text = response.json()["choices"][0]["message"]["content"] or ""
        return cut_at_stop(text, stop)

    def generate(self, prompts: Sequence[Prompt], max_new_tokens: int, stop: Sequence[str] = ()) -> list[str]:
        """Completions at the backend's temperature (0: greedy), one per prompt, cut before the first stop."""
        with ThreadPoolExecutor(self.concurrency) as pool:
            return list(pool.map(lambda p: self._one(p, max_new_tokens, stop), prompts))
