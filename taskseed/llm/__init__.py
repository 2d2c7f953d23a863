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


def make_backend(section: dict[str, Any], model_cfg: dict[str, Any], cache_dir: Path) -> Backend:
    """The backend a stage section (generate / enrich) names, configured from its sub-section."""
    name = section.get("backend")
    structured = bool(section.get("structured", True))
    if name == "transformers":
        from taskseed.core.hardware import resolve_dtype
        from taskseed.core.models import ensure_model
        from taskseed.llm.hf import TransformersBackend

        opts = section.get("transformers") or {}
        path = ensure_model(model_cfg, cache_dir)
        # the resolved dtype is part of the model id, hence of the fingerprints and the LLM call cache keys
        return TransformersBackend(path, model_cfg["name"], dtype=resolve_dtype(opts.get("dtype", "auto")), batch_size=opts.get("batch_size", 8),
                                   structured=structured, threads=opts.get("threads"))  # fmt: skip
    if name == "openai":
        from taskseed.llm.openai import OpenAIBackend

        opts = section.get("openai") or {}
        return OpenAIBackend(opts.get("base_url", ""), opts.get("model"), api_key_env=opts.get("api_key_env", "OPENAI_API_KEY"),
                             concurrency=opts.get("concurrency", 8), timeout_s=opts.get("timeout_s", 120), max_retries=opts.get("max_retries", 4),
                             backoff_s=opts.get("backoff_s", 1.0), structured=structured)  # fmt: skip
    if name == "vllm":
        from taskseed.core.models import ensure_model
        from taskseed.llm.vllm import VLLMBackend

        opts = section.get("vllm") or {}
        return VLLMBackend(
            ensure_model(model_cfg, cache_dir), model_cfg["name"], structured=structured, **opts
        )
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
