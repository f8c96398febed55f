"""The protocol every online environment plays by: turns, episodes, the chat a policy is asked, the
token view of an episode for RL, and the batched play loop.

The grader, the training templates and an agent's own code all go through these functions, so what a
policy is trained on is what it is graded on, whichever the environment (ALFWorld today; WebShop, a
search environment). An environment supplies only what is its own: how it starts (`reset(spec)`), how
it answers an action (`step(reply)`), and how its turns read (an `Episode` subclass overriding
`system_prompt()` and `user_message(turn)`).

- An episode is a list of turns: what the environment showed (observation, the actions admissible
  then; none for free-form environments) and the action the policy took. The last turn has no action
  yet: it is the observation waiting for one, or the final one.
- The policy is asked the whole episode so far as a chat: a system message, one user message per turn,
  its own actions as assistant messages. The chat only grows, so each prompt starts with the previous
  one: backends reuse the keys and values already computed (prefix caching), and a finished episode is
  one token sequence for multi-turn RL (`chat_tokens`).
- `reward` is in [0, 1]: 1.0 for a won game, a graded value (WebShop's) where the environment has one.

Standard library only: a workspace gets a copy of this file next to its environment's module
(`env/protocol.py`), importable with any Python. Tokenizers and generation backends come in as
arguments.

The online training templates' interface (templates/sft_trajectories.py, templates/grpo_online.py).
The templates import no task by name: they load the module named by $TASK_ENV (a file, the
workspace's `env/<TaskSpec.env_module>` that run/workspace.agent_env names; or, by hand, an importable
module name) and call only these names of it (templates/common.py checks them: TASK_ENV_INTERFACE):
- `MAX_STEPS`, `ACTION_MAX_TOKENS`, `ACTION_STOP`: the grader's step limit, reply length and stop strings;
- `chat_tokens`, `protocol_play`: this file's `chat_tokens` and `play`, re-exported (the workspace copy
  imports them from the `protocol.py` beside it);
- `make_env(max_steps=MAX_STEPS) -> Environment`: a fresh environment (one per episode in flight);
- `row_spec(row, data_dir) -> spec`: what `reset` takes for a row of data/train.jsonl (`data_dir`: the
  folder of that file, which the rows' relative paths start from);
- `demonstration(env, row, data_dir) -> Episode`: the row's expert episode played in `env` (SFT rows;
  one that is not `won` is skipped);
- `invalid_action(turn) -> bool`: the turn's action is one the environment could not take (GRPO's
  optional shaping).
Optional, for SFT's extra copies: `searching_demonstration(env, row, data_dir, rng, max_detours) ->
Episode | None` (wrong moves before the right ones; None: no usable copy) and
`renamed_copies(chats, copies, rng) -> list[ChatMessages]`. GRPO's reward is `Episode.reward`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, ContextManager, Optional, Protocol, Sequence

ChatMessages = list[dict[str, str]]
Policy = Callable[[list[ChatMessages]], list[str]]  # chat prompts -> replies, one per prompt


@dataclass
class Turn:
    observation: str
    admissible: list[str] = field(default_factory=list)  # actions the environment accepts now; [] = free-form
    action: str = ""  # the policy's action (may be empty); the last turn of an episode has none yet


@dataclass
class Episode:
    """One game played from reset to the end: what the policy saw and did, and how it ended.

    Subclasses say how turns read (`system_prompt`, `user_message`) and add what their environment
    knows about a game (ALFWorld: task type, goal, command forms)."""

    game: str  # what was reset: a game file, a task or question id
    turns: list[Turn] = field(default_factory=list)
    won: bool = False
    done: bool = False
    reward: float = 0.0  # in [0, 1]

    @property
    def steps(self) -> int:
        """Actions taken: every turn but the last (the observation still waiting, or the final one)."""
        return len(self.turns) - 1

    @property
    def actions(self) -> list[str]:
        return [t.action for t in self.turns[:-1]]

    def system_prompt(self) -> str:
        """The system message; empty: the chat has none."""
        return ""

    def user_message(self, turn: Turn) -> str:
        if not turn.admissible:
            return turn.observation
        return f"{turn.observation}\nAdmissible actions: {' | '.join(turn.admissible)}"

    def prompt(self, upto: int | None = None) -> ChatMessages:
        """The chat the policy is asked at turn `upto` (default: the current, last turn): the episode so far."""
        upto = len(self.turns) - 1 if upto is None else upto
        system = self.system_prompt()
        messages = [{"role": "system", "content": system}] if system else []
        for turn in self.turns[:upto]:
            messages.append({"role": "user", "content": self.user_message(turn)})
            messages.append({"role": "assistant", "content": turn.action})
        messages.append({"role": "user", "content": self.user_message(self.turns[upto])})
        return messages

    def step_samples(self) -> list[dict]:
        """Every decision as a prompt-completion pair in TRL's conversational format (SFT rows)."""
        return [{"prompt": self.prompt(i), "completion": [{"role": "assistant", "content": t.action}]}
                for i, t in enumerate(self.turns[:-1])]


class Environment(Protocol):
    """What `play` needs of an environment: one episode at a time, `reset(spec)` then `step(reply)`
    until the episode is `done` (at the latest after `max_steps` actions)."""

    max_steps: int
    episode: Optional[Episode]

    def reset(self, spec: Any) -> Episode: ...

    def step(self, reply: str) -> Episode: ...


class BaseEnvironment:
    """The bookkeeping every environment shares: `step` records the action parsed from the reply, asks
    `act` for the environment's answer, and ends the episode when it is won, when `act` says it is
    over (`episode.done = True`, e.g. a final answer) or after `max_steps` actions.
    Subclasses implement `reset` (build the episode and its first turn) and `act`."""

    def __init__(self, max_steps: int):
        self.max_steps = max_steps
        self.episode: Optional[Episode] = None

    def reset(self, spec: Any) -> Episode:
        raise NotImplementedError

    def parse_action(self, reply: str) -> str:
        """The action in a reply: by default its first non-empty line, stripped."""
        return next((ln.strip() for ln in reply.splitlines() if ln.strip()), "")

    def act(self, action: str) -> Turn:
        """Apply `action` to the current episode (set `won`, `reward`, `done` as they change); return the next turn."""
        raise NotImplementedError

    def step(self, reply: str) -> Episode:
        """Take the action in `reply`; the episode records it and the environment's answer."""
        ep = self.episode
        if ep is None or ep.done:
            raise RuntimeError("reset() a game before step(), and not after the episode ended")
        action = self.parse_action(reply)
        ep.turns[-1].action = action
        ep.turns.append(self.act(action))
        ep.done = ep.done or ep.won or ep.steps >= self.max_steps
        return ep


def play(make_env: Callable[[], Environment], specs: Sequence[Any], policy: Policy, *,
         batch_size: int | None = None, on_episode: Callable[[Episode], None] | None = None) -> list[Episode]:
    """Play every spec once with `policy`, `batch_size` episodes at a time (None: all at once), in the input order.

    All running episodes are asked in one policy call per round, so a batched generation backend
    decodes them together (one at a time is `batch_size=1`); a finished episode's slot takes the next
    spec. `make_env()` builds one environment per slot. Returns the episodes in the order of `specs`."""
    batch_size = len(specs) if batch_size is None else batch_size
    queue = list(enumerate(specs))[::-1]
    envs = [make_env() for _ in range(min(batch_size, len(specs)))]
    running: dict[int, tuple[int, Environment]] = {}  # slot -> (spec index, env)
    episodes: list[Episode | None] = [None] * len(specs)

    def fill(slot: int) -> None:
        if queue:
            index, spec = queue.pop()
            episodes[index] = envs[slot].reset(spec)
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


class Backend(Protocol):
    """The part of a generation backend (rdagent_autorl.generation) that playing needs."""

    preferred_batch_size: int | None  # prompts per generate() call it serves best; None = all at once

    def generate(self, prompts: Sequence[ChatMessages], max_new_tokens: int, stop: Sequence[str] = ()) -> list[str]: ...

    def prefix_cache_session(self, max_tokens: int) -> ContextManager: ...


def play_with_backend(make_env: Callable[[], Environment], specs: Sequence[Any], backend: Backend, *,
                      max_new_tokens: int, stop: Sequence[str] = (), tokens_per_episode: int,
                      on_episode: Callable[[Episode], None] | None = None) -> list[Episode]:
    """`play` with a generation backend as the policy (its greedy replies), as the grader plays.

    As many episodes are in flight as the backend prefers per call (all of them when it has no
    preference). Each episode's prompt extends its previous one, so the backend keeps the prompts'
    keys and values between rounds for the whole play (`tokens_per_episode` of room for each episode
    in flight): a round then prefills only the new turn."""
    batch = backend.preferred_batch_size or len(specs)

    def policy(prompts: list[ChatMessages]) -> list[str]:
        return backend.generate(prompts, max_new_tokens, stop)

    with backend.prefix_cache_session(batch * tokens_per_episode):
        return play(make_env, specs, policy, batch_size=batch, on_episode=on_episode)


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
