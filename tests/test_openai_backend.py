"""The openai backend, and the judge, against FAKE OpenAI-compatible endpoints: local stubs on
127.0.0.1 (fakes at the outer HTTP boundary, standing in for an API model, a remote vLLM server or a
judge model)."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi import FastAPI, Request

from conftest import free_port, serve_in_thread
from rdagent_autorl.generation import load_backend


def fake_openai_endpoint(requests: list) -> FastAPI:
    app = FastAPI()

    def answer(text: str) -> str:
        a, b = map(int, re.search(r"What is (\d+) plus (\d+)", text).groups())
        return f"{a} + {b} = {a + b if a != 2 else a + b + 1}.\n#### {a + b if a != 2 else a + b + 1}"  # wrong when a == 2

    @app.post("/v1/chat/completions")
    def chat(body: dict, request: Request) -> dict:
        requests.append({**body, "authorization": request.headers.get("authorization")})
        return {"choices": [{"message": {"role": "assistant", "content": answer(body["messages"][-1]["content"])}}]}

    @app.post("/v1/completions")
    def complete(body: dict, request: Request) -> dict:
        requests.append({**body, "authorization": request.headers.get("authorization")})
        return {"choices": [{"text": "    return a + b\n\ndef helper():\n    pass\n"}]}

    return app


class Requests(list):
    """The requests a FAKE endpoint received, and its base URL."""

    url: str


def fake_judge_endpoint(requests: list) -> FastAPI:
    """A FAKE judge: says which of two answers is better (the first one holding "#### 7")."""
    app = FastAPI()

    @app.post("/v1/chat/completions")
    def chat(body: dict, request: Request) -> dict:
        requests.append({**body, "authorization": request.headers.get("authorization")})
        verdict = "A" if "A: #### 7" in body["messages"][-1]["content"] else "B"
        return {"choices": [{"message": {"role": "assistant", "content": f"Better: {verdict}\nbecause"}}]}

    return app


@pytest.fixture()
def endpoint(monkeypatch):
    from rdagent_autorl.settings import get_settings

    requests = Requests()
    with serve_in_thread(fake_openai_endpoint(requests)) as url:
        monkeypatch.setenv("AUTORL_OPENAI_BASE_URL", f"{url}/v1")
        get_settings.cache_clear()
        requests.url = f"{url}/v1"
        yield requests


@pytest.fixture()
def judge_endpoint(monkeypatch):
    from rdagent_autorl.settings import get_settings

    requests = Requests()
    with serve_in_thread(fake_judge_endpoint(requests)) as url:
        monkeypatch.setenv("AUTORL_JUDGE_BASE_URL", f"{url}/v1/")
        monkeypatch.setenv("AUTORL_JUDGE_MODEL", "FAKE-judge")
        monkeypatch.setenv("AUTORL_JUDGE_API_KEY", "sk-FAKE-judge-key")
        get_settings.cache_clear()
        requests.url = f"{url}/v1"
        yield requests


def test_chat_and_completion_prompts(endpoint):
    backend = load_backend("openai", "fake-model")
    stops = ["\ndef ", "\nclass ", "\n#", "\nif __name__", "\nprint("]
    chat, plain = backend.generate([[{"role": "user", "content": "What is 3 plus 4?"}], "def add(a, b):\n"], 32, stops)
    assert chat == "3 + 4 = 7." and plain == "    return a + b\n"  # stop strings cut both, locally too
    assert {r["model"] for r in endpoint} == {"fake-model"} and all(len(r["stop"]) <= 4 for r in endpoint)
    assert all(r["temperature"] == 0.0 and r["max_tokens"] == 32 for r in endpoint)
    assert {r["authorization"] for r in endpoint} == {"Bearer EMPTY"}  # AUTORL_OPENAI_API_KEY's default


def test_what_an_endpoint_backend_tells_a_solver(endpoint, monkeypatch):
    from rdagent_autorl.generation import model_identity
    from rdagent_autorl.settings import get_settings

    backend = load_backend("openai", "fake-model")
    assert backend.preferred_batch_size is None  # concurrent requests: every prompt at once
    with backend.prefix_cache_session(10_000) as same:  # a no-op: caching is the server's business
        assert same is backend
    assert backend.identity() == f"openai:{endpoint.url}:fake-model" == model_identity("openai", "fake-model")
    monkeypatch.setenv("AUTORL_OPENAI_MODEL", "served-name")  # names the served model instead of --model
    get_settings.cache_clear()
    assert load_backend("openai", "fake-model").identity() == f"openai:{endpoint.url}:served-name"
    assert model_identity("openai", "fake-model") == f"openai:{endpoint.url}:served-name"


def test_grading_through_the_openai_backend(endpoint, math_task_dir, tmp_path):
    from rdagent_autorl.grading.evaluate import evaluate, make_config
    from rdagent_autorl.tasks import get_task

    task = get_task(str(math_task_dir))
    result = evaluate(task, tmp_path / "fake-model", make_config(task, "openai"), out_dir=tmp_path, use_cache=False)
    assert (result.n, result.n_correct, result.score) == (3, 2, 66.67)  # the stub is wrong on "2 plus 2"


def test_unreachable_endpoint_raises(monkeypatch):
    from rdagent_autorl.settings import get_settings

    monkeypatch.setenv("AUTORL_OPENAI_BASE_URL", f"http://127.0.0.1:{free_port()}/v1")
    get_settings.cache_clear()
    with pytest.raises(httpx.ConnectError):
        load_backend("openai", "m").generate(["x"], 4)


def test_endpoint_models_are_cached_by_endpoint_and_name(endpoint, math_task_dir, tmp_path):
    from rdagent_autorl.grading.evaluate import evaluate, make_config
    from rdagent_autorl.tasks import get_task

    task = get_task(str(math_task_dir))
    config = make_config(task, "openai")
    first = evaluate(task, tmp_path / "model-a", config, out_dir=tmp_path)
    assert evaluate(task, tmp_path / "model-a", config).cached
    assert not evaluate(task, tmp_path / "model-b", config, out_dir=tmp_path).cached
    assert first.model_hash != evaluate(task, tmp_path / "model-b", config).model_hash


def test_the_judge_is_its_own_endpoint_never_the_policys(endpoint, judge_endpoint, monkeypatch):
    from rdagent_autorl.generation.judge import judge_identity, load_judge
    from rdagent_autorl.settings import get_settings

    monkeypatch.setenv("AUTORL_OPENAI_MODEL", "policy-model")
    monkeypatch.setenv("AUTORL_OPENAI_API_KEY", "sk-policy-key")
    get_settings.cache_clear()
    judge = load_judge()
    question = "Which answer to 3 plus 4 is better?"
    verdicts = judge.generate([[{"role": "user", "content": f"{question}\nA: #### 7\nB: #### 8"}],
                               [{"role": "user", "content": f"{question}\nA: #### 9\nB: #### 7"}]],
                              get_settings().judge_max_tokens, stop=["\n"])
    assert verdicts == ["Better: A", "Better: B"]
    assert not endpoint  # nothing went to the policy's endpoint
    assert {(r["model"], r["authorization"], r["temperature"], r["max_tokens"]) for r in judge_endpoint} == {
        ("FAKE-judge", "Bearer sk-FAKE-judge-key", 0.0, 512)}
    assert judge.identity() == judge_identity() == f"openai:{judge_endpoint.url}:FAKE-judge"
    assert "sk-FAKE" not in judge_identity() and "sk-FAKE" not in repr(get_settings())


def test_a_judge_endpoint_without_a_key_gets_no_authorization_header(judge_endpoint, monkeypatch):
    from rdagent_autorl.generation.judge import load_judge
    from rdagent_autorl.settings import get_settings

    monkeypatch.setenv("AUTORL_JUDGE_API_KEY", "")
    monkeypatch.setenv("AUTORL_JUDGE_TEMPERATURE", "0.7")
    get_settings.cache_clear()
    load_judge().generate([[{"role": "user", "content": "A: #### 7"}]], 8)
    assert [(r["authorization"], r["temperature"], r["max_tokens"]) for r in judge_endpoint] == [(None, 0.7, 8)]


def test_no_judge_configured(monkeypatch):
    from rdagent_autorl.generation.judge import JudgeNotConfigured, judge_identity, load_judge
    from rdagent_autorl.settings import get_settings

    monkeypatch.setenv("AUTORL_JUDGE_MODEL", "")  # the environment wins over a developer's .env
    get_settings.cache_clear()
    assert judge_identity() == ""
    with pytest.raises(JudgeNotConfigured, match="AUTORL_JUDGE_MODEL"):
        load_judge()


def test_a_local_checkpoint_as_judge(tiny_model, monkeypatch):
    from rdagent_autorl.generation.judge import judge_identity, load_judge
    from rdagent_autorl.settings import get_settings

    monkeypatch.setenv("AUTORL_JUDGE_BACKEND", "hf")
    monkeypatch.setenv("AUTORL_JUDGE_MODEL", str(tiny_model))
    get_settings.cache_clear()
    judge = load_judge(device="cpu")
    assert judge_identity() == judge.identity() and judge.identity().startswith("hf:sha256:") and not judge.fake
    assert len(judge.generate(["Which is better?"], 4)) == 1
    monkeypatch.setenv("AUTORL_JUDGE_TEMPERATURE", "0.5")
    get_settings.cache_clear()
    with pytest.raises(ValueError, match="greedily"):
        load_judge(device="cpu")


def test_a_judge_scored_task_is_graded_through_the_judge(judge_endpoint, tiny_model, math_task_dir, tmp_path):
    """The scorer of a task that declares `uses_judge` gets the judge backend (loaded on first use) and
    its verdicts become the values; the judge's identity is in the grade's cache key."""
    from dataclasses import replace

    from rdagent_autorl.grading.evaluate import evaluate, make_config
    from rdagent_autorl.tasks import get_task
    from rdagent_autorl.types import ScoredSample

    def judged(samples, transcripts, judge):
        prompts = [[{"role": "user", "content": f"Which answer is better?\nA: #### 7\nB: {t.completion}"}]
                   for t in transcripts]
        verdicts = judge().generate(prompts, 16)
        return [ScoredSample(id=s.id, prompt=s.prompt, completion=t.completion, value=0.0 if "A" in v else 1.0,
                             detail=v) for s, t, v in zip(samples, transcripts, verdicts)]

    task = replace(get_task(str(math_task_dir)), scorer=judged, uses_judge=True)
    config = make_config(task, "hf")
    assert config.judge == f"openai:{judge_endpoint.url}:FAKE-judge"
    result = evaluate(task, tiny_model, config, out_dir=tmp_path, use_cache=False)
    assert (result.n, result.score) == (3, 0.0)  # the FAKE judge prefers "#### 7" every time
    assert len(judge_endpoint) == 3 and {r["model"] for r in judge_endpoint} == {"FAKE-judge"}
