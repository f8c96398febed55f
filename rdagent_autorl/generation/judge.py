"""The judge: a generation backend of its own, for scorers that ask a model to grade transcripts.

Configured by the AUTORL_JUDGE_* settings (documented in .env.example), never by the policy's
AUTORL_OPENAI_* ones: the model being graded and the model grading it are different models, usually
behind different endpoints. A scorer calls `load_judge()` once and asks it with
`judge.generate(prompts, get_settings().judge_max_tokens)`. `judge_identity()` goes into grade cache
keys, so changing the judge never returns a grade another judge gave.
"""

from __future__ import annotations

from rdagent_autorl.generation import GenerationBackend, load_backend
from rdagent_autorl.checkpoints import checkpoint_identity
from rdagent_autorl.generation.identity import endpoint_identity
from rdagent_autorl.settings import get_settings


class JudgeNotConfigured(RuntimeError):
    """A judge-scored task was asked to grade, but no judge is configured."""


def judge_identity() -> str:
    """What identifies the configured judge, for cache keys (never its key): `openai:<base_url>:<model>`
    for an endpoint, `<backend>:sha256:<hex>` of a local judge checkpoint; "" when no judge is set."""
    s = get_settings()
    if not s.judge_model:
        return ""
    if s.judge_backend == "openai":
        return endpoint_identity(s.judge_base_url, s.judge_model)
    return f"{s.judge_backend}:{checkpoint_identity(s.judge_model)}"


def load_judge(device: str | None = None) -> GenerationBackend:
    """The judge backend the AUTORL_JUDGE_* settings describe; `JudgeNotConfigured` when there is none."""
    s = get_settings()
    if not s.judge_model:
        raise JudgeNotConfigured(
            "this task is scored by a judge model, and none is configured: set AUTORL_JUDGE_MODEL (for an "
            "OpenAI-compatible endpoint also AUTORL_JUDGE_BASE_URL and AUTORL_JUDGE_API_KEY; for a local "
            "checkpoint AUTORL_JUDGE_BACKEND=hf or vllm), see .env.example")
    if s.judge_backend == "openai":
        from rdagent_autorl.generation.openai_backend import OpenAIBackend

        return OpenAIBackend(s.judge_model, s.judge_base_url, s.judge_api_key, temperature=s.judge_temperature)
    if s.judge_temperature:
        raise ValueError(f"AUTORL_JUDGE_TEMPERATURE={s.judge_temperature}: the {s.judge_backend} backend decodes "
                         "greedily only; use 0 or an openai judge")
    return load_backend(s.judge_backend, s.judge_model, device=device)
