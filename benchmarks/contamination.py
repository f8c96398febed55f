"""The report's n-gram contamination check (rdagent_autorl/bench/contamination.py): its time over the
largest held-out splits this machine has, against a generated workspace of a few MB, in one run.

    python benchmarks/contamination.py [--mb 5] [--planted 10] [--n 13]

For each split (alpacaeval-judge's 805 instructions with their references, from the packaged source;
gsm8k-rule's synthetic held-out split, 1,319 problems, the size of GSM8K's test set):
1. index: load the held-out and training splits is not timed; building the index of the held-out
   n-grams (less the training split's) is;
2. check: a workspace of `--mb` MB (the training rows written as JSONL, repeated, plus generated Python
   files) with `--planted` held-out items pasted into one file, read and checked as a report does.
Printed: items, n-grams indexed, MB checked, seconds of each step, planted items found / planted (must
be equal), and other held-out items hit (an item sharing 13 words with a planted one; an honest
workspace, with nothing pasted, must give 0).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def splits():
    from rdagent_autorl.tasks import get_task
    from rdagent_autorl.tasks.gsm8k_rule import synthetic
    from rdagent_autorl.types import Sample

    alpaca = get_task("alpacaeval-judge")
    yield "alpacaeval-judge packaged", alpaca.heldout("packaged"), alpaca.train("packaged")
    train, evals = synthetic.synthetic_splits(7473, 1319)
    as_samples = lambda rows, tag: [Sample(id=f"{tag}{i}", prompt=r["question"], answer=r["answer"])  # noqa: E731
                                    for i, r in enumerate(rows)]
    yield "gsm8k-rule synthetic (1,319)", as_samples(evals, "e"), as_samples(train, "t")


def make_workspace(root: Path, train, mb: float, planted) -> int:
    (root / "workspace" / "data").mkdir(parents=True)
    (root / "snapshots").mkdir()
    rows = "".join(json.dumps({"prompt": s.prompt, "answer": s.answer}) + "\n" for s in train)
    rng, size, i = random.Random(0), 0, 0
    while size < mb * 2**20 - 1000:
        text = rows if i % 2 == 0 else "".join(f"def f{k}(x):\n    return x * {rng.random():.6f}\n" for k in range(4000))
        text = text[:int(mb * 2**20) - size].rsplit("\n", 1)[0] + "\n"  # whole lines, up to the size asked for
        path = root / "workspace" / "data" / f"part{i:03d}.{'jsonl' if i % 2 == 0 else 'py'}"
        path.write_text(text)
        size, i = size + len(text.encode()), i + 1
    pasted = "".join(json.dumps({"text": f"{s.prompt}\n{s.answer}"}) + "\n" for s in planted)
    (root / "workspace" / "data" / "extra.jsonl").write_text(pasted)
    return size + len(pasted.encode())


def main() -> None:
    from rdagent_autorl.bench.contamination import HeldoutIndex, agent_texts, check

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=float, default=5.0)
    ap.add_argument("--planted", type=int, default=10)
    ap.add_argument("--n", type=int, default=13)
    args = ap.parse_args()
    for name, heldout, train in splits():
        t0 = time.perf_counter()
        index = HeldoutIndex.build(heldout, train, n=args.n)
        build_s = time.perf_counter() - t0
        planted = random.Random(1).sample(heldout, args.planted)
        for label, paste in (("planted", planted), ("honest", [])):
            with tempfile.TemporaryDirectory() as tmp:
                size = make_workspace(Path(tmp), train, args.mb, paste)
                t0 = time.perf_counter()
                verdict = check(index, agent_texts(Path(tmp), []))
                check_s = time.perf_counter() - t0
            found = {h["item"] for h in verdict["hits"]}
            ids = {s.id for s in paste}
            print(f"{name}: {index.items} items, {len(index.grams)} {args.n}-grams, index {build_s:.2f} s | "
                  f"{label} workspace {size / 2**20:.1f} MB in {verdict['files_checked']} files: check {check_s:.2f} s, "
                  f"planted found {len(found & ids)} / {len(ids)}, other items hit {len(found - ids)}")


if __name__ == "__main__":
    main()
