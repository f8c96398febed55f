"""ALFWorld as agents and the grader play it: one environment interface, one prompt, one rollout loop.

The grader scores a checkpoint with `play(...)`; the training templates collect trajectories with the
very same functions, and every workspace gets a byte copy of this file (`env/alfworld_env.py`), so
what a policy is trained on is what it is graded on. The file depends on the standard library and the
ALFWorld/TextWorld engine only, so an agent can read it, copy it or run it with its own Python.

Protocol (also in scenarios/alfworld-online/description.md):
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
- Score = the share of games won.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

MAX_STEPS = 50  # actions per episode, as in the ALFWorld papers' evaluations
ACTION_MAX_TOKENS = 32  # an action is short; a longer reply is cut
ACTION_STOP = ("\n",)  # the first line of the reply is the action
THINK_PREFIX = "think:"

ChatMessages = list[dict[str, str]]
Policy = Callable[[list[ChatMessages]], list[str]]  # chat prompts -> replies, one per prompt

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
class Turn:
    observation: str
    admissible: list[str]
    action: str = ""  # the policy's action (may be empty); the last turn of an episode has none yet


@dataclass
class Episode:
    """One game played from reset to the end: what the policy saw and did, and whether it won."""

    game: str
    task_type: str
    goal: str
    commands: list[str]
    turns: list[Turn] = field(default_factory=list)
    won: bool = False
    done: bool = False

    @property
    def steps(self) -> int:
        """Actions taken: every turn but the last (the observation still waiting, or the final one)."""
        return len(self.turns) - 1

    @property
    def actions(self) -> list[str]:
        return [t.action for t in self.turns[:-1]]

    def system_prompt(self) -> str:
        return SYSTEM_TEMPLATE.format(commands=", ".join(self.commands))

    def prompt(self, upto: int | None = None) -> ChatMessages:
        """The chat the policy is asked at turn `upto` (default: the current, last turn): the episode so far."""
        upto = len(self.turns) - 1 if upto is None else upto
        messages = [{"role": "system", "content": self.system_prompt()}]
        for turn in self.turns[:upto]:
            messages.append({"role": "user", "content": user_message(turn, self.goal)})
            messages.append({"role": "assistant", "content": turn.action})
        messages.append({"role": "user", "content": user_message(self.turns[upto], self.goal)})
        return messages

    def step_samples(self) -> list[dict]:
        """Every decision as a prompt-completion pair in TRL's conversational format (SFT rows)."""
        return [{"prompt": self.prompt(i), "completion": [{"role": "assistant", "content": t.action}]}
                for i, t in enumerate(self.turns[:-1])]


def user_message(turn: Turn, goal: str) -> str:
    # The task is restated next to every decision, not only in the first message, hundreds of tokens back:
    # the object and the place to name are then a few tokens away. Small policies otherwise lose track
    # of the goal and take whatever is in front of them (measured with the tiny model: see
    # benchmarks/alfworld_sft_grpo.py). Appending keeps each prompt an extension of the previous one.
    return f"{turn.observation}\nYour task is to: {goal}\nAdmissible actions: {' | '.join(turn.admissible)}"


def chat_tokens(tokenizer, messages: ChatMessages) -> tuple[list[int], list[int], list[int]]:
    """A multi-turn chat (e.g. a finished `Episode.prompt()`) as one token sequence for RL training:
    `(prompt_ids, completion_ids, mask)`, with `tokenizer` any Hugging Face tokenizer that has a chat template.

    - prompt_ids: the chat template up to the first assistant turn, generation prompt included (what
      the policy was asked first);
    - completion_ids: each assistant turn's content and its end-of-turn token (mask 1: the policy wrote
      them), then the template's text up to the next assistant turn: the rest of the turn closer, the
      environment's user message, the assistant header (mask 0). It stops after the last assistant
      turn's end-of-turn token, so a sequence ends the way a finished generation does.

    Pieces are the differences between chat-template renderings of growing prefixes, tokenized on
    their own, so the text is exactly the rendering of the chat and, with chat-markup tokens at every
    boundary, the tokens are those of each prompt the policy was asked."""

    def render(n: int, generation_prompt: bool) -> str:
        return tokenizer.apply_chat_template(messages[:n], tokenize=False, add_generation_prompt=generation_prompt)

    def ids(text: str) -> list[int]:
        return tokenizer(text, add_special_tokens=False)["input_ids"] if text else []

    assistant = [i for i, m in enumerate(messages) if m["role"] == "assistant"]
    if not assistant:
        raise ValueError("the chat has no assistant turn")
    prompt_text = render(assistant[0], True)
    completion: list[int] = []
    mask: list[int] = []
    done = prompt_text  # the text the sequence holds so far
    for n, i in enumerate(assistant):
        if n:  # the environment's part: the previous turn's closer, user message(s), this assistant header
            header = render(i, True)
            if not header.startswith(done):
                raise ValueError("the chat template does not render prefixes of the chat as prefixes")
            env = ids(header[len(done):])
            completion += env
            mask += [0] * len(env)
            done = header
        full = render(i + 1, False)
        turn, content = full[len(done):], messages[i]["content"]  # turn = content + the template's closer
        closer = ids(turn[len(content):])
        if not full.startswith(done) or not turn.startswith(content) or not closer:
            raise ValueError(f"the chat template changes assistant turns ({turn[:80]!r}); cannot align tokens")
        end_of_turn = tokenizer.decode(closer[:1])  # "<|im_end|>", "<|eot_id|>", "<end_of_turn>", ...
        if not turn[len(content):].startswith(end_of_turn):
            raise ValueError(f"the turn closer {turn[len(content):]!r} does not start with a token of its own")
        own = ids(content) + closer[:1]
        completion += own
        mask += [1] * len(own)
        done += content + end_of_turn
    return ids(prompt_text), completion, mask


def parse_action(reply: str) -> str:
    """The action in a policy's reply: its first non-empty line, without "Action:"/"> " prefixes,
    quotes or a final period, lower-cased (the grammar's commands are lower case)."""
    line = next((ln.strip() for ln in reply.splitlines() if ln.strip()), "")
    line = re.sub(r"^(>\s*|action\s*:\s*)", "", line, flags=re.IGNORECASE).strip().strip("\"'`").rstrip(".")
    return line.lower() if not line.lower().startswith(THINK_PREFIX) else line


class AlfworldEnv:
    """One ALFWorld game at a time on the real engine: `reset(game_file)`, then `step(action)`."""

    def __init__(self, max_steps: int = MAX_STEPS):
        self.max_steps = max_steps
        self._env = _engine()
        self.episode: Episode | None = None

    def reset(self, game_file: str | Path) -> Episode:
        game_file = str(game_file)
        argv = sys.argv[:]
        try:  # loading runs Fast Downward's translator, which overwrites sys.argv
            self._env.load(game_file)
            state = self._env.reset()
        finally:
            sys.argv[:] = argv
        traj = Path(game_file).with_name("traj_data.json")
        task_type = json.loads(traj.read_text()).get("task_type", "") if traj.exists() else ""
        self.episode = Episode(game=game_file, task_type=task_type, goal=goal_of(state.feedback),
                               commands=command_forms(state.command_templates))
        self.episode.turns.append(Turn(clean(state.feedback), sorted(state.admissible_commands)))
        return self.episode

    def step(self, reply: str) -> Episode:
        """Take the action in `reply`; the episode records it and the engine's answer."""
        ep = self.episode
        if ep is None or ep.done:
            raise RuntimeError("reset() a game before step(), and not after the episode ended")
        action = parse_action(reply)
        ep.turns[-1].action = action
        if action.startswith(THINK_PREFIX):
            ep.turns.append(Turn("OK.", ep.turns[-1].admissible))
        elif not action:  # an empty reply is a wasted step, as in the engine for any unknown command
            ep.turns.append(Turn("Nothing happens.", ep.turns[-1].admissible))
        else:
            state, _, _ = self._env.step(action)
            ep.won = bool(state.won)
            ep.turns.append(Turn(clean(state.feedback), sorted(state.admissible_commands)))
        ep.done = ep.won or ep.steps >= self.max_steps
        return ep


def goal_of(intro: str) -> str:
    match = re.search(r"Your task is to: (.*)", intro)
    return match.group(1).strip() if match else ""


def clean(feedback: str) -> str:
    """The engine's text without the welcome banner (it carries no information)."""
    return feedback.replace("-= Welcome to TextWorld, ALFRED! =-", "").strip()


def play(game_files: Sequence[str | Path], policy: Policy, *, max_steps: int = MAX_STEPS,
         batch_size: int = 32, on_episode: Callable[[Episode], None] | None = None) -> list[Episode]:
    """Play every game once with `policy`, `batch_size` games at a time, in the input order.

    All running games are asked in one policy call per round, so a batched generation backend
    decodes them together (one game at a time is `batch_size=1`); a finished game's slot takes
    the next game. Returns the episodes in the order of `game_files`."""
    queue = list(enumerate(game_files))[::-1]
    envs = [AlfworldEnv(max_steps) for _ in range(min(batch_size, len(game_files)))]
    running: dict[int, tuple[int, AlfworldEnv]] = {}  # slot -> (game index, env)
    episodes: list[Episode | None] = [None] * len(game_files)

    def fill(slot: int) -> None:
        if queue:
            index, game = queue.pop()
            episodes[index] = envs[slot].reset(game)
            running[slot] = (index, envs[slot])

    for slot in range(len(envs)):
        fill(slot)
    while running:
        slots = sorted(running)
        replies = policy([running[s][1].episode.prompt() for s in slots])
        for slot, reply in zip(slots, replies):
            index, env = running[slot]
            if env.step(reply).done:
                del running[slot]
                if on_episode:
                    on_episode(env.episode)
                fill(slot)
    return episodes  # type: ignore[return-value]


def expert_episode(env: AlfworldEnv, game_file: str | Path, walkthrough: Sequence[str]) -> Episode:
    """Replay an expert walkthrough (the planner's plan stored with the game) as an episode."""
    episode = env.reset(game_file)
    for action in walkthrough:
        if episode.done:
            break
        env.step(action)
    return episode
