"""What a benchmark task is: one declaration that says everything about it.

A task is one package under `rdagent_autorl/tasks/<task_id>/` whose `TASK` is a `TaskSpec`: its data
(sources and loaders: the training split agents see, the held-out split only the grader reads), its
solver (how the policy produces a transcript for a held-out sample), its scorer (how a transcript
becomes a value in [0, 1]; it may call a judge), the templates it offers, the reward its RL template
trains on, its recipes (the scripted driver's smoke plan, the example agent's steps), its smoke
settings, the files that define its protocol and its version. Like Inspect AI's
`Task(dataset, solver, scorer)`, the pieces stay separate; nothing outside the package is keyed by
task id or level.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from pydantic import BaseModel, Field

from rdagent_autorl.installation import eval_seed_hash
from rdagent_autorl.types import Prompt, Sample, ScoredSample, TaskError

PARTS = ("selection", "final", "all")  # parts of a held-out split (TaskSpec.heldout_part)
LEVELS = {1: "static rule-based reward", 2: "judge-based optimization", 3: "closed-loop online RL"}


class Transcript(BaseModel):
    """What the policy did with one held-out sample, as the solver hands it to the scorer."""

    sample_id: str
    completion: str  # the policy's text: a completion, or an episode's actions one per line
    outcome: dict[str, Any] = Field(default_factory=dict)  # what an environment reported (won, reward, steps, ...)


# solver(task, held-out samples, policy backend) -> one transcript per sample, in order
Solver = Callable[["TaskSpec", Sequence[Sample], Any], list[Transcript]]
# scorer(samples, transcripts, judge) -> one graded sample per transcript; `judge` is a callable that
# returns the judge backend (loaded on first use), for tasks that declare `uses_judge`
Scorer = Callable[[Sequence[Sample], Sequence[Transcript], Callable[[], Any]], list[ScoredSample]]
Loader = Callable[[str], list[Sample]]


@dataclass(frozen=True)
class Budget:
    time_s: int = 2 * 3600  # wall-clock budget of one agent run
    eval_limit: int | None = None  # held-out items used per submission (None = all)
    max_new_tokens: int = 512


@dataclass(frozen=True)
class DataSource:
    """One way to get a task's data; `check()` says whether it works on this machine, cheaply."""

    name: str
    description: str
    check: Callable[[], tuple[bool, str]] = lambda: (True, "")
    auto: bool = True  # False: used only when named (e.g. synthetic data, whose scores are not comparable)
    max_new_tokens: int | None = None  # the single-generation solver's limit on this source (default: the budget's)
    # Held-out items of the selection part (the first ones): submissions are scored on these; the rest are the
    # final part, graded once at the end of a run for the chosen checkpoint. None: no final part (all selection).
    selection_size: int | None = None
    # Generated sources: the label of the held-out set's seed (installation.eval_seed), which the source's
    # generator draws it with; its hash (not the seed) is recorded with every grade. "" for fixed data.
    eval_seed_label: str = ""


@dataclass(frozen=True)
class ExampleStep:
    """One training run of the example agent (no LLM): a template as it is, with `config` overrides
    in smoke runs only, starting from the base model or from an earlier step's checkpoint."""

    template: str
    version: str  # the checkpoint's folder under output/
    smoke_config: dict[str, Any] = field(default_factory=dict)
    init_from: str = "base"  # "base" or the `version` of an earlier step


@dataclass(frozen=True)
class Smoke:
    """The embedded small default (`--smoke`): tiny model, offline data, CPU, a short budget, and the
    recipes that make sense at that size."""

    data: str  # the data source smoke runs use
    time_s: int = 600
    model: str = "tiny"
    loop_n: int = 2  # loops of `rdagent autorl --smoke`
    plan: tuple[dict[str, Any], ...] = ()  # the scripted driver's proposals (TrainingProposal fields), in order
    example: tuple[ExampleStep, ...] = ()  # the example agent's steps


@dataclass(frozen=True)
class TaskSpec:
    id: str
    level: int
    title: str
    version: int = 1  # bump when the protocol changes (prompts, environment, scoring): old grades die
    default_model: str = ""
    available: bool = True  # False for reserved ids whose implementation has not landed yet
    sources: tuple[DataSource, ...] = ()
    load_train: Loader | None = None  # what agents see (copied into the workspace)
    load_eval: Loader | None = None  # held out: only the grader calls this
    solver: Solver | None = None
    scorer: Scorer | None = None
    uses_judge: bool = False  # the scorer calls the judge backend (its identity joins the grade's cache key)
    # The task's deterministic offline stand-in judge (a factory; FAKE in its identity), used when
    # AUTORL_JUDGE_BACKEND=fake or no judge is configured (rdagent_autorl/generation/judge.py).
    fake_judge: Callable[[], Any] | None = None
    # The task's own settings that change what a grade means (the annotator, the search backend, the
    # held-out split's seed and size...): {name: value}, part of the grade's cache key.
    grade_settings: Callable[[], dict[str, Any]] | None = None
    # A cheap check of the configured judge (one probe request) run before any generation or training,
    # so a bad judge configuration fails first: f(judge client); raises with a clear message.
    check_judge: Callable[[Any], None] | None = None
    # Judge-reward training (templates/grpo_judge.py, dpo_judge.py): f(instructions, completions, references)
    # -> rewards in [0, 1], by the grader's own judge, annotator and reply cache.
    judge_reward: Callable[[Sequence[str], Sequence[str], Sequence[str]], list[float]] | None = None
    # Metrics that are not per-sample means (e.g. a length-controlled win rate): f(samples, scored) ->
    # {name: value, or {"value", "ci_low", "ci_high"}}
    aggregate: Callable[[Sequence[Sample], Sequence[ScoredSample]], dict[str, Any]] | None = None
    # The aggregate that is the task's headline score instead of the mean value (e.g. the LC win rate);
    # the mean value is then also reported, as the metric `mean_value`.
    headline: str | None = None
    group_by: str | None = None  # a Sample.meta key: the grade is also broken down by its values
    to_prompt: Callable[[Sample], Prompt] | None = None
    stop: tuple[str, ...] = ()
    budget: Budget = field(default_factory=Budget)
    smoke: Smoke | None = None
    # The score a solved task reaches: a sweep's cross-task score weighs each task's improvement by
    # 1 / (reference_score - base) (PostTrainBench's normalisation; rdagent_autorl/sweep/tables.py). Every
    # score here is in points of 0-100, so the default is the scale's top; a task whose ceiling is known to
    # be lower (or a reference model's score) declares its own.
    reference_score: float = 100.0
    templates: tuple[str, ...] = ()  # training templates (templates/<name>.py) offered for this task
    reward: str | None = None  # the rule reward GRPO trains on (a name in templates/rewards.py)
    # Files whose content defines what a grade means (prompt builders, environment, scoring code):
    # their digest is part of every cached grade's key.
    protocol_files: tuple[Path, ...] = ()
    # Online tasks: the environment interface, copied into <workspace>/env/ ({file name there: source}).
    env_files: dict[str, Path] = field(default_factory=dict)
    # Online tasks: the env_files name of the module the online templates load ($TASK_ENV; its interface:
    # rdagent_autorl/envs/protocol.py's docstring).
    env_module: str = ""
    # Extra workspace set-up (e.g. links to environment data): f(workspace, data_source).
    prepare_workspace: Callable[[Path, str], None] | None = None
    # Files of installed packages that hold this task's held-out data (e.g. HumanEval's problem file): the
    # agent sandbox masks them (run/sandbox.py). Data the task reads from the hub, a cache or a local copy
    # needs no entry: none of those is visible inside.
    heldout_files: Callable[[], Sequence[Path]] | None = None
    assets: Path | None = None  # the folder holding description.md (default: none)
    # Text of this task for the tiny model's tokenizer, so the task's words are whole tokens as in a real
    # model's vocabulary: only what agents may see (training rows, their pages), never held-out items.
    # scripts/make_tokenizer_corpus.py writes it to models/corpus/<id>.jsonl, which models/tiny.py reads
    # (the models layer never imports a task).
    tokenizer_text: Callable[[], list[str]] | None = None

    @property
    def description(self) -> str:
        path = self.assets / "description.md" if self.assets else None
        return path.read_text() if path and path.exists() else self.title

    def require_available(self) -> None:
        if not self.available:
            raise TaskError(f"task '{self.id}' is reserved but not yet available in this version")

    def resolve_source(self, source: str = "auto") -> str:
        """Pick a data source: the named one, or the first whose check passes for 'auto'."""
        names = [s.name for s in self.sources]
        if source != "auto":
            if source not in names:
                raise TaskError(f"task '{self.id}' has no data source '{source}'; choose from: {', '.join(names)}")
            return source
        reasons = []
        for s in self.sources:
            ok, why = s.check() if s.auto else (False, "only when named")
            if ok:
                return s.name
            reasons.append(f"{s.name}: {why}")
        raise TaskError(
            f"no data source of task '{self.id}' is usable here ({'; '.join(reasons)}); name one with --data"
        )

    def data_status(self) -> str:
        if not self.available:
            return "not yet available"
        parts = []
        for s in self.sources:
            ok, _ = s.check()
            parts.append(f"{s.name}:{'yes' if ok else 'no'}")
        return " ".join(parts)

    def require_smoke(self) -> Smoke:
        if self.smoke is None:
            raise TaskError(f"task '{self.id}' declares no smoke settings (smoke runs, the scripted driver's plan "
                            "and the example agent's steps need them)")
        return self.smoke

    def train(self, source: str = "auto") -> list[Sample]:
        self.require_available()
        assert self.load_train is not None
        return self.load_train(self.resolve_source(source))

    def heldout(self, source: str = "auto") -> list[Sample]:
        self.require_available()
        assert self.load_eval is not None
        return self.load_eval(self.resolve_source(source))

    def heldout_part(self, source: str, part: str) -> list[Sample]:
        """The held-out split's `selection` part (what submissions are scored on), its `final` part (graded
        once, at the end of a run), or `all` of it; a source without a final part is all selection."""
        source = self.resolve_source(source)
        items = self.heldout(source)
        size = self._selection_size(source)
        if part == "all":
            return items
        if part not in PARTS:
            raise TaskError(f"held-out part must be one of {', '.join(PARTS)}, not {part!r}")
        if size is not None and size >= len(items):
            raise TaskError(f"task '{self.id}' source '{source}' declares {size} selection items but holds out only "
                            f"{len(items)}: no final part is left")
        cut = len(items) if size is None else size
        return items[:cut] if part == "selection" else items[cut:]

    def has_final_part(self, source: str) -> bool:
        return self._selection_size(self.resolve_source(source)) is not None

    def _selection_size(self, source: str) -> int | None:
        return next((s.selection_size for s in self.sources if s.name == source), None)

    def eval_seed_hash(self, source: str) -> str:
        """The public hash of a generated source's held-out seed on this installation ("" for fixed data):
        which held-out set a grade is of, without the seed that would regenerate it."""
        label = next((s.eval_seed_label for s in self.sources if s.name == self.resolve_source(source)), "")
        return eval_seed_hash(label) if label else ""

    def prompt(self, sample: Sample) -> Prompt:
        return self.to_prompt(sample) if self.to_prompt else sample.prompt

    def max_new_tokens(self, source: str) -> int:
        """The single-generation solver's limit on a source (e.g. one-sentence smoke references need few)."""
        declared = next((s.max_new_tokens for s in self.sources if s.name == source), None)
        return declared or self.budget.max_new_tokens

    def solve(self, samples: Sequence[Sample], backend, max_new_tokens: int | None = None) -> list[Transcript]:
        self.require_available()
        if self.solver is None:
            transcripts = generate(self, samples, backend, max_new_tokens)
        else:
            transcripts = self.solver(self, samples, backend)
        if len(transcripts) != len(samples):
            raise ValueError(f"the solver of {self.id} returned {len(transcripts)} transcripts for {len(samples)} samples")
        return transcripts

    def score(self, samples: Sequence[Sample], transcripts: Sequence[Transcript],
              judge: Callable[[], Any] | None = None) -> list[ScoredSample]:
        self.require_available()
        assert self.scorer is not None
        if len(samples) != len(transcripts):
            raise ValueError(f"{len(samples)} samples but {len(transcripts)} transcripts")
        return self.scorer(samples, transcripts, judge or _no_judge)

    def protocol_digest(self) -> str:
        """sha256 over the protocol files' names and contents: a changed prompt, environment or scorer
        gives a new digest, and with it a new cache key for every grade."""
        h = hashlib.sha256()
        for path in sorted(self.protocol_files, key=lambda p: p.name):
            h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
        return h.hexdigest()[:16]


def _no_judge():
    raise TaskError("this task's scorer asked for a judge, but the task does not declare uses_judge")


def generate(task: TaskSpec, samples: Sequence[Sample], backend, max_new_tokens: int | None = None) -> list[Transcript]:
    """The single-generation solver: one greedy completion per sample's prompt."""
    completions = backend.generate([task.prompt(s) for s in samples], max_new_tokens or task.budget.max_new_tokens,
                                   task.stop)
    return [Transcript(sample_id=s.id, completion=c) for s, c in zip(samples, completions)]


def completion_scorer(score: Callable[[Sequence[Sample], Sequence[str]], list[ScoredSample]]) -> Scorer:
    """A scorer from a rule that grades completions (math answers, exact match, unit tests)."""

    def scorer(samples, transcripts, judge):
        return score(samples, [t.completion for t in transcripts])

    scorer.__name__ = getattr(score, "__name__", "scorer")
    scorer.__wrapped__ = score  # the rule itself: where the protocol lives (tests/test_protocol_pins.py)
    return scorer


def reserved(task_id: str, level: int, title: str, default_model: str = "") -> TaskSpec:
    """A benchmark id whose implementation lands in a later version: listed, never runnable."""
    return TaskSpec(id=task_id, level=level, title=title, default_model=default_model, available=False)


__all__ = ["LEVELS", "Budget", "DataSource", "ExampleStep", "Sample", "ScoredSample", "Smoke", "TaskError",
           "TaskSpec", "Transcript", "completion_scorer", "generate", "reserved"]
