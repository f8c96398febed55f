"""The one way the loop's components talk to the driver LLM.

The real path is RD-Agent's `APIBackend` (LiteLLM), configured only through `.env`/the environment
(CHAT_MODEL, OPENAI_API_KEY, OPENAI_API_BASE, ...). Prompts are Jinja2 templates in `prompts/`.
Answers are JSON checked by a pydantic model; an invalid answer is asked again with the validation
error, a bounded number of times. JSON is parsed here rather than with the backend's json_mode,
because the backend retries a malformed answer with the same prompt (up to MAX_RETRY times, with
sleeps) instead of telling the model what was wrong.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Callable, TypeVar

import yaml
from jinja2 import Environment, StrictUndefined
from pydantic import BaseModel, ValidationError
from rdagent.oai.backend.litellm import LITELLM_SETTINGS, LiteLLMAPIBackend
from rdagent.oai.llm_utils import APIBackend

from rdagent_autorl.settings import get_settings

M = TypeVar("M", bound=BaseModel)
SCRIPTED_BACKEND = "rdagent_autorl.rdloop.scripted_driver.ScriptedDriver"
REDACTED_BACKEND = "rdagent_autorl.rdloop.driver.RedactedLiteLLMBackend"
_SECRET_FIELD = re.compile(r"key|token|secret|password", re.IGNORECASE)


class DriverError(RuntimeError):
    """The driver LLM gave no usable answer within the allowed tries."""


def redacted(settings: dict) -> dict:
    return {k: ("***" if v and _SECRET_FIELD.search(k) else v) for k, v in settings.items()}


class RedactedLiteLLMBackend(LiteLLMAPIBackend):
    """RD-Agent's LiteLLM backend, minus one leak: rdagent 1.0.0 prints its settings and pickles them
    into the trace on first use, API keys included. This subclass logs them with secrets masked."""

    _has_logged_settings = True  # the parent's check: never log the raw settings

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not RedactedLiteLLMBackend.__dict__.get("_logged_redacted"):
            from rdagent.log import rdagent_logger as logger

            logger.log_object(redacted(LITELLM_SETTINGS.model_dump()), tag="LITELLM_SETTINGS")
            RedactedLiteLLMBackend._logged_redacted = True


@lru_cache(maxsize=None)
def _prompts(name: str) -> dict:
    return yaml.safe_load((get_settings().prompts_dir / f"{name}.yaml").read_text())


def render_prompt(name: str, part: str, **context) -> str:
    env = Environment(undefined=StrictUndefined, keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)
    return env.from_string(_prompts(name)[part]).render(**context)


def extract_json(text: str) -> str:
    """The JSON object in an answer: the whole answer, a ```json fence, or the outermost {...}."""
    fence = re.search(r"```(?:json)?\s*\n(.*?)\n```", text, re.DOTALL)
    if fence:
        return fence.group(1)
    start, end = text.find("{"), text.rfind("}")
    return text[start:end + 1] if 0 <= start < end else text


def ask_json(model_cls: type[M], prompt: str, *, max_tries: int, check: Callable[[M], str | None] | None = None,
             **context) -> M:
    """Ask with prompts/<prompt>.yaml and return the answer as `model_cls`, re-asking on invalid answers.
    `check` adds rules the schema cannot say (e.g. config keys the template knows); it returns an error or None."""
    system = render_prompt(prompt, "system", **context)
    user = render_prompt(prompt, "user", **context)
    schema = json.dumps(model_cls.model_json_schema(), indent=1)
    question = f"{user}\n\nAnswer with one JSON object matching this schema:\n{schema}"
    errors = []
    for _ in range(max_tries):
        answer = APIBackend().build_messages_and_create_chat_completion(user_prompt=question, system_prompt=system)
        try:
            parsed = model_cls.model_validate_json(extract_json(answer))
            error = check(parsed) if check else None
            if error is None:
                return parsed
        except ValidationError as exc:
            error = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'answer'}: {e['msg']}" for e in exc.errors())
        errors.append(error)
        question = (f"{user}\n\nAnswer with one JSON object matching this schema:\n{schema}\n\n"
                    f"Your previous answer was rejected: {error}\nPrevious answer:\n{answer[:4000]}\n"
                    "Answer again with corrected JSON only.")
    raise DriverError(f"the driver LLM gave no valid {model_cls.__name__} in {max_tries} tries: {errors[-1]}")
