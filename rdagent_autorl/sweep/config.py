"""The sweep file and the cells it expands to.

    name: smoke                  # the sweep's id: $AUTORL_HOME/sweeps/<name>/ and the ledger's `sweep_id`
    tasks: [gsm8k-rule, humaneval-rule]       # ids or task folders
    agents: [example, rdagent]   # names or agent folders
    drivers:                     # for agents that use an LLM; an agent without one runs once per cell
      - name: scripted           # nothing set: in smoke runs, the scripted driver (a FAKE at the LLM boundary)
      - name: gpt-4o
        env: {CHAT_MODEL: gpt-4o}        # plain settings, written into the sweep's folder (null: unset)
        keys: [OPENAI_API_KEY]           # secrets, by name: read from the environment of the process that
                                         # runs the cell, never written into results
    models: [tiny]
    seeds: [0, 1]
    budget: 5m                   # each run's agent budget [default: the task's, or its smoke budget]
    smoke: true                  # bench --smoke: tiny model, offline smoke data, CPU
    gpus_per_run: 0              # Ray's num_gpus of each cell
    cpus_per_run: 1              # Ray's num_cpus of each cell
    references: {gsm8k-rule: 100}        # cross-task score: a task's reference score [default: the task's]

A cell is (task, agent, driver, model, seed). Its key (`Cell.key`) names it in the ledger, the manifest
and the cell's log, so a resumed sweep finds what is done.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

NO_DRIVER = "-"  # the driver of a cell whose agent uses no LLM
# Setting names that hold a secret: such a value belongs under `keys` (by name), never in the sweep file.
_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD)", re.IGNORECASE)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class SweepError(ValueError):
    """A sweep file or request that cannot run; the message names what is wrong."""


class Driver(BaseModel):
    """One driver LLM: the settings an agent reads (CHAT_MODEL, OPENAI_API_BASE, BACKEND, ...) and the
    names of the secrets it needs."""

    model_config = ConfigDict(extra="forbid")

    name: str
    env: dict[str, Optional[str]] = Field(default_factory=dict)  # null: unset in the cell (e.g. CHAT_MODEL: null)
    keys: list[str] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.match(v) or v == NO_DRIVER:
            raise ValueError(f"driver name {v!r}: letters, digits, '_', '.', '-' (up to 64)")
        return v

    @field_validator("env")
    @classmethod
    def _no_secrets(cls, env: dict[str, Optional[str]]) -> dict[str, Optional[str]]:
        if secret := sorted(k for k, v in env.items() if v is not None and _SECRET_NAME.search(k)):
            raise ValueError(f"{', '.join(secret)} look like secrets: list them by name under `keys` (the value is "
                             "read from the environment when the cell runs), never in the sweep file")
        return env


class SweepConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    tasks: list[str] = Field(min_length=1)
    agents: list[str] = Field(min_length=1)
    drivers: list[Driver] = Field(default_factory=lambda: [Driver(name="default")])
    models: list[Optional[str]] = Field(default_factory=lambda: [None])  # None: the task's (smoke: tiny)
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    budget: Optional[str] = None
    smoke: bool = False
    data: Optional[str] = None
    limit: Optional[int] = Field(default=None, ge=1)
    sandbox: Optional[str] = None
    gpus_per_run: float = Field(default=0, ge=0)
    cpus_per_run: float = Field(default=1, gt=0)
    references: dict[str, float] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError(f"sweep name {v!r}: letters, digits, '_', '.', '-' (up to 64); it names a folder")
        return v

    @model_validator(mode="after")
    def _unique(self) -> "SweepConfig":
        for label, values in (("drivers", [d.name for d in self.drivers]), ("tasks", self.tasks),
                              ("agents", self.agents), ("models", self.models), ("seeds", self.seeds)):
            if dupes := sorted({str(v) for v in values if values.count(v) > 1}):
                raise ValueError(f"{label}: {', '.join(dupes)} listed twice")
        return self


class Cell(BaseModel):
    """One bench run of the grid."""

    model_config = ConfigDict(frozen=True)

    task: str  # as the sweep file names it (an id or a folder)
    task_id: str
    agent: str
    agent_name: str
    driver: str  # a Driver's name, or NO_DRIVER
    model: Optional[str]
    seed: int

    @property
    def key(self) -> str:
        """task/agent/driver/model/seed, readable and unique within a sweep."""
        model = Path(self.model).name if self.model else "default"
        return f"{self.task_id}/{self.agent_name}/{self.driver}/{model}/seed{self.seed}"

    @property
    def slug(self) -> str:
        """The key as a file name (the cell's log)."""
        return re.sub(r"[^A-Za-z0-9_.-]+", "_", self.key.replace("/", "--"))


def load_sweep(path: Path) -> tuple[SweepConfig, str]:
    """The validated sweep file and its text (kept in the sweep's folder)."""
    path = Path(path)
    if not path.is_file():
        raise SweepError(f"sweep file {path} does not exist")
    text = path.read_text()
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SweepError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise SweepError(f"{path}: expected a mapping of settings (name, tasks, agents, ...)")
    try:
        return SweepConfig(**raw), text
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'sweep'}: {e['msg']}" for e in exc.errors())
        raise SweepError(f"{path}: {problems}") from None


def expand(config: SweepConfig) -> list[Cell]:
    """Every cell of the grid, tasks and agents resolved (an unknown one is an error naming it). An agent
    that uses no LLM gets one cell per task, model and seed: a driver would change nothing."""
    from rdagent_autorl.bench.agents import AgentError, load_agent
    from rdagent_autorl.tasks import TaskError, get_task

    try:
        tasks = [(t, get_task(t)) for t in config.tasks]
        agents = [(a, load_agent(a)) for a in config.agents]
    except (TaskError, AgentError) as exc:
        raise SweepError(str(exc)) from None
    for _, spec in tasks:
        if not spec.available:
            raise SweepError(f"task '{spec.id}' is reserved but not yet available in this version")
        if config.smoke and spec.smoke is None:
            raise SweepError(f"task '{spec.id}' has no smoke settings: drop `smoke: true` or the task")
    if unknown := sorted(set(config.references) - {spec.id for _, spec in tasks}):
        raise SweepError(f"references: {', '.join(unknown)} not among the sweep's tasks "
                         f"({', '.join(spec.id for _, spec in tasks)})")
    cells = []
    for task, spec in tasks:
        for agent, agent_spec in agents:
            drivers = [d.name for d in config.drivers] if agent_spec.uses_llm else [NO_DRIVER]
            for driver in drivers:
                for model in config.models:
                    for seed in config.seeds:
                        cells.append(Cell(task=task, task_id=spec.id, agent=agent, agent_name=agent_spec.name,
                                          driver=driver, model=model, seed=seed))
    keys = [c.key for c in cells]
    if dupes := sorted({k for k in keys if keys.count(k) > 1}):
        raise SweepError(f"two cells share a name (two tasks, agents or models with the same name?): {dupes[0]}")
    return cells


def driver_of(config: SweepConfig, name: str) -> Driver:
    return next((d for d in config.drivers if d.name == name), Driver(name="default"))
