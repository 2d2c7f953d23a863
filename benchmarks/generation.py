"""Batched generation (TransformersBackend) vs one-example-at-a-time `model.generate`, same prompts and model.

Rows: real generation prompts (few-shot seeds, ~450 tokens) in fp32 and bf16, and short prompts (~30
tokens), where decoding dominates. Both sides decode greedily; identical outputs are counted (fp32 must give
32/32: bf16 rounding depends on the batch's shape, so there most outputs diverge after some tokens).
"""

from __future__ import annotations

import time
from pathlib import Path

WORDS = [
    "cat",
    "dog",
    "bird",
    "fish",
    "tree",
    "car",
    "boat",
    "city",
    "moon",
    "sun",
    "river",
    "lake",
    "house",
    "king",
    "queen",
    "robot",
]


def real_prompts(n: int) -> list[list[dict[str, str]]]:
    """Generation prompts built from real seeds of mirror tasks, as the generate stage builds them."""
    from lm_eval.tasks import TaskManager

    from taskseed.core.config import compose, to_dict
    from taskseed.sources.data import DataSource
    from taskseed.sources.lmeval import build_task
    from taskseed.sources.normalize import normalize_doc
    from taskseed.synth.prompts import build_messages, kind_of

    cfg = to_dict(compose([]))
    source = DataSource.from_config(cfg["data"], Path(cfg["paths"]["root"]))
    index = TaskManager().task_index
    prompts = []
    for task in ("arc_easy", "gsm8k", "copa", "openbookqa"):
        built, _ = build_task(
            {"task": task, "yaml_path": str(index[task].yaml_path), "variant": None}, source
        )
        docs = built.training_docs()
        seeds = []
        for i in range(n):
            norm = normalize_doc(built, docs[i])
            seeds.append({"task": task, "group": task, "family": "knowledge", "question": norm.question, "choices": norm.choices,
                          "answer_text": norm.answer_text, "answer_index": norm.answer_index, "alt_answers": norm.alt_answers, "choice_labels": norm.choice_labels})  # fmt: skip
        for i in range(0, len(seeds) - 3, 4):
            prompts.append(build_messages(seeds[i], seeds[i + 1 : i + 4], kind_of(seeds[i])))
    return prompts[:n]


def compare(label: str, prompts, dtype: str, batch_size: int, max_new_tokens: int = 128) -> str:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from taskseed.core.config import compose, to_dict
    from taskseed.core.models import ensure_model
    from taskseed.llm.base import ChatRequest, Sampling
    from taskseed.llm.hf import TransformersBackend

    cfg = to_dict(compose([]))
    path = ensure_model(cfg["model"], Path(cfg["paths"]["cache"]))
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, dtype)).eval()
    stop = [tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("<|im_end|>")]
    start = time.perf_counter()
    baseline, base_tokens = [], 0
    for messages in prompts:  # the textbook loop: one prompt per model.generate call
        ids = tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        with torch.inference_mode():
            out = model.generate(
                **ids,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                eos_token_id=stop,
                pad_token_id=tokenizer.pad_token_id,
            )
        new = out[0, ids["input_ids"].shape[1] :].tolist()
        new = new[: next((i for i, t in enumerate(new) if t in stop), len(new))]
        base_tokens += len(new)
        baseline.append(tokenizer.decode(new, skip_special_tokens=True))
    base_s = time.perf_counter() - start

    backend = TransformersBackend(
        path, cfg["model"]["name"], dtype=dtype, batch_size=batch_size, structured=False
    )
    requests = [ChatRequest.of(m, Sampling(0.0, 1.0, max_new_tokens, 0)) for m in prompts]
    backend.generate(requests[:1])  # load the model outside the timing, as for the baseline
    start = time.perf_counter()
    ours = backend.generate(requests)
    ours_s = time.perf_counter() - start
    ours_tokens = sum(c.completion_tokens for c in ours)
    same = sum(a == b.text for a, b in zip(baseline, ours, strict=True))
    n = len(prompts)
    return (
        f"| generation, {label}: batched backend (batch {batch_size}) vs one-at-a-time model.generate, SmolLM2-135M {dtype}, {n} prompts x {max_new_tokens} new tokens, greedy "
        f"| {n / base_s:.2f} ex/s, {base_tokens / base_s:.0f} tok/s | {n / ours_s:.2f} ex/s, {ours_tokens / ours_s:.0f} tok/s "
        f"| {base_s / ours_s:.1f}x (identical outputs {same}/{n}) |"
    )


def run() -> list[str]:
    prompts = real_prompts(32)
    short = [[{"role": "user", "content": f"Write a short story about a {w}."}] for w in WORDS]
    return [
        # fp32 is the like-for-like row: greedy outputs must match the loop's token for token
        compare("real few-shot prompts (~450 tokens)", prompts, "float32", 32, 192),
        compare("real few-shot prompts (~450 tokens)", prompts, "bfloat16", 32, 192),
        compare("short prompts (~30 tokens)", short, "bfloat16", 16),
        vs_llama_cpp(stage_requests(16)),
    ]


def stage_requests(n: int) -> list:
    """The generate stage's requests on real seeds: few-shot prompts, the mc JSON schema, the stage's sampling."""
    from taskseed.core.config import compose, to_dict
    from taskseed.core.schema import section
    from taskseed.llm.base import ChatRequest, Sampling
    from taskseed.synth.prompts import schema

    sampling = Sampling(**vars(section(to_dict(compose([])), "generate").sampling))
    # multiple choice only (arc_easy, copa, openbookqa anchors; the default experiment's kind): llama.cpp's
    # grammar parser refuses the math schema (its 2,000-character maxLength) and llama-cpp-python then crashes
    mc = [m for m in real_prompts(2 * n) if "gsm8k" not in m[-1]["content"]]
    return [ChatRequest.of(m, sampling, schema("mc", 4)) for m in mc[:n]]


def smollm2_backend(dtype: str, batch_size: int | None = None):
    """The CPU default backend as the generate stage builds it (batch size from its config)."""
    from taskseed.core.config import compose, to_dict
    from taskseed.core.hardware import resolve_dtype
    from taskseed.core.models import ensure_model
    from taskseed.core.schema import section
    from taskseed.llm.hf import TransformersBackend

    cfg = to_dict(compose([]))
    opts = section(cfg, "generate").transformers
    path = ensure_model(cfg["model"], Path(cfg["paths"]["cache"]))
    return TransformersBackend(
        path, cfg["model"]["name"], dtype=resolve_dtype(dtype), batch_size=batch_size or opts.batch_size
    )


def schema_valid(completion, request) -> bool:
    import json

    import jsonschema

    try:
        jsonschema.validate(json.loads(completion.text), request.schema_dict())
    except (ValueError, jsonschema.ValidationError):
        return False
    return True


def vs_llama_cpp(requests) -> str:
    """taskseed's CPU default vs llama.cpp on the same GGUF model, prompts, schema and sampling."""
    from benchmarks.llama_cpp import LlamaCppBackend
    from taskseed.core.config import compose, to_dict
    from taskseed.core.hardware import resolve_dtype
    from taskseed.core.models import gguf_location

    folder, name = gguf_location(to_dict(compose([]))["model"])
    results = {}
    for label, backend in (("llama.cpp", LlamaCppBackend(folder / name, "SmolLM2-135M-Instruct")),
                           ("taskseed", smollm2_backend("auto"))):  # fmt: skip
        backend.generate(requests[:1])  # load outside the timing
        start = time.perf_counter()
        out = backend.generate(requests)
        seconds = time.perf_counter() - start
        backend.close()
        tokens = sum(c.completion_tokens for c in out)
        valid = sum(schema_valid(c, r) for c, r in zip(out, requests, strict=True))
        results[label] = (len(requests) / seconds, tokens / seconds, valid)
    (base_ex, base_tok, base_valid), (ours_ex, ours_tok, ours_valid) = (
        results["llama.cpp"],
        results["taskseed"],
    )
    n = len(requests)
    return (
        f"| generation, CPU default (transformers, batched, dtype auto = {resolve_dtype('auto')}) vs llama.cpp "
        f"(llama-cpp-python in process, portable AVX2 build, 2 threads, schema as grammar): SmolLM2-135M-Instruct "
        f"{name}, {n} generate-stage requests, schema-constrained, sampled as the stage samples "
        f"| {base_ex:.2f} ex/s, {base_tok:.0f} tok/s, schema-valid {base_valid}/{n} "
        f"| {ours_ex:.2f} ex/s, {ours_tok:.0f} tok/s, schema-valid {ours_valid}/{n} | {ours_ex / base_ex:.1f}x |"
    )
