"""The judge: a model of its own for scorers (and reward functions) that ask a model to grade.

Configured by the AUTORL_JUDGE_* settings (documented in .env.example), never by the policy's
AUTORL_OPENAI_* ones: the model being graded and the model grading it are different models, usually
behind different endpoints. Three kinds, one interface (`JudgeClient`, judge_client.py: cached,
concurrent, retried, counted):

- `openai`: any OpenAI-compatible endpoint (a cloud API, a vLLM-served judge, a LiteLLM proxy); asks
  for the first token's `top_logprobs` when a scorer needs a logprob preference;
- `hf` (or `vllm` for text only): a local checkpoint through this project's generation backend;
- `fake`: the task's own deterministic offline stand-in (`TaskSpec.fake_judge`), FAKE in its identity,
  chosen by AUTORL_JUDGE_BACKEND=fake, or when no judge is configured and the task has one.

`judge_identity()` goes into grade cache keys, so changing the judge never returns a grade another
judge gave. The key is never part of an identity, a cache entry or an error message.
"""

from __future__ import annotations

import sys
from typing import Any, Callable

from rdagent_autorl.checkpoints import checkpoint_identity
from rdagent_autorl.generation.identity import endpoint_identity
from rdagent_autorl.generation.judge_client import (JudgeClient, JudgeError, JudgeReply, JudgeRequest,
                                                    TransientJudgeError)
from rdagent_autorl.settings import get_settings

FakeJudgeFactory = Callable[[], Any]
_ANNOUNCED: set[str] = set()  # FAKE judges this process has said it uses (once each)


class JudgeNotConfigured(RuntimeError):
    """A judge-scored task was asked to grade, but no judge is configured (and it has no FAKE one)."""


def uses_fake_judge(fake_judge: FakeJudgeFactory | None = None) -> bool:
    s = get_settings()
    return s.judge_backend == "fake" or (not s.judge_model and fake_judge is not None)


def judge_identity(fake_judge: FakeJudgeFactory | None = None) -> str:
    """What identifies the configured judge, for cache keys (never its key): `openai:<base_url>:<model>`
    for an endpoint, `<backend>:sha256:<hex>` of a local judge checkpoint, the FAKE judge's own
    identity; "" when no judge is set."""
    s = get_settings()
    if uses_fake_judge(fake_judge):
        return fake_judge().identity() if fake_judge else ""
    if not s.judge_model:
        return ""
    if s.judge_backend == "openai":
        return endpoint_identity(s.judge_base_url, s.judge_model)
    return f"{s.judge_backend}:{checkpoint_identity(s.judge_model)}"


def load_judge(fake_judge: FakeJudgeFactory | None = None, device: str | None = None,
               announce: bool = True) -> JudgeClient:
    """The judge the AUTORL_JUDGE_* settings describe, behind a `JudgeClient`; the task's FAKE judge
    when asked for or when nothing is configured; `JudgeNotConfigured` when there is neither."""
    s = get_settings()
    cache_dir = s.cache_path / "judge"
    if uses_fake_judge(fake_judge):
        if fake_judge is None:
            raise JudgeNotConfigured("AUTORL_JUDGE_BACKEND=fake, but this task has no FAKE judge; configure a real "
                                     "one (AUTORL_JUDGE_MODEL, see .env.example)")
        backend = fake_judge()
        if announce and backend.identity() not in _ANNOUNCED:
            _ANNOUNCED.add(backend.identity())
            print(f"[autorl] judge: {backend.identity()} -- a FAKE offline stand-in, not a real judge: its scores "
                  "are for smoke runs and tests, never comparable to a real judge's (set AUTORL_JUDGE_* for one)",
                  file=sys.stderr)
        return JudgeClient(backend, cache_dir, concurrency=s.judge_concurrency, fake=True)
    if not s.judge_model:
        raise JudgeNotConfigured(
            "this task is scored by a judge model, and none is configured: set AUTORL_JUDGE_MODEL (for an "
            "OpenAI-compatible endpoint also AUTORL_JUDGE_BASE_URL and AUTORL_JUDGE_API_KEY; for a local "
            "checkpoint AUTORL_JUDGE_BACKEND=hf or vllm), see .env.example")
    if s.judge_backend == "openai":
        backend = EndpointJudge(s.judge_model, s.judge_base_url, s.judge_api_key, s.judge_timeout_s)
    else:
        if s.judge_temperature:
            raise ValueError(f"AUTORL_JUDGE_TEMPERATURE={s.judge_temperature}: the {s.judge_backend} backend decodes "
                             "greedily only; use 0 or an openai judge")
        from rdagent_autorl.generation import load_backend

        backend = LocalJudge(load_backend(s.judge_backend, s.judge_model, device=device), s.judge_backend)
    return JudgeClient(backend, cache_dir, concurrency=s.judge_concurrency, retries=s.judge_retries,
                       temperature=s.judge_temperature)


class EndpointJudge:
    """One request to an OpenAI-compatible /chat/completions endpoint per judge call."""

    def __init__(self, model: str, base_url: str, api_key: str = "", timeout_s: float = 120):
        from rdagent_autorl.generation.openai_backend import OpenAIBackend

        self.endpoint = OpenAIBackend(model, base_url, api_key, timeout_s=timeout_s)
        self.model = model

    def identity(self) -> str:
        return self.endpoint.identity()

    def complete(self, request: JudgeRequest) -> JudgeReply:
        import httpx

        messages = [{"role": "user", "content": request.prompt}] if isinstance(request.prompt, str) else request.prompt
        body = {"model": self.model, "messages": messages, "max_tokens": request.max_tokens,
                "temperature": request.temperature, **request.extra}
        if request.top_logprobs:
            body.update(logprobs=True, top_logprobs=request.top_logprobs)
        try:
            response = self.endpoint.client.post("/chat/completions", json=body)
        except httpx.TransportError as e:  # refused, reset, timed out: worth another try
            raise TransientJudgeError(f"{self.identity()} unreachable: {type(e).__name__}: {e}") from e
        if response.status_code == 429 or response.status_code >= 500:
            raise TransientJudgeError(f"{self.identity()} answered HTTP {response.status_code}")
        if response.status_code >= 400:
            raise JudgeError(f"judge {self.identity()} refused the request: HTTP {response.status_code}: "
                             f"{response.text[:300]}")
        try:
            data = response.json()
            choice = data["choices"][0]
        except (ValueError, KeyError, IndexError) as e:
            raise JudgeError(f"judge {self.identity()} sent a malformed reply: {response.text[:300]}") from e
        message = choice.get("message") or {}
        calls = message.get("tool_calls") or []
        top = None
        if request.top_logprobs:
            content = (choice.get("logprobs") or {}).get("content") or []
            top = content[0].get("top_logprobs") if content else None
            if not top:
                raise JudgeError(f"judge {self.identity()} returned no top_logprobs: this endpoint cannot serve a "
                                 "logprob-preference judge; choose a judge configuration that reads text or "
                                 "function calls instead (see the task's judge settings)")
        usage = data.get("usage") or {}
        reply = JudgeReply(text=message.get("content") or "", top_logprobs=top,
                           tool_arguments=calls[0]["function"]["arguments"] if calls else None,
                           prompt_tokens=int(usage.get("prompt_tokens") or 0),
                           completion_tokens=int(usage.get("completion_tokens") or 0))
        reply.cost_usd = _cost(self.model, reply)
        return reply


def _cost(model: str, reply: JudgeReply) -> float | None:
    """What litellm's price table says the call cost; None for models it does not know (local servers)."""
    try:
        import litellm

        litellm.suppress_debug_info = True  # its "Provider List" banner for every unknown model
        prompt_cost, completion_cost = litellm.cost_per_token(
            model=model, prompt_tokens=reply.prompt_tokens, completion_tokens=reply.completion_tokens)
        return float(prompt_cost + completion_cost)
    except Exception:  # litellm raises a bare Exception for unknown models
        return None


class LocalJudge:
    """A local checkpoint as the judge: text through the generation backend, logprob preferences from the
    model's next-token distribution (the same numbers an endpoint's top_logprobs would give)."""

    def __init__(self, backend, kind: str):
        self.backend, self.kind = backend, kind

    def identity(self) -> str:
        return f"{self.kind}:{self.backend.identity()}"

    def complete_batch(self, requests: list[JudgeRequest]) -> list[JudgeReply]:
        replies: list[JudgeReply | None] = [None] * len(requests)
        scored = [i for i, r in enumerate(requests) if r.top_logprobs]
        if scored:
            if not hasattr(self.backend, "first_token_top_logprobs"):
                raise JudgeError(f"the {self.kind} judge backend cannot give logprobs here; use AUTORL_JUDGE_BACKEND=hf, "
                                 "or serve the model (vllm serve) and use the openai judge backend")
            tops = self.backend.first_token_top_logprobs([requests[i].prompt for i in scored],
                                                         max(requests[i].top_logprobs for i in scored))
            for i, top in zip(scored, tops):
                replies[i] = JudgeReply(top_logprobs=top[: requests[i].top_logprobs], text=top[0]["token"])
        for max_tokens in sorted({r.max_tokens for r in requests if not r.top_logprobs}):
            group = [i for i, r in enumerate(requests) if not r.top_logprobs and r.max_tokens == max_tokens]
            for i, text in zip(group, self.backend.generate([requests[i].prompt for i in group], max_tokens)):
                replies[i] = JudgeReply(text=text)
        return replies  # type: ignore[return-value]


__all__ = ["EndpointJudge", "JudgeClient", "JudgeError", "JudgeNotConfigured", "JudgeReply", "JudgeRequest",
           "LocalJudge", "judge_identity", "load_judge", "uses_fake_judge"]
