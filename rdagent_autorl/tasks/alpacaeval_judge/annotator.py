"""How one pair of outputs is judged: alpaca_eval's annotator configs, prompt templates and completion
parsers, asked through this project's judge client (cache, concurrency, retries, counts).

alpaca_eval's own annotator runs completions through its own clients (OpenAI client configs, its own
cache); here the judge is whatever AUTORL_JUDGE_* configures (an endpoint, a local checkpoint, the FAKE
stand-in) and its calls are counted in the grade, so only the completion step is ours: the config, the
template, the prompt formatting (`make_prompts`, `prompt_to_chatml`), the order randomisation
(`RandomSwitchTwoColumnsProcessor`, seeded by the instruction as AlpacaEval does) and the parsers are
alpaca_eval's. Preferences are alpaca_eval's: in [1, 2], 1 = output_1 (the reference) is better,
2 = output_2 (the model's) is better.
"""

from __future__ import annotations

import hashlib
import json
import math
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Sequence

from rdagent_autorl.types import TaskError

# alpaca_eval imports pkg_resources, whose deprecation warning would open every grade's output.
warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)

DEFAULT_ANNOTATOR = "weighted_alpaca_eval_gpt4_turbo"
# Parsers that read the first token's top_logprobs instead of text.
LOGPROB_PARSERS = ("logprob_parser",)


@dataclass(frozen=True)
class Pair:
    instruction: str
    reference: str  # output_1, AlpacaEval's baseline
    output: str  # output_2, the model being graded


@dataclass(frozen=True)
class Annotator:
    name: str
    template: str
    completions_kwargs: dict[str, Any]
    parser_name: str
    parser_kwargs: dict[str, Any]
    randomize_order: bool = True  # alpaca_eval's default for pairwise annotators

    @classmethod
    def load(cls, name_or_path: str = DEFAULT_ANNOTATOR) -> "Annotator":
        """An annotator config by alpaca_eval name (evaluators_configs/<name>/configs.yaml) or by path to a
        configs.yaml (or its folder); the prompt template resolves as alpaca_eval resolves it."""
        from alpaca_eval import completion_parsers, constants, utils

        path = Path(name_or_path).expanduser()
        if path.exists():
            config_file = path / "configs.yaml" if path.is_dir() else path
            base = config_file.parent.parent
        else:
            config_file, base = constants.EVALUATORS_CONFIG_DIR / name_or_path / "configs.yaml", constants.EVALUATORS_CONFIG_DIR
            if not config_file.exists():
                known = sorted(p.name for p in constants.EVALUATORS_CONFIG_DIR.iterdir() if (p / "configs.yaml").exists())
                raise TaskError(f"unknown alpaca_eval annotator '{name_or_path}' (AUTORL_ALPACAEVAL_ANNOTATOR): give a "
                                f"configs.yaml path or one of: {', '.join(known)}")
        try:
            configs = utils.load_configs(config_file)
            (name, config), = configs.items()
            template = (base / config["prompt_template"]).read_text()
        except (OSError, KeyError, ValueError, AssertionError) as e:
            raise TaskError(f"annotator config {config_file} is not a single alpaca_eval annotator: {e}") from e
        parser = config.get("fn_completion_parser", "regex_parser")
        if not hasattr(completion_parsers, parser):
            raise TaskError(f"annotator {name}: unknown completion parser '{parser}'")
        if config.get("batch_size", 1) != 1:
            raise TaskError(f"annotator {name} batches {config['batch_size']} pairs per prompt; only batch_size 1 "
                            "annotators are supported (each pair is cached and counted on its own)")
        return cls(name=name, template=template, completions_kwargs=dict(config.get("completions_kwargs") or {}),
                   parser_name=parser, parser_kwargs=dict(config.get("completion_parser_kwargs") or {}),
                   randomize_order=config.get("is_randomize_output_order", True))

    @property
    def uses_logprobs(self) -> bool:
        return self.parser_name in LOGPROB_PARSERS

    def digest(self) -> str:
        """What the annotator asks and how it reads replies: part of every grade's cache key."""
        blob = json.dumps([self.template, self.completions_kwargs, self.parser_name, self.parser_kwargs,
                           self.randomize_order], sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def switched(self, pairs: Sequence[Pair]) -> list[bool]:
        """Whether each pair is shown with its outputs swapped: alpaca_eval's seeded switch."""
        if not self.randomize_order:
            return [False] * len(pairs)
        import pandas as pd
        from alpaca_eval.processors import RandomSwitchTwoColumnsProcessor

        processor = RandomSwitchTwoColumnsProcessor(two_columns_to_switch=["output_1", "output_2"],
                                                    random_seed_columns=["instruction"],
                                                    _switch_column="is_switched_outputs")
        df = pd.DataFrame([{"instruction": p.instruction, "output_1": p.reference, "output_2": p.output} for p in pairs])
        return [bool(x) for x in processor.preprocess(df)["is_switched_outputs"]]

    def requests(self, pairs: Sequence[Pair], swapped: Sequence[bool]):
        """One judge request per pair, output_1/output_2 swapped where `swapped` says."""
        import pandas as pd
        from alpaca_eval.utils import make_prompts, prompt_to_chatml

        from rdagent_autorl.generation.judge_client import JudgeRequest

        rows = [{"instruction": p.instruction, "output_1": p.output if s else p.reference,
                 "output_2": p.reference if s else p.output} for p, s in zip(pairs, swapped)]
        texts, _ = make_prompts(pd.DataFrame(rows), self.template) if rows else ([], None)
        kwargs = dict(self.completions_kwargs)
        kwargs.pop("model_name", None)  # the judge model is AUTORL_JUDGE_MODEL's, not the config's
        max_tokens = int(kwargs.pop("max_tokens", 1))
        # as configured: the logprob configs say 1 (the first token's distribution as the model has it)
        temperature = float(kwargs.pop("temperature", 0.0))
        top = int(kwargs.pop("top_logprobs", 5)) if kwargs.pop("logprobs", False) or self.uses_logprobs else None
        extra = {k: v for k, v in kwargs.items() if k in ("tools", "tool_choice", "response_format", "stop")}
        return [JudgeRequest(prompt=prompt_to_chatml(t) if t.strip().startswith("<|im_start|>") else t,
                             max_tokens=max_tokens, temperature=temperature, top_logprobs=top,
                             extra=extra) for t in texts]

    def parse(self, reply) -> float:
        """The preference in [1, 2] a reply gives output_2 over output_1 (NaN: unreadable)."""
        from alpaca_eval import completion_parsers

        parser: Callable = getattr(completion_parsers, self.parser_name)
        if self.uses_logprobs:
            if not reply.top_logprobs:
                return math.nan
            completion = {"logprobs": {"content": [{"top_logprobs": reply.top_logprobs}]}}
        else:
            completion = reply.tool_arguments or reply.text
            if not completion:
                return math.nan
        try:
            value = parser(completion, **self.parser_kwargs)[0]
        except Exception:  # parsers raise anything on malformed text; alpaca_eval records NaN too
            return math.nan
        return float(value) if value is not None else math.nan


def judge_pairs(judge, annotator: Annotator, pairs: Sequence[Pair], both_orders: bool = False) -> list[float]:
    """P(output beats reference) per pair, in [0, 1] (alpaca_eval's preference - 1); 0.5 where the judge's
    reply was unreadable (counted as a tie, as alpaca_eval's win rate counts draws). With `both_orders`,
    each pair is judged as shown and swapped, and the two are averaged (position bias cancels)."""
    switched = annotator.switched(pairs)
    orders = [switched] + ([[not s for s in switched]] if both_orders else [])
    per_order = []
    for swapped in orders:
        replies = judge.complete(annotator.requests(pairs, swapped))
        prefs = [annotator.parse(r) for r in replies]
        # a swapped pair's preference is about the reference: 3 - x turns it back (alpaca_eval's unswitch)
        per_order.append([(3 - p if s else p) for p, s in zip(prefs, swapped)])
    out = []
    for values in zip(*per_order):
        known = [v for v in values if not math.isnan(v)]
        out.append(min(1.0, max(0.0, sum(known) / len(known) - 1)) if known else 0.5)
    return out


PROBE = Pair("Say hello.", "Hello!", "Hello there! How can I help you today?")


def check_judge(judge, annotator: Annotator) -> None:
    """One probe pair through the configured judge and annotator: an unreachable endpoint, an endpoint
    without logprobs, or replies the annotator's parser cannot read fail here, before anything else."""
    replies = judge.complete(annotator.requests([PROBE], [False]))
    if math.isnan(annotator.parse(replies[0])):
        raise TaskError(f"judge {judge.identity()} answered the probe pair in a way annotator {annotator.name} "
                        f"cannot parse ({annotator.parser_name}): {replies[0].model_dump_json()[:300]}")


def configured_annotator() -> Annotator:
    from rdagent_autorl.settings import get_settings

    return _load_annotator(get_settings().alpacaeval_annotator)


@lru_cache(maxsize=8)
def _load_annotator(name_or_path: str) -> Annotator:  # every grade and reward step asks; read the files once
    return Annotator.load(name_or_path)


def judge_settings() -> dict[str, Any]:
    from rdagent_autorl.settings import get_settings

    annotator = configured_annotator()
    return {"annotator": annotator.name, "annotator_digest": annotator.digest(),
            "both_orders": get_settings().alpacaeval_both_orders}


def score_pairs(samples, transcripts, judge) -> list:
    """The scorer: each held-out output against its reference, by the configured judge and annotator;
    value = P(output better than reference), alpaca_eval's preference - 1."""
    from rdagent_autorl.settings import get_settings
    from rdagent_autorl.types import ScoredSample

    pairs = [Pair(s.prompt, s.answer or "", t.completion) for s, t in zip(samples, transcripts)]
    values = judge_pairs(judge(), configured_annotator(), pairs, get_settings().alpacaeval_both_orders)
    return [ScoredSample(id=s.id, prompt=p.instruction, completion=p.output, value=v,
                         metrics={"length": float(len(p.output)), "win": float(v > 0.5)})
            for s, p, v in zip(samples, pairs, values)]


def preference_reward(instructions: Sequence[str], completions: Sequence[str], references: Sequence[str],
                      judge=None) -> list[float]:
    """P(completion better than reference) per row, by the grader's own judge, annotator and reply cache:
    the reward of the judge templates (templates/grpo_judge.py, templates/dpo_judge.py)."""
    from rdagent_autorl.generation.judge import load_judge
    from rdagent_autorl.settings import get_settings
    from rdagent_autorl.tasks.alpacaeval_judge.fake_judge import FakePreferenceJudge

    judge = judge or load_judge(FakePreferenceJudge, announce=False)
    pairs = [Pair(i, r, c) for i, c, r in zip(instructions, completions, references)]
    return judge_pairs(judge, configured_annotator(), pairs, get_settings().alpacaeval_both_orders)
