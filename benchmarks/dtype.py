"""`dtype: auto` against both fixed dtypes, for the embedder and the generator, on this machine's CPU.

`auto` (taskseed.core.hardware) picks bfloat16 only where the CPU computes it natively; each model is timed in
float32, in bfloat16 and as `auto` resolves it, in the same run on the same inputs, so the row shows whether
the choice was the faster one (`auto` / faster; within noise of 1.0 is the goal).
"""

from __future__ import annotations

import os
import time

from taskseed.core.hardware import cpu_flags, cpu_model, native_cpu_bf16, resolve_dtype


def capability_line() -> str:
    """The CPU's model and the instruction sets the dtype choice depends on."""
    wanted = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")
    have = [f for f in wanted if f in cpu_flags()] or ["none of " + ", ".join(wanted)]
    forced = os.environ.get("TASKSEED_CPU_BF16")
    native = "yes" if native_cpu_bf16() else "no"
    return (
        f"CPU: {cpu_model()}, {os.cpu_count()} cores; flags {' '.join(have)}; native bf16: {native}"
        f"{f' (TASKSEED_CPU_BF16={forced})' if forced in ('0', '1') else ''}; dtype auto -> {resolve_dtype('auto')}"
    )


def _best(fn, repeats: int = 2) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def _row(label: str, unit: str, rate: dict[str, float]) -> str:
    auto = resolve_dtype("auto")
    faster = max(("float32", "bfloat16"), key=lambda d: rate[d])
    return (
        f"| {label}: float32 vs bfloat16 vs auto (= {auto}) | float32 {rate['float32']:.1f} {unit}, "
        f"bfloat16 {rate['bfloat16']:.1f} {unit} | auto {rate['auto']:.1f} {unit} "
        f"| auto / faster ({faster}) = {rate['auto'] / rate[faster]:.2f} |"
    )


def embedder_row() -> str:
    """all-MiniLM-L6-v2 over 512 real MMLU-Pro questions with their options (the evaluation items' texts)."""
    from benchmarks.decontam import MIRROR, _rows
    from taskseed.filter.embed import Embedder

    texts = []
    for row in _rows("TIGER-Lab/MMLU-Pro/default/test.jsonl", MIRROR):
        texts.append(row["question"] + "\n" + "\n".join(row["options"]))
        if len(texts) == 512:
            break
    rate = {}
    for dtype in ("float32", "bfloat16", "auto"):
        embedder = Embedder(dtype=dtype)
        embedder.encode(texts[:8])  # load outside the timing
        rate[dtype] = len(texts) / _best(lambda e=embedder: e.encode(texts))
    return _row("embedder, all-MiniLM-L6-v2, 512 MMLU-Pro items", "texts/s", rate)


def generator_row(requests) -> str:
    """The generate stage's backend on its real, schema-constrained requests, one batch. Decoded tokens per
    second, since sampled outputs differ in length between dtypes."""
    from benchmarks.generation import smollm2_backend

    rate = {}
    for dtype in ("float32", "bfloat16", "auto"):
        backend = smollm2_backend(dtype)
        backend.generate(requests[:1])  # load outside the timing
        start = time.perf_counter()
        out = backend.generate(requests)
        rate[dtype] = sum(c.completion_tokens for c in out) / (time.perf_counter() - start)
    return _row(
        f"generator, SmolLM2-135M, {len(requests)} generate-stage requests (schema, sampled)", "tok/s", rate
    )


def run() -> list[str]:
    from benchmarks.generation import stage_requests

    return [embedder_row(), generator_row(stage_requests(16))]
