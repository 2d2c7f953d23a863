"""The generate and enrich sections, and the LLM backend settings they share with filter.verify.

Every key, its default and what it means; conf/{generate,enrich} only override. enrich and filter.verify use
the generator's backend and settings unless set (`${generate.transformers}`): one place to point them all at
another server.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from taskseed.core.hardware import DTYPES
from taskseed.core.schema import one_of, register, require
from taskseed.llm import BACKENDS

KINDS = ("mc", "short", "math", "code")  # the prompt templates (synth/prompts.py)


@dataclass
class TransformersOptions:
    """In-process Hugging Face transformers (the CPU default)."""

    dtype: str = "auto"  # bfloat16 where the CPU computes it natively (AVX-512 BF16, AMX), else float32
    batch_size: int = 32
    threads: int | None = None  # torch threads (null: torch's default)

    def check(self, key: str) -> None:
        one_of(f"{key}.dtype", self.dtype, DTYPES)
        require(self.batch_size >= 1, f"{key}.batch_size", self.batch_size, "must be >= 1")
        if self.threads is not None:
            require(self.threads >= 1, f"{key}.threads", self.threads, "must be >= 1 or null")


@dataclass
class OpenAIOptions:
    """Any OpenAI-compatible chat server (vllm serve, llama.cpp server, a hosted API)."""

    base_url: str = "http://127.0.0.1:8000/v1"
    model: str | None = None  # null: the single model the server lists
    api_key_env: str | None = "OPENAI_API_KEY"  # the environment variable holding the key (never the key)
    concurrency: int = 8
    timeout_s: float = 120.0
    max_retries: int = 4
    backoff_s: float = 1.0

    def check(self, key: str) -> None:
        require(self.base_url.startswith(("http://", "https://")), f"{key}.base_url", self.base_url,
                "an http(s) URL of an OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1")  # fmt: skip
        require(self.concurrency >= 1, f"{key}.concurrency", self.concurrency, "must be >= 1")
        require(self.timeout_s > 0, f"{key}.timeout_s", self.timeout_s, "must be > 0")
        require(self.max_retries >= 0, f"{key}.max_retries", self.max_retries, "must be >= 0")
        require(self.backoff_s >= 0, f"{key}.backoff_s", self.backoff_s, "must be >= 0")


@dataclass
class VLLMOptions:
    """vLLM in-process (GPU)."""

    dtype: str = "auto"  # auto: bfloat16 on a GPU (resolve_dtype); an explicit value wins
    max_model_len: int = 4096
    engine: dict[str, Any] = field(default_factory=dict)  # further vllm.LLM(...) arguments

    def check(self, key: str) -> None:
        one_of(f"{key}.dtype", self.dtype, DTYPES)
        require(self.max_model_len >= 256, f"{key}.max_model_len", self.max_model_len, "must be >= 256")


@dataclass
class SamplingConfig:
    temperature: float = 0.8  # 0: greedy
    top_p: float = 0.95
    max_new_tokens: int = 320

    def check(self, key: str) -> None:
        check_sampling(key, self.temperature, self.top_p, self.max_new_tokens)


def check_sampling(
    key: str, temperature: float | None, top_p: float | None, max_new_tokens: int | None
) -> None:
    if temperature is not None:
        require(temperature >= 0, f"{key}.temperature", temperature, "must be >= 0 (0: greedy)")
    if top_p is not None:
        require(0 < top_p <= 1, f"{key}.top_p", top_p, "must be in (0, 1]")
    if max_new_tokens is not None:
        require(max_new_tokens >= 1, f"{key}.max_new_tokens", max_new_tokens, "must be >= 1")


@dataclass
class SamplingOverride:
    """Per-kind overrides of the base sampling (unset: the base value)."""

    temperature: float | None = None
    top_p: float | None = None
    max_new_tokens: int | None = None


@dataclass
class LLMSection:
    """What a stage that calls a model sets: the backend and its options (KEY names the section)."""

    KEY: ClassVar[str] = "generate"
    # transformers (in-process, CPU default) | openai (any OpenAI-compatible server) | vllm
    backend: str = "transformers"
    structured: bool = True  # constrain decoding to the JSON schema where the backend can
    transformers: TransformersOptions = field(default_factory=TransformersOptions)
    openai: OpenAIOptions = field(default_factory=OpenAIOptions)
    vllm: VLLMOptions = field(default_factory=VLLMOptions)

    def check_backend(self) -> None:
        one_of(f"{self.KEY}.backend", self.backend, BACKENDS)
        # only the chosen backend's options matter (the others may hold another setup's values)
        getattr(self, self.backend).check(f"{self.KEY}.{self.backend}")


def _by_kind() -> dict[str, SamplingOverride]:
    return {
        "math": SamplingOverride(max_new_tokens=448),  # a worked solution
        "code": SamplingOverride(max_new_tokens=512),  # a program and its tests
    }


@register("generate")
@dataclass
class GenerateConfig(LLMSection):
    num_examples: int = 64
    seed: int = 0  # plans the seed sample and seeds sampling
    few_shot: int = 3  # seeds of the same task shown with the anchor seed
    max_attempts: int = 3  # tries per example before it is kept as a rejected record
    # Balanced sampling: shares proportional to size**T (0: equal shares; 1: proportional), groups then tasks.
    group_temperature: float = 0.0
    task_temperature: float = 0.0
    kinds: list[str] = field(default_factory=lambda: list(KINDS))
    kind_overrides: dict[str, str] = field(
        default_factory=dict
    )  # task or group -> kind, where the shape differs
    tasks: list[str] | None = None  # restrict to these seed tasks (null: every seeded task)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    sampling_by_kind: dict[str, SamplingOverride] = field(default_factory=_by_kind)
    shard_size: int = 32  # examples per committed shard (the unit a killed run can lose)

    def __post_init__(self) -> None:
        self.check_backend()
        require(self.num_examples >= 1, "generate.num_examples", self.num_examples, "must be >= 1")
        require(self.few_shot >= 0, "generate.few_shot", self.few_shot, "must be >= 0")
        require(self.max_attempts >= 1, "generate.max_attempts", self.max_attempts, "must be >= 1")
        for key in ("group_temperature", "task_temperature"):
            value = getattr(self, key)
            require(value >= 0, f"generate.{key}", value, "must be >= 0 (0: equal shares, 1: proportional)")
        require(bool(self.kinds), "generate.kinds", self.kinds, f"name at least one of {', '.join(KINDS)}")
        for kind in self.kinds:
            one_of("generate.kinds", kind, KINDS)
        for name, kind in self.kind_overrides.items():
            one_of(f"generate.kind_overrides.{name}", kind, KINDS)
        if self.tasks is not None:
            require(bool(self.tasks), "generate.tasks", self.tasks, "name at least one task, or null for all")
        self.sampling.check("generate.sampling")
        for kind, extra in self.sampling_by_kind.items():
            one_of("generate.sampling_by_kind", kind, KINDS)
            check_sampling(
                f"generate.sampling_by_kind.{kind}", extra.temperature, extra.top_p, extra.max_new_tokens
            )
        require(self.shard_size >= 1, "generate.shard_size", self.shard_size, "must be >= 1")


@dataclass
class FollowsGenerate(LLMSection):
    """An LLM section whose backend and options default to generate's (resolved at compose time)."""

    backend: str = "${generate.backend}"
    structured: bool = "${generate.structured}"  # type: ignore[assignment]
    transformers: TransformersOptions = "${generate.transformers}"  # type: ignore[assignment]
    openai: OpenAIOptions = "${generate.openai}"  # type: ignore[assignment]
    vllm: VLLMOptions = "${generate.vllm}"  # type: ignore[assignment]


@register("enrich")
@dataclass
class EnrichConfig(FollowsGenerate):
    KEY: ClassVar[str] = "enrich"
    seed: int = 0
    max_attempts: int = 3
    sampling: SamplingConfig = field(
        default_factory=lambda: SamplingConfig(temperature=0.3, max_new_tokens=384)
    )
    shard_size: int = 32

    def __post_init__(self) -> None:
        self.check_backend()
        require(self.max_attempts >= 1, "enrich.max_attempts", self.max_attempts, "must be >= 1")
        self.sampling.check("enrich.sampling")
        require(self.shard_size >= 1, "enrich.shard_size", self.shard_size, "must be >= 1")
