"""Embedded models: the tiny random Llama for tests, and the SmolLM2 safetensors copy."""

from __future__ import annotations

import pytest

from taskseed.core.config import compose, to_dict
from taskseed.core.models import ensure_model


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("model-cache")


def test_tiny_llama_uses_the_smollm2_tokenizer(model_cache):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    cfg = to_dict(compose(["model=tiny_llama"]))["model"]
    path = ensure_model(cfg, model_cache)
    assert ensure_model(cfg, model_cache) == path  # created once
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path)
    assert sum(p.numel() for p in model.parameters()) < 5_000_000
    assert tokenizer.chat_template and len(tokenizer) == model.config.vocab_size
    ids = tokenizer.apply_chat_template(
        [{"role": "user", "content": "hi"}], add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    out = model.generate(**ids, max_new_tokens=5, do_sample=False)
    assert out.shape[1] == ids["input_ids"].shape[1] + 5


@pytest.mark.slow
def test_smollm2_copy_matches_the_gguf(model_cache):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from taskseed.core.models import gguf_location

    cfg = to_dict(compose([]))["model"]
    path = ensure_model(cfg, model_cache)
    assert (path / "model.safetensors").is_file()
    folder, name = gguf_location(cfg)
    reference = AutoModelForCausalLM.from_pretrained(str(folder), gguf_file=name)
    copy = AutoModelForCausalLM.from_pretrained(path)
    tokenizer = AutoTokenizer.from_pretrained(path)
    ids = tokenizer.apply_chat_template(
        [{"role": "user", "content": "What is the capital of France?"}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    with torch.no_grad():
        a = reference.generate(**ids, max_new_tokens=12, do_sample=False)
        b = copy.generate(**ids, max_new_tokens=12, do_sample=False)
    assert torch.equal(a, b)
    assert "Paris" in tokenizer.decode(b[0, ids["input_ids"].shape[1] :])
