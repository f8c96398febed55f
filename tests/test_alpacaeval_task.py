"""alpacaeval-judge: data and decontamination, alpaca_eval's parsers on real completion shapes, the win
rates on hand-computed fixtures, the judge client (cache, concurrency bound, retries), bad judge
configurations failing first, and grades through the FAKE judge and through a FAKE OpenAI-compatible
judge endpoint on 127.0.0.1 returning top_logprobs (the real path)."""

from __future__ import annotations

import json
import math
import threading
import time

import pytest
from fastapi import FastAPI, Request

from conftest import RDAGENT, clean_env, serve_in_thread
from rdagent_autorl.generation.judge_client import JudgeClient, JudgeReply, JudgeRequest, TransientJudgeError
from rdagent_autorl.tasks import get_task
from rdagent_autorl.tasks.alpacaeval_judge import annotator as ann
from rdagent_autorl.tasks.alpacaeval_judge import data, winrate
from rdagent_autorl.tasks.alpacaeval_judge.fake_judge import FakePreferenceJudge
from rdagent_autorl.types import Sample, ScoredSample

TASK = get_task("alpacaeval-judge")


def test_the_packaged_set_is_alpacaevals_805_and_training_never_holds_an_evaluation_instruction():
    evaluation, train = TASK.heldout("packaged"), TASK.train("packaged")
    assert len(evaluation) == 805 and len({s.prompt for s in evaluation}) == 805
    counts = {name: sum(s.meta["dataset"] == name for s in evaluation) for name in
              ("selfinstruct", "oasst", "koala", "helpful_base", "vicuna")}
    assert counts == {"selfinstruct": 252, "oasst": 188, "koala": 156, "helpful_base": 129, "vicuna": 80}
    assert all(s.answer for s in evaluation) and [s.meta["index"] for s in evaluation] == list(range(805))
    assert len(train) > 700 and {s.meta["dataset"] for s in train} == {"arena-hard-v2.0/o3-mini"}
    ev_words = {" ".join(data._words(s.prompt)) for s in evaluation}
    assert not any(" ".join(data._words(s.prompt)) in ev_words for s in train)
    for source in ("smoke",):
        assert not {s.prompt for s in TASK.train(source)} & {s.prompt for s in TASK.heldout(source)}


def test_decontamination_drops_copies_and_overlapping_instructions():
    evaluation = [{"instruction": "Write a haiku about the sea at night, with a moon and two boats in it.", "output": "x"}]
    train = [
        {"instruction": "write a HAIKU about the sea at night, with a moon and two boats in it!", "output": "copy"},
        {"instruction": "Please: write a haiku about the sea at night, with a moon, thanks.", "output": "8-gram"},
        {"instruction": "Write a limerick about a cat.", "output": "clean"},
    ]
    assert [r["output"] for r in data.decontaminate(train, evaluation)] == ["clean"]


def test_a_missing_local_copy_and_a_malformed_one_are_clear_errors(tmp_path, monkeypatch):
    from rdagent_autorl.settings import get_settings
    from rdagent_autorl.types import TaskError

    monkeypatch.setenv("AUTORL_ALPACAEVAL_PATH", str(tmp_path / "nope.json"))
    get_settings.cache_clear()
    ok, why = TASK.sources[0].check()
    assert not ok and "does not exist" in why and TASK.resolve_source("auto") != "local"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"instruction": "hi"}]))
    monkeypatch.setenv("AUTORL_ALPACAEVAL_PATH", str(bad))
    get_settings.cache_clear()
    data._splits.cache_clear()
    with pytest.raises(TaskError, match="without 'instruction'/'output'"):
        TASK.heldout("local")


# What gpt-4-1106-preview returned to alpaca_eval for a pair (alpaca_eval's logprob_parser docstring).
GPT4_LOGPROBS = [{"token": "M", "bytes": [77], "logprob": -0.017597131}, {"token": "m", "bytes": [109], "logprob": -4.048847},
                 {"token": "Both", "bytes": [66, 111, 116, 104], "logprob": -14.908222}]


def test_alpaca_evals_parsers_read_real_completion_shapes():
    weighted = ann.Annotator.load("weighted_alpaca_eval_gpt4_turbo")
    assert weighted.uses_logprobs and weighted.parser_name == "logprob_parser"
    p_m = math.exp(-4.048847) / (math.exp(-4.048847) + math.exp(-0.017597131))
    assert weighted.parse(JudgeReply(top_logprobs=GPT4_LOGPROBS)) == pytest.approx(2 - p_m)
    assert math.isnan(weighted.parse(JudgeReply(top_logprobs=[{"token": "The", "logprob": -0.1}])))
    ranking = ann.Annotator.load("alpaca_eval_gpt4_turbo_fn")
    assert not ranking.uses_logprobs and ranking.requests([ann.PROBE], [False])[0].extra["tools"]
    m_second = '{"ordered_models": [{"model": "M", "rank": 1}, {"model": "m", "rank": 2}]}'
    assert ranking.parse(JudgeReply(tool_arguments=m_second)) == 2.0
    assert ranking.parse(JudgeReply(tool_arguments=m_second.replace('"M", "rank": 1', '"M", "rank": 2')
                                    .replace('"m", "rank": 2', '"m", "rank": 1'))) == 1.0
    assert math.isnan(ranking.parse(JudgeReply(text="I cannot decide")))


def test_prompts_are_alpaca_evals_template_in_chatml_and_order_follows_its_seeded_switch():
    weighted = ann.Annotator.load()
    pairs = [ann.Pair(f"Question {i}?", f"reference {i}", f"model {i}") for i in range(40)]
    switched = weighted.switched(pairs)
    assert 10 < sum(switched) < 30 and switched == weighted.switched(pairs)  # seeded by the instruction
    request = weighted.requests(pairs[:1], [True])[0]
    assert request.top_logprobs == 5 and request.max_tokens == 1
    assert [m["role"] for m in request.prompt] == ["system", "user"]
    user = request.prompt[1]["content"]
    assert user.index('"""model 0"""') < user.index('"""reference 0"""')  # swapped: the model's output is m


class CountingJudge:
    """A FAKE judge backend that records how many calls are in flight at once."""

    def __init__(self, delay_s: float = 0.05, fail_first: int = 0):
        self.delay_s, self.fail_first, self.lock = delay_s, fail_first, threading.Lock()
        self.in_flight = self.peak = self.calls = 0

    def identity(self) -> str:
        return "FAKE-counting"

    def complete(self, request: JudgeRequest) -> JudgeReply:
        with self.lock:
            self.calls += 1
            if self.calls <= self.fail_first:
                raise TransientJudgeError("FAKE 503")
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
        time.sleep(self.delay_s)
        with self.lock:
            self.in_flight -= 1
        return JudgeReply(text=str(request.prompt), prompt_tokens=3, completion_tokens=1)


def test_the_judge_client_bounds_concurrency_retries_and_caches(tmp_path):
    backend = CountingJudge(fail_first=2)
    client = JudgeClient(backend, tmp_path, concurrency=3, retries=3, backoff_s=0.01)
    requests = [JudgeRequest(prompt=f"q{i}") for i in range(12)]
    assert [r.text for r in client.complete(requests)] == [f"q{i}" for i in range(12)]
    assert backend.peak == 3 and client.usage.calls == 12 and client.usage.retries == 2
    assert client.usage.prompt_tokens == 36
    again = JudgeClient(backend, tmp_path, concurrency=3)  # another process, the same cache file
    assert [r.text for r in again.complete(requests)] == [f"q{i}" for i in range(12)]
    assert again.usage.calls == 0 and again.usage.cache_hits == 12
    stored = (tmp_path / "judge_replies.sqlite").read_bytes()
    assert b"FAKE-counting" not in stored  # keys are hashes; no prompt or identity is stored


def test_win_rates_on_hand_computed_fixtures():
    def graded(prefs, out_len=10, ref_len=10):
        samples = [Sample(id=str(i), prompt=f"q{i}", answer="r" * ref_len, meta={"index": i}) for i in range(len(prefs))]
        scored = [ScoredSample(id=str(i), prompt=f"q{i}", completion="o" * out_len, value=p) for i, p in enumerate(prefs)]
        return winrate.win_rates(samples, scored)

    # 2 wins, 1 loss, 1 tie: raw win rate (2 + 0.5) / 4 = 62.5; equal lengths: nothing to control, LC = raw
    m = graded([1.0, 1.0, 0.0, 0.5] * 10)
    assert m["win_rate"]["value"] == pytest.approx(62.5) and m["discrete_win_rate"] == pytest.approx(62.5)
    assert m["lc_win_rate"]["value"] == pytest.approx(62.5, abs=1.0)
    assert m["lc_win_rate"]["ci_low"] <= m["lc_win_rate"]["value"] <= m["lc_win_rate"]["ci_high"]
    assert m["lc_win_rate"]["official_glm"] == 0.0 and m["avg_length"] == 10
    # wins only when longer than the reference: the length-controlled rate removes most of the gain
    samples = [Sample(id=str(i), prompt=f"q{i}", answer="r" * 100, meta={"index": i}) for i in range(40)]
    scored = [ScoredSample(id=str(i), prompt="", completion="o" * (300 if i < 30 else 20), value=1.0 if i < 30 else 0.0)
              for i in range(40)]
    biased = winrate.win_rates(samples, scored)
    assert biased["win_rate"]["value"] == pytest.approx(75.0) and biased["lc_win_rate"]["value"] < 60


def test_the_fake_judge_answers_like_a_logprob_judge_and_prefers_on_topic_fluent_answers(tmp_path):
    client = JudgeClient(FakePreferenceJudge(), tmp_path)
    weighted = ann.Annotator.load()
    pairs = [ann.Pair("What color is a lemon?", "A lemon is usually yellow.", "lemon lemon lemon lemon"),
             ann.Pair("What color is a lemon?", "A lemon is usually yellow.", "A lemon is usually yellow."),
             ann.Pair("What color is a lemon?", "zz qq", "A lemon is usually yellow and sour.")]
    values = ann.judge_pairs(client, weighted, pairs)
    assert values[0] < 0.3 and values[1] == pytest.approx(0.5) and values[2] > 0.7
    assert client.identity().startswith("FAKE") and client.fake and client.usage.calls == 3
    # both orders: each pair judged as shown (cached) and swapped; an order-blind judge gives the same values.
    # The second pair's outputs are identical, so its swapped request is the same request: cached too.
    assert ann.judge_pairs(client, weighted, pairs, both_orders=True) == pytest.approx(values)
    assert client.usage.calls == 3 + 2 and client.usage.cache_hits == 3 + 1


def test_grading_through_the_fake_judge_records_it_and_a_regrade_costs_no_judge_call(tiny_model, tmp_path):
    from rdagent_autorl.grading.evaluate import evaluate, make_config

    config = make_config(TASK, "hf", "smoke", limit=12)
    assert config.judge.startswith("FAKE-alpacaeval-judge") and "weighted_alpaca_eval_gpt4_turbo" in config.settings
    first = evaluate(TASK, tiny_model, config, out_dir=tmp_path)
    assert first.headline == "lc_win_rate" and first.score == first.metrics["lc_win_rate"]["value"]
    assert first.judge["fake"] and first.judge["calls"] == 12 and "win_rate" in first.metrics
    assert set(first.breakdown) <= {f"synthetic-{c}" for c in ("fruit", "vegetable", "tool", "furniture", "animal",
                                                                "vehicle", "instrument")}
    again = evaluate(TASK, tiny_model, config, out_dir=tmp_path, use_cache=False)
    assert again.judge["calls"] == 0 and again.judge["cache_hits"] == 12 and again.score == first.score


def fake_logprob_judge(requests: list, logprobs: bool = True) -> FastAPI:
    """A FAKE OpenAI-compatible judge: prefers the longer of the two outputs, answering with top_logprobs
    like gpt-4-turbo (or without them, like an endpoint that has none)."""
    app = FastAPI()

    @app.post("/v1/chat/completions")
    def chat(body: dict, request: Request) -> dict:
        requests.append({**body, "authorization": request.headers.get("authorization")})
        outputs = body["messages"][-1]["content"].split('"output": """')[1:]
        first, second = (o.split('"""')[0] for o in outputs)
        token = "M" if len(second) > len(first) else "m"
        choice = {"message": {"role": "assistant", "content": token}}
        if logprobs:
            other = "m" if token == "M" else "M"
            choice["logprobs"] = {"content": [{"token": token, "logprob": -0.1, "top_logprobs": [
                {"token": token, "logprob": -0.1}, {"token": other, "logprob": -2.4}]}]}
        return {"choices": [choice], "usage": {"prompt_tokens": 400, "completion_tokens": 1}}

    return app


@pytest.fixture()
def logprob_judge(monkeypatch):
    from rdagent_autorl.settings import get_settings

    requests: list = []
    with serve_in_thread(fake_logprob_judge(requests)) as url:
        monkeypatch.setenv("AUTORL_JUDGE_BASE_URL", f"{url}/v1")
        monkeypatch.setenv("AUTORL_JUDGE_MODEL", "FAKE-logprob-judge")
        monkeypatch.setenv("AUTORL_JUDGE_API_KEY", "sk-planted-alpaca-judge-key")
        get_settings.cache_clear()
        yield url, requests


def test_the_real_path_through_a_fake_openai_judge_endpoint(logprob_judge, tiny_model, tmp_path, _isolated_env):
    """The CLI grade against an OpenAI-compatible judge returning top_logprobs: alpaca_eval's template
    reaches it in ChatML, its logprobs become preferences, the calls are counted, the key goes nowhere."""
    import subprocess



    url, requests = logprob_judge
    env = {**clean_env(), "AUTORL_JUDGE_BASE_URL": f"{url}/v1", "AUTORL_JUDGE_MODEL": "FAKE-logprob-judge",
           "AUTORL_JUDGE_API_KEY": "sk-planted-alpaca-judge-key"}
    proc = subprocess.run([RDAGENT, "autorl", "grade", "--task", "alpacaeval-judge", "--model", str(tiny_model),
                           "--data", "smoke", "--limit", "10"], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["judge"]["identity"] == f"openai:{url}/v1:FAKE-logprob-judge" and not result["judge"]["fake"]
    assert result["judge"]["calls"] == 10 and result["judge"]["prompt_tokens"] == 4000
    assert "FAKE offline stand-in" not in proc.stderr  # a configured judge is used, never the FAKE one
    bodies = [r for r in requests if "Say hello." not in json.dumps(r["messages"])]  # the probe comes first
    assert len(requests) == 11 and len(bodies) == 10
    assert all(r["logprobs"] and r["top_logprobs"] == 5 and r["max_tokens"] == 1 for r in bodies)
    assert {r["authorization"] for r in requests} == {"Bearer sk-planted-alpaca-judge-key"}
    assert 0 <= result["metrics"]["win_rate"]["value"] <= 100
    leaks = [p for p in _isolated_env.rglob("*") if p.is_file() and b"sk-planted-alpaca-judge-key" in p.read_bytes()]
    assert leaks == [] and "sk-planted" not in proc.stdout + proc.stderr


def test_bad_judge_configurations_fail_before_anything_runs(tmp_path, monkeypatch):
    from conftest import free_port
    from rdagent_autorl.generation.judge import JudgeError
    from rdagent_autorl.grading.evaluate import check_judge
    from rdagent_autorl.settings import get_settings
    from rdagent_autorl.types import TaskError

    monkeypatch.setenv("AUTORL_ALPACAEVAL_ANNOTATOR", "no_such_annotator")
    get_settings.cache_clear()
    with pytest.raises(TaskError, match="unknown alpaca_eval annotator 'no_such_annotator'.*weighted_alpaca_eval"):
        check_judge(TASK)
    monkeypatch.delenv("AUTORL_ALPACAEVAL_ANNOTATOR")
    monkeypatch.setenv("AUTORL_JUDGE_MODEL", "gpt-4-1106-preview")
    monkeypatch.setenv("AUTORL_JUDGE_BASE_URL", f"http://127.0.0.1:{free_port()}/v1")
    monkeypatch.setenv("AUTORL_JUDGE_RETRIES", "0")
    get_settings.cache_clear()
    with pytest.raises(JudgeError, match="unreachable"):
        check_judge(TASK)
    requests: list = []
    with serve_in_thread(fake_logprob_judge(requests, logprobs=False)) as url:
        monkeypatch.setenv("AUTORL_JUDGE_BASE_URL", f"{url}/v1")
        get_settings.cache_clear()
        with pytest.raises(JudgeError, match="no top_logprobs"):
            check_judge(TASK)
        monkeypatch.setenv("AUTORL_ALPACAEVAL_ANNOTATOR", "alpaca_eval_gpt4_turbo_fn")  # text answers: unparseable
        get_settings.cache_clear()
        with pytest.raises(TaskError, match="cannot parse"):
            check_judge(TASK)


def test_a_run_with_an_unreachable_judge_stops_before_its_workspace_exists(tmp_path, monkeypatch):
    from conftest import free_port
    from rdagent_autorl.run.harness import Harness, RunError
    from rdagent_autorl.settings import get_settings

    monkeypatch.setenv("AUTORL_JUDGE_MODEL", "gpt-4-1106-preview")
    monkeypatch.setenv("AUTORL_JUDGE_BASE_URL", f"http://127.0.0.1:{free_port()}/v1")
    monkeypatch.setenv("AUTORL_JUDGE_RETRIES", "0")
    get_settings.cache_clear()
    with pytest.raises(RunError, match="judge of alpacaeval-judge is not usable.*unreachable"):
        Harness.create("alpacaeval-judge", "tiny", runs_dir=tmp_path, agent="example", entry="bench", driver=None,
                       timeout_s=60, gpus=[], data="smoke", smoke=True)
    assert list(tmp_path.iterdir()) == []


def test_a_local_hf_judge_gives_first_token_logprobs_as_an_endpoint_would(tiny_model, tmp_path, monkeypatch):
    import torch

    from rdagent_autorl.generation.judge import LocalJudge, load_judge
    from rdagent_autorl.settings import get_settings

    monkeypatch.setenv("AUTORL_JUDGE_BACKEND", "hf")
    monkeypatch.setenv("AUTORL_JUDGE_MODEL", str(tiny_model))
    get_settings.cache_clear()
    client = load_judge(device="cpu")
    assert isinstance(client.backend, LocalJudge) and client.identity().startswith("hf:sha256:")
    requests = ann.Annotator.load().requests([ann.PROBE], [False])
    vocab = client.backend.backend.model.config.vocab_size
    top = client.complete([requests[0].model_copy(update={"top_logprobs": 10**6})])[0].top_logprobs
    assert len(top) == vocab and [t["logprob"] for t in top] == sorted((t["logprob"] for t in top), reverse=True)
    assert sum(math.exp(t["logprob"]) for t in top) == pytest.approx(1.0, abs=1e-3)  # the whole distribution
    backend = client.backend.backend
    ids = backend.tokenizer.apply_chat_template(requests[0].prompt, add_generation_prompt=True, return_tensors="pt",
                                                return_dict=True)["input_ids"]
    with torch.inference_mode():
        expected = torch.log_softmax(backend.model(ids).logits[0, -1].float(), -1)
    by_token = {t["token"]: t["logprob"] for t in top}
    m_id = backend.tokenizer.convert_tokens_to_ids("m")
    assert by_token["m"] == pytest.approx(float(expected[m_id]), abs=1e-4)
    assert client.complete(requests)[0].top_logprobs is not None and client.usage.calls == 2
