"""Write `rdagent_autorl/models/household_corpus.txt`, the household text in the tiny tokenizer's corpus.

    python scripts/make_household_corpus.py

The tiny model's tokenizer is trained on text of every task it serves. For alfworld-online that is the
engine's own text: expert episodes played by the real engine on generated games (a seed of their own,
never the evaluation games'), rendered with the grader's prompt, plus every ALFWorld object and
receptacle name, so official games tokenize as compactly as generated ones. The file is committed, so
the tokenizer (and the tiny model's weights hash) does not depend on whether the engine is installed.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "rdagent_autorl" / "models" / "household_corpus.txt"
SEED = 777_001  # not a seed of generated_split's train/eval streams


def main() -> None:
    import alfworld.gen.constants as C

    from rdagent_autorl.tasks.alfworld_online.env import AlfworldEnv, expert_episode
    from rdagent_autorl.tasks.alfworld_online.gen import generate_games

    lines: list[str] = []
    names = sorted({n.lower() for n in list(C.OBJECTS) + list(C.RECEPTACLES)})
    for name in names:  # "alarmclock 1", as the engine writes entity names
        lines.append(f"You arrive at {name} 1. On the {name} 1, you see a {name} 2, and a {name} 3.")
    env = AlfworldEnv()
    for level, n in (("smoke", 40), ("standard", 40)):
        for game in generate_games(Path(tempfile.mkdtemp()) / level, n, seed=SEED, level=level):
            episode = expert_episode(env, game.game_file, game.walkthrough)
            for message in episode.prompt():
                lines.append(message["content"])
    text = "\n".join(re.sub(r"[ \t]+\n", "\n", line) for line in lines) + "\n"
    OUT.write_text(text)
    print(f"{OUT}: {len(lines)} lines, {len(text)} characters")


if __name__ == "__main__":
    main()
