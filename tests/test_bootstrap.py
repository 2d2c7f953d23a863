"""The paired bootstrap on cases with a known answer."""

from __future__ import annotations

import numpy as np
import pytest

from taskseed.evaluation.bootstrap import paired_deltas


def _flips(n: int, up: int, down: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A baseline right on half the items; the treatment fixes `up` wrong ones and breaks `down` right ones."""
    base = np.array([1.0] * (n // 2) + [0.0] * (n - n // 2))
    treat = base.copy()
    treat[n // 2 : n // 2 + up] = 1.0
    treat[:down] = 0.0
    return base, treat


def test_a_treatment_that_flips_k_of_n_items():
    n, k = 400, 40
    (d,) = paired_deltas({"t": _flips(n, k)}, {}, "primary", resamples=20_000, seed=1)
    assert d.delta == pytest.approx(k / n) and d.n == n
    # the mean of n paired differences, k of them 1: sd sqrt(p(1-p)/n)
    half = 1.96 * np.sqrt((k / n) * (1 - k / n) / n)
    assert d.ci_low == pytest.approx(k / n - half, abs=0.006) and d.ci_high == pytest.approx(
        k / n + half, abs=0.006
    )
    assert d.ci_low > 0 and d.excludes_zero and d.p_better == 1.0


def test_no_change_and_balanced_change():
    (same,) = paired_deltas({"t": _flips(200, 0)}, {}, "primary", resamples=2000)
    assert (same.delta, same.ci_low, same.ci_high, same.p_better) == (0.0, 0.0, 0.0, 0.5)
    (mixed,) = paired_deltas({"t": _flips(400, 30, 30)}, {}, "primary", resamples=20_000)
    assert (
        mixed.delta == 0.0
        and mixed.ci_low < 0 < mixed.ci_high
        and mixed.p_better == pytest.approx(0.5, abs=0.03)
    )
    assert not mixed.excludes_zero


def test_groups_weight_tasks_by_size_and_resample_each_task():
    pairs = {"small": _flips(100, 10), "large": _flips(300, 0)}
    deltas = {
        d.name: d
        for d in paired_deltas(pairs, {"suite:s": ("suite", ["small", "large"])}, "primary", resamples=5000)
    }
    group = deltas["suite:s"]
    assert group.level == "suite" and group.n == 400
    assert group.delta == pytest.approx((100 * 0.1 + 300 * 0.0) / 400)
    assert group.ci_low <= group.delta <= group.ci_high
    again = {
        d.name: d
        for d in paired_deltas(pairs, {"suite:s": ("suite", ["small", "large"])}, "primary", resamples=5000)
    }
    assert again["suite:s"] == group  # seeded: the same report twice
