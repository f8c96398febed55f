"""alfworld-online: the grader plays held-out games on the real engine; agents get the same interface.

Policies here are FAKES at the generation-backend boundary (an oracle that replays the planner's
walkthrough, a uniformly random chooser of admissible actions); the engine and the games are real.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import random
import sys
from pathlib import Path

import pytest

from rdagent_autorl.envs import protocol
from rdagent_autorl.tasks.alfworld_online import env as alfworld_env
from rdagent_autorl.tasks.alfworld_online.env import AlfworldEnv, expert_episode, play
from rdagent_autorl.tasks.alfworld_online.gen import TASK_TYPES, generate_games
from rdagent_autorl.grading.evaluate import breakdown
from rdagent_autorl.tasks import get_task
from rdagent_autorl.types import Sample

TASK = get_task("alfworld-online")


def samples_of(games) -> list[Sample]:
    return [Sample(id=str(g.path), prompt=g.goal, answer="\n".join(g.walkthrough),
                   meta={"game": str(g.game_file), "task_type": g.task_type, "walkthrough": list(g.walkthrough)})
            for g in games]


def admissible(prompt) -> list[str]:
    return prompt[-1]["content"].rsplit("Admissible actions: ", 1)[1].split(" | ")


class FakeBackend:
    """What a solver needs of a generation backend, for the FAKE ones below: no batch preference
    (every game at once) and no prefix cache of their own."""

    preferred_batch_size = None

    def prefix_cache_session(self, max_tokens):
        return contextlib.nullcontext()


class OracleBackend(FakeBackend):
    """FAKE generation backend: answers each prompt with the next action of its game's walkthrough."""

    name = "fake-oracle"

    def __init__(self, games):
        env = AlfworldEnv()
        self.plans = {}
        for g in games:  # a game is recognised by its system message and first observation
            first = env.reset(g.game_file).prompt()
            self.plans[(first[0]["content"], first[1]["content"])] = list(g.walkthrough)
        assert len(self.plans) == len(games), "two games start identically; the oracle cannot tell them apart"

    def generate(self, prompts, max_new_tokens, stop=()):
        replies = []
        for p in prompts:
            plan = self.plans[(p[0]["content"], p[1]["content"])]
            replies.append(plan[sum(m["role"] == "assistant" for m in p)] + "\n")
        return replies


class RandomBackend(FakeBackend):
    """FAKE generation backend: a uniformly random admissible action."""

    name = "fake-random"

    def __init__(self, seed=0):
        self.rng = random.Random(seed)

    def generate(self, prompts, max_new_tokens, stop=()):
        return [self.rng.choice(admissible(p)) for p in prompts]


@pytest.fixture(scope="module")
def smoke_games(tmp_path_factory):
    return generate_games(tmp_path_factory.mktemp("alf-smoke"), 12, seed=7, level="smoke")


@pytest.fixture(scope="module")
def standard_games(tmp_path_factory):
    return generate_games(tmp_path_factory.mktemp("alf-standard"), 12, seed=8, level="standard")


def test_grader_scores_a_perfect_policy_100_with_a_breakdown_per_type(smoke_games):
    samples = samples_of(smoke_games)
    scored = TASK.score(samples, TASK.solve(samples, OracleBackend(smoke_games)))
    assert [s.correct for s in scored] == [True] * len(samples)
    assert all(s.completion.splitlines() == list(g.walkthrough) for s, g in zip(scored, smoke_games))
    per_type = breakdown(TASK, samples, [s.value for s in scored])
    assert set(per_type) == set(TASK_TYPES)
    assert all(v["score"] == 100.0 and v["n"] == 2 for v in per_type.values())


@pytest.mark.slow  # ~90 s: 24 standard games generated and played for 50 steps each
def test_grader_scores_a_random_policy_near_zero(standard_games):
    samples = samples_of(standard_games)
    scored = TASK.score(samples, TASK.solve(samples, RandomBackend(0)))
    rate = sum(s.correct for s in scored) / len(scored)
    assert rate <= 0.25, f"a random policy solved {rate:.0%} of standard games"
    assert all("not won after 50 steps" in s.detail for s in scored if not s.correct)


def test_batched_and_sequential_play_agree(smoke_games):
    files = [g.game_file for g in smoke_games[:6]]
    seq = play(files, _seeded_random(3), batch_size=1)
    bat = play(files, _seeded_random(3), batch_size=6)
    # A deterministic policy per prompt gives the same episodes however the games are batched.
    assert [[t.action for t in e.turns] for e in seq] == [[t.action for t in e.turns] for e in bat]
    assert [e.game for e in bat] == [str(f) for f in files]


def _seeded_random(seed):
    """A policy whose choice depends only on the prompt (so batching cannot change it)."""
    def policy(prompts):
        return [random.Random(f"{seed}{json.dumps(p)}").choice(admissible(p)) for p in prompts]
    return policy


def test_prompts_use_the_grammar_of_the_loaded_game(smoke_games):
    episode = expert_episode(AlfworldEnv(), smoke_games[0].game_file, smoke_games[0].walkthrough)
    system = episode.prompt()[0]["content"]
    assert "move X to Y" in system and "put X" not in system
    assert episode.won
    # The system message is the same for every game (the goal is in the first observation), so a
    # batch of games shares a prompt prefix; each later prompt extends the one before it.
    other = AlfworldEnv().reset(smoke_games[1].game_file)
    assert other.prompt()[0]["content"] == system and other.goal != episode.goal
    assert episode.goal in episode.prompt()[1]["content"]
    assert all(episode.prompt(i) == episode.prompt(i + 1)[: 2 * i + 2] for i in range(episode.steps))


def test_workspace_gets_the_graders_interface_and_only_training_games(tmp_path, tiny_model, monkeypatch):
    from rdagent_autorl.run.workspace import create_workspace

    run = create_workspace(tmp_path / "ws", TASK, "alfworld-online", tiny_model, data_source="smoke")
    ws = run.workspace
    copy = ws / "env" / "alfworld_env.py"
    assert copy.read_bytes() == Path(alfworld_env.__file__).read_bytes()
    assert (ws / "env" / "protocol.py").read_bytes() == Path(protocol.__file__).read_bytes()
    rows = [json.loads(line) for line in (ws / "data" / "train.jsonl").read_text().splitlines()]
    assert {r["task_type"] for r in rows} == set(TASK_TYPES)
    held_out = {s.id for s in TASK.heldout("smoke")}
    assert not held_out & {r["id"] for r in rows}
    # Parity: the workspace copy, imported on its own (the package's protocol out of reach, so it takes
    # env/protocol.py from beside it), plays a training game exactly as the grader's module.
    monkeypatch.setitem(sys.modules, "rdagent_autorl.envs.protocol", None)  # importing it now fails
    monkeypatch.syspath_prepend(str(ws / "env"))
    spec = importlib.util.spec_from_file_location("agent_alfworld_env", copy)
    agent_module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, agent_module)  # dataclasses look their module up there
    spec.loader.exec_module(agent_module)
    game = ws / "data" / rows[0]["game"]
    mine = agent_module.expert_episode(agent_module.AlfworldEnv(), game, rows[0]["walkthrough"])
    theirs = expert_episode(AlfworldEnv(), game, rows[0]["walkthrough"])
    assert mine.won and theirs.won and type(mine).__mro__[1].__module__ == "protocol"  # the copy's own protocol
    assert [mine.prompt(i) for i in range(len(mine.turns))] == [theirs.prompt(i) for i in range(len(theirs.turns))]
    assert "alfworld_env.py" in (ws / "description.md").read_text()


def test_grading_a_checkpoint_plays_every_held_out_game(tiny_model):
    from rdagent_autorl.grading.evaluate import evaluate, make_config

    config = make_config(TASK, backend="hf", data_source="smoke", limit=6)
    result = evaluate(TASK, tiny_model, config, device="cpu", use_cache=False)
    assert result.n == 6 and result.score == 0.0  # the random-weights tiny model never solves a game
    assert sum(v["n"] for v in result.breakdown.values()) == 6
    lines = Path(result.samples_path).read_text().splitlines()
    assert len(lines) == 6 and all("not won after 50 steps" in json.loads(x)["detail"] for x in lines)


def test_the_graders_rollout_reuses_each_games_earlier_turns(tiny_model):
    """The solver plays inside the backend's prefix-cache session: with hf each round prefills only the new
    turn (the prompt is the whole episode so far), and the stored keys/values are released afterwards."""
    from rdagent_autorl.generation.hf import HFBackend

    backend = HFBackend(tiny_model, device="cpu", batch_size=4)
    samples = TASK.heldout("smoke")[:3]
    scored = TASK.score(samples, TASK.solve(samples, backend))
    assert [s.correct for s in scored] == [False] * 3 and all(s.metrics["steps"] == 50 for s in scored)
    assert backend.prefix_cache_hits > 5 * backend.prefilled_tokens  # 50 rounds: nearly all of it reused
    assert backend.prefix_cache_stored_tokens == 0 and backend.prefix_cache_tokens == 0


@pytest.mark.slow  # ~160 s on 2 loaded cores; test_rdloop's alfworld loop covers SFT -> online GRPO by default
@pytest.mark.timeout(2400)  # a hang guard only: a busy machine may take several times longer
def test_example_agent_runs_sft_then_online_grpo(_isolated_env, tiny_model):
    """The harness's `example` agent on alfworld-online: SFT on the expert trajectories, then GRPO with
    environment rollouts from the SFT checkpoint; both checkpoints are submitted and graded."""
    from rdagent_autorl.run.harness import run_bench

    result = run_bench("alfworld-online", "example", model="tiny", data="smoke", timeout_s=900, gpus=[], limit=6,
                       runs_dir=_isolated_env / "bench", smoke=True, poll_s=0.5)  # the task's smoke example steps
    run_dir, ws = result.run_dir, Path(result.record.workspace)
    assert result.record.agent_exit == 0, (run_dir / "agent.log").read_text()[-3000:]
    subs = [json.loads(line) for line in (ws / "scores.jsonl").read_text().splitlines()]
    assert [Path(s["model_path"]).name for s in subs] == ["sft", "grpo"]
    assert all(s["n"] == 6 and 0 <= s["score"] <= 100 and s.get("breakdown") for s in subs)
    sft_log, grpo_log = (ws / "sft.log").read_text(), (ws / "grpo.log").read_text()
    assert "TRAJECTORIES games=24 won=24" in sft_log
    assert "ROLLOUT step=0 games=" in grpo_log and f"BASE_MODEL {ws / 'output' / 'sft'}\n" in grpo_log  # from SFT
    assert (ws / "code" / "sft_trajectories.py").exists() and (ws / "code" / "grpo_online.py").exists()
    assert (run_dir / "reports" / "report.md").exists()


@pytest.mark.slow  # plays 80 generated games with the real engine (about a minute)
def test_shipped_tokenizer_corpus_is_what_the_task_writes():
    from rdagent_autorl.models.tiny import corpus_file, corpus_file_text

    assert corpus_file(TASK.id).read_text() == corpus_file_text(TASK.tokenizer_text())
