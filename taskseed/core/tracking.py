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


def _quiet_mlflow(remote: bool = False) -> None:
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    if remote:  # MLflow's defaults retry a dead server for minutes; fail fast, the journal keeps the runs
        logging.getLogger("urllib3").setLevel(
            logging.ERROR
        )  # one line says the server failed, not every retry
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "15")
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

    def register_model(self, name: str, source: str, tags: dict[str, str] | None = None) -> None:
        """A model version of `name` whose files are `source` (a local model folder, not copied), linked to
        this run, with `tags` (e.g. the evaluation deltas)."""
        if not self._mlflow:
            return
        from mlflow.exceptions import MlflowException

        client = self._mlflow.MlflowClient()
        try:
            client.get_registered_model(name)
        except MlflowException:
            try:
                client.create_registered_model(
                    name, description="taskseed checkpoints: continued pretraining runs"
                )
            except MlflowException:  # a parallel arm created it first
                client.get_registered_model(name)
        version = client.create_model_version(name, Path(source).resolve().as_uri(), run_id=self.run_id,
                                              tags={k: str(v) for k, v in (tags or {}).items()})  # fmt: skip
        self.set_tags({"registered_model": f"{name}/{version.version}"})

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
        from mlflow.exceptions import MlflowException

        for attempt in range(3):
            try:
                self._mlflow.log_input(dataset, context=context, tags=tags)
                return
            except MlflowException as err:
                # Parallel arms log the same shared artifact: the loser of the insert race gets a UNIQUE
                # violation on `datasets`; the row now exists, so a retry links it.
                if "UNIQUE constraint" not in str(err) or attempt == 2:
                    raise

    def set_tags(self, tags: dict[str, Any]) -> None:
        if self._mlflow:
            self._mlflow.set_tags({k: str(v) for k, v in tags.items()})


def _metric_key(key: str) -> str:
    # MLflow accepts alphanumerics and _ - . space / ; anything else becomes "_".
    return "".join(c if c.isalnum() or c in "_-./ " else "_" for c in key)


class Tracker:
    """MLflow (and W&B) runs for a command. A tracking server that is down, slow or failing never fails or
    stalls the pipeline: the first failure is reported once, MLflow is not called again by this process, and
    each stage run it could not log is written to the journal (`tracking.journal`) for `taskseed sync`."""

    def __init__(self, cfg: dict[str, Any]):
        self.cfg = cfg
        self.enabled = bool(cfg.get("enabled", True))
        self.wandb_cfg = cfg.get("wandb") or {}
        self.journal = Path(cfg["journal"]) if cfg.get("journal") else None
        self.offline = False  # MLflow failed in this process: results stay local, journalled
        self.missed = 0  # stage runs journalled instead of logged
        self._mlflow = None
        self._experiment_id: str | None = None
        self._parent_name: str | None = None
        self._parent: dict[str, Any] | None = None  # the open parent run, as the journal records it

    @property
    def remote(self) -> bool:
        return str(self.cfg.get("uri", "")).startswith(("http://", "https://"))

    def fail(self, err: BaseException) -> None:
        """Go offline for the rest of this process, saying so once."""
        if not self.offline:
            self.offline = True
            first = str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
            log.warning("tracking: MLflow at %s failed (%s: %s); results stay local and `taskseed sync` uploads "
                        "them when it is back", self.cfg.get("uri"), type(err).__name__, first)  # fmt: skip

    def _ensure_mlflow(self):
        if self._mlflow is not None or not self.enabled or self.offline:
            return None if self.offline else self._mlflow
        _quiet_mlflow(self.remote)
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
                location = (
                    None if self.remote else self.cfg.get("artifact_location")
                )  # a server stores its own
                if location:
                    location = Path(location).resolve().as_uri()
                self._experiment_id = mlflow.create_experiment(name, artifact_location=location)
            else:
                self._experiment_id = experiment.experiment_id
        except Exception as err:  # noqa: BLE001 - a server can fail in many ways; a local store cannot be fixed later
            if self.remote:
                self.fail(err)
                return None
            detail = (
                str(err).splitlines()[0]
                if isinstance(err, MlflowException)
                else f"{type(err).__name__}: {err}"
            )
            raise TaskseedError(f"MLflow store {uri} is not usable: {detail}; check tracking.uri") from None
        self._mlflow = mlflow
        return mlflow

    @contextlib.contextmanager
    def parent(
        self, name: str, params: dict[str, str] | None = None, tags: dict[str, Any] | None = None,
        run_id: str | None = None,
    ) -> Iterator[StageRun]:  # fmt: skip
        """One parent run per experiment run; stage runs opened inside nest under it (`run_id`: reopen one)."""
        import uuid

        tags = {"taskseed.kind": "experiment", **(tags or {})}
        self._parent = {
            "key": uuid.uuid4().hex,
            "name": name,
            "tags": {k: str(v) for k, v in tags.items()},
            "run_id": None,
        }
        mlflow = self._ensure_mlflow()
        started = None
        if mlflow is not None:
            try:
                started = mlflow.start_run(run_id=run_id, experiment_id=None if run_id else self._experiment_id,
                                           run_name=None if run_id else name)  # fmt: skip
                self._parent["run_id"] = started.info.run_id
                if params and not run_id:
                    mlflow.log_params(_clip_params(params))
                mlflow.set_tags(self._parent["tags"])
            except Exception as err:  # noqa: BLE001
                self.fail(err)
        self._parent_name = name
        status = "FINISHED"
        try:
            yield StageRun(mlflow if started is not None and not self.offline else None)
        except BaseException:
            status = "FAILED"
            raise
        finally:
            self._parent_name = None
            self._parent = None
            if started is not None and not self.offline:
                try:
                    mlflow.end_run(status)
                except Exception as err:  # noqa: BLE001
                    self.fail(err)

    @contextlib.contextmanager
    def stage(self, stage: str, params: dict[str, str], tags: dict[str, Any]) -> Iterator[StageRun]:
        """A stage run (nested under the open parent). MLflow errors raise; `Session` journals them."""
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

    def record_missed(self, artifact_path: Path, cache_hit: bool, params: dict[str, str]) -> None:
        """Journal a stage run MLflow could not take, with what `taskseed sync` needs to log it later."""
        self.missed += 1
        if self.journal is None:
            return
        import datetime as dt
        import json

        entry = {"artifact": str(artifact_path), "cache_hit": cache_hit, "params": params, "parent": self._parent,
                 "experiment": self.cfg.get("experiment", "taskseed"),
                 "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}  # fmt: skip
        self.journal.parent.mkdir(parents=True, exist_ok=True)
        with open(self.journal, "a") as fh:
            fh.write(json.dumps(entry) + "\n")

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
            tags=[f"{k}={v}"[:64] for k, v in tags.items()][:20],  # W&B refuses tags over 64 characters
            reinit="finish_previous",
        )


def _clip_params(params: dict[str, str]) -> dict[str, str]:
    # MLflow limits a param value to 6000 characters; long lists are clipped, not dropped.
    return {k[:250]: (v if len(v) <= 6000 else v[:5990] + "...") for k, v in params.items()}
