"""Balanced seed sampling: a large task must not crowd out small ones.

Quotas come from two-level temperature sampling: groups get shares proportional to size**T_group, tasks
within a group size**T_task (T=0: equal shares, T=1: proportional to size). Shares become exact integer
quotas by largest remainder, so a run of N examples is balanced by construction, not just in expectation.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from typing import Any


def largest_remainder(shares: dict[str, float], total: int) -> dict[str, int]:
    norm = sum(shares.values())
    if total <= 0 or norm <= 0:
        return dict.fromkeys(shares, 0)
    exact = {k: total * v / norm for k, v in shares.items()}
    quotas = {k: math.floor(v) for k, v in exact.items()}
    left = total - sum(quotas.values())
    for key in sorted(exact, key=lambda k: (-(exact[k] - quotas[k]), k))[:left]:
        quotas[key] += 1
    return quotas


def task_quotas(
    sizes: dict[str, int],
    groups: dict[str, str],
    total: int,
    group_temperature: float,
    task_temperature: float,
) -> dict[str, int]:
    by_group: dict[str, list[str]] = defaultdict(list)
    for task in sorted(sizes):
        by_group[groups[task]].append(task)
    group_size = {g: sum(sizes[t] for t in ts) for g, ts in by_group.items()}
    group_quota = largest_remainder({g: n**group_temperature for g, n in group_size.items()}, total)
    quotas: dict[str, int] = {}
    for group, tasks in by_group.items():
        quotas.update(largest_remainder({t: sizes[t] ** task_temperature for t in tasks}, group_quota[group]))
    return quotas


def plan(seeds_by_task: dict[str, list[dict[str, Any]]], total: int, few_shot: int, seed: int,
         group_temperature: float = 0.0, task_temperature: float = 0.0) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:  # fmt: skip
    """(anchor seed, few-shot seeds of the same task) per example, interleaved across tasks."""
    sizes = {t: len(s) for t, s in seeds_by_task.items() if s}
    groups = {t: seeds_by_task[t][0]["group"] for t in sizes}
    quotas = task_quotas(sizes, groups, total, group_temperature, task_temperature)
    per_task: dict[str, list[tuple[dict[str, Any], list[dict[str, Any]]]]] = {}
    for task, quota in quotas.items():
        rng = random.Random(f"{seed}:{task}")
        order = list(seeds_by_task[task])
        rng.shuffle(order)
        items = []
        for i in range(quota):
            anchor = order[i % len(order)]
            others = [s for s in order[i + 1 : i + 1 + few_shot + 1] if s["seed_id"] != anchor["seed_id"]][
                :few_shot
            ]
            if len(others) < few_shot:
                others += [
                    s for s in order[: few_shot + 1] if s["seed_id"] != anchor["seed_id"] and s not in others
                ][: few_shot - len(others)]
            items.append((anchor, others))
        per_task[task] = items
    interleaved = []
    for round_ in range(max((len(v) for v in per_task.values()), default=0)):
        for task in sorted(per_task):
            if round_ < len(per_task[task]):
                interleaved.append(per_task[task][round_])
    return interleaved
