"""Per-instance scores from lm-eval's sample logs: the task's primary metric and, for multiple choice,
the likelihood metrics that move at small scale before accuracy does.

Primary metric: the first metric lm-eval reports for the task, under its first filter (ARC `acc`, GSM8K
`exact_match` with `strict-match`, HumanEval `pass@1`). Likelihood metrics (multiple choice): `logprob`, the
correct option's log-probability, and `margin`, its lead over the best wrong option (positive: right).
"""

from __future__ import annotations

import math
from typing import Any

SKIP_KEYS = ("alias", "name", "sample_len", "sample_count")


def primary_metric(task_results: dict[str, Any]) -> tuple[str, str]:
    """(metric, filter) of the first metric lm-eval reports for a task."""
    for key in task_results:
        if "," in key and not key.split(",")[0].endswith("_stderr") and key.split(",")[0] not in SKIP_KEYS:
            metric, filt = key.split(",", 1)
            return metric, filt
    raise ValueError(f"no metric in {sorted(task_results)}")


def _value(sample: dict[str, Any], metric: str) -> float | None:
    value = sample.get(metric)
    if isinstance(value, dict):  # a metric function that returns {name: value}
        value = value.get(metric, next(iter(value.values()), None))
    if isinstance(value, (list, tuple)) and len(value) == 1:
        value = value[0]
    if isinstance(value, bool):
        return float(value)
    return float(value) if isinstance(value, (int, float)) else None


def _logliks(sample: dict[str, Any]) -> list[float] | None:
    resps = sample.get("filtered_resps")
    if not isinstance(resps, list) or len(resps) < 2:
        return None
    out = []
    for r in resps:
        r = r[0] if isinstance(r, list) and r and isinstance(r[0], (list, tuple)) else r
        if not isinstance(r, (list, tuple)) or not isinstance(r[0], (int, float)):
            return None
        out.append(float(r[0]))
    return out


def gold_index(task, doc: dict[str, Any]) -> int | None:
    """The correct option's index as lm-eval's multiple-choice scoring finds it (None for several golds)."""
    choices = task.doc_to_choice(doc)
    gold = task.doc_to_text(doc) if task.multiple_input else task.doc_to_target(doc)
    if isinstance(gold, str):
        gold = choices.index(gold) if gold in choices else None
    return gold if isinstance(gold, int) and 0 <= gold < len(choices) else None


def instance_scores(
    samples: list[dict[str, Any]], metric: str, filt: str, output_type: str, task=None
) -> list[dict[str, Any]]:
    """One record per evaluated document: doc_id, the primary metric, and (multiple choice, given the lm-eval
    task to find the gold option) the likelihood metrics."""
    out = []
    for s in samples:
        if s.get("filter", "none") != filt:
            continue
        record: dict[str, Any] = {"doc_id": int(s["doc_id"]), "primary": _value(s, metric)}
        if "acc_norm" in s:
            record["acc_norm"] = _value(s, "acc_norm")
        logliks = _logliks(s) if output_type == "multiple_choice" and task is not None else None
        if logliks is not None:
            gold = gold_index(task, s["doc"])
            logliks = logliks[: len(task.doc_to_choice(s["doc"]))]  # mutual-information scoring appends more
            if gold is not None and len(logliks) > 1:
                record["logprob"] = logliks[gold]
                record["margin"] = logliks[gold] - max(ll for i, ll in enumerate(logliks) if i != gold)
        out.append(record)
    out.sort(key=lambda r: r["doc_id"])
    return out


def mean(values: list[float | None]) -> float:
    kept = [v for v in values if v is not None and not math.isnan(v)]
    return sum(kept) / len(kept) if kept else float("nan")
