"""How the grader plays and scores webshop-online: every held-out goal once, greedily, all sessions in
flight decoded together (prefix cache across rounds); an episode's value is WebShop's reward at Buy Now
(0 when nothing was bought). Beside it: success (reward = 1), the steps taken; the breakdown is per
product category. Headline = mean reward x 100, as WebShop reports its score.

A protocol file (with env.py, reward.py and envs/protocol.py): its content is digested into every cached
grade's key (TaskSpec.protocol_files), and the protocol-pin test fails when it changes without a version bump.
"""

from __future__ import annotations

from rdagent_autorl.envs import protocol
from rdagent_autorl.tasks.spec import Transcript
from rdagent_autorl.tasks.webshop_online.env import ACTION_MAX_TOKENS, ACTION_STOP, WebshopEnv
from rdagent_autorl.types import ScoredSample

PROMPT_TOKENS_PER_SESSION = 8192  # prefix-cache room per session in flight: a 15-step episode, whole


def play_goals(task, samples, backend) -> list[Transcript]:
    """The solver: one session per held-out goal, in the catalogue the goal was drawn from."""
    specs = [{"catalogue": s.meta["catalogue"], "goal": s.meta["goal"]} for s in samples]
    episodes = protocol.play_with_backend(WebshopEnv, specs, backend, max_new_tokens=ACTION_MAX_TOKENS,
                                          stop=ACTION_STOP, tokens_per_episode=PROMPT_TOKENS_PER_SESSION)
    return [Transcript(sample_id=s.id, completion="\n".join(e.actions),
                       outcome={"reward": e.reward, "won": e.won, "steps": e.steps, "bought": e.bought,
                                "options": e.options, "category": e.category, "reward_info": e.reward_info})
            for s, e in zip(samples, episodes)]


def score_sessions(samples, transcripts, judge) -> list[ScoredSample]:
    """WebShop's reward is the value; success (reward 1) and the steps are reported beside it."""
    scored = []
    for s, t in zip(samples, transcripts):
        o = t.outcome
        what = f"bought {o['bought']} {o['options']}" if o["bought"] else "bought nothing"
        scored.append(ScoredSample(value=float(o["reward"]), id=s.id, prompt=s.prompt, completion=t.completion,
                                   extracted=o["bought"], metrics={"success": float(o["won"]), "steps": float(o["steps"])},
                                   detail=f"{o['category']}: {what} after {o['steps']} steps, reward {o['reward']:.3f}"))
    return scored
