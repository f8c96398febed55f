"""A seeded generator of SYNTHETIC deep-search questions over the offline collection (corpus.py). These are
not DeepSearchQA questions and their scores are not DeepSearchQA scores; they exercise the same skills
(search, follow links, combine, answer a set) with answers checkable from the collection.

Kinds (hops = links followed from the start article; the answer is reached by the last):
- chain, 2 or 3 hops, a Single Answer: 'Start from the article described as "X". It links to an article
  described as "Y". Which article described as "Z" does that article link to?';
- set, 1 or 2 hops, a Set Answer: '... List every article it links to whose topic is T.'

Every article is named by its short description, unique where it is looked up (the start article in the
whole collection, a linked one among the links of the article before it), so the question has one
answer; the start article is among the local backend's top results for its description, so the expert
can find it. The expert's calls (search the start description, open each article of the chain, answer)
are stored with each question: the SFT demonstrations. Train and held-out questions start from disjoint
articles: the training questions from a public seed, the held-out ones from the installation's secret seed
(installation.eval_seed), among the start articles the public stream left (Generator.split).
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field

from rdagent_autorl.tasks.deepsearchqa_online.env import TOP_K
from rdagent_autorl.tasks.deepsearchqa_online.search import Document, LocalSearch

SINGLE, SET = "Single Answer", "Set Answer"
# (kind, hops) in the order questions are made, cycling; the smoke level keeps the shortest ones.
KINDS = {"standard": (("chain", 2), ("set", 1), ("chain", 3), ("set", 2)), "smoke": (("chain", 2), ("set", 1))}
SET_SIZES = {"standard": (2, 6), "smoke": (2, 3)}  # a set answer has this many items at least / at most
# The smoke level names only short articles (titles, descriptions): a tiny model trained for minutes on CPU
# has to copy them from its context, and every token of a name is a chance to get it wrong.
SHORT = {"smoke": (16, 48)}  # most characters of a title / of a description
SKIP_TOPICS = {"", "Uncategorized"}


@dataclass
class Question:
    id: str
    question: str
    answers: list[str]
    answer_type: str
    category: str  # the start article's topic
    hops: int
    expert: list[str] = field(default_factory=list)  # the expert's tool calls
    chain: list[str] = field(default_factory=list)  # the articles opened, in order

    @property
    def answer(self) -> str:
        return "; ".join(self.answers)


class Generator:
    def __init__(self, docs: list[Document], retriever: LocalSearch):
        self.by_id = {d.doc_id: d for d in docs}
        self.retriever = retriever
        counts = Counter(d.description for d in docs)
        self.starts = sorted(d.doc_id for d in docs if d.description and counts[d.description] == 1 and d.links)

    def findable(self, doc: Document) -> bool:
        return any(r.doc_id == doc.doc_id for r in self.retriever.search(doc.description, TOP_K))

    def described_links(self, doc: Document) -> list[Document]:
        """The links of `doc` a question can name: their description is non-empty and unique among them."""
        linked = [self.by_id[t] for t in doc.links if t in self.by_id]
        counts = Counter(d.description for d in linked)
        return [d for d in linked if d.description and counts[d.description] == 1]

    def short(self, doc: Document, level: str) -> bool:
        if level not in SHORT:
            return True
        title, description = SHORT[level]
        return len(doc.title) <= title and len(doc.description) <= description

    def make(self, start: Document, kind: str, hops: int, rng: random.Random,
             level: str = "standard") -> Question | None:
        if not self.short(start, level):
            return None
        chain = [start]
        walk = hops if kind == "chain" else hops - 1  # a set question's last hop is the set itself
        for _ in range(walk):
            options = [d for d in self.described_links(chain[-1]) if d not in chain and self.short(d, level)]
            if not options:
                return None
            chain.append(rng.choice(options))
        opened = chain if kind == "set" else chain[:-1]
        text = f'Start from the article described as "{start.description}".'
        middle = chain[1:len(opened)]
        if middle:
            text += f' It links to an article described as "{middle[0].description}"'
            text += "".join(f', which links to one described as "{d.description}"' for d in middle[1:]) + "."
        that = "it" if not middle else "that article"
        if kind == "chain":
            answers, answer_type = [chain[-1].title], SINGLE
            text += f' Which article described as "{chain[-1].description}" does {that} link to?'
        else:
            last = chain[-1]
            by_topic: dict[str, list[str]] = {}
            for t in last.links:
                if t in self.by_id and self.by_id[t].topic not in SKIP_TOPICS:
                    by_topic.setdefault(self.by_id[t].topic, []).append(t)
            low, high = SET_SIZES[level]
            topics = sorted(t for t, items in by_topic.items()
                            if low <= len(items) <= high and all(self.short(self.by_id[i], level) for i in items))
            if not topics:
                return None
            topic = rng.choice(topics)
            answers, answer_type = by_topic[topic], SET
            text += f" List every article {that} links to whose topic is {topic}."
        expert = [f"search[{start.description}]", *(f"open[{d.doc_id}]" for d in opened),
                  f"answer[{'; '.join(answers)}]"]
        return Question("", text, answers, answer_type, start.topic or "Uncategorized", hops, expert,
                        [d.doc_id for d in opened])

    def split(self, seed: int, n_train: int, n_eval: int, level: str = "standard", n_final: int = 0,
              *, eval_seed: int) -> dict[str, list[Question]]:
        """Train and held-out questions from disjoint start articles: training ones from `seed` (public: agents
        get them), held-out ones from `eval_seed` (the installation's secret) alone.

        The public stream is version 1's: a shuffle of the start articles, `n_eval` questions, the `n_train`
        training questions (unchanged), then `n_final` more; v1's held-out questions (the first and the last
        of these) are public now and never held out. The held-out questions are drawn from the start articles
        the public stream did not reach, in an order shuffled by `eval_seed`: `n_eval` (the selection part)
        then `n_final` more, prefix-stable."""
        rng = random.Random(seed)
        starts = self.starts[:]
        rng.shuffle(starts)
        kinds = KINDS[level]
        public: dict[str, list[Question]] = {"v1-eval": [], "train": []}
        pos = 0

        def draw(out: list[Question], n: int, order: list[str], rng: random.Random, split: str) -> None:
            nonlocal pos
            while len(out) < n and pos < len(order):
                start = self.by_id[order[pos]]
                pos += 1  # each start article is used once, by one split
                kind, hops = kinds[len(out) % len(kinds)]
                q = self.make(start, kind, hops, rng, level)
                if q is None or not self.findable(start):
                    continue
                q.id = f"synthetic-{level}-{split}-{len(out):04d}"
                out.append(q)

        draw(public["v1-eval"], n_eval, starts, rng, "eval")
        draw(public["train"], n_train, starts, rng, "train")
        draw(public["v1-eval"], n_eval + n_final, starts, rng, "eval")
        rest, secret = starts[pos:], random.Random(eval_seed)
        secret.shuffle(rest)
        held: list[Question] = []
        pos = 0
        draw(held, n_eval + n_final, rest, secret, "eval")
        return {"eval": held, "train": public["train"]}
