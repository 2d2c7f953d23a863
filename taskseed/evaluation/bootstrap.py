"""Paired bootstrap over evaluation instances: how much a treatment moved a score, and how sure we are.

Baseline and treatment are scored on the same documents, so each instance gives one difference
d_i = treatment_i - baseline_i. A resample draws n instances with replacement from each task (stratified:
every task keeps its size) and averages; over `resamples` resamples the deltas give the confidence interval
(percentiles) and P(treatment better) = P(delta > 0) + P(delta = 0) / 2. A group's delta is the
instance-weighted mean over its tasks, resampled task by task with the same draws, as lm-eval's
`weight_by_size` groups weight them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class Delta:
    name: str
    level: str  # task | benchmark | suite
    metric: str
    n: int
    baseline: float
    treatment: float
    delta: float
    ci_low: float
    ci_high: float
    p_better: float

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def excludes_zero(self) -> bool:
        return self.ci_low > 0 or self.ci_high < 0


def resampled_means(
    diffs: np.ndarray, resamples: int, rng: np.random.Generator, chunk: int = 2_000_000
) -> np.ndarray:
    """`resamples` bootstrap means of `diffs` (memory bounded: at most ~`chunk` indices drawn at once)."""
    n = len(diffs)
    out = np.empty(resamples)
    step = max(1, chunk // max(1, n))
    for start in range(0, resamples, step):
        stop = min(resamples, start + step)
        idx = rng.integers(0, n, size=(stop - start, n))
        out[start:stop] = diffs[idx].mean(axis=1)
    return out


def paired_deltas(
    pairs: dict[str, tuple[np.ndarray, np.ndarray]],
    groups: dict[str, tuple[str, list[str]]],
    metric: str,
    resamples: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
) -> list[Delta]:
    """Deltas for every task in `pairs` (name -> (baseline, treatment) per instance, aligned) and every group
    in `groups` (name -> (level, member tasks))."""
    rng = np.random.default_rng(seed)
    alpha = (1 - confidence) / 2
    draws: dict[str, np.ndarray] = {}
    out = []
    for name in sorted(pairs):
        base, treat = (np.asarray(a, dtype=float) for a in pairs[name])
        draws[name] = resampled_means(treat - base, resamples, rng)
        out.append(_delta(name, "task", metric, len(base), base.mean(), treat.mean(), draws[name], alpha))
    for name, (level, members) in sorted(groups.items()):
        members = [m for m in members if m in pairs]
        if not members:
            continue
        sizes = np.array([len(pairs[m][0]) for m in members], dtype=float)
        weights = sizes / sizes.sum()
        base = float(sum(w * np.mean(pairs[m][0]) for w, m in zip(weights, members, strict=True)))
        treat = float(sum(w * np.mean(pairs[m][1]) for w, m in zip(weights, members, strict=True)))
        resampled = sum(w * draws[m] for w, m in zip(weights, members, strict=True))
        out.append(_delta(name, level, metric, int(sizes.sum()), base, treat, resampled, alpha))
    return out


def _delta(name, level, metric, n, base, treat, resampled: np.ndarray, alpha: float) -> Delta:
    low, high = np.quantile(resampled, [alpha, 1 - alpha])
    p_better = float((resampled > 0).mean() + 0.5 * (resampled == 0).mean())
    return Delta(
        name,
        level,
        metric,
        n,
        float(base),
        float(treat),
        float(treat - base),
        float(low),
        float(high),
        p_better,
    )
