"""The judge-reward templates (templates/grpo_judge.py, templates/dpo_judge.py) on alpacaeval-judge's
smoke rows and the tiny model, in AUTORL_DRY_RUN mode, rewarded by the task's FAKE judge (no judge is
configured in tests) through the grader's own annotator and judge client; and the environment that
hands an agent's templates the grader's judge settings."""

from __future__ import annotations

import json

from test_templates import assert_full_checkpoint, run_template, saved_path
from rdagent_autorl.tasks import get_task

TASK = get_task("alpacaeval-judge")


def _rows(tmp_path):
    path = tmp_path / "train.jsonl"
    rows = [{"id": s.id, "prompt": TASK.prompt(s), "answer": s.answer} for s in TASK.train("smoke")[:16]]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_grpo_judge_dry_run_trains_on_the_judges_preference(tiny_model, tmp_path):
    out = tmp_path / "output"
    proc = run_template("grpo_judge.py", data_path=_rows(tmp_path), base=tiny_model, out=out, task="alpacaeval-judge")
    assert_full_checkpoint(saved_path(proc), tiny_model)
    assert "'reward'" in proc.stdout  # TRL logged the judge reward


def test_dpo_judge_dry_run_labels_pairs_with_the_judge_then_trains(tiny_model, tmp_path):
    out = tmp_path / "output"
    proc = run_template("dpo_judge.py", data_path=_rows(tmp_path), base=tiny_model, out=out, task="alpacaeval-judge")
    assert "PAIRS " in proc.stdout and "of 4 prompts" in proc.stdout
    assert_full_checkpoint(saved_path(proc), tiny_model)


def test_a_task_without_a_judge_reward_is_refused(tiny_model, tmp_path):
    proc = run_template("grpo_judge.py", data_path=_rows(tmp_path), base=tiny_model, out=tmp_path / "output",
                        task="gsm8k-rule", expect_ok=False)
    assert proc.returncode != 0 and "has no judge reward" in proc.stderr


def test_agents_get_the_graders_judge_settings_from_its_env_file(tmp_path, monkeypatch):
    from rdagent_autorl.run.workspace import agent_env
    from rdagent_autorl.settings import get_settings

    (tmp_path / ".env").write_text("AUTORL_JUDGE_MODEL=gpt-4o\nAUTORL_JUDGE_API_KEY=sk-judge\n"
                                   "AUTORL_ALPACAEVAL_ANNOTATOR=alpaca_eval_gpt4_turbo_fn\nAUTORL_OPENAI_API_KEY=sk-policy\n")
    monkeypatch.chdir(tmp_path)
    for name in ("AUTORL_JUDGE_MODEL", "AUTORL_JUDGE_API_KEY", "AUTORL_ALPACAEVAL_ANNOTATOR", "AUTORL_OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    env = agent_env(tmp_path / "ws", TASK, "http://127.0.0.1:1")
    assert env["AUTORL_JUDGE_MODEL"] == "gpt-4o" and env["AUTORL_JUDGE_API_KEY"] == "sk-judge"
    assert env["AUTORL_ALPACAEVAL_ANNOTATOR"] == "alpaca_eval_gpt4_turbo_fn"
    assert env["AUTORL_CACHE_DIR"] == str(get_settings().cache_path) and "AUTORL_OPENAI_API_KEY" not in env
    assert "AUTORL_JUDGE_MODEL" not in agent_env(tmp_path / "ws", get_task("gsm8k-rule"), "http://127.0.0.1:1")
