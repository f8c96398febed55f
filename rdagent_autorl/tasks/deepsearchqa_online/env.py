"""The deepsearchqa-online environment: a ReAct loop of tool calls over a search backend, on the shared
environment protocol (rdagent_autorl/envs/protocol.py).

The grader plays every held-out question with these functions, the online templates collect and train on
episodes with the very same ones, and every workspace gets a copy of this file (`env/deepsearch_env.py`)
beside `env/protocol.py`, `env/deepsearch_search.py` (the backends) and `env/deepsearch_autorater.py` (the
metric), plus `env/search.json`: the run's search backend, the same one the grader uses.

Protocol (also in the task's description.md):
- A question is one episode. Each turn the policy replies with ONE tool call on its first line:
  `search[query]` -> the top results (doc id, title, snippet); `open[doc id]` -> that document's text and
  the documents it links to; `answer[final answer]` -> ends the episode (several items separated by "; ").
  Anything else is an invalid action: it costs a step and the observation says so.
- The chat: a system message (the same for every question: the tools and the rules), then the question
  as the first user message; each later user message is a tool's output with the question restated,
  each assistant message the policy's call. At most MAX_STEPS calls; no answer by then = an empty answer.
- The answer is graded by the DeepSearchQA autorater (the scorer, rollout.py). In training (a row's spec
  carries the reference answer) the episode's reward is the same metric's F1 with the FAKE normalised set
  match judge, and `won` = fully correct.
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

try:  # in the package
    from rdagent_autorl.envs.protocol import BaseEnvironment, ChatMessages, Episode, Policy, Turn, chat_tokens
    from rdagent_autorl.envs.protocol import play as protocol_play
    from rdagent_autorl.tasks.deepsearchqa_online import autorater, search
except ImportError:  # the workspace copy (env/deepsearch_env.py): its companions are beside it
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from protocol import BaseEnvironment, ChatMessages, Episode, Policy, Turn, chat_tokens  # type: ignore[no-redef]
    from protocol import play as protocol_play  # type: ignore[no-redef]
    import deepsearch_autorater as autorater  # type: ignore[no-redef]
    import deepsearch_search as search  # type: ignore[no-redef]

__all__ = ["ACTION_MAX_TOKENS", "ACTION_STOP", "MAX_STEPS", "TOP_K", "ChatMessages", "DeepSearchEnv",
           "DeepSearchEpisode", "Episode", "Policy", "Turn", "chat_tokens", "configure", "demonstration",
           "expert_actions", "invalid_action", "make_env", "parse_call", "play", "protocol_play", "row_spec"]

MAX_STEPS = 10  # tool calls per question (upstream autorl_bench: 6; a 3-hop chain takes 5 with the answer)
ACTION_MAX_TOKENS = 128  # a set answer of several titles fits
ACTION_STOP = ("\n",)  # the first line of the reply is the call
TOP_K = 3  # results per search (the synthetic start article is among them for its description)
CALL = re.compile(r"^(search|open|answer)\[(.*)\]$", re.IGNORECASE | re.DOTALL)
INVALID = ("Invalid action. Reply with one of: search[query], open[doc id], answer[final answer]. "
           "This cost a step.")

SYSTEM_PROMPT = f"""You answer questions by searching a document collection. Each turn, reply with exactly \
one action on one line:
search[query] - returns the top {TOP_K} results with their doc ids
open[doc id] - returns the document's text and the documents it links to
answer[final answer] - ends the episode; give several answers separated by "; "
Any other reply is an invalid action and costs a step. You have at most {MAX_STEPS} actions."""


def parse_call(reply: str) -> tuple[str, str] | None:
    """(tool, argument) of a reply's first line, or None when it is not a tool call."""
    line = next((ln.strip() for ln in reply.splitlines() if ln.strip()), "")
    line = re.sub(r"^(action\s*:\s*)", "", line, flags=re.IGNORECASE).strip().strip("`")
    match = CALL.match(line)
    return (match.group(1).lower(), match.group(2).strip()) if match else None


@dataclass
class DeepSearchEpisode(Episode):
    question: str = ""
    answer: str = ""  # the policy's final answer ("" until answer[...] or when it never answered)
    backend: str = ""

    def system_prompt(self) -> str:
        return SYSTEM_PROMPT

    def user_message(self, turn: Turn) -> str:
        # The question is restated under every tool output (as ALFWorld restates its goal): the entity to
        # look for next is then a few tokens away, not hundreds back. Appending keeps each prompt an
        # extension of the previous one.
        if len(self.turns) and turn is self.turns[0]:
            return turn.observation
        return f"{turn.observation}\nQuestion: {self.question}"


def _format_results(results: Sequence) -> str:
    if not results:
        return "No results."
    return "\n".join(f"[{i}] doc id: {r.doc_id} | {r.snippet}" for i, r in enumerate(results, 1))


def _format_document(doc, titles: Callable[[str], str]) -> str:
    head = doc.title + (f" ({doc.description})" if doc.description else "")
    body = doc.text if len(doc.text) <= search.PAGE_CHARS else doc.text[:search.PAGE_CHARS] + " ..."
    links = "; ".join(titles(link) for link in doc.links)
    return f"{head}\n{body}" + (f"\nLinks: {links}" if links else "")


class DeepSearchEnv(BaseEnvironment):
    """One question at a time: `reset(spec)` with spec {"id", "question"} (+ "answer", "answer_type" in
    training, for the reward), then `step(reply)`."""

    episode: DeepSearchEpisode | None

    def __init__(self, backend, max_steps: int = MAX_STEPS, top_k: int = TOP_K):
        super().__init__(max_steps)
        self.backend, self.top_k = backend, top_k
        self.spec: dict = {}

    def reset(self, spec: dict | str) -> DeepSearchEpisode:
        self.spec = {"id": spec, "question": spec} if isinstance(spec, str) else dict(spec)
        self.episode = DeepSearchEpisode(game=str(self.spec.get("id", "")), question=self.spec["question"],
                                         backend=self.backend.name)
        self.episode.turns.append(Turn(f"Question: {self.spec['question']}"))
        return self.episode

    def parse_action(self, reply: str) -> str:
        return next((ln.strip() for ln in reply.splitlines() if ln.strip()), "")

    def _link_label(self, doc_id: str) -> str:
        """A link as the page shows it: its doc id, with the linked article's description and topic when
        the backend knows them (the collection does; a web page's links are not followed)."""
        linked = self.backend.open(doc_id) if isinstance(self.backend, search.LocalSearch) else None
        shown = linked.topic if linked and linked.topic != "Uncategorized" else ""
        about = [x for x in (linked.description, shown and f"topic: {shown}") if x] if linked else []
        return f"{doc_id} ({'; '.join(about)})" if about else doc_id

    def act(self, action: str) -> Turn:
        ep = self.episode
        call = parse_call(action)
        if call is None:
            return Turn(INVALID)
        tool, argument = call
        if tool == "search":
            return Turn(f"Results for '{argument}':\n{_format_results(self.backend.search(argument, self.top_k))}")
        if tool == "open":
            doc = self.backend.open(argument)
            if doc is None:
                return Turn(f"No document with doc id '{argument}'. Open a doc id from the search results.")
            return Turn(_format_document(doc, self._link_label))
        ep.answer, ep.done = argument, True
        if "answer" in self.spec:  # training: the reward is the grader's metric with the FAKE matcher
            verdict = autorater.fake_verdict(self.spec["answer"], self.spec.get("answer_type", "Single Answer"),
                                             argument)
            ep.reward = autorater.metrics_from_counts(*verdict.counts)["f1"]
            ep.won = autorater.outcome(*verdict.counts) == "fully_correct"
        return Turn("Answer recorded.")


# ---- Which backend: the run's (env/search.json beside this file), else the package's settings ---------------
_BACKEND = None


def configure(backend) -> None:
    """Use `backend` for every environment `make_env` builds from now on (the grader passes its own)."""
    global _BACKEND
    _BACKEND = backend


def _default_backend():
    config = Path(os.environ.get("DEEPSEARCH_SEARCH_CONFIG") or Path(__file__).with_name("search.json"))
    if config.is_file():
        c = json.loads(config.read_text())
        return search.make_backend(c["backend"], index_folder=c.get("index_folder"), cache_file=c.get("cache_file"))
    try:
        from rdagent_autorl.tasks.deepsearchqa_online.backends import configured_backend
    except ImportError as e:
        raise search.SearchUnavailable(f"no search configuration: {config} is missing (the workspace writes it) "
                                       "and rdagent_autorl is not importable; set DEEPSEARCH_SEARCH_CONFIG") from e
    return configured_backend(cache_file=None)


def make_env(max_steps: int = MAX_STEPS) -> DeepSearchEnv:
    global _BACKEND
    if _BACKEND is None:
        _BACKEND = _default_backend()
    return DeepSearchEnv(_BACKEND, max_steps)


def play(specs: Sequence[dict], policy: Policy, *, max_steps: int = MAX_STEPS, batch_size: int = 32,
         on_episode: Callable[[Episode], None] | None = None) -> list[DeepSearchEpisode]:
    """Play every question once with `policy`, `batch_size` at a time, in the input order."""
    return protocol_play(lambda: make_env(max_steps), specs, policy, batch_size=batch_size,  # type: ignore[return-value]
                         on_episode=on_episode)


# ---- The online templates' interface (rdagent_autorl/envs/protocol.py's docstring) ---------------------------

def row_spec(row: dict, data_dir: str = "") -> dict[str, Any]:
    """What `reset` takes for a training row: the question, and the reference answer for the reward."""
    return {"id": str(row["id"]), "question": row["prompt"], "answer": row["answer"],
            "answer_type": row.get("answer_type", "Single Answer")}


def expert_actions(row: dict) -> list[str]:
    """The row's expert calls: the generator's hop chain (synthetic rows carry it as "expert"); a row
    without one (DeepSearchQA's own) gets a search for the question, then the reference answer."""
    if row.get("expert"):
        return list(row["expert"])
    return [f"search[{row['prompt']}]", f"answer[{row['answer']}]"]


def demonstration(env: DeepSearchEnv, row: dict, data_dir: str = "") -> DeepSearchEpisode:
    episode = env.reset(row_spec(row, data_dir))
    for action in expert_actions(row):
        if episode.done:
            break
        env.step(action)
    return episode


def invalid_action(turn: Turn) -> bool:
    return parse_call(turn.action) is None
