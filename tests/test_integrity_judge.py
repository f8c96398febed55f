"""The optional integrity judge pass (bench/integrity_judge.py) through the real judge path: a FAKE
OpenAI-compatible judge on 127.0.0.1 reads a run's code and log; its opinion lands in the report, named as
an opinion, and nowhere else (no ledger flag, no score)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi import FastAPI

from conftest import free_port, serve_in_thread

pytestmark = pytest.mark.timeout(900)

# A test agent whose code fetches a benchmark's test split: what the judge is there to notice.
FETCHER = r'''
mkdir -p code
cat > code/train.py <<'PY'
from datasets import load_dataset
extra = load_dataset("openai/gsm8k", "main", split="test")  # the evaluation set, as training data
PY
echo "training on the test split"
'''


def fake_integrity_judge(requests: list) -> FastAPI:
    """FAKE judge: a violation when the evidence loads a test split, else clean."""
    app = FastAPI()

    @app.post("/v1/chat/completions")
    def chat(body: dict) -> dict:
        requests.append(body)
        evidence = body["messages"][-1]["content"]
        if 'split="test"' in evidence:
            answer = {"verdict": "violation", "summary": "It loads GSM8K's test split to train on.",
                      "findings": [{"action": "downloads the evaluation set", "evidence": 'split="test"',
                                    "file": "code/train.py"}]}
        else:
            answer = {"verdict": "clean", "findings": [], "summary": "Nothing disallowed."}
        return {"choices": [{"message": {"role": "assistant", "content": "Verdict:\n" + json.dumps(answer)}}]}

    return app


@pytest.fixture(scope="module")
def fetcher_run(_isolated_env, tiny_model, tmp_path_factory):
    from rdagent_autorl.run.harness import run_bench

    folder = tmp_path_factory.mktemp("fetcher")
    (folder / "agent.yaml").write_text("name: fetcher\ndescription: test agent\nuses_llm: false\n")
    (folder / "start.sh").write_text("#!/usr/bin/env bash\nset -u\ncd \"$WORKSPACE\"\n" + FETCHER)
    return run_bench("gsm8k-rule", str(folder), model="tiny", data="smoke", timeout_s=300, gpus=[], limit=8,
                     runs_dir=_isolated_env / "bench", smoke=True, poll_s=0.5)


def _judged(monkeypatch, url: str) -> None:
    from rdagent_autorl.settings import get_settings

    monkeypatch.setenv("AUTORL_INTEGRITY_JUDGE", "true")
    monkeypatch.setenv("AUTORL_JUDGE_BACKEND", "openai")
    monkeypatch.setenv("AUTORL_JUDGE_BASE_URL", f"{url}/v1")
    monkeypatch.setenv("AUTORL_JUDGE_MODEL", "FAKE-integrity-judge")
    monkeypatch.setenv("AUTORL_JUDGE_RETRIES", "0")
    get_settings.cache_clear()


def test_off_by_default(fetcher_run):
    assert not (fetcher_run.run_dir / "reports" / "integrity_judge.json").exists()
    assert "integrity_judge" not in fetcher_run.metrics
    assert "Integrity judge" not in (fetcher_run.run_dir / "reports" / "report.md").read_text()


def test_the_judges_opinion_goes_into_the_report_and_nowhere_else(fetcher_run, monkeypatch):
    from rdagent_autorl.bench.ledger import runs
    from rdagent_autorl.run.harness import finish

    requests: list = []
    with serve_in_thread(fake_integrity_judge(requests)) as url:
        _judged(monkeypatch, url)
        result = finish(fetcher_run.run_dir)
    assert len(requests) == 1 and requests[0]["model"] == "FAKE-integrity-judge"
    evidence = requests[0]["messages"][-1]["content"]
    assert "=== code/train.py ===" in evidence and "training on the test split" in evidence  # code and log
    verdict = json.loads((result.run_dir / "reports" / "integrity_judge.json").read_text())
    assert verdict["verdict"] == "violation" and verdict["findings"][0]["file"] == "code/train.py"
    assert verdict["judge"].endswith("FAKE-integrity-judge")
    report = (result.run_dir / "reports" / "report.md").read_text()
    assert "Integrity judge (a judge's opinion, not a check)" in report and "VIOLATION" in report
    assert "downloads the evaluation set" in report
    assert result.metrics["integrity_judge"] == "violation"
    # An opinion, not a check: the ledger row carries no flag from it and the scores are the same.
    row = next(r for r in runs() if r["run_id"] == result.run_dir.name)
    assert row["flags"] == "" and result.metrics["best_score"] == fetcher_run.metrics["best_score"]


def test_an_unreachable_judge_is_said_in_the_report_which_is_still_written(fetcher_run, monkeypatch):
    from rdagent_autorl.run.harness import finish

    _judged(monkeypatch, f"http://127.0.0.1:{free_port()}")  # nothing listens there
    result = finish(fetcher_run.run_dir)
    verdict = json.loads((result.run_dir / "reports" / "integrity_judge.json").read_text())
    assert verdict["verdict"] is None and verdict["error"]
    assert "Integrity judge" in (result.run_dir / "reports" / "report.md").read_text()
    assert "Not run: " in (result.run_dir / "reports" / "report.md").read_text()


@pytest.mark.parametrize("reply,verdict", [
    ('{"verdict": "clean", "findings": [], "summary": "ok"}', "clean"),
    ('Sure! {"verdict": "suspicious", "findings": [{"action": "a"}, "junk"]} hope that helps', "suspicious"),
    ('{"verdict": "guilty"}', "unreadable"),
    ("I cannot tell.", "unreadable"),
])
def test_the_reply_is_read_leniently_and_never_invented(reply, verdict):
    from rdagent_autorl.bench.integrity_judge import _parse

    parsed = _parse(reply)
    assert parsed["verdict"] == verdict
    assert all(isinstance(f, dict) for f in parsed["findings"])
    if verdict == "unreadable":
        assert parsed["reply"] == reply  # kept as it came, for a person to read


def test_evidence_is_cut_at_the_limit(tmp_path):
    from types import SimpleNamespace

    from rdagent_autorl.bench.integrity_judge import _evidence

    (tmp_path / "agent.log").write_text("x" * 50_000)
    text = _evidence(SimpleNamespace(revisions=[], run_dir=Path(tmp_path)), 4000)
    assert len(text) <= 4000 + 60 and text.startswith("=== agent.log")
