"""Training checkpoints: model, optimizer, scheduler, every rank's RNG and the data position, committed
atomically (written to a hidden folder, renamed into place) so a kill at any moment leaves the last complete
checkpoint and nothing half-written that a resume could pick up."""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

PREFIX = "step_"


def step_dir(root: Path, step: int) -> Path:
    return root / f"{PREFIX}{step:08d}"


def latest(root: Path) -> Path | None:
    """The newest complete checkpoint (hidden, unfinished ones are ignored)."""
    if not root.is_dir():
        return None
    done = sorted(p for p in root.iterdir() if p.name.startswith(PREFIX) and (p / "state.json").is_file())
    return done[-1] if done else None


def rng_state() -> dict[str, Any]:
    return {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])


def staging(root: Path, step: int) -> Path:
    return root / f".{PREFIX}{step:08d}.partial"


def write_rank_state(root: Path, step: int, rank: int) -> None:
    folder = staging(root, step)
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(rng_state(), folder / f"rng_rank{rank}.pt")


def write_shared_state(root: Path, step: int, model, optimizer, scheduler, state: dict[str, Any]) -> None:
    """Rank 0: what all ranks share (the model and optimizer are identical on every data-parallel rank)."""
    folder = staging(root, step)
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), folder / "model.pt")
    torch.save(optimizer.state_dict(), folder / "optimizer.pt")
    torch.save(scheduler.state_dict(), folder / "scheduler.pt")
    (folder / "state.json").write_text(json.dumps(state, indent=2) + "\n")


def commit(root: Path, step: int, keep: int) -> Path:
    """Rank 0, after every rank has written its part: rename into place, drop the oldest beyond `keep`."""
    final = step_dir(root, step)
    shutil.rmtree(final, ignore_errors=True)
    os.replace(staging(root, step), final)
    done = sorted(p for p in root.iterdir() if p.name.startswith(PREFIX))
    for old in done[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    for stale in root.glob(f".{PREFIX}*.partial"):
        if stale != staging(root, step):
            shutil.rmtree(stale, ignore_errors=True)
    return final


def load(folder: Path, rank: int, model, optimizer, scheduler) -> dict[str, Any]:
    model.load_state_dict(torch.load(folder / "model.pt", weights_only=True))
    optimizer.load_state_dict(torch.load(folder / "optimizer.pt", weights_only=True))
    scheduler.load_state_dict(torch.load(folder / "scheduler.pt", weights_only=True))
    set_rng_state(torch.load(folder / f"rng_rank{rank}.pt", weights_only=False))
    return json.loads((folder / "state.json").read_text())
