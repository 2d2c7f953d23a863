"""The eval section: every key, its default and what it means (conf/eval only overrides)."""

from __future__ import annotations

from dataclasses import dataclass, field

from taskseed.core.hardware import DTYPES
from taskseed.core.schema import one_of, register, require

BACKENDS = ("hf", "vllm", "local-completions")
VARIANTS = ("smoke", "full")


def _suites() -> dict[str, list[str]]:
    # suite -> lm-eval groups or tasks; the groups are defined once, in eval/suites/*.yaml
    return {
        "knowledge": ["taskseed_knowledge"], "science": ["taskseed_science"], "code": ["taskseed_code"],
        "commonsense": ["taskseed_commonsense"], "math": ["taskseed_math"],
    }  # fmt: skip


@dataclass
class SmokeLimits:
    """Documents per task in the `smoke` variant (the first N of each task's evaluation split)."""

    loglikelihood: int = 50  # multiple-choice and loglikelihood tasks
    generate: int = 10  # generate_until tasks (math, code): each needs many decoding steps

    def __post_init__(self) -> None:
        for key in ("loglikelihood", "generate"):
            value = getattr(self, key)
            require(value >= 1, f"eval.smoke.{key}", value, "must be >= 1")


@dataclass
class BootstrapConfig:
    resamples: int = 10_000  # paired bootstrap resamples of the evaluation instances
    confidence: float = 0.95
    seed: int = 0

    def __post_init__(self) -> None:
        require(self.resamples >= 100, "eval.bootstrap.resamples", self.resamples, "must be >= 100")
        require(
            0.5 < self.confidence < 1, "eval.bootstrap.confidence", self.confidence, "must be in (0.5, 1)"
        )


@register("eval")
@dataclass
class EvalConfig:
    # Every split these suites evaluate on is protected by the split firewall (never a seed) and checked by
    # decontamination; `score` picks the suites the eval stage runs.
    suites: dict[str, list[str]] = field(default_factory=_suites)
    # Also protected and decontaminated against, but not scored: GPQA extended (a superset of main), MATH
    # (MMLU-Pro reuses its problems; scoring it needs lm-eval[math], whose antlr pin breaks Hydra).
    protected_only: dict[str, list[str]] = field(
        default_factory=lambda: {"science": ["gpqa_extended_zeroshot"], "math": ["minerva_math"]}
    )
    # Datasets that are evaluation sets whatever their splits are called.
    eval_only_datasets: list[str] = field(
        default_factory=lambda: [
            "Idavidrein/gpqa",
            "google/IFEval",
            "TIGER-Lab/MMLU-Pro",
            "openai/openai_humaneval",
        ]
    )
    score: list[str] | None = None  # suites the eval stage scores (null: all of `suites`)
    tasks: list[str] | None = None  # only these tasks or benchmarks of those suites (null: all)
    variant: str = "smoke"  # smoke: the first N documents per task (eval.smoke); full: every document
    smoke: SmokeLimits = field(default_factory=SmokeLimits)
    target: str = "trained"  # trained: the train stage's checkpoint; base: the base model; or a model folder
    backend: str = (
        "hf"  # hf (transformers, CPU or GPU) | vllm (where installed) | local-completions (a server)
    )
    base_url: str | None = None  # local-completions: the OpenAI-compatible completions endpoint
    batch_size: int = 8
    dtype: str = "auto"  # hf: auto is bf16 where the hardware computes it natively, else float32
    max_gen_toks: int | None = None  # cap on generated tokens per answer (null: each task's own)
    allow_code_execution: bool = False  # run the model's code for code tasks (in taskseed's sandbox)
    seed: int = 0  # lm-eval's random, numpy, torch and few-shot seeds
    bootstrap: BootstrapConfig = field(default_factory=BootstrapConfig)

    def __post_init__(self) -> None:
        require(bool(self.suites), "eval.suites", self.suites, "name at least one suite")
        for suite in self.protected_only:
            require(
                suite in self.suites,
                f"eval.protected_only.{suite}",
                suite,
                f"use a suite of eval.suites ({', '.join(self.suites)})",
            )
        for suite in self.score or []:
            require(
                suite in self.suites,
                "eval.score",
                suite,
                f"use suites of eval.suites ({', '.join(self.suites)})",
            )
        one_of("eval.variant", self.variant, VARIANTS)
        one_of("eval.backend", self.backend, BACKENDS)
        one_of("eval.dtype", self.dtype, DTYPES)
        require(self.batch_size >= 1, "eval.batch_size", self.batch_size, "must be >= 1")
        if self.max_gen_toks is not None:
            require(self.max_gen_toks >= 1, "eval.max_gen_toks", self.max_gen_toks, "must be >= 1 or null")
        if self.backend == "local-completions":
            require(
                bool(self.base_url), "eval.base_url", self.base_url, "set it to the server's completions URL"
            )

    def scored_suites(self) -> dict[str, list[str]]:
        return {k: v for k, v in self.suites.items() if self.score is None or k in self.score}
