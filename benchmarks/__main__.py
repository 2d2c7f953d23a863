"""`make bench`: speed and memory goals, each measured against its named baseline in the same run."""

from __future__ import annotations

import sys
import time


def bench_template_rendering() -> list[str]:
    """lm-eval renders docs by compiling a Jinja template per call; taskseed compiles each template once."""
    from lm_eval import utils

    template = "Question: {{question}}\nAnswer:"
    docs = [{"question": f"What is {i} plus {i}?"} for i in range(3000)]
    start = time.perf_counter()
    baseline = [utils.env.from_string(template).render(**d) for d in docs]
    base_s = time.perf_counter() - start
    from taskseed.sources.lmeval import memoize_templates

    memoize_templates()
    start = time.perf_counter()
    ours = [utils.apply_template(template, d) for d in docs]
    ours_s = time.perf_counter() - start
    assert ours == baseline
    return [
        f"| seed rendering vs lm-eval apply_template | {len(docs) / base_s:,.0f} docs/s | {len(docs) / ours_s:,.0f} docs/s | {base_s / ours_s:.1f}x |"
    ]


def main() -> int:
    from benchmarks import decontam, dtype, evaluation, generation, mixing, near_dup

    print(dtype.capability_line(), flush=True)
    print("| comparison | baseline | taskseed | ratio |\n|---|---|---|---|", flush=True)
    # each row measures both sides in this run, on this machine
    for bench in (
        bench_template_rendering,
        dtype.run,
        generation.run,
        decontam.run,
        near_dup.run,
        mixing.run,
        evaluation.run,
    ):
        for row in bench():
            print(row, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
