"""The token mix as people read it: one bar per source, split by family, every segment labelled."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLORS = {"knowledge": "#4c72b0", "reasoning": "#dd8452", "general": "#8c8c8c"}


def token_mix(manifest: dict[str, Any], path: Path) -> None:
    sources = manifest["sources"]
    total = sum(s["tokens_drawn"] for s in sources.values()) or 1
    fig, ax = plt.subplots(figsize=(9, 0.9 + 0.7 * len(sources)))
    for y, (name, source) in enumerate(sources.items()):
        left = 0
        for family, tokens in sorted(source["tokens_drawn_by_family"].items()):
            width = tokens / total
            ax.barh(y, width, left=left, color=COLORS.get(family, "#55a868"), edgecolor="white")
            if width > 0.12:
                ax.text(
                    left + width / 2,
                    y,
                    f"{family}\n{tokens:,}",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white",
                )
            left += width
        families = ", ".join(f"{f} {t:,}" for f, t in sorted(source["tokens_drawn_by_family"].items()))
        ax.text(left + 0.01, y, f"{name}: {source['tokens_drawn']:,} tokens ({source['share']:.0%}; {families}),\n"
                f"{source['epochs']:.2f} epochs of its {source['documents']:,} documents", va="center", fontsize=8.5)  # fmt: skip
    ax.set_yticks(range(len(sources)), list(sources))
    ax.set_xlim(0, 1.6)
    ax.set_xticks([0, 0.25, 0.5, 0.75, 1.0], ["0", "25%", "50%", "75%", "100%"])
    ax.set_xlabel(
        f"share of the {manifest['num_samples']:,} x {manifest['seq_length']}-token training samples"
    )
    ax.set_title("tokens drawn per source and family", loc="left", fontsize=11)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.savefig(path, dpi=130, bbox_inches="tight")
    plt.close(fig)
