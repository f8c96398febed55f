"""Agents are declared by configuration only: a folder `agents/<name>/` with `agent.yaml` and a start
script. The harness runs the script with bash in the agent's workspace, in its own process group,
with the documented environment (TASK, BASE_MODEL, MODEL_PATH, DATA_PATH, OUTPUT_DIR,
GRADING_SERVER_URL, WORKSPACE) plus AUTORL_PYTHON (this project's Python) and AUTORL_TEMPLATES.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import yaml
from pydantic import BaseModel, Field, ValidationError

from rdagent_autorl.settings import get_settings


class AgentError(ValueError):
    pass


class AgentSpec(BaseModel):
    model_config = {"extra": "forbid"}

    name: str
    description: str
    start: str = Field(default="start.sh", description="Script run with bash in the workspace.")
    requires_binaries: list[str] = Field(default_factory=list, description="CLIs that must be on PATH.")
    requires_env: list[list[str]] = Field(
        default_factory=list, description="Each inner list: at least one of these variables must be set.")
    install_hint: str = ""
    uses_llm: bool = True
    driver_env: list[str] = Field(
        default_factory=list, description="Variables naming the agent's chat model, the first set one wins "
        "[default: LITELLM_CHAT_MODEL, CHAT_MODEL, LLM_MODEL]; BACKEND names a custom RD-Agent backend.")
    smoke_driver: str | None = Field(
        default=None, description="The driver's name in smoke runs where none is configured (rdagent: scripted).")
    folder: Path = Path()

    @property
    def script(self) -> Path:
        return self.folder / self.start

    def missing(self, env: dict[str, str] | None = None) -> list[str]:
        """What this machine lacks to run the agent, as sentences a user can act on (empty: ready)."""
        env = os.environ if env is None else env
        problems = [f"`{b}` is not on PATH" + (f" ({self.install_hint})" if self.install_hint else "")
                    for b in self.requires_binaries if shutil.which(b, path=env.get("PATH")) is None]
        problems += [f"set {' or '.join(group)} (in .env or the environment)"
                     for group in self.requires_env if not any(env.get(v) for v in group)]
        if not self.script.exists():
            problems.append(f"start script {self.script} is missing")
        return problems


def agents_dir() -> Path:
    return get_settings().assets_dir / "agents"


def load_agent(name_or_folder: str) -> AgentSpec:
    folder = Path(name_or_folder)
    if not (folder / "agent.yaml").exists():
        folder = agents_dir() / name_or_folder
    if not (folder / "agent.yaml").exists():
        raise AgentError(f"unknown agent {name_or_folder!r}; available: {', '.join(a.name for a in all_agents())} "
                         "(or a folder with agent.yaml)")
    try:
        spec = AgentSpec(**yaml.safe_load((folder / "agent.yaml").read_text()), folder=folder.resolve())
    except (ValidationError, TypeError, yaml.YAMLError) as exc:
        raise AgentError(f"{folder / 'agent.yaml'} is invalid: {exc}") from exc
    return spec


def all_agents() -> list[AgentSpec]:
    return [load_agent(str(d)) for d in sorted(agents_dir().iterdir()) if (d / "agent.yaml").exists()]
