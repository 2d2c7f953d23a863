"""vLLM's in-process offline engine, with JSON-schema structured outputs.

vLLM is an optional dependency: its official wheel is CUDA-only and pins its own torch, so on a CPU machine it
usually lives in its own environment and is reached through `vllm serve` and the `openai` backend instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from taskseed.core.errors import TaskseedError
from taskseed.core.models import model_digest
from taskseed.llm.base import Backend, ChatRequest, Completion


class VLLMBackend(Backend):
    name = "vllm"

    def __init__(
        self,
        model_path: Path,
        model_name: str,
        structured: bool = True,
        dtype: str = "bfloat16",
        max_model_len: int = 4096,
        **engine: Any,
    ):
        try:
            import vllm  # noqa: F401
        except ImportError:
            raise TaskseedError(
                "generate.backend=vllm needs vLLM in this environment; install it (GPU: `pip install vllm`), or run "
                "`vllm serve` elsewhere and use generate.backend=openai with generate.openai.base_url"
            ) from None
        self.model_path = Path(model_path)
        self.structured = bool(structured)
        self.model_id = f"{model_name}@{model_digest(self.model_path)}:{dtype}"
        self._engine_args = {
            "model": str(self.model_path),
            "dtype": dtype,
            "max_model_len": int(max_model_len),
            **engine,
        }
        self._llm = None

    def _load(self):
        if self._llm is None:
            from vllm import LLM

            self._llm = LLM(**self._engine_args)
        return self._llm

    def _params(self, request: ChatRequest):
        from vllm import SamplingParams

        s = request.sampling
        kwargs: dict[str, Any] = {
            "temperature": s.temperature,
            "top_p": s.top_p if s.temperature > 0 else 1.0,
            "max_tokens": s.max_new_tokens,
            "seed": s.seed,
        }
        if self.structured and request.schema:
            try:  # vLLM >= 0.10.2
                from vllm.sampling_params import StructuredOutputsParams

                kwargs["structured_outputs"] = StructuredOutputsParams(json=request.schema_dict())
            except ImportError:  # older releases
                from vllm.sampling_params import GuidedDecodingParams

                kwargs["guided_decoding"] = GuidedDecodingParams(json=request.schema_dict())
        return SamplingParams(**kwargs)

    def generate(self, requests: list[ChatRequest]) -> list[Completion]:
        llm = self._load()
        outputs = llm.chat(
            [r.message_dicts() for r in requests], [self._params(r) for r in requests], use_tqdm=False
        )
        results = []
        for output in outputs:
            best = output.outputs[0]
            finish = "length" if best.finish_reason == "length" else "stop"
            results.append(
                Completion(best.text, finish, len(output.prompt_token_ids or []), len(best.token_ids))
            )
        return results
