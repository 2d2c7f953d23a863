"""Code scoring without the Hub: a local `code_eval` metric that runs programs in taskseed's sandbox.

lm-eval's HumanEval and MBPP tasks score with Hugging Face `evaluate`'s `code_eval` metric, which
`evaluate.load` fetches from the Hub (offline, their task modules fail at import). `local_code_eval()` makes
`evaluate.load("code_eval")` return `SandboxCodeEval`: the same call signature and return value
(pass@k per k, and per-problem results), with each candidate program (completion + the task's tests) run
in `taskseed.filter.sandbox` (own process group, CPU/memory/file limits, wall-clock kill, no network, no
process creation, no writes outside a throw-away folder). lm-eval's own task code is otherwise unchanged.
"""

from __future__ import annotations

import contextlib
import logging
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import numpy as np

from taskseed.filter.sandbox import Limits, run_python

log = logging.getLogger(__name__)
CODE_LIMITS = Limits(wall_s=10.0, cpu_s=5.0, memory_mb=1024)  # per candidate program (HF's code_eval: 3 s)


def pass_at_k(n: int, c: int, k: int) -> float:
    """The unbiased pass@k estimator (Chen et al. 2021): 1 - C(n-c, k) / C(n, k)."""
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


class SandboxCodeEval:
    """Stands in for `evaluate.load("code_eval")`: `compute(references, predictions, k)`."""

    def __init__(self, limits: Limits | None = None, workers: int = 2):
        self.limits = limits or CODE_LIMITS
        self.workers = workers

    def compute(self, references: list[str], predictions: list[list[str]], k: list[int] | int = (1, 10, 100),
                num_workers: int | None = None, timeout: float | None = None) -> tuple[dict[str, float], dict[int, list]]:  # fmt: skip
        from concurrent.futures import ThreadPoolExecutor

        ks = [k] if isinstance(k, int) else list(k)
        limits = Limits(
            wall_s=timeout or self.limits.wall_s, cpu_s=self.limits.cpu_s, memory_mb=self.limits.memory_mb
        )
        jobs = [(i, j, f"{candidate}\n{reference}") for i, (cands, reference) in enumerate(zip(predictions, references, strict=True))
                for j, candidate in enumerate(cands)]  # fmt: skip
        with ThreadPoolExecutor(max_workers=num_workers or self.workers) as pool:
            outcomes = list(pool.map(lambda job: run_python(job[2], limits), jobs))
        results: dict[int, list] = defaultdict(list)
        for (i, j, _), outcome in zip(jobs, outcomes, strict=True):
            result = "passed" if outcome.passed else f"{outcome.status}: {outcome.reason}"
            results[i].append(
                (j, {"task_id": i, "passed": outcome.passed, "result": result, "completion_id": j})
            )
        totals = np.array([len(results[i]) for i in range(len(references))])
        correct = np.array([sum(r["passed"] for _, r in results[i]) for i in range(len(references))])
        scores = {f"pass@{kk}": float(np.mean([pass_at_k(int(n), int(c), kk) for n, c in zip(totals, correct, strict=True)]))
                  for kk in ks if (totals >= kk).all()}  # fmt: skip
        return scores, dict(results)


@contextlib.contextmanager
def local_code_eval() -> Iterator[None]:
    """While active, `evaluate.load("code_eval")` returns the sandboxed metric (lm-eval's code task modules
    call it when imported, and keep the object they got)."""
    import evaluate

    original = evaluate.load

    def load(path: str, *args: Any, **kwargs: Any):
        if path == "code_eval":
            return SandboxCodeEval()
        return original(path, *args, **kwargs)

    evaluate.load = load
    try:
        yield
    finally:
        evaluate.load = original
