"""deepsearchqa-online: the tool environment, the search backends, the data paths, and the grader.

Policies are FAKES at the generation-backend boundary (an oracle replaying each question's expert hop chain,
a babbler that never makes a tool call); the judge is the task's FAKE autorater, or a FAKE OpenAI-compatible
endpoint on 127.0.0.1. The offline collection, its BM25 index, the questions and the environment are real.
"""

from __future__ import annotations

import contextlib
import csv
import json
from pathlib import Path

import pytest

from rdagent_autorl.tasks import get_task
from rdagent_autorl.tasks.deepsearchqa_online import autorater, env as dsenv, search
from rdagent_autorl.tasks.deepsearchqa_online.env import MAX_STEPS, DeepSearchEnv
from rdagent_autorl.types import TaskError

TASK = get_task("deepsearchqa-online")


class FakeBackend:
    preferred_batch_size = None

    def prefix_cache_session(self, max_tokens):
        return contextlib.nullcontext()


class OracleBackend(FakeBackend):
    """FAKE generation backend: the next call of the question's expert chain (recognised by its question)."""

    def __init__(self, samples):
        self.plans = {s.prompt: s.meta["expert"] for s in samples}

    def generate(self, prompts, max_new_tokens, stop=()):
        return [self.plans[p[1]["content"].removeprefix("Question: ")][sum(m["role"] == "assistant" for m in p)] + "\n"
                for p in prompts]


class BabblingBackend(FakeBackend):
    """FAKE generation backend: text that is never a tool call (what an untrained model writes)."""

    def generate(self, prompts, max_new_tokens, stop=()):
        return ["I think the answer is somewhere\n"] * len(prompts)


@pytest.fixture(scope="module")
def heldout():
    return TASK.heldout("smoke")


@pytest.fixture(scope="module")
def local():
    from rdagent_autorl.tasks.deepsearchqa_online import corpus

    return search.LocalSearch(corpus.collection_folder())


def fake_judge():
    return autorater.FakeAutoraterJudge()


def test_the_oracle_scores_100_and_the_babbler_0_with_breakdowns(heldout):
    scored = TASK.score(heldout, TASK.solve(heldout, OracleBackend(heldout)), fake_judge)
    assert [s.value for s in scored] == [1.0] * len(heldout)
    assert all(s.metrics["fully_correct"] == 1.0 and "search=local" in s.detail for s in scored)
    assert all(s.metrics["invalid_call_share"] == 0.0 for s in scored)
    types = TASK.aggregate(heldout, scored)
    assert types["f1_set_answer"] == types["f1_single_answer"] == 100.0 and types["n_set_answer"] > 0
    babbled = TASK.score(heldout, TASK.solve(heldout, BabblingBackend()), fake_judge)
    assert all(s.value == 0.0 and s.metrics["empty_answer"] == 1.0 for s in babbled)
    assert all(s.metrics["steps"] == MAX_STEPS and s.metrics["fully_incorrect"] == 1.0 for s in babbled)
    assert all(s.metrics["invalid_call_share"] == 1.0 for s in babbled)


def test_malformed_calls_cost_a_step_and_say_so(local):
    env = DeepSearchEnv(local)
    episode = env.reset({"id": "q", "question": "Which article is described as 'Largest ocean on Earth'?"})
    for reply in ("search Pacific", "open[]x", "", "Let me think."):
        env.step(reply)
        assert episode.turns[-1].observation.startswith("Invalid action") and dsenv.invalid_action(episode.turns[-2])
    assert episode.steps == 4 and not episode.done
    env.step("Action: search[Largest ocean on Earth]")
    assert "doc id: Pacific Ocean" in episode.turns[-1].observation
    env.step("open[no such article]")
    assert episode.turns[-1].observation.startswith("No document")
    env.step("open[pacific ocean]")  # doc ids forgive case
    assert episode.turns[-1].observation.startswith("Pacific Ocean (Largest ocean on Earth)")
    env.step("answer[Pacific Ocean]")
    assert episode.done and episode.answer == "Pacific Ocean" and episode.steps == 8
    assert episode.reward == 0.0  # no reference in the spec (the grader's play): the judge scores later


def test_training_episodes_are_rewarded_with_the_same_f1(heldout, local):
    row = next(s for s in heldout if s.meta["answer_type"] == "Set Answer")
    spec = {"id": row.id, "prompt": row.prompt, "answer": row.answer, **row.meta}  # a data/train.jsonl row
    episode = dsenv.demonstration(DeepSearchEnv(local), spec)
    assert episode.won and episode.reward == 1.0 and episode.actions == row.meta["expert"]
    env = DeepSearchEnv(local)
    env.reset(dsenv.row_spec(spec, ""))
    env.step(f"answer[{row.meta['answers'][0]}; Not An Answer]")  # 1 of n found, one excessive
    n = len(row.meta["answers"])
    assert env.episode.reward == pytest.approx(autorater.metrics_from_counts(1, n, 1)["f1"]) and not env.episode.won


def test_batched_and_sequential_play_agree(heldout, local):
    specs = [{"id": s.id, "question": s.prompt} for s in heldout[:6]]
    oracle = OracleBackend(heldout)
    policy = lambda prompts: oracle.generate(prompts, 128)  # noqa: E731
    dsenv.configure(local)
    seq = dsenv.play(specs, policy, batch_size=1)
    bat = dsenv.play(specs, policy, batch_size=6)
    assert [e.actions for e in seq] == [e.actions for e in bat] == [s.meta["expert"] for s in heldout[:6]]


def test_synthetic_splits_are_disjoint_and_labelled(heldout):
    train = TASK.train("smoke")
    assert not {s.id for s in train} & {s.id for s in heldout}
    assert not {s.meta["chain"][0] for s in train} & {s.meta["chain"][0] for s in heldout}  # start articles
    assert all(s.meta["synthetic"] and s.id.startswith("synthetic-") for s in [*train, *heldout])
    assert {s.meta["answer_type"] for s in heldout} == {"Single Answer", "Set Answer"}
    assert {s.meta["hops"] for s in TASK.heldout("synthetic")} == {1, 2, 3}


def test_workspace_gets_the_interface_the_backend_and_the_split_without_heldout(tmp_path, tiny_model):
    from rdagent_autorl.run.workspace import create_workspace

    ws = create_workspace(tmp_path / "ws", TASK, TASK.id, tiny_model, data_source="smoke").workspace
    for name, source in TASK.env_files.items():
        assert (ws / "env" / name).read_bytes() == Path(source).read_bytes()
    assert json.loads((ws / "env" / "search.json").read_text())["backend"] == "local"
    split = json.loads((ws / "data" / "split.json").read_text())
    assert (split["n_heldout"], split["n_selection"]) == (60, 30) and split["synthetic"] and "SYNTHETIC" in split["note"]
    text = (ws / "data" / "split.json").read_text() + (ws / "data" / "train.jsonl").read_text()
    assert not any(s.id in text or s.prompt in text for s in TASK.heldout("smoke"))


def test_the_search_backend_and_the_split_are_part_of_the_grade_cache_key(monkeypatch):
    """A grade made with one search backend (or DSQA split) is never returned for another."""
    from rdagent_autorl.grading.evaluate import make_config
    from rdagent_autorl.settings import get_settings

    def key() -> str:
        get_settings.cache_clear()
        return make_config(TASK, "hf", "smoke").digest()

    base = key()
    assert json.loads(make_config(TASK, "hf", "smoke").settings)["search_backend"] == "local"
    keys = {base}
    for name, value in (("AUTORL_DEEPSEARCH_BACKEND", "ddgs"), ("AUTORL_DEEPSEARCHQA_SEED", "7"),
                        ("AUTORL_DEEPSEARCHQA_EVAL_SIZE", "50")):
        monkeypatch.setenv(name, value)
        keys.add(key())
        monkeypatch.delenv(name)
    assert len(keys) == 4 and key() == base


def test_unusable_search_backends_fail_before_the_run(tmp_path, tiny_model, monkeypatch):
    from rdagent_autorl.run.workspace import create_workspace
    from rdagent_autorl.settings import get_settings

    monkeypatch.setenv("AUTORL_DEEPSEARCH_BACKEND", "serpapi")
    monkeypatch.delenv("SERPAPI_API_KEY", raising=False)
    get_settings.cache_clear()
    with pytest.raises(TaskError, match="SERPAPI_API_KEY"):
        create_workspace(tmp_path / "a", TASK, TASK.id, tiny_model, data_source="smoke")
    from conftest import free_port

    monkeypatch.setenv("SERPAPI_API_KEY", "FAKE-key")
    monkeypatch.setattr(search.SerpApiSearch, "URL", f"http://127.0.0.1:{free_port()}/search.json")  # nobody listens
    with pytest.raises(TaskError, match="not reachable"):
        create_workspace(tmp_path / "b", TASK, TASK.id, tiny_model, data_source="smoke")
    monkeypatch.setenv("AUTORL_DEEPSEARCH_BACKEND", "bing")
    get_settings.cache_clear()
    with pytest.raises(ValueError, match="deepsearch_backend"):
        get_settings()


def test_web_results_are_cached_per_run(tmp_path):
    class CountingWeb:
        name, calls = "ddgs", 0

        def search(self, query, k):
            self.calls += 1
            return [search.Result("https://example.org/a", "A", f"about {query}")]

        def open(self, doc_id):
            return None

    web = CountingWeb()
    cached = search.QueryCache(web, tmp_path / "cache.jsonl")
    assert cached.search("q", 5) == cached.search("q", 5) and web.calls == 1
    again = search.QueryCache(CountingWeb(), tmp_path / "cache.jsonl")  # a later process of the same run
    assert again.search("q", 5)[0].snippet == "about q" and again.backend.calls == 0


def write_dsqa(path: Path, n: int = 12) -> Path:
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["problem", "problem_category", "answer", "answer_type"])
        w.writeheader()
        for i in range(n):
            w.writerow({"problem": f"Question {i}?", "problem_category": ["Science", "History"][i % 2],
                        "answer": f"a{i}, b{i}" if i % 3 else f"a{i}", "answer_type": "Set Answer" if i % 3 else
                        "Single Answer"})
    return path


def test_deepsearchqa_csv_is_split_by_seed_and_a_missing_file_is_a_clear_error(tmp_path, monkeypatch):
    from rdagent_autorl.settings import get_settings

    monkeypatch.setenv("AUTORL_DEEPSEARCHQA_PATH", str(write_dsqa(tmp_path / "DSQA-full.csv")))
    monkeypatch.setenv("AUTORL_DEEPSEARCHQA_TRAIN_SIZE", "4")
    monkeypatch.setenv("AUTORL_DEEPSEARCHQA_EVAL_SIZE", "6")
    get_settings.cache_clear()
    train, held = TASK.train("deepsearchqa"), TASK.heldout("deepsearchqa")
    assert len(train) == 4 and len(held) == 6 and not {s.id for s in train} & {s.id for s in held}
    assert TASK.resolve_source("auto") == "deepsearchqa"
    assert {s.meta["answer_type"] for s in held} <= {"Single Answer", "Set Answer"}
    monkeypatch.setenv("AUTORL_DEEPSEARCHQA_SEED", "7")
    get_settings.cache_clear()
    assert [s.id for s in TASK.heldout("deepsearchqa")] != [s.id for s in held]
    monkeypatch.setenv("AUTORL_DEEPSEARCHQA_PATH", str(tmp_path / "missing.csv"))
    get_settings.cache_clear()
    with pytest.raises(TaskError, match="missing.csv: no such file"):
        TASK.heldout("deepsearchqa")
    with pytest.raises(TaskError, match="no data source .* is usable"):
        TASK.resolve_source("auto")  # the synthetic sources are only used when named


def fake_autorater_endpoint(requests: list):
    """A FAKE OpenAI-compatible judge on 127.0.0.1: answers the autorater prompt with the FAKE verdict,
    fenced and with a trailing comma, as LLM judges write it."""
    from fastapi import FastAPI

    app = FastAPI()

    @app.post("/v1/chat/completions")
    def chat(body: dict) -> dict:
        requests.append(body)
        reply = autorater.FakeAutoraterJudge().generate([body["messages"]], 512)[0]
        return {"choices": [{"message": {"role": "assistant", "content": reply.replace("\n  }", ",\n  }", 1)}}]}

    return app


def test_the_real_judge_path_through_a_fake_openai_endpoint(heldout, monkeypatch):
    from conftest import serve_in_thread

    from rdagent_autorl.generation.judge import load_judge
    from rdagent_autorl.settings import get_settings

    requests: list = []
    samples = heldout[:4]
    transcripts = TASK.solve(samples, OracleBackend(samples))
    transcripts[0].outcome["answer"] = "Not An Answer"
    with serve_in_thread(fake_autorater_endpoint(requests)) as url:
        monkeypatch.setenv("AUTORL_JUDGE_BASE_URL", f"{url}/v1")
        monkeypatch.setenv("AUTORL_JUDGE_MODEL", "FAKE-autorater")
        get_settings.cache_clear()
        scored = TASK.score(samples, transcripts, lambda: load_judge(TASK.fake_judge))
    assert len(requests) == 4 and requests[0]["messages"][0]["content"].startswith("Your task is to evaluate")
    assert [s.value for s in scored] == [0.0, 1.0, 1.0, 1.0]
    assert "judge=openai" in scored[1].detail and scored[0].metrics["fully_incorrect"] == 1.0


def test_the_grader_end_to_end_with_the_tiny_model(tiny_model, monkeypatch):
    """One real grade: the tiny (untrained) policy plays 3 held-out smoke questions, the FAKE judge grades."""
    from rdagent_autorl.grading.evaluate import evaluate, make_config

    monkeypatch.setenv("AUTORL_JUDGE_BACKEND", "fake")
    from rdagent_autorl.settings import get_settings

    get_settings.cache_clear()
    config = make_config(TASK, "hf", data_source="smoke", limit=3)
    assert config.judge.startswith("FAKE")
    result = evaluate(TASK, tiny_model, config)
    assert result.n == 3 and result.score == 0.0  # the random tiny model makes no tool call
    assert set(result.metrics) >= {"precision", "recall", "fully_correct", "f1_set_answer", "f1_single_answer"}
    assert result.breakdown
