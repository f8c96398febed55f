"""ALFWorld as agents and the grader play it: the engine behind the shared environment protocol.

The grader scores a checkpoint with `play(...)`; the training templates collect trajectories with the
very same functions, and every workspace gets a copy of this file (`env/alfworld_env.py`) next to a
copy of the protocol it builds on (`env/protocol.py`, from rdagent_autorl/envs/protocol.py), so what
a policy is trained on is what it is graded on. The pair depends on the standard library and the
ALFWorld/TextWorld engine only, so an agent can read it, copy it or run it with its own Python.

Protocol (also in the task's description.md; turns, episodes, the chat and the play loop are the
shared ones of rdagent_autorl/envs/protocol.py):
- A game is an ALFWorld `game.tw-pddl` played by the real engine (TextWorld's PDDL env with ALFWorld's
  own wrappers). The episode ends when the goal is reached (success) or after `MAX_STEPS` actions.
- Each turn the policy gets the whole episode so far as a chat: a system message (the same for every
  game: the rules and the command forms of the loaded grammar), then one user message per turn (the
  observation, the task restated, and the actions admissible then) and its own actions as
  assistant messages. It answers with one action (the first line of its reply counts).
  The chat only grows, so each turn's prompt starts with the previous one: generation backends reuse
  the keys and values already computed (prefix caching), and an episode is one token sequence for
  multi-turn RL. At 50 steps it stays within a few thousand tokens.
- `think: ...` is a ReAct thought: it costs a step, the environment answers "OK." and nothing changes.
- Score = the share of games won (an episode's reward: 1.0 when won, else 0.0).
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

# Also re-exported: callers (templates, agents' code) import the whole interface from this one module.
try:  # in the package
    from rdagent_autorl.envs.protocol import BaseEnvironment, ChatMessages, Episode, Policy, Turn, chat_tokens
    from rdagent_autorl.envs.protocol import play as protocol_play
except ImportError:  # the workspace copy (env/alfworld_env.py) without the package: env/protocol.py is beside it
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from protocol import BaseEnvironment, ChatMessages, Episode, Policy, Turn, chat_tokens  # type: ignore[no-redef]
    from protocol import play as protocol_play  # type: ignore[no-redef]

__all__ = ["ACTION_MAX_TOKENS", "ACTION_STOP", "MAX_STEPS", "THINK_PREFIX", "AlfworldEnv", "AlfworldEpisode",
           "ChatMessages", "Episode", "Policy", "Turn", "chat_tokens", "demonstration", "expert_episode",
           "invalid_action", "make_env", "parse_action", "play", "renamed_copies", "row_spec",
           "searching_demonstration", "user_message"]

MAX_STEPS = 50  # actions per episode, as in the ALFWorld papers' evaluations
ACTION_MAX_TOKENS = 32  # an action is short; a longer reply is cut
ACTION_STOP = ("\n",)  # the first line of the reply is the action
THINK_PREFIX = "think:"

# No per-game text here (the goal is in the user messages): every game's prompt starts with the
# same tokens, which a batched backend computes once.
SYSTEM_TEMPLATE = """You are an agent in a household text game. Every message restates your task.
Each turn you see what happened and the actions admissible now. Reply with one action on one line, \
nothing else. Command forms in this game: {commands}. \
You may also reply "think: <your reasoning>" to plan; it uses a step."""


def _engine():
    import textworld
    from alfworld.agents.environment.alfred_tw_env import AlfredDemangler, AlfredInfos
    from textworld.envs import PddlEnv

    infos = textworld.EnvInfos(won=True, admissible_commands=True, command_templates=True, extras=["gamefile"])
    # The same wrapper stack as ALFWorld's AlfredTWEnv (without the expert, which only slows steps down).
    return AlfredInfos(AlfredDemangler(PddlEnv(infos), shuffle=False))


def command_forms(templates: Sequence[str]) -> list[str]:
    """Readable command forms from the loaded grammar's templates ("move {o} to {r}" -> "move X to Y").

    The grammar has internal templates too (entity filters in brackets, containers-in-containers,
    slicing tools): those are left out, as ALFWorld's own prompts leave them out."""
    forms = []
    for t in templates:
        t = re.sub(r"\[\{r\.name.*\}\]", "{r}", t)  # "go to [{r.name | ...}]" is "go to {r}"
        if re.search(r"\{(outero|outerr|co|ko)\}|\[", t):
            continue
        names = iter("XY")
        form = re.sub(r"\{[a-z]+\}", lambda _: next(names), t)
        if form not in forms:
            forms.append(form)
    return sorted(forms)


@dataclass
class AlfworldEpisode(Episode):
    """An ALFWorld game: the shared episode plus what the game says about itself, and how its turns read."""

    task_type: str = ""
    goal: str = ""  # as the game shows it after "Your task is to: "
    commands: list[str] = field(default_factory=list)  # the loaded grammar's command forms

    def system_prompt(self) -> str:
        return SYSTEM_TEMPLATE.format(commands=", ".join(self.commands))

    def user_message(self, turn: Turn) -> str:
        return user_message(turn, self.goal)


def user_message(turn: Turn, goal: str) -> str:
    # The task is restated next to every decision, not only in the first message, hundreds of tokens back:
    # the object and the place to name are then a few tokens away. Small policies otherwise lose track
    # of the goal and take whatever is in front of them (measured with the tiny model: see
    # benchmarks/alfworld_sft_grpo.py). Appending keeps each prompt an extension of the previous one.
    return f"{turn.observation}\nYour task is to: {goal}\nAdmissible actions: {' | '.join(turn.admissible)}"


def parse_action(reply: str) -> str:
    """The action in a policy's reply: its first non-empty line, without "Action:"/"> " prefixes,
    quotes or a final period, lower-cased (the grammar's commands are lower case)."""
    line = next((ln.strip() for ln in reply.splitlines() if ln.strip()), "")
    line = re.sub(r"^(>\s*|action\s*:\s*)", "", line, flags=re.IGNORECASE).strip().strip("\"'`").rstrip(".")
    return line.lower() if not line.lower().startswith(THINK_PREFIX) else line


class AlfworldEnv(BaseEnvironment):
    """One ALFWorld game at a time on the real engine: `reset(game_file)`, then `step(reply)`."""

    episode: AlfworldEpisode | None

    def __init__(self, max_steps: int = MAX_STEPS):
        super().__init__(max_steps)
        self._env = _engine()

    def reset(self, game_file: str | Path) -> AlfworldEpisode:
        game_file = str(game_file)
        argv = sys.argv[:]
        try:  # loading runs Fast Downward's translator, which overwrites sys.argv
            self._env.load(game_file)
            state = self._env.reset()
        finally:
            sys.argv[:] = argv
        traj = Path(game_file).with_name("traj_data.json")
        task_type = json.loads(traj.read_text()).get("task_type", "") if traj.exists() else ""
        self.episode = AlfworldEpisode(game=game_file, task_type=task_type, goal=goal_of(state.feedback),
                                       commands=command_forms(state.command_templates))
        self.episode.turns.append(Turn(clean(state.feedback), sorted(state.admissible_commands)))
        return self.episode

    def parse_action(self, reply: str) -> str:
        return parse_action(reply)

    def act(self, action: str) -> Turn:
        ep = self.episode
        if action.startswith(THINK_PREFIX):
            return Turn("OK.", ep.turns[-1].admissible)
        if not action:  # an empty reply is a wasted step, as in the engine for any unknown command
            return Turn("Nothing happens.", ep.turns[-1].admissible)
        state, _, _ = self._env.step(action)
        ep.won = bool(state.won)
        ep.reward = 1.0 if ep.won else 0.0
        return Turn(clean(state.feedback), sorted(state.admissible_commands))


def goal_of(intro: str) -> str:
    match = re.search(r"Your task is to: (.*)", intro)
    return match.group(1).strip() if match else ""


def clean(feedback: str) -> str:
    """The engine's text without the welcome banner (it carries no information)."""
    return feedback.replace("-= Welcome to TextWorld, ALFRED! =-", "").strip()


def play(game_files: Sequence[str | Path], policy: Policy, *, max_steps: int = MAX_STEPS,
         batch_size: int = 32, on_episode: Callable[[Episode], None] | None = None) -> list[AlfworldEpisode]:
    """Play every game once with `policy`, `batch_size` games at a time, in the input order.

    All running games are asked in one policy call per round, so a batched generation backend
    decodes them together (one game at a time is `batch_size=1`); a finished game's slot takes
    the next game. Returns the episodes in the order of `game_files`."""
    return protocol_play(lambda: AlfworldEnv(max_steps), game_files, policy, batch_size=batch_size,  # type: ignore[return-value]
                     on_episode=on_episode)


def expert_episode(env: AlfworldEnv, game_file: str | Path, walkthrough: Sequence[str]) -> AlfworldEpisode:
    """Replay an expert walkthrough (the planner's plan stored with the game) as an episode."""
    episode = env.reset(game_file)
    for action in walkthrough:
        if episode.done:
            break
        env.step(action)
    return episode


# ---- The online templates' interface (the contract in rdagent_autorl/envs/protocol.py's docstring) -----
# templates/sft_trajectories.py and templates/grpo_online.py load this module by $TASK_ENV and call only these.


def make_env(max_steps: int = MAX_STEPS) -> AlfworldEnv:
    return AlfworldEnv(max_steps)


def row_spec(row: dict, data_dir: str) -> str:
    """What `reset` takes for a row of data/train.jsonl: its game file ("game" is relative to the data folder)."""
    return os.path.join(data_dir, row["game"])


def demonstration(env: AlfworldEnv, row: dict, data_dir: str) -> AlfworldEpisode:
    """The row's expert episode: the planner's walkthrough replayed in the engine."""
    return expert_episode(env, row_spec(row, data_dir), row["walkthrough"])


def invalid_action(turn: Turn) -> bool:
    """An action the engine cannot take (a thought is a legal move, not an invalid one)."""
    return turn.action not in turn.admissible and not turn.action.startswith(THINK_PREFIX)


def searching_demonstration(env: AlfworldEnv, row: dict, data_dir: str, rng, max_detours: int) -> AlfworldEpisode | None:
    """The walkthrough with wrong guesses before each search: before going to the place an object is taken
    from, go to 1..max_detours other places not visited yet (opening them when closed) and find it
    is not there. The planner knows where everything is; the policy does not: a model trained on plans
    alone has never seen a wrong guess, and after its first one it is out of its training data.
    None when a wrong guess would show the object after all (the copy would teach walking past it)."""
    walkthrough = row["walkthrough"]
    episode = env.reset(row_spec(row, data_dir))
    visited = set()
    for i, action in enumerate(walkthrough):
        place = action[len("go to "):] if action.startswith("go to ") else ""
        taken = next((a.split(" from ")[0][len("take "):] for a in walkthrough[i + 1:i + 3]
                      if a.startswith("take ") and a.endswith(f" from {place}")), "") if place else ""
        if taken:  # a search: the plan goes straight to where `taken` is
            others = [a for a in episode.turns[-1].admissible
                      if a.startswith("go to ") and a != action and a[len("go to "):] not in visited]
            for guess in rng.sample(others, min(len(others), rng.randint(1, max_detours))):
                env.step(guess)
                wrong_place = guess[len("go to "):]
                if f"open {wrong_place}" in episode.turns[-1].admissible:
                    env.step(f"open {wrong_place}")
                visited.add(wrong_place)
                if re.search(rf"\b{taken.rsplit(' ', 1)[0]} \d", episode.turns[-1].observation):
                    return None
        if place:
            visited.add(place)
        if episode.done:
            break
        env.step(action)
    return episode


ENTITY = re.compile(r"\b([a-z]+) \d+\b")  # "kettle 1", "cabinet 2": how the engine names things


def renamed_copies(chats: list[ChatMessages], copies: int, rng) -> list[ChatMessages]:
    """`copies` copies of each episode's chat with every entity class renamed consistently (kettle -> vase,
    everywhere: goal, observations, admissible lists, actions), the new names drawn from all the chats'.
    The words are no longer guessable from the task, so the model has to copy names from its context
    instead of recalling the ones it saw in training: small models otherwise learn "take <a usual
    object>" rather than "take <the object here>"."""
    names = sorted({m.group(1) for chat in chats for msg in chat for m in ENTITY.finditer(msg["content"])})

    def rename(chat):
        text = "\n".join(m["content"] for m in chat)
        seen = sorted({m.group(1) for m in ENTITY.finditer(text)})
        mapping = dict(zip(seen, rng.sample(names, len(seen))))
        swap = re.compile(r"\b(" + "|".join(map(re.escape, seen)) + r")\b")
        return [{**m, "content": swap.sub(lambda w: mapping[w.group(1)], m["content"])} for m in chat]

    return [rename(chat) for chat in chats for _ in range(copies)]
