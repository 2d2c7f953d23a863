"""Arm records: what one arm's run produced (its artifacts, fingerprints, MLflow run), one JSON file per arm
in {outputs}/experiments/<experiment>/, written when the arm's pipeline finishes. `compare` reads them;
Hydra launchers (local, joblib, Slurm, Ray) write them from wherever the arm ran, onto the shared outputs."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from taskseed.core.artifacts import Artifact, write_json_atomic
from taskseed.core.errors import TaskseedError


def folder(cfg: dict[str, Any], name: str) -> Path:
    return Path(cfg["paths"]["outputs"]) / "experiments" / name


def label(arm: str | None, point: list[str]) -> str:
    """The record name of an arm at a sweep point: `control`, `control@filter.verify.min_agreement=0.6`."""
    return "@".join([arm or "run", *point]) if point else arm or "run"


def write(cfg: dict[str, Any], point: list[str], artifacts: dict[str, Artifact], run_id: str | None) -> Path:
    exp = cfg["experiment"]
    name = label(cfg.get("arm"), point)
    path = folder(cfg, exp["name"]) / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "experiment": exp["name"], "arm": cfg.get("arm"), "label": name, "point": point,
        "overrides": (exp.get("arms") or {}).get(cfg.get("arm"), []), "run_id": run_id,
        "tracking_uri": cfg["tracking"]["uri"], "mlflow_experiment": cfg["tracking"]["experiment"],
        "artifacts": {stage: str(a.path) for stage, a in artifacts.items()},
        "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }  # fmt: skip
    write_json_atomic(path, record)
    return path


def read_all(cfg: dict[str, Any], name: str) -> dict[str, dict[str, Any]]:
    records = {}
    for path in sorted(folder(cfg, name).glob("*.json")):
        record = json.loads(path.read_text())
        records[record["label"]] = record
    return records


def artifact(record: dict[str, Any], stage: str) -> Artifact:
    if stage not in record["artifacts"]:
        raise TaskseedError(
            f"arm {record['label']} of experiment {record['experiment']} has no {stage} artifact; its "
            f"pipeline.stages must include {stage}"
        )
    return Artifact.load(record["artifacts"][stage])
