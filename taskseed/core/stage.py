"""The stage framework: fingerprint → reuse or compute → atomic commit → track (DESIGN §2, §6).

A stage is a small spec (name, version, the config that changes its output, input artifacts) plus a body
that writes into a private work directory. The work directory becomes the artifact only by a rename
after the body succeeds, so a crash leaves no half-written artifact behind.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import logging
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from taskseed import __version__
from taskseed.core.artifacts import MANIFEST, Artifact, ShardWriter, fingerprint, write_json_atomic
from taskseed.core.config import flatten, project_root
from taskseed.core.display import print_summary
from taskseed.core.errors import TaskseedError
from taskseed.core.tracking import Tracker

log = logging.getLogger(__name__)

TRACKED_LIBRARIES = ("lm_eval", "datasets", "transformers", "torch", "pyarrow", "mlflow", "hydra-core")


@dataclass
class StageSpec:
    name: str
    version: str
    config: dict[str, Any]  # only what changes the output: it goes into the fingerprint
    inputs: dict[str, Artifact] = field(default_factory=dict)
    resumable: bool = False  # keep the work directory across failures and resume from its shards


@dataclass
class StageContext:
    """Handed to a stage body: where to write and what to report."""

    spec: StageSpec
    fingerprint: str
    workdir: Path
    cfg: dict[str, Any]  # the full resolved config (for settings that don't change output)
    stats: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    summary: dict | None = None
    tracked_files: list[str] = field(default_factory=list)
    primary: str = "data"  # the folder of the main records (`kept` for stages that also write `rejected`)
    series: dict | None = None  # per-step metrics: {"file": JSONL with a `step` per line, "keys": [...]}
    register_model: dict | None = None  # a model version to register with the run: {name, source, tags}

    def writer(
        self, prefix: str = "data", fmt: str = "parquet", schema=None, shard_rows: int = 50_000
    ) -> ShardWriter:
        return ShardWriter(self.workdir / prefix, fmt=fmt, schema=schema, shard_rows=shard_rows)

    @contextlib.contextmanager
    def timed(self, step: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings[step] = round(self.timings.get(step, 0.0) + time.perf_counter() - start, 3)

    @property
    def progress(self) -> bool:
        return bool(self.cfg.get("progress", True))


def code_version() -> dict[str, Any]:
    root = project_root()
    info: dict[str, Any] = {"taskseed": __version__}
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        sha = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
        )
        if sha.returncode == 0:
            info["git_commit"] = sha.stdout.strip()
            dirty = subprocess.run(
                ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                capture_output=True,
                text=True,
                timeout=5,
            )
            info["git_dirty"] = bool(dirty.stdout.strip())
    return info


def library_versions() -> dict[str, str]:
    versions = {}
    for name in TRACKED_LIBRARIES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[name] = metadata.version(name)
    import platform

    versions["python"] = platform.python_version()
    return versions


def ensure_writable(folder: Path, setting: str = "paths.outputs") -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise TaskseedError(
            f"cannot create output directory {folder}: {err.strerror}; set {setting} to a writable directory"
        ) from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise TaskseedError(
            f"output directory {folder} is not writable; set {setting} to a writable directory"
        )


class Session:
    """One command invocation: the resolved config, the artifact root and the tracker."""

    def __init__(self, cfg: dict[str, Any], tracker: Tracker | None = None):
        self.cfg = cfg
        self.artifacts_root = Path(cfg["paths"]["artifacts"]).resolve()
        self.tracker = tracker or Tracker(cfg.get("tracking") or {"enabled": False})
        self.params = flatten(cfg)
        # A cache hit's run was logged when the artifact was computed; pipelines log it again under their parent.
        self.track_cache_hits = bool((cfg.get("tracking") or {}).get("log_cache_hits", False))
        self.quiet = False  # set while running a stage only as another stage's input
        self.run_id: str | None = None  # the open pipeline's MLflow parent run
        self.overrides: list[
            str
        ] = []  # the command's overrides, recorded so `taskseed reproduce` can recompose

    def find(self, spec: StageSpec) -> Artifact | None:
        fp = fingerprint(
            spec.name, spec.version, spec.config, {k: a.fingerprint for k, a in spec.inputs.items()}
        )
        path = self.artifacts_root / spec.name / fp
        return Artifact.load(path) if (path / MANIFEST).is_file() else None

    def run(
        self, spec: StageSpec, body: Callable[[StageContext], None], quiet: bool = False, track: bool = True
    ) -> Artifact:
        """The artifact for `spec`: reused when its fingerprint exists, else computed by `body` and committed.
        `track=False` is for an input loaded inside another stage: computing it is still logged."""
        input_fps = {k: a.fingerprint for k, a in spec.inputs.items()}
        fp = fingerprint(spec.name, spec.version, spec.config, input_fps)
        ensure_writable(self.artifacts_root)
        stage_dir = self.artifacts_root / spec.name
        ensure_writable(stage_dir)
        final = stage_dir / fp

        quiet = quiet or self.quiet
        if (final / MANIFEST).is_file():
            return self._reuse(final, quiet, track)

        with _exclusive_lock(stage_dir / f".{fp}.lock", spec.name):
            if (final / MANIFEST).is_file():  # another process finished it while we waited
                return self._reuse(final, quiet, track)
            workdir = stage_dir / f".{fp}.partial"
            if workdir.exists() and not spec.resumable:
                shutil.rmtree(workdir)
            workdir.mkdir(parents=True, exist_ok=True)
            ctx = StageContext(spec=spec, fingerprint=fp, workdir=workdir, cfg=self.cfg)
            started = dt.datetime.now(dt.UTC)
            t0 = time.perf_counter()
            try:
                body(ctx)
            except BaseException:
                if not spec.resumable:
                    shutil.rmtree(workdir, ignore_errors=True)
                raise
            ctx.timings["total_seconds"] = round(time.perf_counter() - t0, 3)
            manifest = {
                "stage": spec.name,
                "stage_version": spec.version,
                "fingerprint": fp,
                "primary": ctx.primary,
                "config": spec.config,
                "inputs": {
                    k: {"stage": a.stage, "fingerprint": a.fingerprint, "path": str(a.path)}
                    for k, a in spec.inputs.items()
                },
                "counts": ctx.counts,
                "stats": ctx.stats,
                "metrics": ctx.metrics,
                "summary": ctx.summary,
                "tracked_files": ctx.tracked_files,
                "series": ctx.series,
                "register_model": ctx.register_model,
                "timings": ctx.timings,
                "started_at": started.isoformat(timespec="seconds"),
                "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "code_version": code_version(),
                "library_versions": library_versions(),
            }
            write_json_atomic(workdir / MANIFEST, manifest)
            os.replace(workdir, final)
        artifact = Artifact.load(final)
        if not quiet:
            print_summary(ctx.summary)
        self._track(artifact, cache_hit=False)
        return artifact

    def _reuse(self, final: Path, quiet: bool, track: bool) -> Artifact:
        artifact = Artifact.load(final)
        took = artifact.manifest.get("timings", {}).get("total_seconds")
        log.info("cache hit: %s/%s (computed in %ss); reusing it", artifact.stage, artifact.fingerprint, took)
        if not quiet:
            print_summary(artifact.manifest.get("summary"))
        if track and self.track_cache_hits:
            self._track(artifact, cache_hit=True)
        return artifact

    def _track(self, artifact: Artifact, cache_hit: bool) -> None:
        """Log the artifact's run; if MLflow fails (a server down or slow), journal it for `taskseed sync`."""
        if self.tracker.offline:
            self.tracker.record_missed(artifact.path, cache_hit, self.params)
            return
        try:
            track_artifact(self.tracker, artifact, self.params, cache_hit)
        except TaskseedError:
            raise
        except Exception as err:  # noqa: BLE001 - tracking never fails the pipeline
            self.tracker.fail(err)
            self.tracker.record_missed(artifact.path, cache_hit, self.params)


def track_artifact(tracker: Tracker, artifact: Artifact, params: dict[str, str], cache_hit: bool) -> None:
    """One stage run for an artifact: params, metrics (per-step series first), files, lineage, model."""
    manifest = artifact.manifest
    tags = {
        "fingerprint": artifact.fingerprint,
        "cache_hit": str(cache_hit).lower(),
        "artifact": str(artifact.path),
    }
    with tracker.stage(artifact.stage, params, tags) as run:
        series = manifest.get("series")
        if series:  # first: W&B wants its steps in order, and the summary metrics below take the next one
            run.log_series(artifact.path / series["file"], series["keys"], prefix=f"{artifact.stage}.")
        run.log_metrics(
            {**manifest.get("metrics", {}), **{f"rows.{k}": v for k, v in manifest.get("counts", {}).items()}}
        )
        run.log_metrics({f"seconds.{k}": v for k, v in manifest.get("timings", {}).items()})
        run.log_artifact(artifact.path / MANIFEST)
        for name in manifest.get("tracked_files", []):
            run.log_artifact(artifact.path / name)
        for name, info in manifest.get("inputs", {}).items():
            with contextlib.suppress(TaskseedError):
                run.log_dataset(Artifact.load(info["path"]), context=f"input:{name}")
        run.log_dataset(artifact, context="output", rows=sum(manifest.get("counts", {}).values()) or None)
        if manifest.get("register_model"):
            run.register_model(**manifest["register_model"])


@contextlib.contextmanager
def _exclusive_lock(path: Path, stage: str) -> Iterator[None]:
    with open(path, "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("another %s run holds %s; waiting for it", stage, path.name)
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
