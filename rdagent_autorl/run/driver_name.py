"""The one name of a run's driver LLM, as records, the ledger and the scoreboard show it.

    the configured chat model        LITELLM_CHAT_MODEL, CHAT_MODEL (RD-Agent's), LLM_MODEL (OpenHands')
    "backend <import path>"          a custom RD-Agent backend named with BACKEND=... (e.g. a test's fake)
    the fallback                     "scripted": the loop's fake driver in smoke runs without an LLM
Never a key: only names of models and classes are read.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

# What RD-Agent's LiteLLM backend reads: the loop (in process or as the `rdagent` agent) counts only these.
RDAGENT_CHAT_VARS = ("LITELLM_CHAT_MODEL", "CHAT_MODEL")
# Any agent's chat model, in this order.
CHAT_MODEL_VARS = (*RDAGENT_CHAT_VARS, "LLM_MODEL")
SCRIPTED = "scripted"


def driver_name(env: Mapping[str, str] | None = None, *, chat_vars: Sequence[str] = CHAT_MODEL_VARS,
                fallback: str | None = None) -> str | None:
    """The driver configured in `env` (default: os.environ), else `fallback` (None: no driver)."""
    env = os.environ if env is None else env
    for var in chat_vars:
        if env.get(var):
            return env[var]
    if env.get("BACKEND"):
        return f"backend {env['BACKEND']}"
    return fallback
