"""deepsearchqa-online: multi-step search and answer with tools, scored by DeepSearchQA's F1 autorater (Level 3).

A sample is one question. The grader plays each held-out question with the submitted checkpoint (env.py on
the shared protocol: `search[query]`, `open[doc id]`, `answer[...]`, one call per turn, at most 10) with the
run's search backend (AUTORL_DEEPSEARCH_BACKEND: local BM25 over the offline collection, ddgs or serpapi)
and the DeepSearchQA autorater grades the final answer through the judge backend (rollout.py). Score =
mean F1 x 100 with a 95% interval; fully-correct rate and the other outcome classes, per problem
category and per answer type.

Data sources, in the order `auto` tries them:
- `deepsearchqa`: Google DeepMind's DeepSearchQA (dsqa.py): 900 prompts, a seeded 100 / 200 split;
- `synthetic`: never chosen by `auto` (its scores are not DeepSearchQA scores). SYNTHETIC multi-hop and
  set-answer questions over the offline collection (gen.py, corpus.py), 1000 training / 200 + 200 held-out
  (the held-out questions' seed is this installation's secret, EVAL_SEED_LABELS);
- `smoke`: the generator's shortest questions (2-hop chains, 1-hop sets), 600 / 30, for CPU smoke runs.

Agents get `data/train.jsonl` (one row per training question: "prompt" (the question), "answer",
"answer_type", "problem_category", and for synthetic rows "expert" (the hop chain's tool calls), "answers",
"hops", "chain"), `data/split.json` (how the split was drawn, no held-out questions or answers) and `env/`
(the environment interface the grader plays with, and `search.json`: the run's backend).
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path

from rdagent_autorl.envs import protocol
from rdagent_autorl.installation import eval_seed
from rdagent_autorl.settings import get_settings
from rdagent_autorl.tasks.deepsearchqa_online import autorater, backends, corpus, dsqa, recipes, rollout, search
from rdagent_autorl.tasks.deepsearchqa_online.env import ACTION_MAX_TOKENS
from rdagent_autorl.tasks.spec import Budget, DataSource, Smoke, TaskSpec
from rdagent_autorl.types import Sample

HERE = Path(__file__).resolve().parent
# Generated sources: (generator level, training questions, held-out questions of the selection part, of the final
# part, seed of the training questions (public)). The held-out questions' seed is this installation's secret
# (installation.eval_seed(EVAL_SEED_LABELS[source])); the training questions are the ones these sources always had.
GENERATED = {"synthetic": ("standard", 1000, 200, 200, 20260), "smoke": ("smoke", 600, 30, 30, 20261)}
EVAL_SEED_LABELS = {source: f"deepsearchqa-online/{source}/gen-v2" for source in GENERATED}
# The environment interface, copied into <workspace>/env/ (with search.json, written per run).
ENV_FILES = {"deepsearch_env.py": HERE / "env.py", "protocol.py": Path(protocol.__file__),
             "deepsearch_search.py": HERE / "search.py", "deepsearch_autorater.py": HERE / "autorater.py"}


def _generated(source: str) -> dict[str, tuple[Sample, ...]]:
    return _generated_of(source, eval_seed(EVAL_SEED_LABELS[source]))


@lru_cache(maxsize=4)
def _generated_of(source: str, secret: int) -> dict[str, tuple[Sample, ...]]:
    from rdagent_autorl.tasks.deepsearchqa_online.gen import Generator

    level, n_train, n_selection, n_final, seed = GENERATED[source]
    retriever = search.LocalSearch(corpus.collection_folder())
    questions = Generator(list(retriever.docs), retriever).split(seed, n_train, n_selection, level, n_final=n_final,
                                                                 eval_seed=secret)
    return {split: tuple(Sample(id=q.id, prompt=q.question, answer=q.answer,
                                meta={"answer_type": q.answer_type, "problem_category": q.category, "hops": q.hops,
                                      "answers": q.answers, "expert": q.expert, "chain": q.chain, "synthetic": True})
                         for q in qs) for split, qs in questions.items()}


def _loader(split: str):
    def load(source: str) -> list[Sample]:
        return dsqa.load(split) if source == "deepsearchqa" else list(_generated(source)[split])

    return load


def split_record(source: str) -> dict:
    """How the split was drawn, for the workspace: sizes, seed, and a digest of the held-out ids (not the ids,
    questions or answers); a generated source's held-out seed only by its hash (never the seed)."""
    heldout = [s.id for s in TASK.heldout(source)]
    record = {"source": source, "n_train": len(TASK.train(source)), "n_heldout": len(heldout),
              "n_selection": len(TASK.heldout_part(source, "selection")),
              "heldout_digest": hashlib.sha256("\n".join(heldout).encode()).hexdigest()[:16],
              "search_backend": backends.backend_name()}
    if source == "deepsearchqa":
        s = get_settings()
        record.update(seed=s.deepsearchqa_seed, file=str(dsqa.csv_path()), unused=900 - s.deepsearchqa_train_size
                      - s.deepsearchqa_eval_size)
    else:
        level, _, _, _, seed = GENERATED[source]
        record.update(train_seed=seed, eval_seed_hash=TASK.eval_seed_hash(source), generator_level=level, synthetic=True,
                      note="SYNTHETIC questions over the offline Wikipedia collection; not DeepSearchQA")
    return record


def prepare_workspace(workspace: Path, source: str) -> None:
    """env/search.json (the run's backend, probed once: an unreachable one fails before the run starts)
    and data/split.json."""
    backends.write_workspace_config(workspace)
    (workspace / "data" / "split.json").write_text(json.dumps(split_record(source), indent=2) + "\n")


def _grade_settings() -> dict:
    """What else decides a grade: the search backend answers every search, and the split's seed and sizes
    (and the file) decide which DeepSearchQA prompts are held out."""
    s = get_settings()
    return {"search_backend": s.deepsearch_backend, "dsqa_path": str(s.deepsearchqa_path or ""),
            "dsqa_seed": s.deepsearchqa_seed, "dsqa_train_size": s.deepsearchqa_train_size,
            "dsqa_eval_size": s.deepsearchqa_eval_size}


def _synthetic_check() -> tuple[bool, str]:
    return corpus.check()


def _tokenizer_text() -> list[str]:
    """The expert hop chains of synthetic training questions (what agents see), played in the local tool
    environment as the grader prompts them: questions, result lists, article texts, calls."""
    from rdagent_autorl.tasks.deepsearchqa_online import env

    # The local collection, whichever backend the settings name: the file must not depend on them.
    tools, texts = env.DeepSearchEnv(search.LocalSearch(corpus.collection_folder())), []
    for source in ("smoke", "synthetic"):
        for sample in _generated(source)["train"][:40]:
            row = {**sample.meta, "id": sample.id, "prompt": sample.prompt, "answer": sample.answer}
            texts += [m["content"] for m in env.demonstration(tools, row).prompt()]
    return texts


TASK = TaskSpec(
    id="deepsearchqa-online",
    level=3,
    title="Deep-search QA with tools (search, open, answer), online RL; DeepSearchQA F1 autorater",
    # 2: the generated held-out splits have a final part (gen.py). 3: their held-out questions come from the
    # installation's secret seed.
    version=3,
    default_model="Qwen/Qwen2.5-0.5B-Instruct",
    sources=(
        DataSource("deepsearchqa", "DeepSearchQA DSQA-full.csv (hub google/deepsearchqa or AUTORL_DEEPSEARCHQA_PATH)",
                   dsqa.check),
        DataSource("synthetic", "SYNTHETIC multi-hop / set questions over the offline Wikipedia collection",
                   _synthetic_check, auto=False, selection_size=GENERATED["synthetic"][2],
                   eval_seed_label=EVAL_SEED_LABELS["synthetic"]),
        DataSource("smoke", "SYNTHETIC short questions over the offline collection, for CPU smoke runs (--smoke)",
                   _synthetic_check, auto=False, selection_size=GENERATED["smoke"][2],
                   eval_seed_label=EVAL_SEED_LABELS["smoke"]),
    ),
    load_train=_loader("train"),
    load_eval=_loader("eval"),
    solver=rollout.play_questions,
    scorer=rollout.score_answers,
    uses_judge=True,
    fake_judge=autorater.FakeAutoraterJudge,
    grade_settings=_grade_settings,
    aggregate=rollout.by_answer_type,
    group_by="problem_category",
    prepare_workspace=prepare_workspace,
    budget=Budget(time_s=4 * 3600, max_new_tokens=ACTION_MAX_TOKENS),
    smoke=Smoke(data="smoke", time_s=recipes.SMOKE_TIME_S, plan=recipes.PLAN, example=recipes.EXAMPLE),
    templates=("sft_trajectories", "grpo_online"),
    protocol_files=(*ENV_FILES.values(), HERE / "rollout.py", HERE / "gen.py", HERE / "corpus.py"),
    env_files=ENV_FILES,
    env_module="deepsearch_env.py",
    assets=HERE,
    tokenizer_text=_tokenizer_text,
)
