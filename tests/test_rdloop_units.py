"""Small pieces of the loop, without running it: template rendering, the scripted plan, the coder's
static checks, JSON extraction, durations, masking."""

from __future__ import annotations

import ast
import json

import pytest


def test_rendered_config_keeps_comments_and_runs_by_hand(tmp_path):
    from rdagent_autorl.run.templates import render_template, template_info

    files = render_template("grpo_rule", {"learning_rate": 2e-5, "use_lora": True, "reward": "math"}, tmp_path)
    assert set(files) == {"train.py", "common.py", "rewards.py"} and (tmp_path / "train.py").read_text() == files["train.py"]
    def config_line(text):
        return next(line.strip() for line in text.splitlines() if line.strip().startswith('"learning_rate"'))

    comment = config_line(template_info("grpo_rule").path.read_text()).split("#", 1)[1]
    assert config_line(files["train.py"]) == f'"learning_rate": 2e-05,  #{comment}'  # the value replaced, its comment kept
    tree = ast.parse(files["train.py"])
    config = next(n.value for n in tree.body if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "CONFIG")
    values = {ast.literal_eval(k): ast.literal_eval(v) for k, v in zip(config.keys, config.values)}
    assert values == {**template_info("grpo_rule").config, "learning_rate": 2e-5, "use_lora": True, "reward": "math"}


def test_unknown_config_keys_are_refused(tmp_path):
    from rdagent_autorl.run.templates import TemplateError, check_overrides, render_template, template_info

    assert "no config keys ['lr']" in check_overrides(template_info("sft"), {"lr": 1})
    with pytest.raises(TemplateError, match="unknown template"):
        render_template("ppo", {}, tmp_path)
    with pytest.raises(TemplateError):
        render_template("sft", {"lr": 1}, tmp_path)


@pytest.mark.parametrize("task_id", ["gsm8k-rule", "humaneval-rule", "alfworld-online"])
def test_each_task_s_smoke_plan_fits_its_own_templates(task_id):
    from rdagent_autorl.rdloop.experiment import TrainingProposal
    from rdagent_autorl.run.templates import check_overrides, template_info
    from rdagent_autorl.tasks import get_task

    task = get_task(task_id)
    for entry in task.require_smoke().plan:
        proposal = TrainingProposal(**entry)
        assert proposal.template in task.templates
        assert check_overrides(template_info(proposal.template), proposal.config) is None


def test_scripted_answers_follow_the_plan_and_refuse_unknown_prompts():
    from rdagent_autorl.rdloop.scripted_driver import scripted_answer
    from rdagent_autorl.tasks import get_task

    plan = list(get_task("gsm8k-rule").smoke.plan)
    first = json.loads(scripted_answer("# Step: proposal", "Loop index: 2\nBest so far: none", plan))
    assert first["template"] == "grpo_rule" and first["init_from"] == "base"  # no checkpoint to start from yet
    with pytest.raises(ValueError, match="does not know this prompt"):
        scripted_answer("hello", "", plan)


@pytest.mark.parametrize("task_id, first_template", [("gsm8k-rule", "sft"), ("alfworld-online", "sft_trajectories")])
def test_scripted_driver_proposes_from_the_plan_of_the_run_s_scenario(tmp_path, task_id, first_template):
    """The plan comes from the scenario the loop is built on (the run context's task), not from prompt text."""
    from rdagent_autorl.rdloop.conf import RunContext, set_run_context
    from rdagent_autorl.rdloop.experiment import TrainingProposal
    from rdagent_autorl.rdloop.scenario import AutoRLScenario
    from rdagent_autorl.rdloop.scripted_driver import ScriptedDriver
    from rdagent_autorl.tasks import get_task

    task = get_task(task_id)
    set_run_context(RunContext(task=task_id, task_id=task_id, level=task.level, run_dir=tmp_path, workspace=tmp_path,
                               base_model=tmp_path, data_source="smoke", driver="scripted", deadline=1e12, timeout_s=60))
    try:
        scen = AutoRLScenario()
        assert set(scen.templates) == set(task.templates)
        answer = ScriptedDriver().answer("# Step: proposal\n" + scen.get_scenario_all_desc(),
                                         "Loop index: 0\nBest so far: none")
        proposal = TrainingProposal.model_validate_json(answer)
        assert proposal.template == first_template and proposal.template in scen.templates
    finally:
        set_run_context(None)


def test_static_checks_find_syntax_import_and_contract_problems(tmp_path):
    from rdagent_autorl.rdloop.coder import static_problems
    from rdagent_autorl.rdloop.experiment import TrainingProposal, TrainingTask, TrainingWorkspace

    task = TrainingTask("loop_00", TrainingProposal(hypothesis="h", method="m", template="sft", rationale="r"), tmp_path)
    ws = TrainingWorkspace(task, tmp_path / "code")
    ws.inject_files(**{"train.py": "import os\nprint(os.environ['DATA_PATH'], os.environ['OUTPUT_DIR'])\n"})
    assert static_problems(ws) == []
    ws.inject_files(**{"train.py": "def f(:\n"})
    assert "syntax error" in static_problems(ws)[0]
    ws.inject_files(**{"train.py": "import not_a_module_anywhere\nfrom helper import x\nprint('DATA_PATH')\n",
                       "helper.py": "x = 1\n"})
    problems = static_problems(ws)
    assert any("cannot import 'not_a_module_anywhere'" in p for p in problems)
    assert not any("helper" in p for p in problems)  # a file beside the script is importable
    assert any("never reads $OUTPUT_DIR" in p for p in problems)
    # An import inside a function is an optional path (vLLM on a GPU machine): not required here.
    ws.inject_files(**{"train.py": "import os\ndef gpu():\n    import not_a_module_anywhere\n"
                                   "print(os.environ['DATA_PATH'], os.environ['OUTPUT_DIR'])\n"})
    assert static_problems(ws) == []
    ws.inject_files(**{"train.py": ws.DEL_KEY})
    assert "train.py is missing" in static_problems(ws)[0]


def test_code_edits_must_stay_inside_the_code_folder():
    from rdagent_autorl.rdloop.coder import CodeEdit, check_edit

    assert check_edit(CodeEdit(summary="s", files={"train.py": "x", "sub/data.json": "{}"})) is None
    for bad in ("../escape.py", "/etc/passwd", "run.sh"):
        assert check_edit(CodeEdit(summary="s", files={bad: "x"}))


@pytest.mark.parametrize("answer", ['{"a": 1}', 'Here:\n```json\n{"a": 1}\n```\nDone.', 'Sure. {"a": 1} Hope it helps'])
def test_extract_json(answer):
    from rdagent_autorl.rdloop.driver import extract_json

    assert json.loads(extract_json(answer)) == {"a": 1}


def test_durations_and_masking():
    from rdagent_autorl.rdloop.driver import redacted
    from rdagent_autorl.run.harness import RunError as SessionError, parse_duration

    assert [parse_duration(t) for t in ("90", "90s", "15m", "2h", "1d", "1.5h")] == [90, 90, 900, 7200, 86400, 5400]
    with pytest.raises(SessionError, match="cannot read the duration"):
        parse_duration("soon")
    masked = redacted({"openai_api_key": "sk-x", "chat_model": "gpt", "embedding_openai_api_key": "", "token": "t"})
    assert masked == {"openai_api_key": "***", "chat_model": "gpt", "embedding_openai_api_key": "", "token": "***"}
