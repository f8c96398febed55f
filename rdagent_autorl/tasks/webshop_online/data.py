"""WebShop's products and goals: the official files (the real path) and the synthetic generator's, processed
the same way (web_agent_site/engine/engine.py's load_products, goal.py's get_human_goals /
get_synthetic_goals), and split by WebShop's protocol.

Official: the folder of the WebShop repository's `setup.sh -d small|all` download (Google Drive):
items_shuffle_1000.json + items_ins_v2_1000.json (small) or items_shuffle.json + items_ins_v2.json (all),
and items_human_ins.json. Goals are the human instructions, shuffled as WebShop shuffles them
(`random.seed(233)`): test = goals 0-499 (the held-out evaluation), dev = 500-1499, train = 1500 on.
WebShop draws each product's price (uniform within a price range) and each goal's price limit with an
unseeded `random`; here both come from one fixed seed (PRICE_SEED) so a grade is reproducible; the
shuffle, and with it which goal is in which split, is WebShop's.

The processed catalogue goes to the cache as one JSON list (what the environment loads, and what
workspaces link as data/catalogue.json).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import random
import re
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

from rdagent_autorl.types import TaskError

SHUFFLE_SEED = 233  # web_agent_site/envs/web_agent_text_env.py: random.seed(233); random.shuffle(goals)
PRICE_SEED = 0  # this project's: product prices and goal price limits (unseeded in WebShop)
SPLITS = {"test": (0, 500), "dev": (500, 1500), "train": (1500, None)}
PRICE_RANGE = [10.0 * i for i in range(1, 100)]
OFFICIAL_FILES = {"small": ("items_shuffle_1000.json", "items_ins_v2_1000.json"),
                  "all": ("items_shuffle.json", "items_ins_v2.json")}
HUMAN_FILE = "items_human_ins.json"
_DROPPED_KEYS = ("product_information", "brand", "brand_url", "list_price", "availability_quantity",
                 "availability_status", "total_reviews", "total_answered_questions", "seller_id", "seller_name",
                 "fulfilled_by_amazon", "fast_track_message", "aplus_present", "small_description_old")


def official_files(folder: Path) -> tuple[Path, Path, Path]:
    """(products, attributes, human instructions) in `folder`: the full set when present, else the 1000."""
    for size in ("all", "small"):
        products, attributes = (folder / name for name in OFFICIAL_FILES[size])
        if products.is_file() and attributes.is_file() and (folder / HUMAN_FILE).is_file():
            return products, attributes, folder / HUMAN_FILE
    expected = " or ".join(" + ".join(OFFICIAL_FILES[s]) for s in ("small", "all"))
    raise TaskError(f"no WebShop data in {folder}: expected {expected}, and {HUMAN_FILE} (download them with the "
                    "WebShop repository's setup.sh -d small|all, then set AUTORL_WEBSHOP_DATA to that data folder)")


def process_products(raw: list[dict], attributes: dict, human: dict | None, rng: random.Random) -> list[dict]:
    """engine.py's load_products: WebShop's fields from the raw schema (Title, Description, BulletPoints,
    Price, pricing, options, Attributes, instructions), duplicates and bad asins dropped; plus `price`,
    the price a purchase pays (generate_product_prices: uniform within a range)."""
    products, seen = [], set()
    for p in raw:
        asin = p["asin"]
        if asin == "nan" or len(asin) > 10 or asin in seen:
            continue
        seen.add(asin)
        p = {k: v for k, v in p.items() if k not in _DROPPED_KEYS}
        p.update(Title=p["name"], Description=p["full_description"], Reviews=[], Rating="N.A.",
                 BulletPoints=p["small_description"] if isinstance(p["small_description"], list) else [p["small_description"]])
        if not p.get("pricing"):
            pricing, tag = [100.0], "$100.0"
        else:
            pricing = [float(Decimal(re.sub(r"[^\d.]", "", x))) for x in p["pricing"].split("$")[1:]]
            tag = f"${pricing[0]}" if len(pricing) == 1 else f"${pricing[0]} to ${pricing[1]}"
            pricing = pricing[:2]
        options = {}
        for name, contents in (p.get("customization_options") or {}).items():
            if contents is not None:
                options[name.lower()] = [c["value"].strip().replace("/", " | ").lower() for c in contents]
        record = attributes.get(asin, {})
        p.update(pricing=pricing, Price=tag, options=options, Attributes=record.get("attributes", ["DUMMY_ATTR"]),
                 query=p["query"].lower().strip())
        if human is not None and asin in human:
            p["instructions"] = human[asin]
        p["instruction_text"] = record.get("instruction")
        p["instruction_attributes"] = record.get("instruction_attributes")
        p["price"] = pricing[0] if len(pricing) == 1 else rng.uniform(*pricing[:2])
        products.append(p)
    return products


def _price_limit(price: float, rng: random.Random) -> tuple[float, str]:
    """goal.py: the larger of 2 of the 4 smallest round limits above the price, and its instruction text."""
    above = [x for x in PRICE_RANGE if x > price][:4]
    if len(above) < 2:
        return 1000000, ""
    _, upper = sorted(rng.sample(above, 2))
    return upper, f", and price lower than {upper:.2f} dollars"


def _goal(p: dict, text: str, attributes: list, options: list, upper: float, **extra) -> dict:
    return {"asin": p["asin"], "category": p["category"], "query": p["query"], "name": p["name"],
            "product_category": p["product_category"], "instruction_text": text, "attributes": attributes,
            "price_upper": upper, "goal_options": options, **extra}


def human_goals(products: list[dict], rng: random.Random) -> list[dict]:
    """goal.py's get_human_goals (instructions without attributes are skipped), then WebShop's shuffle."""
    goals = []
    for p in products:
        for ins in p.get("instructions", []):
            if not ins["instruction_attributes"]:
                continue
            upper, price_text = _price_limit(p["price"], rng)
            goals.append(_goal(p, ins["instruction"].strip(".") + price_text, ins["instruction_attributes"],
                               list(ins["instruction_options"]), upper))
    random.Random(SHUFFLE_SEED).shuffle(goals)  # = random.seed(233); random.shuffle(goals)
    for i, g in enumerate(goals):
        g["id"] = f"human-{i}"
    return goals


def synthetic_goals(products: list[dict], rng: random.Random) -> list[dict]:
    """goal.py's get_synthetic_goals: every product x option combination, weighted by inverse attribute
    frequency. The options are kept as a list of values (`option_names` beside it): upstream passes
    the dict's (name, value) pairs to the option match, which then matches colours only."""
    goals, counts = [], defaultdict(int)
    for p in products:
        if not p.get("instruction_text"):
            continue
        upper, price_text = _price_limit(p["price"], rng)
        names = sorted(p["options"])
        for combo in itertools.product(*(p["options"][n] for n in names)):
            option_text = ", and ".join(f"{n}: {v}" for n, v in zip(names, combo))
            option_text = f" with {option_text}" if option_text else ""
            goals.append(_goal(p, f"{p['instruction_text']}{option_text}{price_text}", p["instruction_attributes"],
                               list(combo), upper, option_names=names, name=p["Title"]))
            for a in p["instruction_attributes"]:
                counts[a] += 1
    for g in goals:
        g["weight"] = sum(1.0 / counts[a] for a in g["attributes"]) / len(g["attributes"])
    return goals


def split_goals(goals: list[dict], split: str) -> list[dict]:
    start, end = SPLITS[split]
    return goals[start:end]


def write_catalogue(products: list[dict], path: Path) -> Path:
    """The processed products as the environment loads them (the human instructions left out)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps([{k: v for k, v in p.items() if k != "instructions"} for p in products]))
        tmp.replace(path)
    return path


def load_official(folder: Path, cache_dir: Path) -> tuple[Path, list[dict]]:
    """(the processed catalogue file, every human goal in WebShop's shuffled order)."""
    products_file, attributes_file, human_file = official_files(folder)
    raw = json.loads(products_file.read_text())
    attributes = json.loads(attributes_file.read_text())
    human = json.loads(human_file.read_text())
    rng = random.Random(PRICE_SEED)
    products = process_products(raw, attributes, human, rng)
    goals = human_goals(products, rng)
    key = hashlib.sha256(f"{products_file.resolve()}:{products_file.stat().st_size}:{PRICE_SEED}".encode()).hexdigest()[:12]
    return write_catalogue(products, cache_dir / f"webshop-official-{key}" / "catalogue.json"), goals


def load_generated(level: str, n_per_type: int, n_train: int, n_eval: int, cache_dir: Path,
                   seed: int, eval_seed: int) -> tuple[Path, dict[str, list[dict]]]:
    """A SYNTHETIC catalogue and its goals: (the catalogue file, {"train": goals, "test": goals}).

    Products are partitioned between the splits by a hash of their asin (about a fifth held out): a
    held-out goal's product is never a training goal's, though every product is in the catalogue. Goals
    are drawn by weight without replacement (WebShop's limit_goals). The products and the training goals
    come from `seed` (public: agents get both). The held-out goals come from `eval_seed` (the installation's
    secret) alone: each held-out product's instruction is drawn again from it (gen.redraw_instruction), then
    the goals' price limits and weights, and the draws. The catalogue file holds no goal instruction (the
    environment never reads one), so the file agents get names no held-out goal."""
    from rdagent_autorl.tasks.webshop_online.gen import GENERATOR_VERSION, generate_raw, redraw_instruction

    raw, records = generate_raw(n_per_type, seed)
    products = process_products(raw, records, None, random.Random(seed + 1))
    goals = synthetic_goals(products, random.Random(seed + 2))
    held_out = {p["asin"] for p in products if int(hashlib.sha256(p["asin"].encode()).hexdigest(), 16) % 5 == 0}
    secret = random.Random(eval_seed)
    held_goals = synthetic_goals([redraw_instruction(p, secret) for p in products if p["asin"] in held_out], secret)
    pools = {"train": [g for g in goals if g["asin"] not in held_out], "test": held_goals}
    splits = {}
    for split, n, rng in (("train", n_train, random.Random(seed + 3)), ("test", n_eval, secret)):
        pool = pools[split]
        chosen: list[dict] = []
        while pool and len(chosen) < n:  # weighted draws without replacement
            i = rng.choices(range(len(pool)), weights=[g["weight"] for g in pool])[0]
            chosen.append(pool.pop(i))
        for i, g in enumerate(chosen):
            g["id"] = f"synthetic-{split}-{i}"
        splits[split] = chosen
    path = cache_dir / f"webshop-gen-v{GENERATOR_VERSION}-{level}-{seed}" / "catalogue.json"
    public = [{k: v for k, v in p.items() if k not in ("instruction_text", "instruction_attributes")} for p in products]
    return write_catalogue(public, path), splits
