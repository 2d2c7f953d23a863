"""Any OpenAI-compatible server (vllm serve, NIM, TGI, llama.cpp, transformers serve) over HTTP.

Async with bounded concurrency, per-request timeouts, retries with exponential backoff and jitter on
429/5xx/transport errors. The API key is read from the environment variable named in the config and is
never logged or stored; the cache key holds the base URL and model name, not the key.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
from typing import Any

from taskseed.core.errors import TaskseedError
from taskseed.llm.base import Backend, ChatRequest, Completion

log = logging.getLogger(__name__)
RETRYABLE = {408, 409, 425, 429, 500, 502, 503, 504}


class OpenAIBackend(Backend):
    name = "openai"

    def __init__(self, base_url: str, model: str | None, api_key_env: str = "OPENAI_API_KEY", concurrency: int = 8,
                 timeout_s: float = 120.0, max_retries: int = 4, backoff_s: float = 1.0, structured: bool = True):  # fmt: skip
        if not base_url:
            raise TaskseedError(
                "generate.openai.base_url is empty; point it at an OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1"
            )
        self.base_url = base_url.rstrip("/")
        self._api_key = os.environ.get(api_key_env) if api_key_env else None
        self.concurrency = max(1, int(concurrency))
        self.timeout_s = float(timeout_s)
        self.max_retries = int(max_retries)
        self.backoff_s = float(backoff_s)
        self.structured = bool(structured)
        self.model = model or self._only_model()
        self.model_id = f"{self.model}@{self.base_url}"

    def __repr__(self) -> str:  # never show the key
        return f"OpenAIBackend(base_url={self.base_url!r}, model={self.model!r}, key={'set' if self._api_key else 'unset'})"

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}

    def _only_model(self) -> str:
        import httpx

        try:
            response = httpx.get(f"{self.base_url}/models", headers=self._headers(), timeout=self.timeout_s)
            response.raise_for_status()
            models = [m["id"] for m in response.json().get("data", [])]
        except (httpx.HTTPError, ValueError, KeyError) as err:
            raise TaskseedError(
                f"cannot list models at {self.base_url}/models ({type(err).__name__}); check the server or set generate.openai.model"
            ) from None
        if len(models) != 1:
            raise TaskseedError(
                f"{self.base_url} serves {len(models)} models {models[:5]}; set generate.openai.model to one of them"
            )
        return models[0]

    def payload(self, request: ChatRequest) -> dict[str, Any]:
        s = request.sampling
        body: dict[str, Any] = {"model": self.model, "messages": request.message_dicts(), "max_tokens": s.max_new_tokens,
                                "temperature": s.temperature, "top_p": s.top_p if s.temperature > 0 else 1.0, "seed": s.seed}  # fmt: skip
        if self.structured and request.schema:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": request.schema_dict(), "strict": True},
            }
        return body

    def generate(self, requests: list[ChatRequest]) -> list[Completion]:
        return asyncio.run(self._generate_all(requests))

    async def _generate_all(self, requests: list[ChatRequest]) -> list[Completion]:
        import httpx

        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
        semaphore = asyncio.Semaphore(self.concurrency)
        async with httpx.AsyncClient(
            timeout=self.timeout_s, limits=limits, headers=self._headers()
        ) as client:
            return await asyncio.gather(*(self._one(client, semaphore, r) for r in requests))

    async def _one(self, client, semaphore: asyncio.Semaphore, request: ChatRequest) -> Completion:
        import httpx

        error = "unknown"
        for attempt in range(self.max_retries + 1):
            if attempt:
                await asyncio.sleep(self.backoff_s * 2 ** (attempt - 1) * (0.5 + random.random()))
            async with semaphore:
                try:
                    response = await client.post(
                        f"{self.base_url}/chat/completions", json=self.payload(request)
                    )
                except (httpx.TimeoutException, httpx.TransportError) as err:
                    error = f"transport: {type(err).__name__}"
                    continue
            if response.status_code in RETRYABLE:
                error = f"http {response.status_code}"
                continue
            if response.status_code >= 400:
                return Completion("", "error", error=f"http {response.status_code}: {response.text[:200]}")
            try:
                data = response.json()
                choice = data["choices"][0]
                usage = data.get("usage") or {}
                text = choice["message"].get("content") or ""
                finish = "length" if choice.get("finish_reason") == "length" else "stop"
                return Completion(
                    text, finish, int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))
                )
            except (ValueError, KeyError, IndexError, TypeError) as err:
                return Completion("", "error", error=f"malformed response: {type(err).__name__}")
        log.warning("giving up on a request after %d attempts: %s", self.max_retries + 1, error)
        return Completion("", "error", error=error)
