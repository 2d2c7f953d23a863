"""`taskseed eval`: lm-eval (its Python API, `simple_evaluate`) on one model over the scored suites.

The model is `eval.target`: the train stage's checkpoint (`trained`), the base model (`base`), or a model
folder. Backends: `hf` (transformers), `vllm` (where installed), `local-completions` (an OpenAI-compatible
server, e.g. `vllm serve`). Output: `results.json` (lm-eval's aggregated results, configs and versions per
task, plus the primary metric and likelihood metrics), `samples/<task>.jsonl` (per document: the primary
metric and likelihood metrics; lm-eval's full sample logs in `lm_eval_samples/`), `SCORES.md`.
The base model's artifact depends only on (model, tasks, harness settings), so every treatment and every
experiment reuses it.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from importlib import metadata
from pathlib import Path
from typing import Any

from taskseed.core.artifacts import Artifact, write_json_atomic
from taskseed.core.display import summary_table
from taskseed.core.errors import TaskseedError
from taskseed.core.hardware import resolve_dtype
from taskseed.core.models import ensure_model, model_digest, trained_model_config
from taskseed.core.schema import section
from taskseed.core.stage import Session, StageContext, StageSpec
from taskseed.evaluation import samples as samples_mod
from taskseed.evaluation.code import local_code_eval
from taskseed.evaluation.config import EvalConfig
from taskseed.evaluation.tasks import SuiteTask, build, limit_for, suite_tasks
from taskseed.sources.data import DataSource
from taskseed.sources.lmeval import TaskBuildError

log = logging.getLogger(__name__)

STAGE = "eval"
VERSION = "1"


@dataclasses.dataclass(frozen=True)
class Target:
    label: str  # "base", "trained" or the folder's name
    path: Path
    checkpoint: Artifact | None  # the train artifact, when scoring its checkpoint
    name: str = ""  # the base model's name (what the checkpoint continues)


def resolve_target(cfg: dict[str, Any], upstream: dict[str, Artifact], which: str | None = None) -> Target:
    ec: EvalConfig = section(cfg, "eval")
    which = which or ec.target
    base_name = str(trained_model_config(cfg).get("name") or "model")
    if which == "trained":
        train = upstream.get("train")
        if train is None:
            raise TaskseedError(
                "eval.target=trained needs the train stage; run `taskseed eval` (it trains first) or set eval.target=base"
            )
        return Target("trained", train.path / "model", train, base_name)
    if which == "base":
        return Target(
            "base", ensure_model(trained_model_config(cfg), Path(cfg["paths"]["cache"])), None, base_name
        )
    path = Path(which).expanduser().resolve()
    if path.name == "model" and (path.parent / "manifest.json").is_file():  # a train artifact's checkpoint
        return Target(f"checkpoint {path.parent.name}", path, None, base_name)
    if not (path / "config.json").is_file():
        raise TaskseedError(
            f"eval.target={which!r} is not trained, base or a Hugging Face model folder (no config.json)"
        )
    return Target(path.name, path, None, base_name)


def eval_spec(cfg: dict[str, Any], target: Target, tasks: list[SuiteTask], catalog: Artifact) -> StageSpec:
    ec: EvalConfig = section(cfg, "eval")
    device = "cuda" if ec.backend == "vllm" else "cpu"
    config = {
        "model": {"label": target.label, "digest": model_digest(target.path)},
        "tasks": [[t.name, t.suite, limit_for(t, ec)] for t in tasks],
        "backend": ec.backend, "base_url": ec.base_url, "batch_size": ec.batch_size,
        "dtype": resolve_dtype(ec.dtype, device), "max_gen_toks": ec.max_gen_toks,
        "allow_code_execution": ec.allow_code_execution, "seed": ec.seed, "lm_eval": metadata.version("lm_eval"),
    }  # fmt: skip
    inputs = {"checkpoint": target.checkpoint} if target.checkpoint else {}
    return StageSpec(STAGE, VERSION, config, inputs={**inputs, "catalog": catalog})


def evaluate_model(
    session: Session, source: DataSource, catalog: Artifact, target: Target, quiet: bool = False
) -> Artifact:
    cfg = session.cfg
    ec: EvalConfig = section(cfg, "eval")
    tasks = suite_tasks(catalog, ec)
    if not tasks:
        raise TaskseedError(
            f"eval.score={ec.score} selects no tasks; name suites of eval.suites ({', '.join(ec.suites)})"
        )
    spec = eval_spec(cfg, target, tasks, catalog)
    return session.run(spec, lambda ctx: build_eval(ctx, source, target, tasks), quiet=quiet)


def run_eval(session: Session, source: DataSource, upstream: dict[str, Artifact]) -> Artifact:
    return evaluate_model(session, source, upstream["catalog"], resolve_target(session.cfg, upstream))


def lm_for(ec: EvalConfig, model_path: Path, dtype: str):
    """The lm-eval model (name or object, model_args) for a backend."""
    if ec.backend == "hf":
        from lm_eval.models.huggingface import HFLM

        return HFLM(
            pretrained=str(model_path),
            device="cpu" if not _cuda() else "cuda",
            dtype=dtype,
            batch_size=ec.batch_size,
        ), None
    if ec.backend == "vllm":
        return "vllm", {"pretrained": str(model_path), "dtype": dtype, "seed": ec.seed}
    return "local-completions", {"model": str(model_path), "base_url": ec.base_url, "tokenizer": str(model_path),
                                 "tokenized_requests": False}  # fmt: skip


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def build_eval(ctx: StageContext, source: DataSource, target: Target, tasks: list[SuiteTask]) -> None:
    from lm_eval import simple_evaluate

    ec: EvalConfig = section(ctx.cfg, "eval")
    built, samples, skipped = {}, {}, {}
    with ctx.timed("build_tasks"):
        for task in tasks:
            if _is_code(task) and not ec.allow_code_execution:
                skipped[task.name] = (
                    "runs the model's code: set eval.allow_code_execution=true (taskseed's sandbox)"
                )
                continue
            try:
                obj = build(task, source, ec)
            except TaskBuildError as err:
                skipped[task.name] = str(err)[:300]
                continue
            n_docs = len(obj.eval_docs)
            limit = limit_for(task, ec)
            built[task.name] = (task, obj)
            samples[task.name] = list(range(min(limit, n_docs))) if limit else list(range(n_docs))
    if not built:
        raise TaskseedError(
            f"no evaluation task could be built ({'; '.join(f'{k}: {v}' for k, v in list(skipped.items())[:3])})"
        )
    for name, reason in skipped.items():
        log.warning("skipping %s: %s", name, reason)
    dtype = ctx.spec.config["dtype"]
    model, model_args = lm_for(ec, target.path, dtype)
    log.info(
        "scoring %s (%s) on %d tasks, %d documents",
        target.label,
        target.path,
        len(built),
        sum(map(len, samples.values())),
    )
    with ctx.timed("lm_eval"), local_code_eval():
        out = simple_evaluate(
            model=model, model_args=model_args, tasks=[obj for _, obj in built.values()], samples=samples,
            batch_size=ec.batch_size, log_samples=True, random_seed=ec.seed, numpy_random_seed=ec.seed,
            torch_random_seed=ec.seed, fewshot_random_seed=ec.seed, confirm_run_unsafe_code=ec.allow_code_execution,
        )  # fmt: skip
    write_results(ctx, out, built, skipped, target)


def _is_code(task: SuiteTask) -> bool:
    return task.suite == "code" or task.record.get("group") in ("humaneval", "mbpp")


def write_results(
    ctx: StageContext, out: dict[str, Any], built: dict[str, tuple], skipped: dict[str, str], target: Target
) -> None:
    results: dict[str, Any] = {}
    (ctx.workdir / "samples").mkdir()
    (ctx.workdir / "lm_eval_samples").mkdir()
    for name, (task, task_obj) in built.items():
        task_results = out["results"][name]
        metric, filt = samples_mod.primary_metric(task_results)
        raw = out["samples"][name]
        inst = samples_mod.instance_scores(raw, metric, filt, task.output_type, task_obj)
        with open(ctx.workdir / "samples" / f"{name}.jsonl", "w") as fh:
            fh.writelines(json.dumps(r) + "\n" for r in inst)
        with open(ctx.workdir / "lm_eval_samples" / f"{name}.jsonl", "w") as fh:
            fh.writelines(json.dumps(s, default=str) + "\n" for s in raw)
        results[name] = {
            "suite": task.suite, "benchmark": task.record.get("group") or name, "output_type": task.output_type,
            "primary": f"{metric},{filt}",
            "value": task_results[f"{metric},{filt}"], "n": len(inst),
            "logprob": samples_mod.mean([r.get("logprob") for r in inst]),
            "margin": samples_mod.mean([r.get("margin") for r in inst]),
            "lm_eval": {k: v for k, v in task_results.items() if k not in ("alias", "name")},
            "config": out["configs"].get(name, {}), "version": out["versions"].get(name), "n_shot": out["n-shot"].get(name),
        }  # fmt: skip
    write_json_atomic(ctx.workdir / "results.json", {"model": {"label": target.label, "path": str(target.path), "name": target.name},
                                                      "tasks": results, "skipped": skipped}, )  # fmt: skip
    suites: dict[str, list[float]] = {}
    for name, r in results.items():
        suites.setdefault(r["suite"], []).append(r["value"])
        ctx.metrics[f"score.{name}"] = r["value"]
    for suite, values in suites.items():
        ctx.metrics[f"score.{suite}"] = sum(values) / len(values)
    ctx.counts["instances"] = sum(r["n"] for r in results.values())
    ctx.stats.update(
        {"model": target.label, "skipped": skipped, "suites": {s: sum(v) / len(v) for s, v in suites.items()}}
    )
    rows = [[r["suite"], name, r["primary"], r["n"], round(r["value"], 4),
             "" if r["logprob"] != r["logprob"] else round(r["logprob"], 3)] for name, r in sorted(results.items(), key=lambda kv: (kv[1]["suite"], kv[0]))]  # fmt: skip
    (ctx.workdir / "SCORES.md").write_text(scores_markdown(target, rows, skipped))
    ctx.tracked_files += ["results.json", "SCORES.md"]
    ctx.summary = summary_table(f"eval: {target.label} ({len(results)} tasks, {ctx.counts['instances']} documents"
                                + (f", {len(skipped)} skipped" if skipped else "") + ")",
                                ["suite", "task", "metric", "n", "score", "mean logprob (correct)"], rows)  # fmt: skip


def scores_markdown(target: Target, rows: list[list[Any]], skipped: dict[str, str]) -> str:
    lines = [f"# Scores: {target.label}", "", f"Model: `{target.path}`", "",
             "| suite | task | metric | n | score | mean logprob (correct) |", "|---|---|---|---:|---:|---:|"]  # fmt: skip
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in rows]
    if skipped:
        lines += ["", "Skipped:", ""] + [f"- {k}: {v}" for k, v in sorted(skipped.items())]
    return "\n".join(lines) + "\n"
