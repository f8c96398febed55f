"""The task registry, data sources, custom task folders."""

from __future__ import annotations

import json

import pytest

from rdagent_autorl.tasks import TASK_IDS, TaskError, get_task
from rdagent_autorl.tasks.spec import Transcript


def test_the_six_benchmark_ids_are_all_available_and_a_reserved_id_is_not_runnable():
    from rdagent_autorl.tasks.spec import reserved

    assert TASK_IDS == ("gsm8k-rule", "humaneval-rule", "alpacaeval-judge", "alfworld-online", "webshop-online",
                        "deepsearchqa-online")
    assert all(get_task(t).available for t in TASK_IDS)
    assert [get_task(t).level for t in TASK_IDS] == [1, 1, 2, 3, 3, 3]
    with pytest.raises(TaskError, match="not yet available"):
        reserved("a-later-task", 3, "A task of a later version").train()


def test_every_id_resolves_to_a_task_of_that_id_that_declares_itself():
    from rdagent_autorl.run.templates import template_info

    for task_id in TASK_IDS:
        task = get_task(task_id)
        assert task.id == task_id
        if not task.available:
            continue
        assert task.templates and all(template_info(name).name == name for name in task.templates)
        assert task.version >= 1 and task.protocol_files and all(p.is_file() for p in task.protocol_files)
        assert task.description != task.title  # its description.md is found in its own package
        smoke = task.require_smoke()
        assert smoke.data in [s.name for s in task.sources] and smoke.plan and smoke.example
        assert {p["template"] for p in smoke.plan} <= set(task.templates)
        assert {step.template for step in smoke.example} <= set(task.templates)


def test_a_custom_task_names_its_templates_and_trains_on_its_own_reward(math_task_dir):
    (math_task_dir / "task.yaml").write_text("id: mini\ntitle: Mini\nscorer: exact\ntemplates: [grpo_rule]\n")
    task = get_task(str(math_task_dir))
    assert task.templates == ("grpo_rule",) and task.reward == "exact"  # not the math reward
    from rdagent_autorl.tasks.rule_recipes import GRPO_SMOKE, PLAN_CONFIG

    smoke = task.require_smoke()
    assert [(p["template"], p["config"]) for p in smoke.plan] == [("grpo_rule", PLAN_CONFIG["grpo_rule"])]
    assert smoke.example[0].smoke_config == GRPO_SMOKE  # a smoke run stays short for custom tasks too
    (math_task_dir / "task.yaml").write_text("id: mini\ntitle: Mini\nscorer: exact\ntemplates: [ppo]\n")
    with pytest.raises(TaskError, match="unknown templates"):
        get_task(str(math_task_dir))


def test_unknown_task_lists_valid_ids():
    with pytest.raises(TaskError) as err:
        get_task("gsm9k")
    assert "gsm9k" in str(err.value) and all(t in str(err.value) for t in TASK_IDS)


def test_gsm8k_auto_never_falls_back_to_synthetic_offline():
    task = get_task("gsm8k-rule")
    with pytest.raises(TaskError, match="--data"):
        task.resolve_source("auto")
    assert task.resolve_source("synthetic") == "synthetic"
    with pytest.raises(TaskError, match="no data source 'nope'"):
        task.resolve_source("nope")


def test_gsm8k_synthetic_splits_are_disjoint_and_gsm8k_shaped():
    task = get_task("gsm8k-rule")
    train, heldout = task.train("synthetic"), task.heldout("synthetic")
    assert len(train) == 1000 and len(heldout) == 200
    assert not {s.prompt for s in train} & {s.prompt for s in heldout}
    assert all(s.answer.strip().splitlines()[-1].startswith("#### ") for s in train + heldout)
    prompt = task.prompt(heldout[0])
    assert prompt[0]["role"] == "system" and "####" in prompt[0]["content"] and prompt[1]["content"] == heldout[0].prompt


def test_gsm8k_local_copy_from_jsonl(tmp_path, monkeypatch):
    from rdagent_autorl.settings import get_settings

    rows = {"train": [{"question": "Q1?", "answer": "1+1=2\n#### 2"}], "test": [{"question": "Q2?", "answer": "#### 5"}]}
    for split, data in rows.items():
        (tmp_path / f"{split}.jsonl").write_text("\n".join(json.dumps(r) for r in data) + "\n")
    monkeypatch.setenv("AUTORL_GSM8K_PATH", str(tmp_path))
    get_settings.cache_clear()
    try:
        task = get_task("gsm8k-rule")
        assert task.resolve_source("auto") == "local"
        assert [s.prompt for s in task.train()] == ["Q1?"]
        assert [s.answer for s in task.heldout()] == ["#### 5"]
    finally:
        monkeypatch.delenv("AUTORL_GSM8K_PATH")
        get_settings.cache_clear()


def test_humaneval_split_is_first_82_visible_last_82_held_out():
    task = get_task("humaneval-rule")
    train, heldout = task.train(), task.heldout()
    assert len(train) == len(heldout) == 82
    assert train[0].id == "HumanEval/0" and heldout[0].id == "HumanEval/82" and heldout[-1].id == "HumanEval/163"
    assert task.prompt(heldout[0]) == heldout[0].prompt  # completion style: the raw stub


def test_humaneval_scorer_runs_the_tests():
    task = get_task("humaneval-rule")
    items = task.heldout()[:2]
    completions = [items[0].answer, "    return None\n"]
    scored = task.score(items, [Transcript(sample_id=x.id, completion=c) for x, c in zip(items, completions)])
    assert [(s.value, s.correct) for s in scored] == [(1.0, True), (0.0, False)]


def test_custom_task_folder(math_task_dir):
    task = get_task(str(math_task_dir))
    assert (task.id, task.level, task.budget.max_new_tokens) == ("mini-math", 1, 8)
    assert len(task.train()) == 3 and len(task.heldout()) == 3
    items = task.heldout()[:2]
    scored = task.score(items, [Transcript(sample_id=x.id, completion=c) for x, c in zip(items, ["#### 15", "The answer is 4."])])
    assert [s.value for s in scored] == [1.0, 1.0]
    assert task.prompt(task.train()[0])[0] == {"role": "system", "content": "Answer with the number only."}


@pytest.mark.parametrize(
    "yaml_text, message",
    [("id: x\ntitle: X\n", "scorer"), ("id: x\ntitle: X\nscorer: regex\n", "scorer"),
     ("id: x\ntitle: X\nscorer: math\nbogus: 1\n", "bogus"), ("id: [\n", "not a valid task")],
)
def test_custom_task_bad_yaml_is_a_clear_error(tmp_path, yaml_text, message):
    (tmp_path / "task.yaml").write_text(yaml_text)
    with pytest.raises(TaskError, match=message):
        get_task(str(tmp_path))


def test_custom_task_bad_data_line(math_task_dir):
    (math_task_dir / "eval.jsonl").write_text('{"question": "q"}\n')
    with pytest.raises(TaskError, match="eval.jsonl:1"):
        get_task(str(math_task_dir)).heldout()


def test_folder_without_task_yaml(tmp_path):
    with pytest.raises(TaskError, match="no task.yaml"):
        get_task(str(tmp_path))
