"""Seeded generator of ALFWorld text games in the official format, played by the real ALFWorld engine.

Why it exists: ALFWorld's official games (`alfworld-download`: `game.tw-pddl` files built from ALFRED
trajectories) cannot be downloaded here, but the wheel ships the engine, the PDDL domain
(`alfworld/data/alfred.pddl`) and the grammar (`alfred.twl2`). Games authored locally in the official
format load and play in the unmodified engine (TextWorld's `PddlEnv` with ALFWorld's wrappers, or
`AlfredTWEnv` pointed at the folder), so this module writes such games.

What a game is (drawn by `rooms.compose`): a room from a template (kitchen, living room, bedroom,
bathroom), its receptacles, the task's target object(s), an appliance when the task needs one
(SinkBasin / Microwave / Fridge / a DeskLamp or FloorLamp), and distractor objects. Every property
(pickupable, heatable, coolable, cleanable, toggleable, openable, what can contain what) comes from
`alfworld.gen.constants`; goals are `alfworld.gen.goal_library.gdict` templates; the goal sentence is
filled in by `alfworld.agents.utils.misc.add_task_to_grammar`, as `alfworld-generate` does.

How a game is accepted: the official planner expert (`AlfredExpert(expert_type=PLANNER)`, i.e. Fast
Downward) solves it and its optimal plan becomes the walkthrough; the walkthrough is then replayed in a
fresh load without any expert and must win. A game that fails is redrawn from the next sub-seed (the
counts are kept in `traj_data.json["generator"]["rejects"]`). Walkthroughs use the shipped grammar's
commands: its put action reads `move X to Y` (`put X in Y` answers "Nothing happens.").

Layout (as alfworld-download): `<out>/<task_type>-<Object>-None-<Parent or lamp>-<scene>/trial_<seed>_<index>/`
holding `traj_data.json` (task_type, pddl_params, scene, and our `generator` block with seed, level,
version, index and the goal sentence as the game shows it) and `game.tw-pddl` (pddl_domain, grammar,
pddl_problem, solvable, walkthrough). A secret seed (the evaluation games': the installation's,
installation.eval_seed) is written as its public hash instead, in the folder name and the block alike.

Determinism: game `index` depends only on (seed, level, split, task_types, index), so the same call
writes byte-identical files and a larger `n` extends a smaller one (and reuses it from disk).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import re
import shutil
import sys
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

from rdagent_autorl.installation import eval_seed, seed_hash

TASK_TYPES: tuple[str, ...] = (
    "pick_and_place_simple",
    "look_at_obj_in_light",
    "pick_clean_then_place_in_recep",
    "pick_heat_then_place_in_recep",
    "pick_cool_then_place_in_recep",
    "pick_two_obj_and_place",
)
LEVELS = ("smoke", "standard")
GENERATOR_VERSION = 1

TRAIN_SEED = 0x5EEDA  # seed stream A of generated_split: public (agents see the training games anyway)
# Stream B, the evaluation games', is this installation's secret: installation.eval_seed of the level's label
# (0x5EEDB was the package's constant before: its games are public and never held out).
EVAL_SEED_LABELS = {"standard": f"alfworld-online/generated/gen-v{GENERATOR_VERSION}",
                    "smoke": f"alfworld-online/smoke/gen-v{GENERATOR_VERSION}"}
SPLITS = ("train", "eval")
_MAX_ATTEMPTS = 200
_TMP_PREFIX = ".tmp-"
_GOAL_RE = re.compile(r"Your task is to: ([^\n\"]*)")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GameInfo:
    path: Path  # the trial folder
    game_file: Path  # its game.tw-pddl
    task_type: str
    goal: str  # as the game shows it after "Your task is to: ", e.g. "put a mug in shelf."
    walkthrough: tuple[str, ...]
    seed: int | str  # -1 for games this module did not generate (official data); a secret seed's hash
    index: int  # -1 likewise


def _sub_seed(*parts: object) -> int:
    # sha256 rather than hash(): stable across processes and Python versions
    return int.from_bytes(hashlib.sha256("|".join(map(str, parts)).encode()).digest()[:8], "big")


@lru_cache(maxsize=2)
def _packaged(name: str) -> str:
    """alfworld/data/alfred.pddl (the domain) or alfred.twl2 (the grammar), as the wheel ships them."""
    from importlib.resources import files

    return files("alfworld").joinpath("data", name).read_text()


def _grammar(traj: dict, sub_seed: int) -> str:
    from alfworld.agents.utils.misc import add_task_to_grammar

    # add_task_to_grammar picks the goal template with the *global* `random`: seed it, then restore it
    saved = random.getstate()
    try:
        random.seed(sub_seed)
        return add_task_to_grammar(_packaged("alfred.twl2"), traj, rng=random.Random(sub_seed))
    finally:
        random.setstate(saved)


# --------------------------------------------------------------------------- the engine
class _Engine:
    """The planner env (as alfworld-generate builds it) and a plain env to replay walkthroughs.
    Built once per call, and only when a game must be generated (a cached call never starts it)."""

    def __init__(self) -> None:
        import textworld
        from alfworld.agents.environment.alfred_tw_env import (AlfredDemangler, AlfredExpert,
                                                                AlfredExpertType, AlfredInfos)
        from textworld.envs import PddlEnv

        def base():
            infos = textworld.EnvInfos(admissible_commands=True, won=True, extras=["gamefile"])
            return AlfredInfos(AlfredDemangler(PddlEnv(infos), shuffle=False))

        # keyword, not positional: AlfredExpert(PLANNER) would set env="planner" and keep the handcoded expert
        self.planner = AlfredExpert(base(), expert_type=AlfredExpertType.PLANNER)
        self.player = base()

    @staticmethod
    def _load_reset(env, game_file: Path):
        # Fast Downward's translator overwrites sys.argv while a game loads
        argv, saved = sys.argv, list(sys.argv)
        try:
            env.load(str(game_file))
            return env.reset()
        finally:
            argv[:] = saved
            sys.argv = argv

    def plan(self, game_file: Path) -> tuple[str, list[str]]:
        """(goal sentence from the reset observation, the planner's walkthrough); ("", []) if unsolved."""
        try:
            state = self._load_reset(self.planner, game_file)
        except (Exception, SystemExit) as e:  # Fast Downward exits on problems it cannot translate
            log.warning("planner failed on %s: %r", game_file, e)
            return "", []
        m = _GOAL_RE.search(state.feedback)
        return (m.group(1).strip() if m else ""), list(state["extra.expert_plan"] or [])

    def replay_wins(self, game_file: Path, walkthrough: Sequence[str]) -> bool:
        try:
            state = self._load_reset(self.player, game_file)
            if state["won"]:
                return False  # already solved at the start: not a task
            for command in walkthrough:
                state, _, _ = self.player.step(command)
        except (Exception, SystemExit) as e:
            log.warning("replay failed on %s: %r", game_file, e)
            return False
        return bool(state["won"])


# --------------------------------------------------------------------------- files
def _read_game(trial: Path) -> GameInfo | None:
    try:
        traj = json.loads((trial / "traj_data.json").read_text(encoding="utf-8"))
        game = json.loads((trial / "game.tw-pddl").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not game.get("solvable"):
        return None
    gen = traj.get("generator") or {}
    goal = gen.get("goal")
    if goal is None:  # official games: the goal is the literal "#task#" rule of the grammar the game shows
        m = _GOAL_RE.search(game.get("grammar", ""))
        goal = m.group(1).strip() if m else ""
    return GameInfo(path=trial, game_file=trial / "game.tw-pddl", task_type=traj["task_type"], goal=goal,
                    walkthrough=tuple(game.get("walkthrough") or ()), seed=_seed_name(gen.get("seed", -1)),
                    index=int(gen.get("index", -1)))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        pass
    return pid != os.getpid()  # our own leftovers are stale too


def _problem_hash(problem: str) -> str:
    return hashlib.sha256(problem.encode()).hexdigest()


def _split_of(problem_hash: str) -> str:
    # Partition of all possible problems: a train game can never equal an eval game, whatever n either has.
    return "train" if int(problem_hash[:8], 16) % 2 == 0 else "eval"


def _commit(engine: _Engine, out_dir: Path, folder: str, trial: str, problem: str, traj: dict,
            sub_seed: int, meta: dict) -> Path | None:
    """Plan, verify and move one game into place; None when the engine rejects it.
    A folder is a game only once its traj_data.json exists, and that file appears last (atomic rename):
    an interrupted call leaves at most a folder that nothing loads and the next call replaces."""
    tmp = out_dir / f"{_TMP_PREFIX}{trial}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        game = {"pddl_domain": _packaged("alfred.pddl"), "grammar": _grammar(traj, sub_seed),
                "pddl_problem": problem, "solvable": None, "walkthrough": None}
        (tmp / "traj_data.json").write_text(json.dumps(traj))  # the expert wrapper reads it on reset
        (tmp / "game.tw-pddl").write_text(json.dumps(game))
        goal, plan = engine.plan(tmp / "game.tw-pddl")
        (tmp / "traj_data.json").unlink()
        if not plan or not goal:
            return None
        game.update(solvable=True, walkthrough=plan)
        (tmp / "game.tw-pddl").write_text(json.dumps(game))  # compact, as alfworld-generate writes it
        if not engine.replay_wins(tmp / "game.tw-pddl", plan):
            return None
        (tmp / "traj_data.json.part").write_text(json.dumps({**traj, "generator": {**meta, "goal": goal}}, indent=2))
        final = out_dir / folder / trial
        final.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(final, ignore_errors=True)
        os.rename(tmp, final)
        os.replace(final / "traj_data.json.part", final / "traj_data.json")
        return final
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _seed_name(seed) -> int | str:
    return seed if isinstance(seed, str) else int(seed)


def _generate(out_dir: Path, n: int, seed: int, level: str, task_types: Sequence[str],
              split: str | None, secret: bool = False) -> list[GameInfo]:
    """`secret`: the seed is never written (folder names and traj_data.json name it by its public hash)."""
    task_types = tuple(task_types)
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, not {level!r}")
    if not task_types or any(t not in TASK_TYPES for t in task_types):
        raise ValueError(f"task_types must be a non-empty subset of {TASK_TYPES}: {task_types!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob(f"{_TMP_PREFIX}trial_*-*"):  # left by an interrupted call (not a running one)
        if not _alive(int(stale.name.rsplit("-", 1)[1])):
            shutil.rmtree(stale, ignore_errors=True)
    trials: dict[str, list[Path]] = {}
    for p in sorted(out_dir.glob("*/trial_*")):
        trials.setdefault(p.name, []).append(p)

    name: int | str = seed_hash(seed) if secret else seed
    engine: _Engine | None = None
    seen: set[str] = set()  # problems of the earlier games of this call: no duplicates within a set
    games = []
    for index in range(n):
        task_type = task_types[index % len(task_types)]
        trial = f"trial_{name}_{index}"
        meta = {"seed": name, "index": index, "level": level, "version": GENERATOR_VERSION, "split": split,
                "task_type": task_type, "task_types": list(task_types)}
        info = None
        for p in trials.get(trial, []):
            try:
                gen = json.loads((p / "traj_data.json").read_text()).get("generator") or {}
            except (OSError, ValueError):
                gen = {}
            if info is None and {k: gen.get(k) for k in meta} == meta and (info := _read_game(p)):
                seen.add(_problem_hash(json.loads(info.game_file.read_text())["pddl_problem"]))
            elif not (p / "traj_data.json").exists():  # unfinished (interrupted before its commit)
                shutil.rmtree(p, ignore_errors=True)
        rejects: Counter = Counter()
        for attempt in range(_MAX_ATTEMPTS if info is None else 0):
            sub = _sub_seed("alfworld-gen", GENERATOR_VERSION, seed, level, split, index, task_type, attempt)
            from .rooms import compose  # imports alfworld: only when a game must be drawn

            problem, traj, folder = compose(random.Random(sub), task_type, level)
            digest = _problem_hash(problem)
            if split is not None and _split_of(digest) != split:
                rejects["other_split"] += 1
                continue
            if digest in seen:
                rejects["duplicate"] += 1
                continue
            engine = engine or _Engine()
            final = _commit(engine, out_dir, folder, trial, problem, traj, sub,
                            {**meta, "attempt": attempt, "rejects": dict(sorted(rejects.items()))})
            if final is None:
                rejects["engine"] += 1
                continue
            info = _read_game(final)
            seen.add(digest)
            log.info("%s: %s (%d steps, rejects %s)", final, info.goal, len(info.walkthrough), dict(rejects))
            break
        if info is None:
            raise RuntimeError(f"no valid {task_type} game for seed={name} index={index}: {dict(rejects)}")
        games.append(info)
    return games


# --------------------------------------------------------------------------- public API
def generate_games(out_dir: Path, n: int, *, seed: int, level: str = "smoke",
                   task_types: Sequence[str] = TASK_TYPES) -> list[GameInfo]:
    """Write (or reuse) `n` verified games under `out_dir`, task types round-robin; return them in order."""
    return _generate(out_dir, n, seed, level, task_types, split=None)


def load_games(root: Path) -> list[GameInfo]:
    """Every solvable game under `root` (generated or official alfworld-download data), sorted by path.
    Goal: generated games store it in traj_data.json ("generator" → "goal", read from the reset
    observation); for official games it is read from the grammar's "Your task is to: ..." rule, which is
    the text the game prints (no game is loaded). Folders the official loader skips are skipped too."""
    root = Path(root)
    games = []
    for traj in sorted(root.rglob("traj_data.json")):
        rel = traj.parent.relative_to(root).parts
        if any(part.startswith(_TMP_PREFIX) for part in rel) or "movable" in str(traj) or "Sliced" in str(traj):
            continue
        if (info := _read_game(traj.parent)) is not None:
            games.append(info)
    return sorted(games, key=lambda g: g.path)


def generated_split(cache_dir: Path, split: str, *, n: int, level: str = "smoke",
                    seed: int | None = None) -> list[GameInfo]:
    """`n` games of the train or eval split, cached in cache_dir/alfworld-gen-v<VERSION>-<level>/<split>/
    (eval: `eval-<the seed's hash>/`, so games of another key are never reused). Train draws from seed stream
    A (TRAIN_SEED, public), eval from stream B: `seed`, by default this installation's secret for the level
    (installation.eval_seed(EVAL_SEED_LABELS[level])). On top of that, problems are partitioned by the
    hash of their pddl_problem: a draw whose problem belongs to the other split is dropped and redrawn,
    so no eval game equals a train game for any sizes of the two sets."""
    if split not in SPLITS:
        raise ValueError(f"split must be 'train' or 'eval', not {split!r}")
    if level not in EVAL_SEED_LABELS:
        raise ValueError(f"level must be one of {LEVELS}, not {level!r}")
    base = Path(cache_dir) / f"alfworld-gen-v{GENERATOR_VERSION}-{level}"
    if split == "train":
        return _generate(base / split, n, TRAIN_SEED if seed is None else seed, level, TASK_TYPES, split=split)
    seed = eval_seed(EVAL_SEED_LABELS[level]) if seed is None else seed
    return _generate(base / f"eval-{seed_hash(seed)}", n, seed, level, TASK_TYPES, split=split, secret=True)


def main(argv: Sequence[str] | None = None) -> int:
    import argparse
    import time

    parser = argparse.ArgumentParser(prog="python -m rdagent_autorl.tasks.alfworld_online.gen",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--n", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--level", choices=LEVELS, default="smoke")
    parser.add_argument("--task-types", nargs="+", choices=TASK_TYPES, default=list(TASK_TYPES))
    args = parser.parse_args(argv)  # before any game loads: Fast Downward overwrites sys.argv
    start = time.perf_counter()
    games = generate_games(args.out, args.n, seed=args.seed, level=args.level, task_types=args.task_types)
    for g in games:
        print(f"{g.task_type:32s} {len(g.walkthrough):2d} steps  {g.goal:60s} {g.path}")
    print(f"{len(games)} games in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
