"""The paths and tracking sections: every key, its default and what it means (conf/ only overrides)."""

from __future__ import annotations

from dataclasses import dataclass, field

from taskseed.core.schema import one_of, register, require


@register("paths")
@dataclass
class PathsConfig:
    root: str = "${ts.root:}"  # the project checkout (the folder holding conf/)
    outputs: str = "${paths.root}/outputs"  # everything a run writes lives under here
    artifacts: str = "${paths.outputs}/artifacts"
    cache: str = "${paths.outputs}/cache"  # model copies, LLM-call cache, datasets' Arrow cache

    def __post_init__(self) -> None:
        for key in ("outputs", "artifacts", "cache"):
            require(bool(getattr(self, key).strip()), f"paths.{key}", getattr(self, key), "a folder path")


@dataclass
class WandbConfig:
    enabled: bool = False
    project: str = "taskseed"
    mode: str = "offline"
    dir: str = "${paths.outputs}"

    def __post_init__(self) -> None:
        one_of("tracking.wandb.mode", self.mode, ("offline", "online", "disabled"))


@register("tracking")
@dataclass
class TrackingConfig:
    enabled: bool = True
    uri: str = "sqlite:///${paths.outputs}/mlflow.db"  # or http://team-server:5000
    artifact_location: str = "${paths.outputs}/mlartifacts"
    experiment: str = "taskseed"
    # Stage runs a tracking server could not take (down, slow, failing); `taskseed sync` uploads them later.
    journal: str | None = "${paths.outputs}/tracking/pending.jsonl"
    # Standalone stage commands log a run when they compute an artifact; a cache hit reuses it (and its run).
    # Pipeline and experiment runs always log every stage under their parent run.
    log_cache_hits: bool = False
    wandb: WandbConfig = field(default_factory=WandbConfig)

    def __post_init__(self) -> None:
        schemes = ("sqlite:///", "http://", "https://", "file:", "databricks")
        require(self.uri.startswith(schemes), "tracking.uri", self.uri,
                "an MLflow tracking URI: sqlite:///PATH, http(s)://HOST:PORT or file:PATH")  # fmt: skip
        require(bool(self.experiment.strip()), "tracking.experiment", self.experiment, "an experiment name")
