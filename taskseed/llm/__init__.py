"""LLM backends behind one interface (`Backend.generate`), chosen by config, with a shared call cache.

In: a stage's backend section and a model config. Out: completions for chat requests (cached by hash of
backend, model, sampling, prompt and schema). Used by `synth` (generate, enrich) and `filter` (verify, judge).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from taskseed.core.errors import TaskseedError
from taskseed.llm.base import Backend, ChatRequest, Completion, Sampling
from taskseed.llm.cache import CachedBackend, LLMCache

BACKENDS = ("transformers", "openai", "vllm")


def make_backend(section: Any, model_cfg: dict[str, Any], cache_dir: Path) -> Backend:
    """The backend a stage's typed section names (generate, enrich, filter.verify: synth/config.py LLMSection),
    configured from its sub-section of that name."""
    from taskseed.core.hardware import resolve_dtype

    name = section.backend
    if name == "transformers":
        from taskseed.core.models import ensure_model
        from taskseed.llm.hf import TransformersBackend

        opts = section.transformers
        path = ensure_model(model_cfg, cache_dir)
        # the resolved dtype is part of the model id, hence of the fingerprints and the LLM call cache keys
        return TransformersBackend(path, model_cfg["name"], dtype=resolve_dtype(opts.dtype), batch_size=opts.batch_size,
                                   structured=section.structured, threads=opts.threads)  # fmt: skip
    if name == "openai":
        from taskseed.llm.openai import OpenAIBackend

        o = section.openai
        return OpenAIBackend(o.base_url, o.model, api_key_env=o.api_key_env, concurrency=o.concurrency, timeout_s=o.timeout_s,
                             max_retries=o.max_retries, backoff_s=o.backoff_s, structured=section.structured)  # fmt: skip
    if name == "vllm":
        from taskseed.core.models import ensure_model
        from taskseed.llm.vllm import VLLMBackend

        v = section.vllm
        return VLLMBackend(ensure_model(model_cfg, cache_dir), model_cfg["name"], structured=section.structured,
                           dtype=resolve_dtype(v.dtype, "cuda"), max_model_len=v.max_model_len, **v.engine)  # fmt: skip
    raise TaskseedError(f"unknown backend {name!r}; use one of {', '.join(BACKENDS)}")


def cached(backend: Backend, cache_dir: Path) -> CachedBackend:
    return CachedBackend(backend, LLMCache(cache_dir / "llm_calls.sqlite"))


__all__ = [
    "Backend",
    "CachedBackend",
    "ChatRequest",
    "Completion",
    "LLMCache",
    "Sampling",
    "make_backend",
    "cached",
]
