"""Settings of the plugin, read from the environment and `.env` with the `AUTORL_` prefix.

Every field is documented in `.env.example`; keep the two in step (a test checks).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

BackendName = Literal["hf", "vllm", "openai"]

# The repository root holds the asset folders (templates/, prompts/, agents/) next to the package; each
# task's own assets live in its package (rdagent_autorl/tasks/<task>/).
_REPO_ROOT = Path(__file__).resolve().parent.parent


class AutoRLSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AUTORL_", env_file=".env", extra="ignore")

    home: Path = Field(default=Path("~/.autorl"), description="Root for caches, built models, ledger.")
    cache_dir: Path | None = Field(default=None, description="Grading and model caches; default <home>/cache.")
    assets_dir: Path = Field(default=_REPO_ROOT, description="Folder holding templates/, prompts/, agents/.")

    backend: BackendName = Field(default="hf", description="Generation backend used by the grader.")
    hf_batch_size: int = Field(default=32, ge=1, description="Prompts per batch for the hf backend.")
    openai_base_url: str = Field(default="http://127.0.0.1:8000/v1", description="Endpoint for backend=openai.")
    openai_model: str = Field(default="", description="Model name sent to the openai backend; default: --model.")
    openai_api_key: str = Field(default="EMPTY", repr=False, description="Key for backend=openai (not the driver's).")

    # The judge: a generation backend of its own for scorers that ask a model (never the policy's endpoint).
    judge_backend: Literal["hf", "vllm", "openai", "fake"] = Field(
        default="openai", description="Backend of the judge; fake = the task's FAKE offline stand-in.")
    judge_base_url: str = Field(default="https://api.openai.com/v1", description="Endpoint of an openai judge.")
    judge_model: str = Field(default="", description="Judge model: served name (openai) or checkpoint folder; '' = none.")
    judge_api_key: str = Field(default="", repr=False, description="Key of the judge's endpoint ('' sends none).")
    judge_max_tokens: int = Field(default=512, ge=1, description="Most tokens of one judge reply.")
    judge_temperature: float = Field(default=0.0, ge=0.0, le=2.0, description="Judge sampling temperature (openai).")
    judge_concurrency: int = Field(default=8, ge=1, description="Judge calls in flight at once.")
    judge_retries: int = Field(default=3, ge=0, description="Retries of a judge call after a transient error.")
    judge_timeout_s: float = Field(default=120.0, gt=0, description="Timeout of one judge call (openai).")

    grader_host: str = Field(default="127.0.0.1", description="Address the grading service binds to.")
    grader_port: int = Field(default=8765, ge=0, le=65535, description="Port of the grading service.")

    gsm8k_path: Path | None = Field(default=None, description="Local copy of openai/gsm8k (folder or files).")
    alpacaeval_path: Path | None = Field(default=None, description="Local AlpacaEval set: instructions + references.")
    alpacaeval_train_path: Path | None = Field(default=None, description="Local training JSONL {instruction, output}.")
    alpacaeval_train_rows: int = Field(default=2000, ge=1, description="Rows of tatsu-lab/alpaca given to agents.")
    alpacaeval_annotator: str = Field(default="weighted_alpaca_eval_gpt4_turbo",
                                      description="alpaca_eval annotator config: a name or a configs.yaml path.")
    alpacaeval_both_orders: bool = Field(default=False, description="Judge each pair in both output orders.")
    alfworld_data: Path | None = Field(default=None, description="ALFWorld data root (alfworld-download layout).")
    webshop_data: Path | None = Field(default=None, description="WebShop data folder (setup.sh -d small|all files).")
    deepsearchqa_path: Path | None = Field(default=None, description="Local DSQA-full.csv (default: the hub's).")
    deepsearchqa_train_size: int = Field(default=100, ge=1, description="DeepSearchQA prompts agents train on.")
    deepsearchqa_eval_size: int = Field(default=200, ge=1, description="DeepSearchQA prompts held out for grading.")
    deepsearchqa_seed: int = Field(default=42, description="Seed of the DeepSearchQA train/held-out split.")
    deepsearch_backend: Literal["local", "ddgs", "serpapi"] = Field(
        default="local", description="Search backend of deepsearchqa-online (agents and grader alike).")
    rollout_batch_size: int = Field(default=32, ge=1, description="Games played at once by the hf backend.")
    code_timeout_s: float = Field(default=10.0, gt=0, description="Wall-time limit per HumanEval problem.")
    code_memory_mb: int = Field(default=1024, ge=64, description="Address-space limit per HumanEval problem.")
    code_workers: int = Field(default=4, ge=1, description="Parallel sandboxed executions.")
    code_sandbox: Literal["auto", "bwrap", "guards"] = Field(
        default="auto", description="What isolates model-written code: bubblewrap, or Python-level guards only "
        "(weaker); auto = bwrap where it works, else guards with a warning (scoring/code_sandbox.py).")
    agent_sandbox: Literal["auto", "bwrap", "docker", "none"] = Field(
        default="auto", description="What confines a bench agent (bench --sandbox): auto = bwrap where it starts, "
        "else none with a warning (run/sandbox.py).")
    training_sandbox: Literal["auto", "bwrap", "docker", "none"] = Field(
        default="auto", description="What confines the training code the loop's driver LLM writes (coder dry runs, "
        "runner training) in `rdagent autorl --task`: as agent_sandbox (run/sandbox.py).")
    sandbox_image: str = Field(default="", description="Image of --sandbox docker [default: python:<this "
                               "interpreter's X.Y>-slim].")
    contamination_ngram: int = Field(default=13, ge=4, description="Words per n-gram of the contamination check.")
    contamination_min_words: int = Field(default=8, ge=1, description="Shortest held-out item the check matches "
                                         "whole (shorter than the n-gram).")
    integrity_judge: bool = Field(default=False, description="After each run, the judge (AUTORL_JUDGE_*) reads the "
                                  "agent's code and log for disallowed actions; its opinion goes into the report.")
    integrity_judge_max_chars: int = Field(default=60000, ge=1000, description="Most characters of code and log "
                                           "the integrity judge reads.")
    bootstrap_samples: int = Field(default=1000, ge=100, description="Resamples for the 95% score interval.")

    @property
    def home_dir(self) -> Path:
        return self.home.expanduser()

    @property
    def cache_path(self) -> Path:
        return (self.cache_dir or self.home_dir / "cache").expanduser()

    @property
    def sweeps_dir(self) -> Path:
        """Where `rdagent autorl sweep` keeps each sweep's folder (rdagent_autorl/sweep/engine.py)."""
        return self.home_dir / "sweeps"

    @property
    def templates_dir(self) -> Path:
        return self.assets_dir / "templates"

    @property
    def prompts_dir(self) -> Path:
        return self.assets_dir / "prompts"


@lru_cache(maxsize=1)
def get_settings() -> AutoRLSettings:
    """The process-wide settings; tests call `get_settings.cache_clear()` after changing the environment."""
    return AutoRLSettings()
