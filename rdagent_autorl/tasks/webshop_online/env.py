"""WebShop's text mode as agents and the grader play it: the shared environment protocol over a product
catalogue, BM25 search and WebShop's own reward at Buy Now.

The grader scores a checkpoint with `play(...)`; the training templates use the same module through
$TASK_ENV, and every workspace gets a copy (env/webshop_env.py) beside env/webshop_reward.py and
env/protocol.py, so what a policy is trained on is what it is graded on.

Pages and actions, as WebShop's text environment (web_agent_site/envs/web_agent_text_env.py, observation
mode "text": a page's visible texts joined by " [SEP] ", the instruction on every page):
- search page: `search[keywords]`;
- results page (10 of the top 50 hits per page): `click[<item id>]`, `click[Next >]`, `click[< Prev]`
  (after page 1), `click[Back to Search]`;
- item page: `click[<option value>]` per option button, `click[Description]`, `click[Features]`,
  `click[Reviews]` (`click[Attributes]` with show_attrs, off by default as in WebShop), `click[< Prev]`
  (back to the results), `click[Back to Search]`, `click[Buy Now]`;
- a sub-page (Description, ...): `click[< Prev]` (back to the item), `click[Back to Search]`.
Clicks are matched case-insensitively, as WebShop lower-cases them. The episode ends at Buy Now (the
reward: reward.py) or after MAX_STEPS actions (reward 0). An action that is malformed, names nothing on
the page or searches where there is no search bar costs a step and gets an "Invalid action" observation
with the page unchanged. Each turn's user message is the page and the actions admissible on it.

Search: BM25 (bm25s, Lucene's scoring with Anserini's k1=0.9, b=0.4; Lucene's English stopwords and
Porter stemmer, as pyserini's default analyzer) over each product's document as WebShop builds it: title,
description, first bullet point and the option text, lower-cased. Only documents that share a term with
the query are hits, as in Lucene.
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable, Sequence

try:  # in the package
    from rdagent_autorl.envs.protocol import BaseEnvironment, ChatMessages, Episode, Policy, Turn, chat_tokens
    from rdagent_autorl.envs.protocol import play as protocol_play
    from rdagent_autorl.tasks.webshop_online.reward import get_reward
except ImportError:  # the workspace copy: env/protocol.py and env/webshop_reward.py are beside it
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from protocol import BaseEnvironment, ChatMessages, Episode, Policy, Turn, chat_tokens  # type: ignore[no-redef]
    from protocol import play as protocol_play  # type: ignore[no-redef]
    from webshop_reward import get_reward  # type: ignore[no-redef]

__all__ = ["ACTION_MAX_TOKENS", "ACTION_STOP", "MAX_STEPS", "Catalogue", "ChatMessages", "Episode", "Policy", "Turn",
           "WebshopEnv", "WebshopEpisode", "catalogue", "chat_tokens", "demonstration", "invalid_action", "make_env",
           "oracle_episode", "parse_action", "play", "protocol_play", "row_spec", "searching_demonstration"]

MAX_STEPS = 15  # actions per episode: ReAct's WebShop evaluation limit (WebShop's RL baseline trains with 100)
ACTION_MAX_TOKENS = 48  # a search query or a click; a longer reply is cut
ACTION_STOP = ("\n",)  # the first line of the reply is the action
SEARCH_RETURN_N, PRODUCT_WINDOW = 50, 10  # web_agent_site/engine/engine.py's constants
BM25_K1, BM25_B = 0.9, 0.4  # Anserini's BM25 defaults (pyserini's LuceneSearcher)
SUB_PAGES = ("Description", "Features", "Reviews", "Attributes")
SEARCH_HINT = "search[<keywords>]"
SEP = " [SEP] "

SYSTEM_PROMPT = """You are shopping on WebShop for the item the instruction describes. Each turn you see the \
current page and the actions admissible on it. Reply with one action on one line, nothing else: \
search[<keywords>] on the search page, or click[<button>] with a button of the page (an item id, an option, \
Description, Features, Reviews, < Prev, Next >, Back to Search, Buy Now). Choose the item's options before \
clicking Buy Now: the purchase ends the episode and is scored."""

_ACTION = re.compile(r"^(\w+)\[(.+)\]$", re.DOTALL)  # engine.py's parse_action: name[argument]


def parse_action(reply: str) -> str:
    """The action in a reply: its first non-empty line, without an "Action:" prefix or quotes."""
    line = next((ln.strip() for ln in reply.splitlines() if ln.strip()), "")
    return re.sub(r"^(>\s*|action\s*:\s*)", "", line, flags=re.IGNORECASE).strip().strip("\"'`")


def _stemmer() -> Callable[[list[str]], list[str]]:
    from nltk.stem.porter import PorterStemmer

    stem = lru_cache(maxsize=None)(PorterStemmer(mode=PorterStemmer.ORIGINAL_ALGORITHM).stem)  # Lucene's PorterStemFilter
    return lambda words: [stem(w) for w in words]


class Catalogue:
    """Processed products (WebShop's load_products fields plus the sampled `price`) and their BM25 index."""

    def __init__(self, products: Sequence[dict]):
        import bm25s

        self.products = list(products)
        self.by_asin = {p["asin"]: p for p in self.products}
        self._stem = _stemmer()
        self._bm25 = bm25s.BM25(k1=BM25_K1, b=BM25_B, method="lucene")
        self._bm25.index(self._tokens([document(p) for p in self.products]), show_progress=False)

    def _tokens(self, texts: Sequence[str], ids: bool = True):
        import bm25s

        return bm25s.tokenize(list(texts), stopwords="en", stemmer=self._stem, return_ids=ids, show_progress=False)

    def search(self, keywords: str, k: int = SEARCH_RETURN_N) -> list[dict]:
        """The top `k` products for the keywords, best first (fewer when fewer documents share a term with them)."""
        import numpy as np

        terms = [t for t in self._tokens([keywords], ids=False)[0] if t in self._bm25.vocab_dict]
        if not terms:
            return []
        scores = self._bm25.get_scores(terms)
        top = np.argsort(-scores, kind="stable")[:k]  # stable: ties keep catalogue order, as Lucene's docid order
        return [self.products[i] for i in top if scores[i] > 0]


def document(product: dict) -> str:
    """search_engine/convert_product_file_format.py's document: title, description, first bullet, options."""
    options = ", and ".join(f"{name}: {', '.join(values)}" for name, values in product["options"].items())
    bullets = product["BulletPoints"] or [""]
    return " ".join([product["Title"], product["Description"], bullets[0], options]).lower()


@lru_cache(maxsize=4)
def catalogue(path: str) -> Catalogue:
    """The catalogue in a processed-products JSON file, loaded and indexed once per process."""
    with open(path) as f:
        return Catalogue(json.load(f))


@dataclass
class WebshopEpisode(Episode):
    """A WebShop session: the goal, and what was bought with which options."""

    instruction: str = ""
    category: str = ""
    bought: str = ""  # the asin bought ("" if none)
    options: dict = field(default_factory=dict)
    reward_info: dict = field(default_factory=dict)

    def system_prompt(self) -> str:
        return SYSTEM_PROMPT


class WebshopEnv(BaseEnvironment):
    """One WebShop session at a time: `reset({"catalogue": path, "goal": goal})`, then `step(reply)`."""

    episode: WebshopEpisode | None

    def __init__(self, max_steps: int = MAX_STEPS, show_attrs: bool = False):
        super().__init__(max_steps)
        self.show_attrs = show_attrs

    def reset(self, spec: dict) -> WebshopEpisode:
        self.shop = catalogue(str(spec["catalogue"]))
        self.goal = spec["goal"]
        self.page, self.keywords, self.results, self.page_no, self.asin, self.chosen = "search", "", [], 1, "", {}
        self.episode = WebshopEpisode(game=str(self.goal.get("id", self.goal["asin"])),
                                      instruction=self.goal["instruction_text"],
                                      category=self.goal.get("category", ""))
        self.episode.turns.append(self._turn())
        return self.episode

    def parse_action(self, reply: str) -> str:
        return parse_action(reply)

    # ---- pages ---------------------------------------------------------------------------------
    def _clickables(self) -> dict[str, str]:
        """{lower-cased click argument: what it is} on the current page, as get_available_actions finds them."""
        if self.page == "search":
            return {}
        clicks = {"back to search": "Back to Search"}
        if self.page == "results":
            if self.page_no > 1:
                clicks["< prev"] = "< Prev"
            clicks["next >"] = "Next >"
            clicks.update({p["asin"].lower(): p["asin"] for p in self._page_products()})
        elif self.page == "item":
            clicks["< prev"] = "< Prev"
            for values in self.shop.by_asin[self.asin]["options"].values():
                clicks.update({v: v for v in values})
            clicks.update({s.lower(): s for s in SUB_PAGES if s != "Attributes" or self.show_attrs})
            clicks["buy now"] = "Buy Now"
        else:  # a sub-page
            clicks["< prev"] = "< Prev"
        return clicks

    def _page_products(self) -> list[dict]:
        return self.results[(self.page_no - 1) * PRODUCT_WINDOW:self.page_no * PRODUCT_WINDOW]

    def _text(self) -> str:
        head = ["Instruction:", self.goal["instruction_text"]]
        if self.page == "search":
            return SEP.join(["WebShop", *head, "Search"])
        parts = [*head, "Back to Search"]
        if self.page == "results":
            parts += [f"Page {self.page_no} (Total results: {len(self.results)})"]
            parts += (["< Prev"] if self.page_no > 1 else []) + ["Next >"]
            for p in self._page_products():
                parts += [p["asin"], p["Title"], p["Price"]]
            return SEP.join(parts)
        product = self.shop.by_asin[self.asin]
        parts.append("< Prev")
        if self.page == "item":
            for name, values in product["options"].items():
                parts += [name, *values]
            parts += [product["Title"], f"Price: {product['Price']}", f"Rating: {product.get('Rating', 'N.A.')}"]
            parts += [s for s in SUB_PAGES if s != "Attributes" or self.show_attrs] + ["Buy Now"]
        elif self.page == "Description":
            parts.append(product["Description"])
        elif self.page == "Features":
            parts += product["BulletPoints"]
        elif self.page == "Reviews":
            for r in product.get("Reviews", []):
                parts += [f'"{r.get("title", "")}"', str(r.get("score", "")), r.get("body", "")]
        else:
            parts += product["Attributes"]
        return SEP.join(p for p in parts if p)

    def _turn(self, prefix: str = "") -> Turn:
        admissible = [SEARCH_HINT] if self.page == "search" else [f"click[{c}]" for c in self._clickables().values()]
        return Turn(prefix + self._text(), admissible)

    # ---- actions -------------------------------------------------------------------------------
    def act(self, action: str) -> Turn:
        match = _ACTION.match(action)
        name, arg = (match.group(1).lower(), match.group(2).strip()) if match else ("", "")
        if name == "search" and arg:
            if self.page != "search":
                return self._invalid("search only from the search page (click[Back to Search] first)")
            self.keywords, self.results = arg.lower(), self.shop.search(arg.lower())
            self.page, self.page_no, self.asin, self.chosen = "results", 1, "", {}
            return self._turn()
        clicks = self._clickables()
        if name != "click" or arg.lower() not in clicks:
            return self._invalid("not search[...] or click[...]" if name not in ("search", "click")
                                 else "nothing on this page to click by that name")
        return self._click(arg.lower(), clicks[arg.lower()])

    def _click(self, key: str, label: str) -> Turn:
        ep = self.episode
        if label == "Buy Now":
            product = self.shop.by_asin[self.asin]
            reward, info = get_reward(product, self.goal, product["price"], self.chosen)
            ep.reward, ep.won, ep.done = reward, reward == 1.0, True
            ep.bought, ep.options, ep.reward_info = self.asin, dict(self.chosen), info
            return Turn(SEP.join(["Thank you for shopping with us!", "Your score (min 0.0, max 1.0)", f"{reward}"]))
        if label == "Back to Search":
            self.page = "search"
        elif label == "Next >":
            self.page_no += 1
        elif label == "< Prev":
            if self.page == "results":
                self.page_no -= 1
            elif self.page == "item":  # back to the results; the choices are dropped, as WebShop does
                self.page, self.asin, self.chosen = "results", "", {}
            else:
                self.page = "item"
        elif self.page == "results":  # an item id
            self.page, self.asin, self.chosen = "item", label, {}
        elif key in (s.lower() for s in SUB_PAGES):
            self.page = next(s for s in SUB_PAGES if s.lower() == key)
        else:  # an option value: it sets its option (the last option name offering that value, as WebShop's dict)
            option = [n for n, vs in self.shop.by_asin[self.asin]["options"].items() if key in vs][-1]
            self.chosen[option] = key
        return self._turn()

    def _invalid(self, why: str) -> Turn:
        return self._turn(f"Invalid action: {why}.\n")


def invalid_action(turn: Turn) -> bool:
    """The turn's action is not one the page admits (a search needs the search page and keywords)."""
    match = _ACTION.match(turn.action)
    if not match:
        return True
    if match.group(1).lower() == "search":
        return turn.admissible != [SEARCH_HINT] or not match.group(2).strip()
    return f"click[{match.group(2).strip().lower()}]" not in {a.lower() for a in turn.admissible}


def play(specs: Sequence[dict], policy: Policy, *, max_steps: int = MAX_STEPS, batch_size: int = 32,
         on_episode: Callable[[Episode], None] | None = None) -> list[WebshopEpisode]:
    """Play every goal spec once with `policy`, `batch_size` sessions at a time, in the input order."""
    return protocol_play(lambda: WebshopEnv(max_steps), specs, policy, batch_size=batch_size,  # type: ignore[return-value]
                         on_episode=on_episode)


# ---- The expert: an oracle shopper that knows the goal's product --------------------------------------


def oracle_query(goal: dict) -> str:
    """The goal's words: the instruction without its price clause and without a synthetic goal's option
    clause (" with color: grey, and size: 6 feet"; the options are clicked on the item page instead)."""
    text = re.sub(r",? and price lower than [\d.]+ dollars$", "", goal["instruction_text"])
    return re.sub(r" with [a-z ]+: .*$", "", text).strip()


def _option_clicks(product: dict, goal: dict) -> list[str]:
    """The product's option value that best matches each goal option (the goal's own value when offered)."""
    from thefuzz import fuzz

    values = [v for vs in product["options"].values() for v in vs]
    picks = []
    for wanted in goal["goal_options"]:
        best = max(values, key=lambda v: fuzz.token_set_ratio(v, wanted.lower()), default=None)
        if best is not None and best not in picks:
            picks.append(best)
    return picks


def oracle_episode(env: WebshopEnv, spec: dict, wrong_clicks: Callable[[WebshopEnv], None] | None = None) -> WebshopEpisode:
    """Search with the goal's words (then with the product's title if it is not in the 50 hits), page to
    the goal's product, open it, pick the goal's options, buy. `wrong_clicks(env)`, when given, runs on
    the target's results page before the right click (the searching copies)."""
    episode = env.reset(spec)
    target = env.goal["asin"]
    for query in (oracle_query(env.goal), env.shop.by_asin[target]["Title"]):
        if episode.done:
            break
        env.step(f"search[{query}]")
        asins = [p["asin"] for p in env.results]
        if target not in asins:
            env.step("click[Back to Search]")
            continue
        while not episode.done and target not in [p["asin"] for p in env._page_products()]:
            env.step("click[Next >]")
        if wrong_clicks and not episode.done:
            wrong_clicks(env)
        for action in [f"click[{target}]", *[f"click[{v}]" for v in _option_clicks(env.shop.by_asin[target], env.goal)],
                       "click[Buy Now]"]:
            if episode.done:
                break
            env.step(action)
        break
    return episode


# ---- The online templates' interface (the contract in rdagent_autorl/envs/protocol.py's docstring) -----


def make_env(max_steps: int = MAX_STEPS) -> WebshopEnv:
    return WebshopEnv(max_steps)


def row_spec(row: dict, data_dir: str) -> dict:
    """A training row's session: its goal, in the catalogue file the row names (relative to the data folder)."""
    return {"catalogue": os.path.join(data_dir, row["catalogue"]), "goal": row["goal"]}


def demonstration(env: WebshopEnv, row: dict, data_dir: str) -> WebshopEpisode:
    """The oracle shopper's episode for the row's goal."""
    return oracle_episode(env, row_spec(row, data_dir))


def searching_demonstration(env: WebshopEnv, row: dict, data_dir: str, rng, max_detours: int) -> WebshopEpisode | None:
    """The oracle with 1..max_detours wrong items opened (and left with < Prev) before the right one: a
    policy trained on the oracle alone never saw a wrong pick and how to recover from it. None when the
    target's results page has no other item."""
    target, detours = row["goal"]["asin"], []

    def wrong_clicks(env: WebshopEnv) -> None:
        others = [p["asin"] for p in env._page_products() if p["asin"] != target]
        for asin in rng.sample(others, min(len(others), rng.randint(1, max_detours))):
            detours.append(asin)
            env.step(f"click[{asin}]")
            if rng.random() < 0.5:  # sometimes read the wrong item's features first
                env.step("click[Features]")
                env.step("click[< Prev]")
            env.step("click[< Prev]")

    episode = oracle_episode(env, row_spec(row, data_dir), wrong_clicks)
    return episode if detours else None
