"""The environment protocol (rdagent_autorl/envs/protocol.py) and ALFWorld on it.

- A small environment written in this file (no engine: free-form replies, a graded reward, an episode
  the environment ends itself) shows what a new environment needs and checks the shared play loop.
- The backend is a FAKE at the generation boundary: it records the batches and the prefix-cache
  session it is asked for.
- ALFWorld's pin: the prompts the policy sees (and the token view of finished episodes) on generated
  smoke games, under a fixed scripted policy, are byte-identical to those recorded in
  tests/data/alfworld_protocol_pin.json (captured before the environment moved onto the protocol).
  A deliberate protocol change regenerates the pin: `python tests/test_env_protocol.py`.
- The workspace copy (env/protocol.py + env/alfworld_env.py) imports and plays without the package.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rdagent_autorl.envs import protocol
from rdagent_autorl.envs.protocol import BaseEnvironment, Episode, Turn, chat_tokens, play, play_with_backend

PIN = Path(__file__).parent / "data" / "alfworld_protocol_pin.json"


class GuessEpisode(Episode):
    pass


class GuessEnv(BaseEnvironment):
    """Guess a number in 0..9 (the spec): free-form replies, "answer N" ends the episode with a graded
    reward (1 - |N - target| / 9), anything else is a hint request."""

    def reset(self, spec):
        self.target = int(spec)
        self.episode = GuessEpisode(game=str(spec))
        self.episode.turns.append(Turn(f"Guess {spec}'s number."))
        return self.episode

    def act(self, action):
        ep = self.episode
        if action.startswith("answer "):
            guess = int(action.split()[1])
            ep.reward, ep.won, ep.done = 1 - abs(guess - self.target) / 9, guess == self.target, True
            return Turn(f"The number was {self.target}.")
        return Turn("higher" if self.target > len(ep.turns) else "lower or equal")


def guesser(hints: int):
    """A policy that asks `hints` times, then answers the number of hints it got."""
    def policy(prompts):
        return [f"answer {(len(p) - 1) // 2}" if (len(p) - 1) // 2 >= hints else "hint?\nignored" for p in prompts]
    return policy


def test_a_free_form_environment_on_the_protocol():
    [ep] = play(lambda: GuessEnv(max_steps=10), ["5"], guesser(3))
    assert ep.done and not ep.won and ep.steps == 4 and ep.reward == pytest.approx(1 - 2 / 9)
    assert ep.actions == ["hint?", "hint?", "hint?", "answer 3"]  # the first line of each reply
    prompt = ep.prompt(1)
    assert prompt == [{"role": "user", "content": "Guess 5's number."}, {"role": "assistant", "content": "hint?"},
                      {"role": "user", "content": "higher"}]  # no system message, no admissible list
    assert all(ep.prompt(i) == ep.prompt(i + 1)[: 2 * i + 1] for i in range(ep.steps))
    assert [s["completion"][0]["content"] for s in ep.step_samples()] == ep.actions
    [capped] = play(lambda: GuessEnv(max_steps=2), ["5"], guesser(3))
    assert capped.done and capped.steps == 2 and capped.reward == 0.0
    env = GuessEnv(max_steps=2)
    with pytest.raises(RuntimeError):
        env.step("hint?")  # before reset
    env.reset("1")
    env.step("answer 1")
    assert env.episode.won and env.episode.reward == 1.0
    with pytest.raises(RuntimeError):
        env.step("hint?")  # after the end


def test_admissible_actions_are_listed_when_the_environment_has_them():
    ep = Episode(game="g", turns=[Turn("You see a door.", ["open door", "wait"])])
    assert ep.prompt() == [{"role": "user", "content": "You see a door.\nAdmissible actions: open door | wait"}]


def test_play_batches_refills_slots_and_keeps_the_input_order():
    batches, finished = [], []

    def policy(prompts):
        batches.append(len(prompts))
        # spec "k" answers after k hints: episodes of different lengths finish at different rounds
        return [f"answer {n}" if n >= int(p[0]["content"].split()[1][0]) else "hint?"
                for p in prompts for n in [(len(p) - 1) // 2]]

    specs = ["3", "0", "1", "2", "0"]
    episodes = play(lambda: GuessEnv(max_steps=10), specs, policy, batch_size=2,
                    on_episode=lambda e: finished.append(e.game))
    assert [e.game for e in episodes] == specs and all(e.won for e in episodes)
    assert [e.steps for e in episodes] == [4, 1, 2, 3, 1]
    assert max(batches) == 2 and sum(batches) == sum(e.steps for e in episodes)
    assert finished == ["0", "1", "3", "0", "2"]  # as they end; a freed slot takes the next spec
    every = []
    play(lambda: GuessEnv(max_steps=10), specs, lambda ps: every.append(len(ps)) or ["answer 0"] * len(ps))
    assert every == [5]  # batch_size None: all at once


class RecordingBackend:
    """FAKE generation backend: answers like `guesser(1)` and records what playing asks of it."""

    name = "fake"

    def __init__(self, preferred_batch_size):
        self.preferred_batch_size = preferred_batch_size
        self.calls, self.sessions, self.open = [], [], False

    def generate(self, prompts, max_new_tokens, stop=()):
        assert self.open, "generate() outside the prefix-cache session"
        self.calls.append((len(prompts), max_new_tokens, tuple(stop)))
        return guesser(1)(prompts)

    @contextlib.contextmanager
    def prefix_cache_session(self, max_tokens):
        self.sessions.append(max_tokens)
        self.open = True
        try:
            yield self
        finally:
            self.open = False


@pytest.mark.parametrize("preferred, in_flight", [(2, 2), (None, 5)])
def test_play_with_backend_uses_its_batch_size_and_one_prefix_cache_session(preferred, in_flight):
    backend = RecordingBackend(preferred)
    episodes = play_with_backend(lambda: GuessEnv(max_steps=10), list("12345"), backend,
                                 max_new_tokens=7, stop=("\n",), tokens_per_episode=100)
    assert [e.actions for e in episodes] == [["hint?", "answer 1"]] * 5
    assert backend.sessions == [in_flight * 100] and not backend.open
    assert max(n for n, _, _ in backend.calls) == in_flight
    assert {(m, s) for _, m, s in backend.calls} == {(7, ("\n",))}


def test_protocol_depends_on_the_standard_library_only():
    source = Path(protocol.__file__).read_text()
    imported = {line.split()[1].split(".")[0] for line in source.splitlines()
                if line.startswith(("import ", "from "))}
    assert imported <= {"__future__", "dataclasses", "typing"}, imported


# ---- ALFWorld on the protocol ----------------------------------------------------------------------

N_GAMES, SEED, MAX_STEPS, BATCH = 6, 3, 12, 4


def scripted(prompts):
    """A fixed policy that depends only on the prompt: mostly admissible actions, and every reply form
    the parser handles (thoughts, empty replies, "Action: ... .", "> '...'" with a second line)."""
    replies = []
    for p in prompts:
        h = int(hashlib.sha256(json.dumps(p).encode()).hexdigest(), 16)
        adm = p[-1]["content"].rsplit("Admissible actions: ", 1)[1].split(" | ")
        action = adm[h % len(adm)]
        replies.append(["think: where could it be?\n", "", f"Action: {action.title()}.", f"> '{action}'\nmore"][h % 10]
                       if h % 10 < 4 else action)
    return replies


def _text_runs(tokenizer, tokens) -> list:
    """chat_tokens' output as text: the prompt, then each run of equal mask (tokenizer-independent
    given the chat template, so the pin does not move with the tiny model's vocabulary)."""
    prompt_ids, completion, mask = tokens
    runs, start = [], 0
    for i in range(1, len(mask) + 1):
        if i == len(mask) or mask[i] != mask[start]:
            runs.append([mask[start], tokenizer.decode(completion[start:i])])
            start = i
    return [tokenizer.decode(prompt_ids), runs]


def capture(games_dir: Path, tokenizer) -> dict:
    """What the ALFWorld protocol shows a policy on generated smoke games: every prompt asked (played
    with `scripted`, batched, slots refilled), the expert walkthroughs' episodes, and their token views."""
    from rdagent_autorl.tasks.alfworld_online.env import AlfworldEnv, expert_episode, parse_action
    from rdagent_autorl.tasks.alfworld_online.env import play as play_games
    from rdagent_autorl.tasks.alfworld_online.gen import generate_games

    games = generate_games(games_dir, N_GAMES, seed=SEED, level="smoke")
    asked = []

    def policy(prompts):
        asked.append(prompts)
        return scripted(prompts)

    played = play_games([g.game_file for g in games], policy, max_steps=MAX_STEPS, batch_size=BATCH)
    env = AlfworldEnv()
    experts = [expert_episode(env, g.game_file, g.walkthrough) for g in games]
    episodes = played + experts
    for e in episodes:  # each prompt extends the previous one: the final prompt holds them all
        assert all(e.prompt(i) == e.prompt(i + 1)[: 2 * i + 2] for i in range(e.steps))
        assert e.step_samples() == [{"prompt": e.prompt(i), "completion": [{"role": "assistant", "content": a}]}
                                    for i, a in enumerate(e.actions)]
    return {
        "asked_sha256": hashlib.sha256(json.dumps(asked).encode()).hexdigest(),
        "episodes": [{"task_type": e.task_type, "goal": e.goal, "won": e.won, "done": e.done, "steps": e.steps,
                      "reward": e.reward, "final_prompt": e.prompt()} for e in episodes],
        "chat_tokens_sha256": hashlib.sha256(json.dumps(
            [_text_runs(tokenizer, chat_tokens(tokenizer, e.prompt())) for e in episodes]).encode()).hexdigest(),
        "parse": [parse_action(r) for r in ["Action: Go To Shelf 1.", "THINK: hmm", "  \n> 'open fridge 1'\nx", ""]],
    }


def _engine_or_skip():
    for name in ("alfworld", "textworld", "fast_downward"):
        pytest.importorskip(name)


@pytest.fixture(scope="module")
def tokenizer(tiny_model):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model)


def test_alfworld_prompts_are_the_pinned_ones(tmp_path, tokenizer):
    _engine_or_skip()
    pinned = json.loads(PIN.read_text())
    now = capture(tmp_path / "games", tokenizer)
    for mine, theirs in zip(now["episodes"], pinned["episodes"]):
        assert mine == theirs
    assert now == pinned
    assert [e["reward"] for e in now["episodes"]] == [float(e["won"]) for e in now["episodes"]]


def test_workspace_copy_plays_without_the_package(tmp_path):
    """env/protocol.py + env/alfworld_env.py, loaded by path in a Python where rdagent_autorl cannot be
    imported, play a game exactly as the package does."""
    _engine_or_skip()
    from rdagent_autorl.tasks.alfworld_online import env as alfworld
    from rdagent_autorl.tasks.alfworld_online.gen import generate_games

    [game] = generate_games(tmp_path / "games", 1, seed=SEED, level="smoke")
    folder = tmp_path / "ws" / "env"
    folder.mkdir(parents=True)
    shutil.copy2(protocol.__file__, folder / "protocol.py")
    shutil.copy2(alfworld.__file__, folder / "alfworld_env.py")
    script = f"""
import importlib.util, json, sys
sys.modules["rdagent_autorl"] = None  # the package is not importable here
spec = importlib.util.spec_from_file_location("agent_env", {str(folder / "alfworld_env.py")!r})
module = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = module
spec.loader.exec_module(module)
assert module.Episode.__module__ == "protocol", module.Episode.__module__
episode = module.expert_episode(module.AlfworldEnv(), {str(game.game_file)!r}, {list(game.walkthrough)!r})
print(json.dumps([episode.won, [episode.prompt(i) for i in range(len(episode.turns))]]))
"""
    out = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=600,
                         env={**os.environ, "PYTHONPATH": ""})
    assert out.returncode == 0, out.stderr
    won, prompts = json.loads(out.stdout.strip().splitlines()[-1])
    theirs = alfworld.expert_episode(alfworld.AlfworldEnv(), game.game_file, game.walkthrough)
    assert won and prompts == [theirs.prompt(i) for i in range(len(theirs.turns))]


if __name__ == "__main__":  # rewrite the pin (only for a deliberate protocol change: bump the task's version too)
    import tempfile

    from transformers import AutoTokenizer

    from rdagent_autorl.models.tiny import tiny_model_path

    data = capture(Path(tempfile.mkdtemp()) / "games", AutoTokenizer.from_pretrained(tiny_model_path(0)))
    PIN.parent.mkdir(exist_ok=True)
    PIN.write_text(json.dumps(data, indent=None, separators=(",", ":")).replace('{"task_type"', '\n{"task_type"') + "\n")
    print(f"wrote {PIN}")
