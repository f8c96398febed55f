"""Write `rdagent_autorl/models/math_corpus.txt`, the math text in the tiny tokenizer's corpus.

    python scripts/make_math_corpus.py

The tiny model's tokenizer is trained on text of every task it serves. For gsm8k-rule that is 1500
synthetic word problems with their worked answers (a seed of their own, never the train/eval
streams'). The file is committed, so the models package never imports a task to build the tokenizer
and the tiny model stays byte-identical. One problem per entry: the question, a newline, the answer
(its steps one per line and `#### N`); entries are separated by a blank line, which no entry holds.
"""

from __future__ import annotations

from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "rdagent_autorl" / "models" / "math_corpus.txt"
SEED, N = 20240601, 1500  # the tokenizer's math text since the tiny model's first version


def corpus_text() -> str:
    from rdagent_autorl.tasks.gsm8k_rule.synthetic import generate

    entries = [f"{item['question']}\n{item['answer']}" for item in generate(N, seed=SEED)]
    assert all(e and "\n\n" not in e and not e.endswith("\n") for e in entries), "an entry would split"
    return "\n\n".join(entries) + "\n"


def main() -> None:
    text = corpus_text()
    OUT.write_text(text)
    print(f"{OUT}: {text.count(chr(10) * 2) + 1} entries, {len(text)} characters")


if __name__ == "__main__":
    main()
