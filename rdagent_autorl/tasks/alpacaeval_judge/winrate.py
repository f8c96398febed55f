"""AlpacaEval's win rates from the graded pairs: alpaca_eval's own metric code.

- raw win rate: alpaca_eval's `get_winrate` (mean preference, draws as half) with its standard error;
- length-controlled win rate (the headline): the GLM alpaca_eval fits to remove the judge's length
  bias. `length_controlled_v1` (the leaderboard's) needs `df_gamed.csv` from the hub (instruction
  difficulties and the gamed baselines' annotations); where it is reachable, alpaca_eval's
  `get_length_controlled_winrate` computes it as published. Offline, the same code path with alpaca_eval's
  `length_controlled_minimal` formula (length and baseline terms, no instruction difficulty) is used:
  the features are built here as `_get_featurized_data` builds them (that function always downloads
  df_gamed.csv, so it cannot be called offline), then alpaca_eval's `make_dmatrix_for_model`,
  `fit_LogisticRegressionCV` and `GLM_INFO` do the rest. The grade says which one it is (`official_glm`:
  1 = length_controlled_v1, 0 = length_controlled_minimal).
CI: with length_controlled_v1, +- 1.96 x alpaca_eval's `lc_standard_error`. With the minimal formula that
error is 0 (every pair gets the same prediction), so the interval is a percentile bootstrap over the pairs
instead: LC_BOOTSTRAP resamples, each refitted at the regularisation the cross-validation chose on all pairs.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any, Sequence

import numpy as np

from rdagent_autorl.types import Sample, ScoredSample

MINIMAL, OFFICIAL = "length_controlled_minimal", "length_controlled_v1"
BASELINE, MODEL = "reference", "model"


def _annotations(samples: Sequence[Sample], scored: Sequence[ScoredSample]):
    import pandas as pd

    return pd.DataFrame({
        "index": [int(s.meta.get("index", i)) for i, s in enumerate(samples)],
        "output_1": [s.answer or "" for s in samples], "output_2": [x.completion for x in scored],
        "preference": [1.0 + x.value for x in scored], "generator_1": BASELINE, "generator_2": MODEL,
        "annotator": "autorl",
    })


LC_BOOTSTRAP = 100


def _minimal_lc(df, C: float | None = None) -> tuple[float, float]:
    """(LC win rate, the regularisation the cross-validation chose); with `C` given, one plain fit at that C
    (alpaca_eval's `n_splits=0` branch), which is what each bootstrap resample gets."""
    from alpaca_eval.metrics.glm_winrate import GLM_INFO, fit_LogisticRegressionCV, make_dmatrix_for_model

    info = GLM_INFO[MINIMAL]
    delta = df["output_1"].str.len() - df["output_2"].str.len()
    std = delta.std()
    features = df[["preference"]].copy()
    features["std_delta_len"] = delta / std if std and np.isfinite(std) else 0.0
    features["preference"] = features["preference"].astype(float).replace({0.0: 1.5}) - 1
    features["not_gamed_baseline"] = True
    test = features[["not_gamed_baseline"]].copy()
    test["std_delta_len"] = 0
    train, test_x = make_dmatrix_for_model(features, test, formula=info["formula"])
    train = train[train["preference"].notna()]
    kwargs = info["kwargs"] if C is None else {"n_splits": 0, "C": C}
    with warnings.catch_warnings():  # sklearn's deprecation warnings about the arguments alpaca_eval passes
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", UserWarning)
        model = fit_LogisticRegressionCV(train, "preference", is_ytrue_proba=True, **kwargs)
    chosen = float(np.ravel(getattr(model, "C_", [C]))[0])
    return float(model.predict_proba(test_x)[:, 1].mean() * 100), chosen


def _degenerate(df) -> float | None:
    """The LC win rate where there is nothing to fit: the reference against itself (50 by construction), or
    one preference for every pair (no length effect to remove)."""
    if df["output_1"].equals(df["output_2"]):
        return 50.0
    if df["preference"].round(6).nunique() < 2:
        return float((df["preference"].iloc[0] - 1) * 100)
    return None


def length_controlled(df) -> tuple[float, float, float, str]:
    """(LC win rate, CI low, CI high, the formula used)."""
    fixed = _degenerate(df)
    if fixed is not None:
        return fixed, fixed, fixed, MINIMAL
    try:
        from alpaca_eval.metrics.glm_winrate import get_length_controlled_winrate

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", UserWarning)
            out = get_length_controlled_winrate(df.copy(), glm_name=OFFICIAL, save_weights_dir=None,
                                                is_warn_extreme_changes=False)
        lc, se = float(out["length_controlled_winrate"]), float(out["lc_standard_error"])
        return lc, lc - 1.96 * se, lc + 1.96 * se, OFFICIAL  # alpaca_eval's own error: instruction difficulty varies
    except Exception as e:  # df_gamed.csv unreachable (offline), or a subset the official GLM cannot index
        logging.getLogger(__name__).info("length_controlled_v1 unavailable (%s); using %s", type(e).__name__, MINIMAL)
    lc, C = _minimal_lc(df)
    rng = np.random.default_rng(0)
    boots = []
    for _ in range(LC_BOOTSTRAP):
        resample = df.iloc[rng.integers(0, len(df), len(df))].reset_index(drop=True)
        fixed = _degenerate(resample)
        boots.append(fixed if fixed is not None else _minimal_lc(resample, C)[0])
    low, high = np.percentile(boots, [2.5, 97.5])
    return lc, float(low), float(high), MINIMAL


def win_rates(samples: Sequence[Sample], scored: Sequence[ScoredSample]) -> dict[str, Any]:
    """The task's aggregates: lc_win_rate (headline, with CI), win_rate, discrete_win_rate, mean lengths."""
    from alpaca_eval.metrics import get_winrate

    if not scored:
        return {}
    df = _annotations(samples, scored)
    raw = get_winrate(df)
    lc, low, high, formula = length_controlled(df)
    return {
        "lc_win_rate": {"value": lc, "ci_low": min(low, lc), "ci_high": max(high, lc),
                        "official_glm": float(formula == OFFICIAL)},
        "win_rate": {"value": raw["win_rate"], "standard_error": raw["standard_error"]},
        "discrete_win_rate": raw["discrete_win_rate"],
        "avg_length": float(df["output_2"].str.len().mean()),
        "reference_avg_length": float(df["output_1"].str.len().mean()),
    }
