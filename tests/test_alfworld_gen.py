"""The ALFWorld game generator: every task type, solvable in the real engine, deterministic, cached, split.

Offline and CPU-only; smoke-level games (small rooms), about 20 games in all.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import time

import pytest

pytest.importorskip("alfworld")
pytest.importorskip("textworld")
pytest.importorskip("fast_downward")

from rdagent_autorl.installation import eval_seed, seed_hash  # noqa: E402
from rdagent_autorl.tasks.alfworld_online import gen  # noqa: E402
from rdagent_autorl.tasks.alfworld_online import rooms as alfworld_rooms  # noqa: E402


class _Player:
    """The real engine without any expert, as AlfredTWEnv builds it."""

    def __init__(self):
        import textworld
        from alfworld.agents.environment.alfred_tw_env import AlfredDemangler, AlfredInfos
        from textworld.envs import PddlEnv

        infos = textworld.EnvInfos(admissible_commands=True, won=True, extras=["gamefile"])
        self.env = AlfredInfos(AlfredDemangler(PddlEnv(infos), shuffle=False))

    def play(self, game_file, commands):
        """(reset observation, feedbacks, won after the last command)"""
        argv = list(sys.argv)
        try:
            self.env.load(str(game_file))
            state = self.env.reset()
        finally:
            sys.argv[:] = argv
        intro, feedbacks = state.feedback, []
        for command in commands:
            state, _, _ = self.env.step(command)
            feedbacks.append(state.feedback)
        return intro, feedbacks, bool(state["won"])


class _NoEngine:
    def __init__(self):
        raise AssertionError("the engine was started: a cached game was regenerated")


@pytest.fixture(scope="module")
def player():
    return _Player()


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp("alfworld-gen") / "games"
    return out, gen.generate_games(out, 6, seed=0, level="smoke")


def _problem(info):
    return json.loads(info.game_file.read_text())["pddl_problem"]


def test_tables_agree_with_alfworld_constants():
    assert alfworld_rooms.check_tables() == []


def test_every_task_type_is_generated_and_solvable(smoke, player):
    out, games = smoke
    assert [g.task_type for g in games] == list(gen.TASK_TYPES)
    tool = {"pick_clean_then_place_in_recep": r"^clean \w+ \d+ with sinkbasin \d+$",
            "pick_heat_then_place_in_recep": r"^heat \w+ \d+ with microwave \d+$",
            "pick_cool_then_place_in_recep": r"^cool \w+ \d+ with fridge \d+$",
            "look_at_obj_in_light": r"^use (desklamp|floorlamp) \d+$"}
    for g in games:
        traj = json.loads((g.path / "traj_data.json").read_text())
        game = json.loads(g.game_file.read_text())
        assert g.game_file == g.path / "game.tw-pddl" and g.path.parent.parent == out
        assert re.fullmatch(rf"{g.task_type}-\w+-None-\w+-\d+", g.path.parent.name), g.path
        assert g.path.name == f"trial_0_{g.index}" and g.seed == 0
        assert traj["task_type"] == g.task_type and traj["pddl_params"]["object_sliced"] is False
        assert traj["generator"]["level"] == "smoke" and traj["generator"]["goal"] == g.goal
        assert game["solvable"] is True and tuple(game["walkthrough"]) == g.walkthrough
        assert game["pddl_domain"].startswith(";; Specification in PDDL of the Alfred domain")
        assert 3 <= len(g.walkthrough) <= 10, g.walkthrough
        if g.task_type in tool:
            assert any(re.match(tool[g.task_type], a) for a in g.walkthrough), g.walkthrough

        intro, _, won = player.play(g.game_file, g.walkthrough)
        assert won, (g.path, g.walkthrough)
        assert f"Your task is to: {g.goal}" in intro and g.goal.endswith(".")
        assert not player.play(g.game_file, ["look"])[2]
        assert not player.play(g.game_file, g.walkthrough[:-1])[2]  # the planner's plan is minimal


def test_put_action_is_move_to(smoke, player):
    _, games = smoke
    for g in games:
        if g.task_type in ("pick_and_place_simple", "pick_two_obj_and_place"):
            moves = [a for a in g.walkthrough if re.fullmatch(r"move \w+ \d+ to \w+ \d+", a)]
            assert moves and not any(a.startswith("put ") for a in g.walkthrough), g.walkthrough
            # the grammar this generator ships has no "put ... in ...": it changes nothing
            put = [re.sub(r"^move (.+) to (.+)$", r"put \1 in \2", a) for a in g.walkthrough]
            _, feedbacks, won = player.play(g.game_file, put)
            first = g.walkthrough.index(moves[0])
            assert not won and feedbacks[first] == "Nothing happens." and feedbacks[first - 1] != "Nothing happens."


def test_deterministic_per_seed(smoke, tmp_path):
    _, games = smoke
    again = gen.generate_games(tmp_path / "a", 2, seed=0, level="smoke")
    for g, h in zip(games, again):
        assert g.path.relative_to(g.path.parents[1]) == h.path.relative_to(h.path.parents[1])
        for name in ("game.tw-pddl", "traj_data.json"):
            assert (g.path / name).read_bytes() == (h.path / name).read_bytes()
    other = gen.generate_games(tmp_path / "b", 1, seed=1, level="smoke")
    assert other[0].game_file.read_bytes() != games[0].game_file.read_bytes()
    assert _problem(other[0]) != _problem(games[0])


def test_cached_call_reuses_games_and_load_games_finds_them(smoke, monkeypatch):
    out, games = smoke
    monkeypatch.setattr(gen, "_Engine", _NoEngine)
    start = time.perf_counter()
    assert gen.generate_games(out, 6, seed=0, level="smoke") == games
    assert gen.generate_games(out, 3, seed=0, level="smoke") == games[:3]  # a prefix of the same stream
    assert time.perf_counter() - start < 5
    assert gen.load_games(out) == sorted(games, key=lambda g: g.path)
    with pytest.raises(AssertionError, match="engine was started"):  # other params: not reused
        gen.generate_games(out, 1, seed=0, level="standard")


def test_interrupted_generation_leaves_nothing_loadable(tmp_path, monkeypatch):
    out = tmp_path / "games"
    real_replace = gen.os.replace

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(gen.os, "replace", crash)  # dies just before the commit of the first game
    with pytest.raises(KeyboardInterrupt):
        gen.generate_games(out, 1, seed=0, level="smoke", task_types=["pick_heat_then_place_in_recep"])
    assert list(out.glob("*/trial_0_0/game.tw-pddl")) and gen.load_games(out) == []
    monkeypatch.setattr(gen.os, "replace", real_replace)
    games = gen.generate_games(out, 1, seed=0, level="smoke", task_types=["pick_heat_then_place_in_recep"])
    assert gen.load_games(out) == games and games[0].task_type == "pick_heat_then_place_in_recep"


def test_load_games_reads_official_style_folders(smoke, tmp_path):
    _, games = smoke
    official = tmp_path / "json_2.1.1" / "train" / games[0].path.parent.name / "trial_T20190907_000000_000000"
    official.mkdir(parents=True)
    traj = json.loads((games[0].path / "traj_data.json").read_text())
    del traj["generator"]
    (official / "traj_data.json").write_text(json.dumps(traj))
    (official / "game.tw-pddl").write_bytes(games[0].game_file.read_bytes())
    (loaded,) = gen.load_games(tmp_path / "json_2.1.1")
    assert (loaded.goal, loaded.walkthrough, loaded.seed, loaded.index) == (games[0].goal, games[0].walkthrough, -1, -1)


def test_generated_split_is_disjoint_and_cached(tmp_path, monkeypatch):
    train = gen.generated_split(tmp_path, "train", n=3)
    evals = gen.generated_split(tmp_path, "eval", n=3)
    root = tmp_path / f"alfworld-gen-v{gen.GENERATOR_VERSION}-smoke"
    eval_root = root / f"eval-{seed_hash(eval_seed(gen.EVAL_SEED_LABELS['smoke']))}"  # the installation's games
    assert all(root / "train" in g.path.parents for g in train) and all(eval_root in g.path.parents for g in evals)
    train_problems, eval_problems = {_problem(g) for g in train}, {_problem(g) for g in evals}
    assert len(train_problems) == len(eval_problems) == 3 and not train_problems & eval_problems
    # the mechanism: problems are partitioned by hash, so no train set of any size can meet an eval game
    digest = lambda p: hashlib.sha256(p.encode()).hexdigest()  # noqa: E731
    assert {gen._split_of(digest(p)) for p in train_problems} == {"train"}
    assert {gen._split_of(digest(p)) for p in eval_problems} == {"eval"}
    monkeypatch.setattr(gen, "_Engine", _NoEngine)
    assert [g.path for g in gen.generated_split(tmp_path, "train", n=3)] == [g.path for g in train]
    assert [g.path for g in gen.generated_split(tmp_path, "eval", n=2)] == [g.path for g in evals[:2]]
    with pytest.raises(ValueError):
        gen.generated_split(tmp_path, "test", n=1)
    with pytest.raises(ValueError):
        gen.generate_games(tmp_path / "x", 1, seed=0, level="hard")
