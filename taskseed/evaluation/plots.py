"""Plots people read instead of tables: every mark labelled where it is drawn, no legend to decode."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from taskseed.evaluation.bootstrap import Delta  # noqa: E402

UP, DOWN, FLAT = "#1a7f37", "#cf222e", "#6e7781"


def delta_forest(
    deltas: list[Delta],
    path: Path,
    title: str,
    scale: float = 100.0,
    unit: str = "points",
    xlabel: str | None = None,
) -> None:
    """One row per suite, benchmark or task: the delta (dot) and its CI (bar), green/red where the CI
    excludes zero, the numbers written at the right."""
    rows = list(deltas)
    height = 0.9 + 0.36 * len(rows)
    fig, ax = plt.subplots(figsize=(9.5, height))
    span = max([abs(d.ci_low) for d in rows] + [abs(d.ci_high) for d in rows] + [1e-9]) * scale
    for y, d in enumerate(reversed(rows)):
        color = UP if d.ci_low > 0 else DOWN if d.ci_high < 0 else FLAT
        ax.plot(
            [d.ci_low * scale, d.ci_high * scale], [y, y], color=color, linewidth=2.4, solid_capstyle="round"
        )
        ax.plot([d.delta * scale], [y], "o", color=color, markersize=6.5)
        ax.text(span * 1.08, y, f"{d.delta * scale:+.1f} [{d.ci_low * scale:+.1f}, {d.ci_high * scale:+.1f}]  "
                f"{d.baseline * scale:.1f} -> {d.treatment * scale:.1f}  P(better) {d.p_better:.0%}  n={d.n}",
                va="center", fontsize=8.5, color=color)  # fmt: skip
    ax.axvline(0, color="#444", linewidth=0.9)
    names = [_label(d) for d in reversed(rows)]
    ax.set_yticks(range(len(rows)), names, fontsize=9)
    for tick, d in zip(ax.get_yticklabels(), reversed(rows), strict=True):
        tick.set_fontweight("bold" if d.level == "suite" else "normal")
    ax.set_xlim(-span * 1.05, span * 1.05)
    ax.set_xlabel(xlabel or f"treatment - baseline ({unit}); bar: 95% paired-bootstrap interval")
    ax.set_title(title, fontsize=11, loc="left")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.subplots_adjust(left=0.3, right=0.66)
    fig.savefig(path, dpi=130, bbox_inches="tight")
    plt.close(fig)


def _label(d: Delta) -> str:
    name = d.name.removeprefix("suite:")
    return {"suite": f"{name} (suite)", "benchmark": f"  {name}", "task": f"    {name}"}.get(d.level, name)
