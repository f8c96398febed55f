"""webshop-online: WebShop product search and purchase in its text mode, closed-loop online RL (Level 3).

A sample is one shopping goal. The grader plays each held-out goal with the submitted checkpoint (env.py
on rdagent_autorl/envs/protocol.py: chat prompts, one action per turn, at most 15 steps, every session in
flight decoded in one batch) and scores WebShop's reward at Buy Now (reward.py): headline = mean reward
x 100, with the success rate (reward = 1) and mean steps beside it and a breakdown per product category,
each with a 95% interval.

Data sources, in the order `auto` tries them:
- `official`: the WebShop files at AUTORL_WEBSHOP_DATA (data.py): the human goals, shuffled with seed 233;
  evaluation = the official test goals 0-499, training goals 1500 on (500-1499 = dev, unused);
- `generated`: never chosen by `auto`. A SYNTHETIC catalogue (gen.py: 1,000 products in WebShop's raw
  schema) and synthetic goals made as WebShop makes them; disjoint training and held-out goals and
  products bought (the held-out goals come from this installation's secret seed, EVAL_SEED_LABELS). Its
  scores are not WebShop scores;
- `smoke`: the generator at a small size (80 products), for CPU smoke runs (SYNTHETIC too).

Agents get data/train.jsonl (one row per training goal: the instruction, the goal's fields, the target
product), data/catalogue.json (the processed catalogue, linked) and env/webshop_env.py +
env/webshop_reward.py + env/protocol.py (the grader's environment, copied by run/workspace.py).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from rdagent_autorl.envs import protocol
from rdagent_autorl.installation import eval_seed
from rdagent_autorl.settings import get_settings
from rdagent_autorl.tasks.spec import Budget, DataSource, Smoke, TaskSpec
from rdagent_autorl.tasks.webshop_online import recipes, rollout
from rdagent_autorl.tasks.webshop_online.env import ACTION_MAX_TOKENS
from rdagent_autorl.tasks.webshop_online.gen import GENERATOR_VERSION
from rdagent_autorl.types import Sample, TaskError

HERE = Path(__file__).resolve().parent
CATALOGUE_LINK = "catalogue.json"  # data/catalogue.json -> the processed catalogue, in every workspace
# Generated sources: (products per type (20 types), training goals, held-out goals of the selection part, of the
# final part, seed of the catalogue and the training goals (public)). The held-out draws are prefix-stable: the
# first goals are the selection part. The held-out goals' seed is the installation's secret (installation.eval_seed).
GENERATED = {"generated": (50, 2000, 500, 500, 1), "smoke": (4, 300, 30, 30, 2)}
EVAL_SEED_LABELS = {source: f"webshop-online/{source}/gen-v{GENERATOR_VERSION}" for source in GENERATED}
ENV_FILES = {"webshop_env.py": HERE / "env.py", "webshop_reward.py": HERE / "reward.py",
             "protocol.py": Path(protocol.__file__)}


def official_root() -> Path | None:
    return get_settings().webshop_data


def _official_check() -> tuple[bool, str]:
    from rdagent_autorl.tasks.webshop_online.data import official_files

    root = official_root()
    if root is None:
        return False, "AUTORL_WEBSHOP_DATA is not set (the folder of WebShop's setup.sh downloads)"
    try:
        official_files(Path(root).expanduser())
    except TaskError as e:
        return False, str(e)
    return True, ""


def _goals(source: str) -> tuple[str, dict[str, list[dict]]]:
    """(the catalogue file, {split: goals}) of a source, built on first use and cached on disk."""
    return _goals_of(source, eval_seed(EVAL_SEED_LABELS[source]) if source in GENERATED else None)


@lru_cache(maxsize=4)
def _goals_of(source: str, secret: int | None) -> tuple[str, dict[str, list[dict]]]:
    from rdagent_autorl.tasks.webshop_online import data

    cache = get_settings().cache_path
    if source == "official":
        root = official_root()
        if root is None:
            raise TaskError("AUTORL_WEBSHOP_DATA is not set: point it at the folder of WebShop's setup.sh downloads "
                            f"({' + '.join(data.OFFICIAL_FILES['small'])}, {data.HUMAN_FILE})")
        path, goals = data.load_official(Path(root).expanduser(), cache)
        splits = {"train": data.split_goals(goals, "train"), "test": data.split_goals(goals, "test")}
    else:
        n_per_type, n_train, n_selection, n_final, seed = GENERATED[source]
        path, splits = data.load_generated(source, n_per_type, n_train, n_selection + n_final, cache, seed, secret)
    for split, goals in splits.items():
        if not goals:
            raise TaskError(f"source '{source}' has no {split} goals (the small official set may hold fewer than "
                            "1,500 human goals: training goals start at 1500; use the full set)")
    return str(path), splits


def _loader(split: str):
    def load(source: str) -> list[Sample]:
        path, splits = _goals(source)
        # Training rows name the workspace's data/catalogue.json link; the grader keeps the real path.
        catalogue = CATALOGUE_LINK if split == "train" else path
        return [Sample(id=g["id"], prompt=g["instruction_text"], answer=g["asin"],
                       meta={"goal": g, "category": g["category"], "catalogue": catalogue})
                for g in splits[split]]

    return load


def prepare_workspace(workspace: Path, source: str) -> None:
    """data/catalogue.json -> the processed catalogue (linked, not copied: the official one is large)."""
    link = workspace / "data" / CATALOGUE_LINK
    if not link.exists():
        link.symlink_to(Path(_goals(source)[0]).resolve())


def _tokenizer_text() -> list[str]:
    """The oracle shopper's sessions on training goals of the offline catalogues (what agents see), as the
    grader prompts them: instructions, result pages, item pages and actions."""
    from rdagent_autorl.tasks.webshop_online import env

    shop, texts = env.make_env(), []
    for source in ("smoke", "generated"):
        path, splits = _goals(source)
        for goal in splits["train"][:40]:
            texts += [m["content"] for m in env.oracle_episode(shop, {"catalogue": path, "goal": goal}).prompt()]
    return texts


TASK = TaskSpec(
    id="webshop-online",
    level=3,
    title="WebShop product search and purchase, online RL with environment rollouts (mean reward)",
    version=2,  # 2: the generated sources' held-out goals come from the installation's secret seed (gen.py v2)
    default_model="Qwen/Qwen2.5-0.5B-Instruct",
    sources=(
        DataSource("official", "WebShop's products and human goals (test 0-499, train 1500+)", _official_check),
        DataSource("generated", "SYNTHETIC catalogue (1,000 products) and goals made as WebShop makes them (offline)",
                   auto=False, selection_size=GENERATED["generated"][2], eval_seed_label=EVAL_SEED_LABELS["generated"]),
        DataSource("smoke", "SYNTHETIC small catalogue (80 products) and goals, for CPU smoke runs (--smoke)",
                   auto=False, selection_size=GENERATED["smoke"][2], eval_seed_label=EVAL_SEED_LABELS["smoke"]),
    ),
    load_train=_loader("train"),
    load_eval=_loader("test"),
    solver=rollout.play_goals,
    scorer=rollout.score_sessions,
    grade_settings=lambda: {"webshop_data": str(official_root() or "")},  # the official files graded
    group_by="category",
    prepare_workspace=prepare_workspace,
    budget=Budget(time_s=4 * 3600, max_new_tokens=ACTION_MAX_TOKENS),
    # smoke: three gradings of 30 goals (~1-1.5 min each on 2 cores), SFT (~8 min), GRPO (2 steps): 11 min measured
    smoke=Smoke(data="smoke", time_s=2700, plan=recipes.PLAN, example=recipes.EXAMPLE),
    templates=("sft_trajectories", "grpo_online"),
    protocol_files=(*ENV_FILES.values(), HERE / "rollout.py"),
    env_files=ENV_FILES,
    env_module="webshop_env.py",  # the online templates' $TASK_ENV
    assets=HERE,
    tokenizer_text=_tokenizer_text,
)
