"""alpacaeval-judge's smoke level: seeded synthetic instructions with short reference answers.

What it is: one-sentence questions and requests about everyday things ("What color is a lemon?",
"Describe a hammer in one sentence.") built from 7 templates over 42 things (each with a category,
a colour, a property and a use), with a one-sentence reference answer built from the same facts. SYNTHETIC
everywhere: these are not AlpacaEval instructions and their scores are not AlpacaEval scores.
How hard: an answer wins against the reference when it is on topic (uses the instruction's words) and
fluent (does not repeat itself), which is what the FAKE judge measures; the held-out split pairs
templates and things never seen together in training, so copying training answers is not enough.
Why the tiny model can move: the randomly initialised model writes unrelated, repetitive tokens (win
rate ~0); a few CPU minutes of SFT on the training answers teach it the answer shapes and to reuse the
thing named in the instruction, which is most of what the FAKE judge rewards.
"""

from __future__ import annotations

import random

SEED = 20261202
N_EVAL = 60
# thing: (category, colour, property, what people do with it)
THINGS = {
    "apple": ("fruit", "red", "sweet", "eat it as a snack"), "banana": ("fruit", "yellow", "soft", "eat it for breakfast"),
    "lemon": ("fruit", "yellow", "sour", "squeeze it into tea"), "cherry": ("fruit", "red", "small", "bake it into pies"),
    "grape": ("fruit", "purple", "juicy", "make juice from it"), "orange": ("fruit", "orange", "juicy", "peel it and eat it"),
    "carrot": ("vegetable", "orange", "crunchy", "cook it in soup"), "potato": ("vegetable", "brown", "starchy", "bake it"),
    "tomato": ("vegetable", "red", "juicy", "slice it into salads"), "onion": ("vegetable", "white", "sharp", "fry it"),
    "lettuce": ("vegetable", "green", "fresh", "make salads with it"), "pepper": ("vegetable", "green", "crisp", "grill it"),
    "hammer": ("tool", "gray", "heavy", "drive nails into wood"), "saw": ("tool", "silver", "sharp", "cut boards"),
    "wrench": ("tool", "silver", "strong", "turn bolts"), "shovel": ("tool", "black", "sturdy", "dig holes"),
    "ladder": ("tool", "gray", "tall", "reach high shelves"), "brush": ("tool", "brown", "soft", "paint walls"),
    "chair": ("furniture", "brown", "comfortable", "sit at a table"), "table": ("furniture", "brown", "flat", "eat meals"),
    "sofa": ("furniture", "blue", "soft", "relax in the evening"), "bed": ("furniture", "white", "cozy", "sleep at night"),
    "desk": ("furniture", "black", "wide", "work and study"), "shelf": ("furniture", "white", "narrow", "store books"),
    "dog": ("animal", "brown", "loyal", "walk it in the park"), "cat": ("animal", "black", "curious", "keep it as a pet"),
    "horse": ("animal", "brown", "fast", "ride it across fields"), "cow": ("animal", "white", "calm", "get milk from it"),
    "rabbit": ("animal", "gray", "quick", "feed it carrots"), "sheep": ("animal", "white", "woolly", "shear its wool"),
    "bicycle": ("vehicle", "red", "light", "ride it to work"), "truck": ("vehicle", "blue", "large", "carry heavy loads"),
    "boat": ("vehicle", "white", "steady", "cross the lake"), "train": ("vehicle", "silver", "long", "travel between cities"),
    "bus": ("vehicle", "yellow", "big", "go to school"), "car": ("vehicle", "black", "quiet", "drive to the shop"),
    "guitar": ("instrument", "brown", "loud", "play songs"), "piano": ("instrument", "black", "grand", "play music"),
    "drum": ("instrument", "red", "loud", "keep the beat"), "flute": ("instrument", "silver", "thin", "play soft tunes"),
    "violin": ("instrument", "brown", "delicate", "play in an orchestra"),
    "trumpet": ("instrument", "gold", "bright", "play marches"),
}
# (instruction, reference answer) templates over a thing's facts
TEMPLATES = (
    ("What color is a {t}?", "A {t} is usually {color}."),
    ("Describe a {t} in one sentence.", "A {t} is a {prop} {cat} that people use to {use}."),
    ("What kind of thing is a {t}?", "A {t} is a kind of {cat}."),
    ("Tell me one fact about a {t}.", "A {t} is often {prop} and {color}."),
    ("Why would someone want a {t}?", "Someone would want a {t} to {use}."),
    ("Write a short sentence about a {color} {t}.", "The {color} {t} was {prop}, and I liked it."),
    ("Name a {cat} other than a {t}.", "Another {cat} is a {other}."),
)


def _row(template: int, thing: str, rng: random.Random) -> dict:
    cat, color, prop, use = THINGS[thing]
    others = [t for t, facts in THINGS.items() if facts[0] == cat and t != thing]
    fields = {"t": thing, "cat": cat, "color": color, "prop": prop, "use": use, "other": rng.choice(others)}
    instruction, answer = TEMPLATES[template]
    return {"instruction": instruction.format(**fields), "output": answer.format(**fields), "dataset": f"synthetic-{cat}",
            "generator": "synthetic-reference"}


def smoke_splits(n_eval: int = N_EVAL, seed: int = SEED) -> tuple[list[dict], list[dict]]:
    """(train, eval): every (template, thing) pair once; the held-out pairs are never in training."""
    rng = random.Random(seed)
    pairs = [(i, t) for i in range(len(TEMPLATES)) for t in THINGS]
    rng.shuffle(pairs)
    held, train = pairs[:n_eval], pairs[n_eval:]
    return [_row(i, t, rng) for i, t in train], [_row(i, t, rng) for i, t in held]
