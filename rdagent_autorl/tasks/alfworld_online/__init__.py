"""alfworld-online: household text games on the real ALFWorld engine, closed-loop online RL (Level 3).

A sample is one game. The grader plays each held-out game with the submitted checkpoint (the shared
protocol of `env.py` on `rdagent_autorl/envs/protocol.py`: chat prompts, one action per turn, at most 50
steps, every game in flight decoded in one batch) and scores the success rate, with a per-task-type
breakdown and a 95% interval.

Data sources, in the order `auto` tries them:
- `official`: the ALFWorld data (`alfworld-download` layout) at AUTORL_ALFWORLD_DATA, $ALFWORLD_DATA
  or ~/.cache/alfworld: training games from `json_2.1.1/train`, evaluation on `json_2.1.1/valid_unseen`
  (134 games);
- `generated`: never chosen by `auto` (its scores are not ALFWorld scores). Seeded games in the
  official format built by `gen.py` with ALFWorld's own tooling, all six
  task types, rooms close to ALFWorld's in size, disjoint train and evaluation games (the evaluation
  games' seed is this installation's secret, gen.EVAL_SEED_LABELS);
- `smoke`: the generator's small rooms (3-5 receptacles, short solutions), for CPU smoke runs.

Agents get `data/train.jsonl` (one row per training game: the game file under `data/games/`, its
task type, goal and the planner's walkthrough), `data/games` (the training games), and
`env/alfworld_env.py` + `env/protocol.py` (the environment interface the grader uses, copied by
run/workspace.py from ENV_FILES). How the grader plays and scores: rollout.py.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from rdagent_autorl.envs import protocol
from rdagent_autorl.installation import eval_seed
from rdagent_autorl.settings import get_settings
from rdagent_autorl.tasks.alfworld_online import recipes, rollout
from rdagent_autorl.tasks.alfworld_online.env import ACTION_MAX_TOKENS
from rdagent_autorl.tasks.alfworld_online.gen import EVAL_SEED_LABELS
from rdagent_autorl.tasks.spec import Budget, DataSource, Smoke, TaskSpec
from rdagent_autorl.types import Sample, TaskError

OFFICIAL_SPLITS = {"train": "json_2.1.1/train", "eval": "json_2.1.1/valid_unseen"}
# Generated sources: (generator level, training games, evaluation games).
# (level, training games, held-out games of the selection part, of the final part): the eval stream is
# prefix-stable, so the selection part is the games these sources held out before they had a final part.
GENERATED = {"generated": ("standard", 600, 134, 134), "smoke": ("smoke", 120, 30, 30)}
GAMES_LINK = "games"  # data/games -> the training games' folder, in every workspace
HERE = Path(__file__).resolve().parent
# The environment interface the grader plays with; workspaces get a copy in env/ (run/workspace.py):
# the ALFWorld module and the protocol it imports from beside it when the package is not installed.
ENV_FILES = {"alfworld_env.py": HERE / "env.py", "protocol.py": Path(protocol.__file__)}


def official_root() -> Path:
    s = get_settings()
    root = s.alfworld_data or os.environ.get("ALFWORLD_DATA") or "~/.cache/alfworld"
    return Path(root).expanduser()


def _engine_check() -> tuple[bool, str]:
    import importlib.util

    if importlib.util.find_spec("alfworld") is None or importlib.util.find_spec("textworld") is None:
        return False, "the ALFWorld engine is not installed: pip install -e '.[alfworld]'"
    return True, ""


def _official_check() -> tuple[bool, str]:
    ok, why = _engine_check()
    if not ok:
        return ok, why
    root = official_root()
    missing = [p for p in OFFICIAL_SPLITS.values() if not (root / p).is_dir()]
    if missing:
        return False, f"no {', '.join(missing)} under {root} (run alfworld-download, or set AUTORL_ALFWORLD_DATA)"
    return True, ""


def _games(split: str, source: str):
    # The evaluation games of a generated source: this installation's secret seed (a new key, new games).
    seed = eval_seed(EVAL_SEED_LABELS[GENERATED[source][0]]) if source in GENERATED and split == "eval" else None
    return _games_of(split, source, seed)


@lru_cache(maxsize=8)
def _games_of(split: str, source: str, seed: int | None):
    ok, why = _engine_check()
    if not ok:
        raise TaskError(why)
    from rdagent_autorl.tasks.alfworld_online.gen import generated_split, load_games

    if source == "official":
        games = load_games(official_root() / OFFICIAL_SPLITS[split])
    else:  # built on first use, then cached
        level, n_train, n_selection, n_final = GENERATED[source]
        games = generated_split(get_settings().cache_path, split, n=n_train if split == "train" else n_selection + n_final,
                                level=level, seed=seed)
    if not games:
        raise TaskError(f"no ALFWorld games found for the {split} split of source '{source}'")
    return tuple(games)


def split_root(split: str, source: str) -> Path:
    """The folder holding a split's games (<root>/<task folder>/<trial folder>/game.tw-pddl)."""
    return _games(split, source)[0].path.parent.parent


def _loader(split: str):
    def load(source: str) -> list[Sample]:
        samples = []
        for game in _games(split, source):
            rel = game.game_file.relative_to(game.path.parent.parent).as_posix()
            # Training rows point into the workspace's data/games link; the grader keeps real paths.
            path = f"{GAMES_LINK}/{rel}" if split == "train" else str(game.game_file)
            samples.append(Sample(id=rel.rsplit("/", 1)[0], prompt=game.goal, answer="\n".join(game.walkthrough),
                                  meta={"game": path, "task_type": game.task_type, "walkthrough": list(game.walkthrough)}))
        return samples

    return load


def prepare_workspace(workspace: Path, source: str) -> None:
    """data/games -> the training games (read-only, linked not copied: the official set is large)."""
    link = workspace / "data" / GAMES_LINK
    if not link.exists():
        link.symlink_to(split_root("train", source).resolve(), target_is_directory=True)


TOKENIZER_SEED = 777_001  # not a seed of generated_split's train/eval streams


def _tokenizer_text() -> list[str]:
    """The engine's own text: expert episodes played by the real engine on generated games of a seed of
    their own, rendered with the grader's prompt, and every ALFWorld object and receptacle name (so an
    official game's entities are one or two tokens, as a generated game's are)."""
    import tempfile

    import alfworld.gen.constants as C

    from rdagent_autorl.tasks.alfworld_online.env import AlfworldEnv, expert_episode
    from rdagent_autorl.tasks.alfworld_online.gen import generate_games

    names = sorted({n.lower() for n in list(C.OBJECTS) + list(C.RECEPTACLES)})
    # "alarmclock 1", as the engine writes entity names
    texts = [f"You arrive at {name} 1. On the {name} 1, you see a {name} 2, and a {name} 3." for name in names]
    env = AlfworldEnv()
    with tempfile.TemporaryDirectory() as tmp:
        for level in ("smoke", "standard"):
            for game in generate_games(Path(tmp) / level, 40, seed=TOKENIZER_SEED, level=level):
                texts += [m["content"] for m in expert_episode(env, game.game_file, game.walkthrough).prompt()]
    return texts


TASK = TaskSpec(
    id="alfworld-online",
    level=3,
    title="ALFWorld household text games, online RL with environment rollouts (success rate)",
    # 3: the prompt became the whole episode with one system message for every game (2), then the task is
    # restated in every turn (3); grades cached under an earlier protocol must never be reused. 4: env.py and
    # protocol.py gained the online templates' interface; the play is unchanged (tests/data pin of episodes).
    # 5: the generated sources' evaluation games come from the installation's secret seed (gen.py).
    version=5,
    default_model="Qwen/Qwen2.5-0.5B-Instruct",
    sources=(
        DataSource("official", "ALFWorld json_2.1.1 train / valid_unseen games", _official_check),
        DataSource("generated", "seeded games in ALFWorld's format, all six task types (offline)", _engine_check,
                   auto=False, selection_size=GENERATED["generated"][2],
                   eval_seed_label=EVAL_SEED_LABELS[GENERATED["generated"][0]]),
        DataSource("smoke", "generated games in small rooms, for CPU smoke runs (--smoke)", _engine_check, auto=False,
                   selection_size=GENERATED["smoke"][2], eval_seed_label=EVAL_SEED_LABELS[GENERATED["smoke"][0]]),
    ),
    load_train=_loader("train"),
    load_eval=_loader("eval"),
    solver=rollout.play_games,
    scorer=rollout.score_episodes,
    group_by="task_type",
    prepare_workspace=prepare_workspace,
    budget=Budget(time_s=4 * 3600, max_new_tokens=ACTION_MAX_TOKENS),
    # smoke: the scripted plan's SFT warm-up alone takes ~14 min on 2 CPU cores, then GRPO and three gradings
    smoke=Smoke(data="smoke", time_s=2700, plan=recipes.PLAN, example=recipes.EXAMPLE),
    templates=("sft_trajectories", "grpo_online"),
    protocol_files=(*ENV_FILES.values(), HERE / "rollout.py"),
    env_files=ENV_FILES,
    env_module="alfworld_env.py",  # the online templates' $TASK_ENV
    assets=HERE,
    tokenizer_text=_tokenizer_text,
)
