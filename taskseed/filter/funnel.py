"""The yield funnel: how many records each check saw, passed and rejected, overall and per task, as a
table, as MLflow metrics and as a PNG."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any


def funnel_stats(
    names: list[str], entered: list[dict[str, Any]], rejected_by: dict[str, list[dict[str, Any]]]
) -> dict[str, Any]:
    """entered: the input records; rejected_by: check name -> the records it rejected (in chain order)."""
    tasks = sorted({r["task"] for r in entered})
    alive = Counter(r["task"] for r in entered)
    steps = []
    for name in names:
        out = Counter(r["task"] for r in rejected_by.get(name, []))
        reasons = Counter(_code(r) for r in rejected_by.get(name, []))
        steps.append({"check": name, "entered": sum(alive.values()), "rejected": sum(out.values()),
                      "entered_by_task": dict(alive), "rejected_by_task": dict(out), "reasons": dict(reasons.most_common())})  # fmt: skip
        alive = alive - out
    return {
        "input": len(entered),
        "kept": sum(alive.values()),
        "tasks": tasks,
        "kept_by_task": dict(alive),
        "steps": steps,
    }


def _code(record: dict[str, Any]) -> str:
    return (record.get("rejection") or {}).get("reason", "").split(":", 1)[0]


def funnel_metrics(funnel: dict[str, Any]) -> dict[str, float]:
    metrics: dict[str, float] = {"filter.input": funnel["input"], "filter.kept": funnel["kept"],
                                 "filter.yield": round(funnel["kept"] / max(1, funnel["input"]), 4)}  # fmt: skip
    for step in funnel["steps"]:
        metrics[f"filter.{step['check']}.entered"] = step["entered"]
        metrics[f"filter.{step['check']}.rejected"] = step["rejected"]
        for task, n in step["rejected_by_task"].items():
            metrics[f"filter.{step['check']}.rejected.{task}"] = n
    for task, n in funnel["kept_by_task"].items():
        metrics[f"filter.kept.{task}"] = n
    return metrics


def funnel_rows(funnel: dict[str, Any]) -> tuple[list[str], list[list[Any]], list[Any]]:
    """Per task: input, then rejected by each check, kept and yield."""
    names = [s["check"] for s in funnel["steps"]]
    rows = []
    first = funnel["steps"][0]["entered_by_task"] if funnel["steps"] else funnel["kept_by_task"]
    for task in funnel["tasks"]:
        n = first.get(task, 0)
        kept = funnel["kept_by_task"].get(task, 0)
        rows.append(
            [
                task,
                n,
                *(s["rejected_by_task"].get(task, 0) for s in funnel["steps"]),
                kept,
                f"{100 * kept / max(1, n):.0f}%",
            ]
        )
    total = ["total", funnel["input"], *(s["rejected"] for s in funnel["steps"]), funnel["kept"],
             f"{100 * funnel['kept'] / max(1, funnel['input']):.0f}%"]  # fmt: skip
    return ["task", "input", *(f"-{n}" for n in names), "kept", "yield"], rows, total


def plot_funnel(funnel: dict[str, Any], path: Path, title: str = "filter yield funnel") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = funnel["steps"]
    labels = ["input"] + [f"after {s['check']}" for s in steps]
    remaining = [funnel["input"]]
    for s in steps:
        remaining.append(remaining[-1] - s["rejected"])
    tasks = funnel["tasks"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, max(3.5, 0.45 * max(len(labels), len(tasks)) + 1.5)),
                                      gridspec_kw={"width_ratios": [1, 1.25]})  # fmt: skip
    y = list(range(len(labels)))[::-1]
    bars = left.barh(y, remaining, color=["#4c72b0"] + ["#55a868"] * len(steps), height=0.6)
    for bar, n, step in zip(bars, remaining, [None, *steps], strict=True):
        note = f"{n}  ({100 * n / max(1, funnel['input']):.0f}%)"
        if step is not None and step["rejected"]:
            top = next(iter(step["reasons"]), "")
            note += f"   -{step['rejected']} {top}"
        left.text(
            bar.get_width() + max(remaining) * 0.01,
            bar.get_y() + bar.get_height() / 2,
            note,
            va="center",
            fontsize=9,
        )
    left.set_yticks(y, labels)
    left.set_xlim(0, max(1, max(remaining)) * 1.9)
    left.set_xlabel("records")
    left.set_title("records remaining after each check")
    for side in ("top", "right"):
        left.spines[side].set_visible(False)

    # Per task: the share of the records reaching each check that it rejected.
    grid = [
        [s["rejected_by_task"].get(t, 0) / max(1, s["entered_by_task"].get(t, 0)) for s in steps]
        for t in tasks
    ]
    image = right.imshow(grid or [[0]], cmap="Reds", vmin=0, vmax=1, aspect="auto")
    right.set_xticks(range(len(steps)), [s["check"] for s in steps], rotation=30, ha="right")
    right.set_yticks(range(len(tasks)), [f"{t} ({funnel['kept_by_task'].get(t, 0)} kept)" for t in tasks])
    for r, t in enumerate(tasks):
        for c, s in enumerate(steps):
            n_in = s["entered_by_task"].get(t, 0)
            if n_in:
                right.text(c, r, f"{s['rejected_by_task'].get(t, 0)}/{n_in}", ha="center", va="center", fontsize=8,
                           color="white" if grid[r][c] > 0.6 else "black")  # fmt: skip
    right.set_title("rejected / reaching the check, per task")
    fig.colorbar(image, ax=right, fraction=0.04, label="rejection rate")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
