"""The train section: every key, its default and what it means (conf/train only overrides)."""

from __future__ import annotations

from dataclasses import dataclass, field

from taskseed.core.hardware import DTYPES
from taskseed.core.schema import one_of, register, require

TRAINERS = ("cpu", "automodel")


@dataclass
class OptimConfig:
    lr: float = 1e-4  # peak learning rate (continued pretraining: below the original run's peak)
    min_lr_ratio: float = 0.1  # the cosine decays to lr * min_lr_ratio
    warmup_steps: int = 10
    weight_decay: float = 0.01
    beta1: float = 0.9
    beta2: float = 0.95
    eps: float = 1e-8
    grad_clip: float = 1.0  # max global gradient norm (0: no clipping)

    def __post_init__(self) -> None:
        require(self.lr > 0, "train.optim.lr", self.lr, "must be > 0")
        require(
            0 <= self.min_lr_ratio <= 1, "train.optim.min_lr_ratio", self.min_lr_ratio, "must be in [0, 1]"
        )
        require(self.warmup_steps >= 0, "train.optim.warmup_steps", self.warmup_steps, "must be >= 0")
        require(self.weight_decay >= 0, "train.optim.weight_decay", self.weight_decay, "must be >= 0")
        for key in ("beta1", "beta2"):
            value = getattr(self, key)
            require(0 <= value < 1, f"train.optim.{key}", value, "must be in [0, 1)")
        require(self.eps > 0, "train.optim.eps", self.eps, "must be > 0")
        require(self.grad_clip >= 0, "train.optim.grad_clip", self.grad_clip, "must be >= 0 (0: off)")


@dataclass
class AutoModelConfig:
    """NeMo AutoModel (GPU): its own environment, launched as `torchrun ... recipe --config recipe.yaml`."""

    python: str = "${paths.root}/train/.venv-automodel/bin/python"  # made by `make train-env-gpu`
    recipe: str = "${paths.root}/train/automodel/pretrain.yaml"  # the template the stage fills in
    # Overrides of the rendered recipe in AutoModel's own keys, as key=value (value parsed as YAML), e.g.
    # 'train.automodel.overrides=["distributed.tp_size=2","checkpoint.is_async=true"]'
    overrides: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        for item in self.overrides:
            require("=" in item and item.split("=", 1)[0].strip() != "", "train.automodel.overrides", item,
                    "write each override as key=value, e.g. distributed.tp_size=2")  # fmt: skip


@register("train")
@dataclass
class TrainConfig:
    trainer: str = "cpu"  # cpu: the reference trainer (torchrun, gloo); automodel: NeMo AutoModel on GPUs
    nproc: int = 1  # processes (data-parallel ranks; GPUs for automodel)
    global_batch_size: int = 8  # sequences per optimizer step, over all ranks
    micro_batch_size: int = 2  # sequences per forward pass on one rank (gradient accumulation fills the rest)
    max_steps: int | None = None  # null: all the mix's samples (token_budget // (global batch * seq_length))
    seed: int = 0  # initial RNG state (dropout; the data order is the mix's)
    dtype: str = "auto"  # auto: bf16 autocast where the hardware computes bf16 natively, else float32
    save_every: int = 50  # steps between checkpoints (model, optimizer, scheduler, RNG, data position)
    keep_checkpoints: int = 2  # newest checkpoints kept on disk while training
    log_every: int = 1  # steps between log lines (every step's metrics are recorded regardless)
    threads: int | None = None  # CPU threads per rank (null: cores / nproc)
    model: str | None = (
        None  # null: the `model` group; or a conf/model name or a model folder to train instead
    )
    optim: OptimConfig = field(default_factory=OptimConfig)
    automodel: AutoModelConfig = field(default_factory=AutoModelConfig)

    def __post_init__(self) -> None:
        one_of("train.trainer", self.trainer, TRAINERS)
        one_of("train.dtype", self.dtype, DTYPES)
        require(self.nproc >= 1, "train.nproc", self.nproc, "must be >= 1")
        require(self.micro_batch_size >= 1, "train.micro_batch_size", self.micro_batch_size, "must be >= 1")
        per_step = self.nproc * self.micro_batch_size
        require(
            self.global_batch_size >= per_step and self.global_batch_size % per_step == 0,
            "train.global_batch_size", self.global_batch_size,
            f"must be a multiple of nproc * micro_batch_size = {per_step}",
        )  # fmt: skip
        if self.max_steps is not None:
            require(self.max_steps >= 1, "train.max_steps", self.max_steps, "must be >= 1 or null")
        require(self.save_every >= 1, "train.save_every", self.save_every, "must be >= 1")
        require(self.keep_checkpoints >= 1, "train.keep_checkpoints", self.keep_checkpoints, "must be >= 1")
        require(self.log_every >= 1, "train.log_every", self.log_every, "must be >= 1")
        if self.threads is not None:
            require(self.threads >= 1, "train.threads", self.threads, "must be >= 1 or null")

    @property
    def grad_accum(self) -> int:
        return self.global_batch_size // (self.nproc * self.micro_batch_size)
