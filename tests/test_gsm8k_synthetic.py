"""The SYNTHETIC GSM8K-style generator: determinism, format, arithmetic consistency, splits."""

from __future__ import annotations

import ast
import operator
import random
import re

import pytest

from rdagent_autorl.scoring.math_answer import gold_answer
from rdagent_autorl.tasks.gsm8k_rule.synthetic import TRAIN_SEED, generate, synthetic_splits

EVAL_SEED = 2  # any held-out seed (the sources' is the installation's: tests/test_eval_seeds.py)

_ANNOTATION = re.compile(r"<<([^=<>]+)=([^<>]+)>>(\d+)")
_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}


def _eval(expr: str) -> float:
    """Evaluate a calculator annotation with + - * / only (no eval() on generated text)."""

    def walk(node):
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](walk(node.left), walk(node.right))
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        raise AssertionError(f"unexpected syntax in annotation: {expr}")

    return walk(ast.parse(expr, mode="eval").body)


def test_same_seed_same_output_and_no_global_random_state():
    random.seed(123)
    before = random.random()
    random.seed(123)
    a = generate(50, seed=5)
    assert random.random() == before  # the global generator was not consumed
    assert generate(50, seed=5) == a


def test_different_seeds_differ_and_prefix_stable():
    assert generate(20, seed=1) != generate(20, seed=2)
    assert generate(30, seed=9)[:10] == generate(10, seed=9)


@pytest.mark.parametrize("difficulty", [1, 2, 3, 4])
def test_format_and_arithmetic_consistency(difficulty):
    for item in generate(200, seed=difficulty, difficulty=difficulty):
        assert set(item) == {"question", "answer"}
        assert item["question"].endswith("?")
        lines = item["answer"].splitlines()
        final = re.fullmatch(r"#### (\d+)", lines[-1])
        assert final, item["answer"]
        result = int(final.group(1))
        assert gold_answer(item["answer"]) == str(result)
        notes = _ANNOTATION.findall(item["answer"])
        assert len(notes) == difficulty == len(lines) - 1  # one annotated line per step
        for expr, value, shown in notes:
            assert _eval(expr) == int(value) == int(shown), item["answer"]
            assert int(value) >= 0
        # The steps chain: the last one computes the final answer.
        assert int(notes[-1][1]) == result


def test_difficulty_changes_number_of_steps():
    counts = {d: {len(_ANNOTATION.findall(i["answer"])) for i in generate(50, seed=3, difficulty=d)} for d in (1, 2, 3, 4)}
    assert counts == {1: {1}, 2: {2}, 3: {3}, 4: {4}}


def test_text_is_varied():
    items = generate(300, seed=4, difficulty=2)
    assert len({i["question"] for i in items}) > 290
    openings = {" ".join(i["question"].split()[1:3]) for i in items}
    assert len(openings) > 10
    all_ops = "".join(_ANNOTATION.sub(lambda m: m.group(1), i["answer"]) for i in items)
    for symbol in "+-*/":
        assert symbol in all_ops


def test_invalid_arguments():
    with pytest.raises(ValueError):
        generate(3, seed=1, difficulty=0)
    with pytest.raises(ValueError):
        generate(3, seed=1, difficulty=5)
    with pytest.raises(ValueError):
        generate(-1, seed=1)
    assert generate(0, seed=1) == []


def test_splits_are_disjoint_and_sized():
    assert TRAIN_SEED != EVAL_SEED
    train, heldout = synthetic_splits(n_train=300, n_eval=100, eval_seed=EVAL_SEED)
    assert len(train) == 300 and len(heldout) == 100
    assert not {i["question"] for i in train} & {i["question"] for i in heldout}
    assert train == generate(300, TRAIN_SEED)
    assert synthetic_splits(n_train=300, n_eval=100, eval_seed=EVAL_SEED) == (train, heldout)


def test_splits_disjoint_even_when_seeds_collide_often():
    # One-step problems have a small space, so some eval questions repeat train ones and get replaced.
    train, heldout = synthetic_splits(n_train=1000, n_eval=200, difficulty=1, eval_seed=EVAL_SEED)
    raw_eval = generate(200, EVAL_SEED, difficulty=1)
    train_questions = {i["question"] for i in train}
    assert sum(i["question"] in train_questions for i in raw_eval) > 0  # the case under test happens
    assert len(heldout) == 200 and heldout != raw_eval
    assert not train_questions & {i["question"] for i in heldout}


def test_max_number_keeps_only_small_problems_and_stays_seeded():
    items = generate(200, seed=7, difficulty=1, max_number=20)
    assert len(items) == 200 and items == generate(200, seed=7, difficulty=1, max_number=20)
    assert max(int(x) for i in items for x in re.findall(r"\d+", i["question"] + i["answer"])) <= 20
    assert generate(50, seed=7, difficulty=1, max_number=20) == items[:50]
    with pytest.raises(ValueError, match="too few"):
        generate(5, seed=1, difficulty=4, max_number=3)


def test_gsm8k_smoke_source_is_the_documented_easy_level():
    from rdagent_autorl.installation import eval_seed
    from rdagent_autorl.tasks import get_task
    from rdagent_autorl.tasks.gsm8k_rule import data

    task = get_task("gsm8k-rule")
    train, heldout = task.train("smoke"), task.heldout("smoke")
    assert (len(train), len(heldout)) == (1000, 400)
    assert not {s.prompt for s in train} & {s.prompt for s in heldout}
    # The selection part is the 200 problems the smoke level held out before it had a final part (the
    # eval stream is prefix-stable); the final part is the next 200.
    selection, final = task.heldout_part("smoke", "selection"), task.heldout_part("smoke", "final")
    assert selection + final == heldout and len(selection) == 200
    seed = eval_seed(data.EVAL_SEED_LABELS["smoke"])  # the installation's (conftest's TEST key)
    assert [s.prompt for s in selection] == [r["question"] for r in synthetic_splits(1000, 200, 1, 20, eval_seed=seed)[1]]
    for s in train + heldout:
        assert max(int(x) for x in re.findall(r"\d+", s.prompt + s.answer)) <= 20
        assert len(_ANNOTATION.findall(s.answer)) == 1  # one step
    assert not next(s for s in task.sources if s.name == "smoke").auto  # never picked by --data auto
