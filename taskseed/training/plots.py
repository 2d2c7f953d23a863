"""The training curve: loss per step with a running mean, the learning rate on its own axis."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def loss_curve(records: list[dict[str, Any]], path: Path, title: str) -> None:
    steps = [r["step"] for r in records]
    loss = [r["loss"] for r in records]
    window = max(1, len(loss) // 10)
    running = [
        sum(loss[max(0, i - window + 1) : i + 1]) / len(loss[max(0, i - window + 1) : i + 1])
        for i in range(len(loss))
    ]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 5), sharex=True, height_ratios=[3, 1])
    top.plot(steps, loss, color="#9db4d6", linewidth=1)
    top.plot(steps, running, color="#1f4e99", linewidth=2)
    top.text(
        steps[-1],
        running[-1],
        f"  {running[-1]:.3f} (mean of last {window})",
        va="center",
        fontsize=8.5,
        color="#1f4e99",
    )
    top.text(steps[0], loss[0], f"{loss[0]:.3f}  ", ha="right", va="center", fontsize=8.5, color="#555")
    top.set_ylabel("training loss")
    top.set_title(title, loc="left", fontsize=11)
    bottom.plot(steps, [r["lr"] for r in records], color="#555", linewidth=1.2)
    bottom.set_ylabel("learning rate")
    bottom.set_xlabel("optimizer step")
    for ax in (top, bottom):
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    fig.savefig(path, dpi=130, bbox_inches="tight")
    plt.close(fig)
