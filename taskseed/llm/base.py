"""One small interface for every LLM backend: chat requests in, completions out, in order."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import Any

from taskseed.core.artifacts import content_hash


@dataclass(frozen=True)
class Sampling:
    temperature: float = 0.0  # 0 = greedy
    top_p: float = 1.0
    max_new_tokens: int = 256
    seed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ChatRequest:
    messages: tuple[tuple[str, str], ...]  # (role, content) pairs
    sampling: Sampling
    schema: str | None = None  # JSON schema (serialized) to constrain decoding to, where the backend can

    @classmethod
    def of(
        cls, messages: list[dict[str, str]], sampling: Sampling, schema: dict | None = None
    ) -> ChatRequest:
        return cls(
            tuple((m["role"], m["content"]) for m in messages),
            sampling,
            # key order kept: a constrained decoder writes the properties in the schema's order (question first)
            json.dumps(schema) if schema else None,
        )

    def message_dicts(self) -> list[dict[str, str]]:
        return [{"role": role, "content": content} for role, content in self.messages]

    def schema_dict(self) -> dict | None:
        return json.loads(self.schema) if self.schema else None

    def cache_key(self, backend: str, model: str, constraint: str | None) -> str:
        """hash(backend, model, sampling parameters, prompt, and, when decoding is constrained, the engine
        that constrains it and the schema)."""
        return content_hash(
            backend,
            model,
            self.sampling.as_dict(),
            self.messages,
            [constraint, self.schema] if constraint else None,
            length=32,
        )


@dataclass
class Completion:
    text: str
    finish_reason: str = "stop"  # stop | length | error
    prompt_tokens: int = 0
    completion_tokens: int = 0
    error: str | None = None
    cached: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "finish_reason": self.finish_reason,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Completion:
        return cls(
            data["text"],
            data.get("finish_reason", "stop"),
            data.get("prompt_tokens", 0),
            data.get("completion_tokens", 0),
            cached=True,
        )


class Backend(ABC):
    """Generates completions for chat requests. Implementations do no caching (CachedBackend does)."""

    name: str = "backend"
    model_id: str = ""  # identity of the model (name plus a digest of its files where local)
    structured: bool = False  # whether decoding is constrained to the request's JSON schema

    @abstractmethod
    def generate(self, requests: list[ChatRequest]) -> list[Completion]:
        """One completion per request, in order. Transport failures come back as finish_reason='error'."""

    def close(self) -> None:  # noqa: B027 - optional hook
        pass

    @property
    def constraint(self) -> str | None:
        """What constrains decoding to the schema (it decides the outputs): None when unconstrained."""
        return "schema" if self.structured else None

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "model": self.model_id, "structured": self.structured,
                "constraint": self.constraint}  # fmt: skip
