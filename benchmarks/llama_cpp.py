"""llama.cpp in process (llama-cpp-python) behind taskseed's backend interface: what `make bench` times the
CPU default against. It reads the GGUF file itself and computes with its quantized weights, one request at a
time (llama-cpp-python has no batched decoding and its server no parallel slots); a request's JSON schema
becomes a llama.cpp grammar (`response_format`). Sampling is seeded per request (seed + hash of the prompt).

It stays a benchmark peer, not a stage backend: on the bench's real prompts it is slower than the batched
transformers backend on this CPU (see `make bench`), and issue 13 asked for a backend only if it were faster.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from taskseed.llm.base import Backend, ChatRequest, Completion


class LlamaCppBackend(Backend):
    name = "llamacpp"

    def __init__(
        self,
        gguf_path: Path,
        model_name: str,
        structured: bool = True,
        threads: int | None = None,
        n_ctx: int = 4096,
    ):
        self.gguf_path = Path(gguf_path)
        self.structured = bool(structured)
        self.threads = threads
        self.n_ctx = n_ctx
        self.model_id = f"{model_name}:gguf"
        self.llm = None

    def _load(self):
        if self.llm is None:
            from llama_cpp import Llama

            self.llm = Llama(
                model_path=str(self.gguf_path),
                n_ctx=self.n_ctx,
                n_threads=self.threads,
                n_threads_batch=self.threads,
                verbose=False,
            )
        return self.llm

    def generate(self, requests: list[ChatRequest]) -> list[Completion]:
        llm = self._load()
        out = []
        for request in requests:
            s = request.sampling
            seed = int(hashlib.sha256(repr(request.messages).encode()).hexdigest()[:7], 16) + s.seed
            fmt = None
            if self.structured and request.schema:
                fmt = {"type": "json_object", "schema": request.schema_dict()}
            try:
                reply = llm.create_chat_completion(
                    messages=request.message_dicts(),
                    temperature=s.temperature,
                    top_p=s.top_p,
                    top_k=0,  # no top-k cut, as in the transformers backend
                    min_p=0.0,
                    max_tokens=s.max_new_tokens,
                    seed=seed,
                    response_format=fmt,
                )
            except ValueError as exc:  # a prompt longer than the context window
                out.append(Completion("", "error", error=str(exc)))
                continue
            choice, usage = reply["choices"][0], reply["usage"]
            out.append(
                Completion(
                    choice["message"]["content"] or "",
                    "length" if choice["finish_reason"] == "length" else "stop",
                    usage["prompt_tokens"],
                    usage["completion_tokens"],
                )
            )
        return out

    def close(self) -> None:
        if self.llm is not None:
            self.llm.close()
            self.llm = None
