"""LLM calls for the checks that need a model (verify, judge): one lazily built, cached backend per run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from taskseed.core.display import progress
from taskseed.filter.config import VerifyConfig
from taskseed.llm import ChatRequest, Completion, cached, make_backend


class CheckLLM:
    """The verifier model (default: the generator's backend and model) behind the LLM call cache, so a rerun
    of a killed filter run makes no call twice."""

    def __init__(
        self, section: VerifyConfig, model_cfg: dict[str, Any], cache_dir: Path, show_progress: bool
    ):
        self.section, self.model_cfg, self.cache_dir = section, model_cfg, cache_dir
        self.show_progress = show_progress
        self._runner = None

    @property
    def runner(self):
        if self._runner is None:
            self._runner = cached(make_backend(self.section, self.model_cfg, self.cache_dir), self.cache_dir)
        return self._runner

    @property
    def stats(self):
        """Call statistics, or None when no check called the model."""
        return None if self._runner is None else self._runner.stats

    def describe(self) -> dict[str, Any]:
        return self.runner.describe()

    def complete(self, requests: list[ChatRequest], desc: str, chunk: int = 64) -> list[Completion]:
        out: list[Completion] = []
        bar = progress(total=len(requests), desc=desc, enabled=self.show_progress, unit="call")
        for start in range(0, len(requests), chunk):
            out += self.runner.generate(requests[start : start + chunk])
            bar.update(min(chunk, len(requests) - start))
        bar.close()
        return out

    def close(self) -> None:
        if self._runner is not None:
            self._runner.close()
