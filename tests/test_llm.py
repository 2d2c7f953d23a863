"""LLM backends and the call cache, with real models (the tiny random Llama: its knowledge is not needed)."""

from __future__ import annotations

import json

import jsonschema
import pytest

from taskseed.core.config import compose, to_dict
from taskseed.core.models import ensure_model
from taskseed.llm import ChatRequest, LLMCache, Sampling
from taskseed.llm.cache import CachedBackend
from taskseed.llm.hf import TransformersBackend


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    cfg = to_dict(compose(["model=tiny_llama"]))["model"]
    return ensure_model(cfg, tmp_path_factory.mktemp("cache"))


# The mc schema's shape with short strings, so a random model, which fills every string to its limit, ends
# within the test's token budget.
SHORT_MC = {
    "type": "object",
    "properties": {
        "question": {"type": "string", "minLength": 1, "maxLength": 60},
        "answer": {"type": "string", "minLength": 1, "maxLength": 20},
        "distractors": {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 20},
                        "minItems": 3, "maxItems": 3},
    },
    "required": ["question", "answer", "distractors"],
    "additionalProperties": False,
}  # fmt: skip


def _requests(n: int, sampling: Sampling, with_schema: bool = False) -> list[ChatRequest]:
    prompts = [
        f"Write question number {i} about the {word} as JSON."
        for i, word in enumerate(
            ["sea", "moon", "desert", "forest", "river", "city", "engine", "violin", "glacier"][:n]
        )
    ]
    return [
        ChatRequest.of([{"role": "user", "content": p}], sampling, SHORT_MC if with_schema else None)
        for p in prompts
    ]


def test_cache_round_trip(tmp_path):
    from taskseed.llm import Completion

    cache = LLMCache(tmp_path / "c.sqlite")
    cache.put("k", Completion("hello", "stop", 3, 1))
    again = LLMCache(tmp_path / "c.sqlite")  # another process opening the same file
    got = again.get_many(["k", "missing"])
    assert list(got) == ["k"] and got["k"].text == "hello" and got["k"].cached


def test_batched_greedy_matches_one_at_a_time(tiny_model):
    requests = _requests(6, Sampling(0.0, 1.0, 24, 0))
    batched = TransformersBackend(tiny_model, "tiny", dtype="float32", batch_size=6).generate(requests)
    single = TransformersBackend(tiny_model, "tiny", dtype="float32", batch_size=1).generate(requests)
    assert [c.text for c in batched] == [c.text for c in single]
    assert all(c.completion_tokens > 0 for c in batched)


def test_constrained_decoding_makes_a_random_model_emit_schema_valid_json(tiny_model):
    backend = TransformersBackend(tiny_model, "tiny", dtype="float32", batch_size=4, structured=True)
    sampling = Sampling(0.9, 0.95, 400, 0)
    outputs = backend.generate(_requests(4, sampling, with_schema=True))
    finished = [c for c in outputs if c.finish_reason == "stop"]
    valid = [c for c in finished if _is_json(c.text)]
    assert len(valid) == len(outputs), [c.text[:100] for c in outputs]
    for completion in valid:  # structure, item counts and string lengths
        jsonschema.validate(json.loads(completion.text), SHORT_MC)
    unconstrained = TransformersBackend(
        tiny_model, "tiny", dtype="float32", batch_size=4, structured=False
    ).generate(_requests(4, sampling, with_schema=True))
    assert not any(_is_json(c.text) for c in unconstrained)  # the same model, free: noise


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
        return True
    except ValueError:
        return False


def test_cached_backend_pays_once(tiny_model, tmp_path):
    backend = CachedBackend(
        TransformersBackend(tiny_model, "tiny", dtype="float32", batch_size=4),
        LLMCache(tmp_path / "c.sqlite"),
    )
    requests = _requests(4, Sampling(0.7, 0.9, 16, 3))
    first = backend.generate(requests + requests[:1])  # a duplicate prompt in one call is generated once
    assert backend.stats.calls == 4
    second = backend.generate(requests)
    assert backend.stats.calls == 4 and backend.stats.cache_hits == 5
    assert [c.text for c in second] == [c.text for c in first[:4]]
    other_seed = _requests(4, Sampling(0.7, 0.9, 16, 4))  # sampling parameters are part of the key
    backend.generate(other_seed)
    assert backend.stats.calls == 8


def test_model_identity_is_part_of_the_cache_key(tiny_model):
    request = _requests(1, Sampling())[0]
    engine = "llguidance-1.9.1"
    a = request.cache_key("transformers", "tiny@abc:float32", engine)
    assert a != request.cache_key("transformers", "tiny@abd:float32", engine)
    assert a != request.cache_key("openai", "tiny@abc:float32", engine)
    assert a != request.cache_key(
        "transformers", "tiny@abc:float32", "llguidance-2.0.0"
    )  # the engine decides
    assert a == _requests(1, Sampling())[0].cache_key("transformers", "tiny@abc:float32", engine)
