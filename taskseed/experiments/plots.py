"""The token mix of each arm: one stacked bar per arm, every segment labelled with its source and share."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLORS = {"synthetic": "#1f6feb", "seeds": "#8250df", "replay": "#9a6700"}


def token_mix(arms: dict[str, dict[str, int]], path: Path, title: str) -> None:
    fig, ax = plt.subplots(figsize=(9.5, 0.9 + 0.5 * len(arms)))
    for y, tokens in enumerate(reversed(list(arms.values()))):
        total, left = sum(tokens.values()) or 1, 0
        for source, n in tokens.items():
            if n <= 0:
                continue
            ax.barh(y, n, left=left, color=COLORS.get(source, "#6e7781"), height=0.6)
            if n / total > 0.06:
                ax.text(
                    left + n / 2,
                    y,
                    f"{source} {n / total:.0%}",
                    ha="center",
                    va="center",
                    color="white",
                    fontsize=8.5,
                )
            left += n
        ax.text(left * 1.01, y, f"{left:,} tokens", va="center", fontsize=8.5)
    ax.set_yticks(range(len(arms)), list(reversed(list(arms))), fontsize=9)
    ax.set_xlabel("training tokens drawn from the blend")
    ax.set_title(title, fontsize=11, loc="left")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.savefig(path, dpi=130, bbox_inches="tight")
    plt.close(fig)
