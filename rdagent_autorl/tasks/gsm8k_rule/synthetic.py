"""SYNTHETIC grade-school math word problems in GSM8K's format — NOT the real GSM8K dataset.

Used where the real openai/gsm8k cannot be loaded (offline machines, tests): each item is a dict
with `question` and `answer`, the answer being GSM8K-style steps with calculator annotations
("Tom has 3 + 4 = <<3+4=7>>7 apples.") and a final line `#### N`. Scores on this data are not
comparable with published GSM8K numbers.

`difficulty` is the number of arithmetic operations needed (1 to 4); each operation is one
annotated solution line. Problems come from several templates (collections of objects, money,
a bakery selling its stock, ages, distances run on successive days; sharing equally, groups of
equal size, buying and selling). Operands are chosen so every intermediate and final result is a
non-negative integer (divisions are exact, subtractions never go below zero). Generation uses
only its own `random.Random(seed)`, so a seed always gives the same problems, and the first n
problems of a seed do not depend on how many are asked for.

Training problems come from a public seed (TRAIN_SEED); held-out problems from a seed the caller passes,
which data.py takes from this installation's secret (installation.eval_seed): no constant here
regenerates a held-out set.
"""

from __future__ import annotations

import random
import re

TRAIN_SEED = 1  # public: agents see the training problems anyway
# The held-out seed is the installation's (data.py); 2 was the package's constant before, so its problems are
# public: tests/test_eval_seeds.py checks that a held-out set is not that stream's.
MAX_DIFFICULTY = 4

NAMES = ["Tom", "Maya", "Liam", "Sofia", "Noah", "Aisha", "Ben", "Chloe", "Diego", "Emma", "Farid",
         "Grace", "Hiro", "Ines", "Jack", "Kira", "Leo", "Mia", "Omar", "Priya", "Ravi", "Sara"]
OBJECTS = ["apples", "marbles", "stickers", "pencils", "books", "shells", "cards", "stamps",
           "toy cars", "beads", "crayons", "coins"]
BAKED = ["cookies", "muffins", "cupcakes", "bagels", "rolls", "pies"]
PLACES = ["bakery", "cafe", "market stall", "school fair stand"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
TIMES = {2: "twice", 3: "three times", 4: "four times"}
PARTS = {2: "half", 3: "a third", 4: "a quarter"}
SYMBOL = {"add": "+", "sub": "-", "mul": "*", "div": "/"}

# Sentences per operation, for stories about one quantity that changes over time. Placeholders:
# {name} {other} {obj} {k}; {times} for multiplication ("three times").
STOCK_OPS = {
    "add": ["{name} finds {k} more {obj}.", "{other} gives {name} {k} more {obj}.",
            "{name} buys {k} more {obj} at the store."],
    "sub": ["{name} gives {k} {obj} to {other}.", "{name} loses {k} {obj}.",
            "{name} trades away {k} {obj}."],
    "mul": ["{name}'s collection of {obj} grows to {times} its size after a birthday.",
            "{other} gives {name} enough {obj} to make the pile {times} as big."],
    "div": ["{name} splits the {obj} into {k} equal piles and keeps only one pile.",
            "{name} packs the {obj} equally into {k} boxes and keeps one box."],
}
MONEY_OPS = {
    "add": ["{name} earns ${k} walking dogs.", "{other} gives {name} ${k} as a gift.",
            "{name} sells an old bike for ${k}."],
    "sub": ["{name} spends ${k} on a book.", "{name} buys a ticket that costs ${k}.",
            "{name} pays {other} back ${k}."],
    "mul": ["A savings bonus makes {name}'s money {times} as much.",
            "{name} works extra shifts until the savings are {times} as much."],
    "div": ["{name} shares the money equally among {k} people, {name} included, and keeps one share."],
}
BAKERY_OPS = {
    "add": ["Then it bakes {k} more {obj}.", "A delivery brings {k} more {obj}."],
    "sub": ["It sells {k} {obj} before noon.", "{k} {obj} are given to a school."],
    "mul": ["A big order arrives, so it bakes until it has {times} as many {obj}.",
            "More batches come out of the oven until there are {times} as many {obj}."],
    "div": ["It packs the {obj} into {k} equal trays and puts out only one tray."],
}
# Chains where each step names a new person or day relative to the previous one.
AGE_OPS = {
    "add": "{new} is {k} years older than {prev}.", "sub": "{new} is {k} years younger than {prev}.",
    "mul": "{new} is {times} as old as {prev}.", "div": "{new} is {part} as old as {prev}.",
}
RUN_OPS = {
    "add": "On {new}, {name} runs {k} miles more than on {prev}.",
    "sub": "On {new}, {name} runs {k} miles less than on {prev}.",
    "mul": "On {new}, {name} runs {times} as far as on {prev}.",
    "div": "On {new}, {name} runs {part} as far as on {prev}.",
}


def _pick_op(rng: random.Random, cur: int, cap: int, max_div: int) -> tuple[str, int]:
    """A random operation and operand that keep the value a positive integer no larger than cap."""
    options: list[tuple[str, int]] = [("add", rng.randint(2, 25))]
    if cur > 4:  # take at least 2 and leave at least 2, so the text never says "1 apples"
        options.append(("sub", rng.randint(2, cur - 2)))
    factors = [k for k in range(2, 5) if cur * k <= cap]
    if factors:
        options.append(("mul", rng.choice(factors)))
    divisors = [k for k in range(2, max_div + 1) if cur % k == 0 and cur // k >= 2]
    if divisors:
        options.append(("div", rng.choice(divisors)))
    return rng.choice(options)


def _apply(op: str, cur: int, k: int) -> int:
    return {"add": cur + k, "sub": cur - k, "mul": cur * k, "div": cur // k}[op]


def _step(cur: int, op: str, k: int, lead: str, unit: str) -> str:
    """One GSM8K-style solution line with a calculator annotation that re-evaluates exactly."""
    expr = f"{cur}{SYMBOL[op]}{k}"
    res = _apply(op, cur, k)
    return f"{lead} {cur} {SYMBOL[op]} {k} = <<{expr}={res}>>{res}{unit}."


def _start_groups(rng: random.Random, what: str) -> tuple[str, int, str]:
    """An opening of equal groups ("4 bags of 6 apples"), which is itself one multiplication."""
    bags, per = rng.randint(2, 9), rng.randint(2, 12)
    container = rng.choice(["bags", "boxes", "jars", "packs"])
    return f"{bags} {container} with {per} {what} in each", bags * per, f"{bags} * {per}"


def _stock_story(rng: random.Random, steps: int, theme: str) -> tuple[str, list[str], int]:
    name, other = rng.sample(NAMES, 2)
    if theme == "bakery":
        obj, ops, subject = rng.choice(BAKED), BAKERY_OPS, f"The {rng.choice(PLACES)}"
    elif theme == "money":
        obj, ops, subject = "dollars", MONEY_OPS, name
    else:
        obj, ops, subject = rng.choice(OBJECTS), STOCK_OPS, name
    lines, sentences = [], []
    # Half the stories open with equal groups; that multiplication counts as the first step.
    if theme != "money" and steps > 1 and rng.random() < 0.5:
        text, cur, expr = _start_groups(rng, obj)
        has = "has" if theme != "bakery" else "starts the day with"
        sentences.append(f"{subject} {has} {text}.")
        lines.append(f"{subject} starts with {expr} = <<{expr.replace(' ', '')}={cur}>>{cur} {obj}.")
        steps -= 1
    else:
        cur = rng.randint(6, 60)
        sentences.append(f"{subject} has ${cur}." if theme == "money" else
                         f"{subject} {'bakes' if theme == 'bakery' else 'has'} {cur} {obj}.")
    # The last step of a bakery story may be selling everything left, turning items into dollars.
    sell = theme == "bakery" and rng.random() < 0.5
    for i in range(steps):
        if sell and i == steps - 1:
            price = rng.randint(2, 6)
            question = f"It sells all the {obj} it has left for ${price} each. How many dollars does it make?"
            lines.append(_step(cur, "mul", price, "It makes", " dollars"))
            return " ".join(sentences + [question]), lines, cur * price
        op, k = _pick_op(rng, cur, cap=400, max_div=6)
        sentences.append(rng.choice(ops[op]).format(
            name=name, other=other, obj=obj, k=k, times=TIMES.get(k, "")))
        lead = "Now it has" if theme == "bakery" else f"Now {name} has"
        lines.append(_step(cur, op, k, lead, f" {obj}"))
        cur = _apply(op, cur, k)
    if theme == "money":
        question = f"How many dollars does {name} have now?"
    else:
        question = f"How many {obj} does {'it' if theme == 'bakery' else name} have now?"
    return " ".join(sentences + [question]), lines, cur


def _chain_story(rng: random.Random, steps: int, theme: str) -> tuple[str, list[str], int]:
    """Each step relates a new person's age (or a new day's distance) to the previous one."""
    runner = rng.choice(NAMES)
    labels = rng.sample(NAMES, steps + 1) if theme == "ages" else DAYS[: steps + 1]
    cur = rng.randint(4, 40) if theme == "ages" else rng.randint(2, 12)
    cap = 90 if theme == "ages" else 60  # keep ages and daily distances plausible
    if theme == "ages":
        sentences, unit = [f"{labels[0]} is {cur} years old."], " years old"
    else:
        sentences, unit = [f"On {labels[0]}, {runner} runs {cur} miles."], " miles"
    lines = []
    for i in range(steps):
        op, k = _pick_op(rng, cur, cap=cap, max_div=4)
        template = (AGE_OPS if theme == "ages" else RUN_OPS)[op]
        sentences.append(template.format(new=labels[i + 1], prev=labels[i], name=runner, k=k,
                                         times=TIMES.get(k, ""), part=PARTS.get(k, "")))
        lead = f"{labels[i + 1]} is" if theme == "ages" else f"On {labels[i + 1]}, {runner} runs"
        lines.append(_step(cur, op, k, lead, unit))
        cur = _apply(op, cur, k)
    if theme == "ages":
        question = f"How old is {labels[-1]}?"
    else:
        question = f"How many miles does {runner} run on {labels[-1]}?"
    return " ".join(sentences + [question]), lines, cur


THEMES = ("objects", "money", "bakery", "ages", "running")


def _largest_number(item: dict) -> int:
    return max(int(x) for x in re.findall(r"\d+", item["question"] + " " + item["answer"]))


def generate(n: int, seed: int, difficulty: int = 2, max_number: int | None = None) -> list[dict]:
    """n SYNTHETIC GSM8K-style problems, each needing `difficulty` (1-4) arithmetic steps.

    `max_number` keeps only problems in which no number (operands, intermediate results, answer)
    exceeds it: the easy smoke level. Rejected problems are skipped, so the output stays a function
    of (n, seed, difficulty, max_number) and prefix-stable.
    """
    if not 1 <= difficulty <= MAX_DIFFICULTY:
        raise ValueError(f"difficulty must be between 1 and {MAX_DIFFICULTY}, got {difficulty}")
    if n < 0:
        raise ValueError(f"n must be non-negative, got {n}")
    rng = random.Random(seed)  # private state: the global random module is never touched
    items: list[dict] = []
    attempts = 0
    while len(items) < n:
        attempts += 1
        if attempts > 200 * (n + 10):
            raise ValueError(f"max_number={max_number} leaves too few difficulty-{difficulty} problems")
        theme = rng.choice(THEMES)
        story = _chain_story if theme in ("ages", "running") else _stock_story
        question, lines, result = story(rng, difficulty, theme)
        item = {"question": question, "answer": "\n".join(lines + [f"#### {result}"])}
        if max_number is None or _largest_number(item) <= max_number:
            items.append(item)
    return items


def synthetic_splits(n_train: int = 1000, n_eval: int = 200, difficulty: int = 2,
                     max_number: int | None = None, *, eval_seed: int) -> tuple[list[dict], list[dict]]:
    """Train (from TRAIN_SEED) and eval (from `eval_seed`, the installation's) splits, with no eval
    question also in train.

    Eval questions that repeat a train question (or an earlier eval one) are dropped and replaced
    by the next problems of the eval seed, so eval keeps n_eval items while staying reproducible.
    """
    train = generate(n_train, TRAIN_SEED, difficulty, max_number)
    seen = {item["question"] for item in train}
    evaluation: list[dict] = []
    pool = n_eval
    while len(evaluation) < n_eval:
        # Generation is prefix-stable, so asking for a bigger batch only appends new problems.
        evaluation, taken = [], set()
        for item in generate(pool, eval_seed, difficulty, max_number):
            if item["question"] not in seen and item["question"] not in taken:
                taken.add(item["question"])
                evaluation.append(item)
        if len(evaluation) < n_eval:
            if pool > 50 * (n_eval + 10):  # one-step problems can run out of fresh questions
                raise ValueError(f"cannot find {n_eval} eval problems disjoint from train")
            pool *= 2
    return train, evaluation[:n_eval]


TOKENIZER_SEED, TOKENIZER_N = 20240601, 1500  # a stream of its own, never the train/eval streams'


def tokenizer_text() -> list[str]:
    """The tiny tokenizer's math text: synthetic word problems with their worked answers."""
    return [f"{item['question']}\n{item['answer']}" for item in generate(TOKENIZER_N, seed=TOKENIZER_SEED)]
