"""The openai backend against FakeOpenAIEndpoint: a local OpenAI-compatible stub on 127.0.0.1 (a fake
at the outer HTTP boundary, standing in for an API model or a remote vLLM server)."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi import FastAPI

from conftest import free_port, serve_in_thread
from rdagent_autorl.generation import load_backend


def fake_openai_endpoint(requests: list) -> FastAPI:
    app = FastAPI()

    def answer(text: str) -> str:
        a, b = map(int, re.search(r"What is (\d+) plus (\d+)", text).groups())
        return f"{a} + {b} = {a + b if a != 2 else a + b + 1}.\n#### {a + b if a != 2 else a + b + 1}"  # wrong when a == 2

    @app.post("/v1/chat/completions")
    def chat(body: dict) -> dict:
        requests.append(body)
        return {"choices": [{"message": {"role": "assistant", "content": answer(body["messages"][-1]["content"])}}]}

    @app.post("/v1/completions")
    def complete(body: dict) -> dict:
        requests.append(body)
        return {"choices": [{"text": "    return a + b\n\ndef helper():\n    pass\n"}]}

    return app


@pytest.fixture()
def endpoint(monkeypatch):
    from rdagent_autorl.settings import get_settings

    requests: list = []
    with serve_in_thread(fake_openai_endpoint(requests)) as url:
        monkeypatch.setenv("AUTORL_OPENAI_BASE_URL", f"{url}/v1")
        get_settings.cache_clear()
        yield requests


def test_chat_and_completion_prompts(endpoint):
    backend = load_backend("openai", "fake-model")
    stops = ["\ndef ", "\nclass ", "\n#", "\nif __name__", "\nprint("]
    chat, plain = backend.generate([[{"role": "user", "content": "What is 3 plus 4?"}], "def add(a, b):\n"], 32, stops)
    assert chat == "3 + 4 = 7." and plain == "    return a + b\n"  # stop strings cut both, locally too
    assert {r["model"] for r in endpoint} == {"fake-model"} and all(len(r["stop"]) <= 4 for r in endpoint)
    assert all(r["temperature"] == 0.0 and r["max_tokens"] == 32 for r in endpoint)


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
