"""The render and mix sections: every key, its default and what it means (conf/{render,mix} only override)."""

from __future__ import annotations

from dataclasses import dataclass, field

from taskseed.core.schema import register, require, weights

MARKERS = ("question_answer", "q_a", "problem_solution", "quiz", "heading", "dialogue", "textbook")
OPTION_STYLES = ("letter_dot", "letter_paren", "lower_paren", "number_paren", "bullets", "inline")
EXPLANATION = ("after", "before")
PARTS = ("knowledge", "reasoning", "distractors")
SOURCES = ("synthetic", "seeds", "replay")


@dataclass
class Formats:
    """Weights of each surface-format axis; a document's value on each axis is drawn from hash(id, seed)."""

    # How question and answer are marked. `question_answer` ("Question: …\nAnswer: …") and `q_a` are lm-eval's
    # own prompt shapes: keep them a small share so the model learns the skill, not a benchmark's template.
    markers: dict[str, float] = field(default_factory=lambda: {
        "question_answer": 0.5, "q_a": 0.5, "problem_solution": 2.0, "quiz": 2.0, "heading": 2.0,
        "dialogue": 1.5, "textbook": 2.0})  # fmt: skip
    # How multiple-choice options are listed: A./(A)/(a)/1) lines, bullets, or inline in a sentence.
    options: dict[str, float] = field(default_factory=lambda: {
        "letter_dot": 1.0, "letter_paren": 1.0, "lower_paren": 1.0, "number_paren": 1.0, "bullets": 1.0,
        "inline": 1.0})  # fmt: skip
    # Whether the explanation follows the answer or leads up to it.
    explanation: dict[str, float] = field(default_factory=lambda: {"after": 2.0, "before": 1.0})

    def __post_init__(self) -> None:
        weights("render.formats.markers", self.markers, MARKERS)
        weights("render.formats.options", self.options, OPTION_STYLES)
        weights("render.formats.explanation", self.explanation, EXPLANATION)


@register("render")
@dataclass
class RenderConfig:
    seed: int = 0
    formats: Formats = field(default_factory=Formats)
    # Probability that a document includes each part of its enrichment (all 0: answer-only documents).
    parts: dict[str, float] = field(
        default_factory=lambda: {"knowledge": 0.8, "reasoning": 0.9, "distractors": 0.7}
    )
    # Also render the seeds in their original lm-eval format (source `seeds`, for a control arm).
    include_seeds: bool = False
    shard_rows: int = 50_000

    def __post_init__(self) -> None:
        weights("render.parts", self.parts, PARTS, need_positive=False)
        for name, p in self.parts.items():
            require(0 <= p <= 1, f"render.parts.{name}", p, "a probability between 0 and 1")
        require(self.shard_rows >= 1, "render.shard_rows", self.shard_rows, "must be >= 1")


@dataclass
class ReplayConfig:
    """The general-text replay source: the first of `prefix`, `hf_dataset`, `path` that is set."""

    # A folder or glob of JSONL(.gz) files with `text` and `license` per line; `auto`: ../shared/corpora/general
    # beside the project (the offline replay corpus, 12.6k documents).
    path: str | None = "auto"
    hf_dataset: str | None = None  # instead: a Hugging Face dataset name with a text column (clusters)
    hf_config: str | None = None
    hf_split: str = "train"
    prefix: str | None = None  # instead: an existing Megatron prefix (.bin/.idx) made with the same tokenizer
    license: str | None = None  # license of records that carry none (a Hub dataset or a prefix)
    text_field: str = "text"
    max_documents: int | None = None  # the first N documents (null: all)

    @property
    def kind(self) -> str:
        return "prefix" if self.prefix else "hf_dataset" if self.hf_dataset else "path"

    def __post_init__(self) -> None:
        require(
            bool(self.prefix or self.hf_dataset or self.path), "mix.replay.path", self.path,
            "name a replay corpus: mix.replay.path, mix.replay.hf_dataset or mix.replay.prefix",
        )  # fmt: skip
        if self.max_documents is not None:
            require(self.max_documents >= 1, "mix.replay.max_documents", self.max_documents, "must be >= 1")


@register("mix")
@dataclass
class MixConfig:
    # Blend weights per source: `synthetic` (rendered filter output), `seeds` (rendered seeds; needs
    # render.include_seeds=true), `replay` (general text). Hydra merges a dict override into these, so set a
    # source to 0 to leave it out (mix.weights.synthetic=0 is the replay-only control arm).
    weights: dict[str, float] = field(default_factory=lambda: {"synthetic": 0.3, "seeds": 0.0, "replay": 0.7})
    token_budget: int = 2_000_000  # training tokens the blend provides (budget // seq_length samples)
    seq_length: int = 1024  # tokens per training sample
    allow_repeat: bool = False  # may a source be repeated (several epochs) to fill its share of the budget?
    seed: int = 1234  # Megatron's shuffle and blend seed
    eod: str | None = None  # token appended after every document (null: the tokenizer's EOS)
    batch_size: int = 512  # documents per tokenizer batch
    threads: int | None = None  # tokenizer threads (null: all cores)
    replay: ReplayConfig = field(default_factory=ReplayConfig)

    def __post_init__(self) -> None:
        weights("mix.weights", self.weights, SOURCES)
        require(self.token_budget >= 1, "mix.token_budget", self.token_budget, "must be >= 1")
        require(self.seq_length >= 8, "mix.seq_length", self.seq_length, "must be >= 8")
        require(
            self.token_budget >= self.seq_length,
            "mix.token_budget",
            self.token_budget,
            f"must hold at least one sample of mix.seq_length={self.seq_length} tokens",
        )
        require(self.batch_size >= 1, "mix.batch_size", self.batch_size, "must be >= 1")
        if self.threads is not None:
            require(self.threads >= 1, "mix.threads", self.threads, "must be >= 1 or null")

    def shares(self) -> dict[str, float]:
        """The sources with a positive weight, normalized to sum to one."""
        total = sum(self.weights.values())
        return {k: v / total for k, v in sorted(self.weights.items()) if v > 0}
