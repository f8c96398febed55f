"""Held-out data that cannot be regenerated: every generator draws its held-out items from a seed derived
from the installation's secret key (installation.eval_seed), never from a constant in the package; the
training items stay public. A grade records the seed's hash, never the seed, and a workspace holds no
held-out item of a generated source.

Two keys below: the session's (conftest's fixed TEST key) and another, in a home of its own that shares the
session's cache (AUTORL_CACHE_DIR), so the public assets (collections, catalogues, the tiny model) are built
once."""

from __future__ import annotations

import json
import os
import random
from contextlib import contextmanager
from pathlib import Path

import pytest

from rdagent_autorl.installation import KEY_FILE, eval_seed, eval_seed_hash, installation_key, seed_hash
from rdagent_autorl.settings import get_settings
from rdagent_autorl.tasks import get_task

OTHER_KEY = bytes(range(100, 132))  # a second test key


@pytest.fixture()
def other_installation(tmp_path, monkeypatch, _isolated_env):
    """A context manager: inside it, this process is an installation with OTHER_KEY (its own home, the session's
    cache)."""
    home = tmp_path / "other-home"
    home.mkdir()
    (home / KEY_FILE).write_bytes(OTHER_KEY)
    (home / KEY_FILE).chmod(0o600)
    monkeypatch.setenv("AUTORL_CACHE_DIR", str(get_settings().cache_path))

    @contextmanager
    def use():
        before = os.environ["AUTORL_HOME"]
        os.environ["AUTORL_HOME"] = str(home)
        get_settings.cache_clear()
        try:
            yield
        finally:
            os.environ["AUTORL_HOME"] = before
            get_settings.cache_clear()

    return use


def test_the_seed_is_the_keys_and_the_labels_and_its_hash_does_not_reveal_it(other_installation, _isolated_env):
    assert installation_key() == (_isolated_env / KEY_FILE).read_bytes() == bytes(range(32))  # conftest's TEST key
    a = eval_seed("gsm8k-rule/smoke/synthetic-v1")
    assert a == eval_seed("gsm8k-rule/smoke/synthetic-v1") and a != eval_seed("gsm8k-rule/synthetic/synthetic-v1")
    assert a.bit_length() > 64 and len(seed_hash(a)) == 16 and str(a) not in seed_hash(a)
    with other_installation():
        assert installation_key() == OTHER_KEY
        b = eval_seed("gsm8k-rule/smoke/synthetic-v1")
    assert a != b and seed_hash(a) != seed_hash(b) and eval_seed_hash("gsm8k-rule/smoke/synthetic-v1") == seed_hash(a)


def _prompts(samples) -> set[str]:
    return {s.prompt for s in samples}


def _both_keys(other_installation, task_id: str, source: str, clear=()):
    """(train, held-out) of a source under the session key, under OTHER_KEY, and under the session key again."""
    task = get_task(task_id)
    out = []
    for phase in ("session", "other", "session"):
        for cache in clear:
            cache.cache_clear()
        if phase == "other":
            with other_installation():
                out.append((task.train(source), task.heldout(source), task.eval_seed_hash(source)))
        else:
            out.append((task.train(source), task.heldout(source), task.eval_seed_hash(source)))
    return out


def _check_two_keys(runs, public_train: bool = True, max_shared: float = 0.3):
    (train_a, held_a, hash_a), (train_b, held_b, hash_b), (train_a2, held_a2, hash_a2) = runs
    assert len(held_a) == len(held_b) and hash_a != hash_b and hash_a == hash_a2 and hash_a
    assert [(s.id, s.prompt, s.answer) for s in held_a] == [(s.id, s.prompt, s.answer) for s in held_a2]  # same key, same set
    shared = _prompts(held_a) & _prompts(held_b)
    assert len(shared) <= max_shared * len(held_a), f"{len(shared)} of {len(held_a)} held-out items shared by two keys"
    if public_train:
        assert [(s.id, s.prompt, s.answer) for s in train_a] == [(s.id, s.prompt, s.answer) for s in train_b]
    for train, held in ((train_a, held_a), (train_b, held_b)):
        assert not _prompts(train) & _prompts(held)


def test_gsm8k_synthetic_held_out_problems_are_the_installations(other_installation):
    from rdagent_autorl.tasks.gsm8k_rule import data
    from rdagent_autorl.tasks.gsm8k_rule.synthetic import TRAIN_SEED, synthetic_splits

    for source, size in (("smoke", 400), ("synthetic", 200)):
        runs = _both_keys(other_installation, "gsm8k-rule", source)
        assert len(runs[0][1]) == size
        _check_two_keys(runs)
    # no constant of the package regenerates them: not the old eval seed (2), nor the training seed
    held = _prompts(get_task("gsm8k-rule").heldout("smoke"))
    for constant in (2, TRAIN_SEED):
        _, old = synthetic_splits(data.SMOKE_TRAIN, data.SMOKE_EVAL, difficulty=1, max_number=data.SMOKE_MAX_NUMBER,
                                  eval_seed=constant)
        assert len(held & {r["question"] for r in old}) < 0.1 * len(held)


def test_alpacaeval_smoke_held_out_split_is_the_installations(other_installation):
    from rdagent_autorl.tasks.alpacaeval_judge import data
    from rdagent_autorl.tasks.alpacaeval_judge.synthetic import smoke_splits

    runs = _both_keys(other_installation, "alpacaeval-judge", "smoke", clear=(data._splits,))
    data._splits.cache_clear()
    # its universe is 294 (template, thing) pairs, so two draws of 60 share some by chance
    _check_two_keys(runs, public_train=False, max_shared=0.5)
    _, old = smoke_splits(seed=20261202)  # the package's constant before
    assert _prompts(runs[0][1]) != {r["instruction"] for r in old}


def test_webshop_generated_held_out_goals_are_the_installations(other_installation):
    runs = _both_keys(other_installation, "webshop-online", "smoke")
    assert len(runs[0][1]) == 60
    _check_two_keys(runs)
    held = runs[0][1]
    assert {s.meta["catalogue"] for s in held} == {s.meta["catalogue"] for s in runs[1][1]}  # one public catalogue
    # no held-out goal is in the catalogue file, nor made by the package's public stream (its old test goals)
    catalogue = json.loads(Path(held[0].meta["catalogue"]).read_text())
    assert not any("instruction_text" in p or "instruction_attributes" in p for p in catalogue)
    text = Path(held[0].meta["catalogue"]).read_text()
    assert not any(s.prompt in text or s.prompt.split(" with ")[0] in text for s in held)
    from rdagent_autorl.tasks.webshop_online import GENERATED, data
    from rdagent_autorl.tasks.webshop_online.gen import generate_raw

    n_per_type, _, _, _, seed = GENERATED["smoke"]
    raw, records = generate_raw(n_per_type, seed)
    public = data.synthetic_goals(data.process_products(raw, records, None, random.Random(seed + 1)), random.Random(seed + 2))
    assert len(_prompts(held) & {g["instruction_text"] for g in public}) < 0.1 * len(held)


def test_deepsearchqa_synthetic_held_out_questions_are_the_installations(other_installation):
    from rdagent_autorl.tasks.deepsearchqa_online import corpus, search
    from rdagent_autorl.tasks.deepsearchqa_online.gen import Generator

    runs = _both_keys(other_installation, "deepsearchqa-online", "smoke")
    assert len(runs[0][1]) == 60
    _check_two_keys(runs)
    # the public stream's questions (version 1's held-out ones included) are never held out, nor are their starts
    retriever = search.LocalSearch(corpus.collection_folder())
    generator = Generator(list(retriever.docs), retriever)
    split = generator.split(5, 6, 3, "smoke", n_final=3, eval_seed=eval_seed("test"))
    other = generator.split(5, 6, 3, "smoke", n_final=3, eval_seed=eval_seed("test-2"))
    assert [q.question for q in split["train"]] == [q.question for q in other["train"]]
    assert [q.question for q in split["eval"]] != [q.question for q in other["eval"]] and len(split["eval"]) == 6
    public_starts = {q.chain[0] for q in split["train"]}
    assert not public_starts & {q.chain[0] for q in split["eval"] + other["eval"]}


def test_alfworld_generated_eval_games_are_the_installations(other_installation, tmp_path):
    pytest.importorskip("alfworld")
    pytest.importorskip("fast_downward")
    from rdagent_autorl.tasks.alfworld_online import gen

    def problems(games):
        return [json.loads(g.game_file.read_text())["pddl_problem"] for g in games]

    train = gen.generated_split(tmp_path, "train", n=2)
    mine = gen.generated_split(tmp_path, "eval", n=2)
    with other_installation():
        theirs = gen.generated_split(tmp_path, "eval", n=2)
        assert problems(gen.generated_split(tmp_path, "train", n=2)) == problems(train)  # training games: public
    old = gen.generated_split(tmp_path, "eval", n=2, seed=0x5EEDB)  # the package's constant before
    assert not set(problems(mine)) & (set(problems(theirs)) | set(problems(old)) | set(problems(train)))
    # cached per seed hash; the secret seed is written nowhere, its hash names the games
    seed = eval_seed(gen.EVAL_SEED_LABELS["smoke"])
    root = tmp_path / f"alfworld-gen-v{gen.GENERATOR_VERSION}-smoke" / f"eval-{seed_hash(seed)}"
    assert all(root in g.path.parents and g.seed == seed_hash(seed) for g in mine)
    assert problems(gen.generated_split(tmp_path, "eval", n=2)) == problems(mine)
    written = "".join(p.read_text() + str(p) for p in root.rglob("*") if p.is_file())
    assert str(seed) not in written


def test_a_grade_records_the_seed_hash_and_never_the_seed(other_installation, tiny_model):
    from rdagent_autorl.grading.evaluate import evaluate, make_config
    from rdagent_autorl.tasks.gsm8k_rule.data import EVAL_SEED_LABELS

    task = get_task("gsm8k-rule")
    config = make_config(task, "hf", "smoke", limit=2)
    seed = eval_seed(EVAL_SEED_LABELS["smoke"])
    assert config.eval_seed == seed_hash(seed) and str(seed) not in config.model_dump_json()
    result = evaluate(task, tiny_model, config)
    assert result.eval_seed == seed_hash(seed) and str(seed) not in result.model_dump_json()
    with other_installation():  # another key: another held-out set, another cache key
        other = make_config(task, "hf", "smoke", limit=2)
    assert other.eval_seed != config.eval_seed and other.digest() != config.digest()
    assert make_config(task, "hf", "local").eval_seed == ""  # real data: no seed of the installation's


GENERATED_SOURCES = [("gsm8k-rule", "smoke"), ("alpacaeval-judge", "smoke"), ("webshop-online", "smoke"),
                     ("deepsearchqa-online", "smoke")]


def _workspace_text(ws: Path) -> str:
    """Every file of a workspace, links followed (data/catalogue.json, data/games...), the base model left out."""
    parts = []
    for root, dirs, files in os.walk(ws, followlinks=True):
        dirs[:] = [d for d in dirs if not (root == str(ws) and d == "base_model")]
        for name in files:
            path = Path(root) / name
            if path.stat().st_size < 50_000_000:
                parts.append(path.read_text(errors="replace"))
    return "\n".join(parts)


@pytest.mark.parametrize("task_id,source", GENERATED_SOURCES)
def test_a_workspace_holds_no_held_out_item_of_a_generated_source(task_id, source, tmp_path):
    from rdagent_autorl.run.workspace import create_workspace

    task = get_task(task_id)
    model = tmp_path / "model"
    model.mkdir()
    create_workspace(tmp_path / "ws", task, task_id, model, data_source=source)
    text = _workspace_text(tmp_path / "ws")
    held = task.heldout(source)
    leaked = [s.prompt for s in held if s.prompt in text]
    assert not leaked, f"{len(leaked)} of {len(held)} held-out prompts in the workspace, e.g. {leaked[:2]}"
    seed = eval_seed(next(s.eval_seed_label for s in task.sources if s.name == source))
    assert str(seed) not in text
    if task_id == "deepsearchqa-online":
        split = json.loads((tmp_path / "ws" / "data" / "split.json").read_text())
        assert split["eval_seed_hash"] == seed_hash(seed) and "seed" not in split


@pytest.mark.slow
def test_an_alfworld_smoke_workspace_holds_no_held_out_game(tmp_path):
    pytest.importorskip("alfworld")
    pytest.importorskip("fast_downward")
    from rdagent_autorl.run.workspace import create_workspace

    task = get_task("alfworld-online")
    model = tmp_path / "model"
    model.mkdir()
    create_workspace(tmp_path / "ws", task, "alfworld-online", model, data_source="smoke")
    text = _workspace_text(tmp_path / "ws")
    held = [json.loads(Path(s.meta["game"]).read_text())["pddl_problem"] for s in task.heldout("smoke")]
    assert len(held) == 60 and not [p for p in held if p in text]
    assert str(eval_seed(task.sources[2].eval_seed_label)) not in text
