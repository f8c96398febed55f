"""How the grader plays and scores alfworld-online: every held-out game once, greedily, all games in
flight decoded together; an episode's value is its reward (1.0 for a won game), the steps taken are
reported beside it.

A protocol file (with env.py and envs/protocol.py): its content is digested into every cached grade's
key (TaskSpec.protocol_files), and the protocol-pin test fails when it changes without a version bump.
"""

from __future__ import annotations

from rdagent_autorl.envs import protocol
from rdagent_autorl.tasks.alfworld_online.env import ACTION_MAX_TOKENS, ACTION_STOP, AlfworldEnv
from rdagent_autorl.tasks.spec import Transcript
from rdagent_autorl.types import ScoredSample

PROMPT_TOKENS_PER_GAME = 8192  # prefix-cache room per game in flight: a 50-turn episode, whole


def play_games(task, samples, backend) -> list[Transcript]:
    """The solver. Each game's prompt extends its previous one, so the backend keeps the games' keys and
    values between rounds (its prefix-cache session) and a round prefills only the new turn."""
    episodes = protocol.play_with_backend(AlfworldEnv, [s.meta["game"] for s in samples], backend,
                                          max_new_tokens=ACTION_MAX_TOKENS, stop=ACTION_STOP,
                                          tokens_per_episode=PROMPT_TOKENS_PER_GAME)
    return [Transcript(sample_id=s.id, completion="\n".join(e.actions),
                       outcome={"won": e.won, "reward": e.reward, "steps": e.steps, "task_type": e.task_type})
            for s, e in zip(samples, episodes)]


def score_episodes(samples, transcripts, judge) -> list[ScoredSample]:
    """The environment's reward is the value; the steps taken are reported beside it."""
    return [ScoredSample(value=t.outcome["reward"], id=s.id, prompt=s.prompt, completion=t.completion,
                         extracted=f"{t.outcome['steps']} steps", metrics={"steps": float(t.outcome["steps"])},
                         detail=f"{t.outcome['task_type']}: {'won' if t.outcome['won'] else 'not won'} "
                                f"after {t.outcome['steps']} steps")
            for s, t in zip(samples, transcripts)]
