"""Evaluation throughput: `taskseed eval` (the eval stage: tasks built, lm-eval run, per-instance scores and
artifact written) vs lm-eval's `simple_evaluate` called directly on the same tasks, model and documents
(target: the harness's overhead <= 5%). SmolLM2-135M on CPU, float32; a loglikelihood task (ARC-Easy,
multiple choice) and a generation task (GSM8K, 5-shot, generation capped at 64 tokens on both sides).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MIRROR = ROOT.parent / "shared" / "datasets"
CASES = (("arc_easy", 120, "loglikelihood"), ("gsm8k", 6, "generation"))


def _direct_config(name: str, max_gen_toks: int | None) -> dict:
    from lm_eval.tasks import TaskManager

    cfg = dict(TaskManager().task_index[name].cfg)
    folder = MIRROR / cfg["dataset_path"] / (cfg.get("dataset_name") or "default")
    files = {p.stem: str(p) for p in folder.glob("*.jsonl")}
    for key in ("training_split", "validation_split", "test_split", "fewshot_split"):
        if cfg.get(key) and cfg[key] not in files:
            cfg[key] = None
    if max_gen_toks and cfg.get("output_type") == "generate_until":
        cfg["generation_kwargs"] = {**cfg.get("generation_kwargs", {}), "max_gen_toks": max_gen_toks}
    return {**cfg, "dataset_path": "json", "dataset_name": None, "dataset_kwargs": {"data_files": files}}


def run(repeats: int = 2) -> list[str]:
    from lm_eval import simple_evaluate

    from taskseed.core.config import compose, to_dict
    from taskseed.core.stage import Session
    from taskseed.evaluation.stage import evaluate_model, resolve_target
    from taskseed.sources.catalog import load_catalog
    from taskseed.sources.data import DataSource

    base = to_dict(compose(["tracking.enabled=false", "progress=false"]))
    source = DataSource.from_config(base["data"], Path(base["paths"]["root"]))
    catalog = load_catalog(Session(base), source)
    rows = []
    for task, limit, kind in CASES:
        overrides = ["tracking.enabled=false", "progress=false", f"eval.tasks=[{task}]", "eval.dtype=float32",
                     f"eval.smoke.loglikelihood={limit}", f"eval.smoke.generate={limit}", "eval.max_gen_toks=64"]  # fmt: skip
        times = {"lm-eval": [], "taskseed": []}
        for i in range(repeats):
            for side in ("lm-eval", "taskseed") if i % 2 == 0 else ("taskseed", "lm-eval"):
                with tempfile.TemporaryDirectory() as tmp:
                    session = Session(
                        to_dict(
                            compose(
                                [*overrides, f"paths.outputs={tmp}", f"paths.cache={base['paths']['cache']}"]
                            )
                        )
                    )
                    target = resolve_target(session.cfg, {}, "base")
                    start = time.perf_counter()
                    if side == "taskseed":
                        evaluate_model(session, source, catalog, target, quiet=True)
                    else:
                        simple_evaluate(model="hf", model_args={"pretrained": str(target.path), "dtype": "float32", "device": "cpu"},
                                        tasks=[_direct_config(task, 64)], limit=limit, batch_size=8, log_samples=True)  # fmt: skip
                    times[side].append(time.perf_counter() - start)
        ours, theirs = min(times["taskseed"]), min(times["lm-eval"])
        rows.append(f"| evaluation, {kind} ({task}, {limit} docs, SmolLM2-135M, float32): lm-eval simple_evaluate vs taskseed eval "
                    f"| {limit / theirs:.2f} docs/s | {limit / ours:.2f} docs/s | overhead {100 * (ours / theirs - 1):+.1f}% (target <= 5%) |")  # fmt: skip
    return rows


if __name__ == "__main__":
    print("\n".join(run()))
