"""An OpenAI-compatible endpoint as a backend: API models, judges, or a vLLM/TGI server elsewhere."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Sequence

from rdagent_autorl.generation import cut_at_stop
from rdagent_autorl.tasks.base import Prompt

MAX_API_STOPS = 4  # the OpenAI API accepts at most four stop strings; the rest are applied here


class OpenAIBackend:
    name = "openai"

    def __init__(self, model: str, base_url: str | None = None, api_key: str | None = None, concurrency: int = 8, timeout_s: float = 120):
        import httpx

        from rdagent_autorl.settings import get_settings

        s = get_settings()
        self.model = s.openai_model or model
        self.concurrency = concurrency
        self.client = httpx.Client(
            base_url=(base_url or s.openai_base_url).rstrip("/"),
            headers={"Authorization": f"Bearer {api_key or s.openai_api_key}"},
            timeout=timeout_s,
        )

    def _one(self, prompt: Prompt, max_new_tokens: int, stop: Sequence[str]) -> str:
        body = {"model": self.model, "max_tokens": max_new_tokens, "temperature": 0.0}
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
        with ThreadPoolExecutor(self.concurrency) as pool:
            return list(pool.map(lambda p: self._one(p, max_new_tokens, stop), prompts))
