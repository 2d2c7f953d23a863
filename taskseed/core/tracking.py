"""Experiment tracking (DESIGN §6): MLflow is the system of record, W&B an optional mirror.

One run per stage; inside `Tracker.parent(...)` stage runs nest under one parent run per experiment run.
The default store is SQLite under the outputs folder, so nothing needs a server.
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from taskseed.core.errors import TaskseedError

log = logging.getLogger(__name__)


def _quiet_mlflow() -> None:
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", module="mlflow")


class StageRun:
    """What a stage may log into its run; every call is a no-op when tracking is off."""

    def __init__(self, mlflow_mod, wandb_run=None):
        self._mlflow = mlflow_mod
        self._wandb = wandb_run
        self.run_id = mlflow_mod.active_run().info.run_id if mlflow_mod else None

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        clean = {_metric_key(k): float(v) for k, v in metrics.items() if isinstance(v, (int, float))}
        if self._mlflow and clean:
            self._mlflow.log_metrics(clean, step=step)
        if self._wandb and clean:
            self._wandb.log(clean, step=step)

    def log_series(self, path: Path, keys: list[str], prefix: str = "") -> None:
        """Per-step metrics from a JSONL file (one line per step with a `step` field), in batches."""
        import json

        rows = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
        if self._mlflow:
            import time

            from mlflow.entities import Metric

            now = int(time.time() * 1000)
            metrics = [Metric(_metric_key(prefix + k), float(r[k]), now, int(r["step"]))
                       for r in rows for k in keys if isinstance(r.get(k), (int, float))]  # fmt: skip
            client = self._mlflow.MlflowClient()
            for i in range(0, len(metrics), 1000):
                client.log_batch(self.run_id, metrics=metrics[i : i + 1000])
        if self._wandb:
            for r in rows:
                self._wandb.log({prefix + k: r[k] for k in keys if k in r}, step=int(r["step"]))

    def log_artifact(self, path: Path, folder: str | None = None) -> None:
        if self._mlflow:
            self._mlflow.log_artifact(str(path), artifact_path=folder)
        if self._wandb:
            self._wandb.save(str(path), base_path=str(Path(path).parent), policy="now")

    def log_dataset(self, artifact, context: str, rows: int | None = None) -> None:
        """The artifact as an MLflow dataset input, digest = its fingerprint (lineage across stages)."""
        if not self._mlflow:
            return
        from mlflow.data.dataset_source_registry import resolve_dataset_source
        from mlflow.data.meta_dataset import MetaDataset

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            source = resolve_dataset_source(str(artifact.path))
        dataset = MetaDataset(
            source, name=f"{artifact.stage}-{artifact.fingerprint}", digest=artifact.fingerprint
        )
        tags = {"stage": artifact.stage, "fingerprint": artifact.fingerprint}
        if rows is not None:
            tags["rows"] = str(rows)
        self._mlflow.log_input(dataset, context=context, tags=tags)

    def set_tags(self, tags: dict[str, Any]) -> None:
        if self._mlflow:
            self._mlflow.set_tags({k: str(v) for k, v in tags.items()})


def _metric_key(key: str) -> str:
    # MLflow accepts alphanumerics and _ - . space / ; anything else becomes "_".
    return "".join(c if c.isalnum() or c in "_-./ " else "_" for c in key)


class Tracker:
    def __init__(self, cfg: dict[str, Any]):
        self.cfg = cfg
        self.enabled = bool(cfg.get("enabled", True))
        self.wandb_cfg = cfg.get("wandb") or {}
        self._mlflow = None
        self._experiment_id: str | None = None
        self._parent_name: str | None = None

    def _ensure_mlflow(self):
        if self._mlflow is not None or not self.enabled:
            return self._mlflow
        _quiet_mlflow()
        import mlflow
        from mlflow.exceptions import MlflowException

        uri = self.cfg["uri"]
        if uri.startswith("sqlite:///"):
            db_dir = Path(uri[len("sqlite:///") :]).parent
            try:
                db_dir.mkdir(parents=True, exist_ok=True)
            except OSError as err:
                raise TaskseedError(
                    f"cannot create the MLflow store at {db_dir}: {err.strerror}; set tracking.uri"
                ) from None
        mlflow.set_tracking_uri(uri)
        name = self.cfg.get("experiment", "taskseed")
        try:
            experiment = mlflow.get_experiment_by_name(name)
            if experiment is None:
                location = self.cfg.get("artifact_location")
                if location:
                    location = Path(location).resolve().as_uri()
                self._experiment_id = mlflow.create_experiment(name, artifact_location=location)
            else:
                self._experiment_id = experiment.experiment_id
        except MlflowException as err:
            raise TaskseedError(
                f"MLflow store {uri} is not usable: {str(err).splitlines()[0]}; check tracking.uri"
            ) from None
        self._mlflow = mlflow
        return mlflow

    @contextlib.contextmanager
    def parent(
        self, name: str, params: dict[str, str] | None = None, tags: dict[str, Any] | None = None
    ) -> Iterator[StageRun]:
        """One parent run per experiment run; stage runs opened inside nest under it."""
        mlflow = self._ensure_mlflow()
        if mlflow is None:
            yield StageRun(None)
            return
        with mlflow.start_run(experiment_id=self._experiment_id, run_name=name):
            handle = StageRun(mlflow)
            if params:
                mlflow.log_params(_clip_params(params))
            handle.set_tags({"taskseed.kind": "experiment", **(tags or {})})
            self._parent_name = name
            try:
                yield handle
            finally:
                self._parent_name = None

    @contextlib.contextmanager
    def stage(self, stage: str, params: dict[str, str], tags: dict[str, Any]) -> Iterator[StageRun]:
        mlflow = self._ensure_mlflow()
        wandb_run = self._start_wandb(stage, params, tags)
        try:
            if mlflow is None:
                yield StageRun(None, wandb_run)
                return
            nested = mlflow.active_run() is not None
            with mlflow.start_run(experiment_id=self._experiment_id, run_name=stage, nested=nested):
                mlflow.log_params(_clip_params(params))
                handle = StageRun(mlflow, wandb_run)
                handle.set_tags({"taskseed.kind": "stage", "taskseed.stage": stage, **tags})
                yield handle
        finally:
            if wandb_run is not None:
                wandb_run.finish()

    def _start_wandb(self, stage: str, params: dict[str, str], tags: dict[str, Any]):
        if not self.wandb_cfg.get("enabled"):
            return None
        os.environ.setdefault("WANDB_SILENT", "true")
        import wandb

        directory = Path(self.wandb_cfg.get("dir") or ".")
        directory.mkdir(parents=True, exist_ok=True)
        return wandb.init(
            project=self.wandb_cfg.get("project", "taskseed"),
            mode=self.wandb_cfg.get("mode", "offline"),
            dir=str(directory),
            name=stage,
            group=self._parent_name,
            config=params,
            tags=[f"{k}={v}" for k, v in tags.items()][:20],
            reinit="finish_previous",
        )


def _clip_params(params: dict[str, str]) -> dict[str, str]:
    # MLflow limits a param value to 6000 characters; long lists are clipped, not dropped.
    return {k[:250]: (v if len(v) <= 6000 else v[:5990] + "...") for k, v in params.items()}
