"""`taskseed generate`: fresh examples from seeds, keeping each task's information need and answer space.

For each planned job (an anchor seed plus few-shot seeds of the same task) the model is asked, with the
prompt template of the seed's kind, for one new example as JSON; parsing is total, failures are retried with
a new sampling seed up to `max_attempts` and then kept as rejected records with their reasons.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from taskseed.core.artifacts import Artifact, content_hash
from taskseed.core.display import summary_table
from taskseed.core.errors import TaskseedError
from taskseed.core.schema import section
from taskseed.core.stage import Session, StageContext, StageSpec
from taskseed.llm import Sampling, cached, make_backend
from taskseed.llm.base import ChatRequest, Completion
from taskseed.synth.config import GenerateConfig, SamplingConfig
from taskseed.synth.llmjobs import Job, JobSpec, Outcome, run_jobs
from taskseed.synth.parsing import parse_generation
from taskseed.synth.prompts import KINDS, build_messages, kind_of, prompt_version, question_stem, schema
from taskseed.synth.sampling import plan

log = logging.getLogger(__name__)

STAGE = "generate"
VERSION = "1"


def sampling_of(sampling: SamplingConfig, seed: int) -> Sampling:
    return Sampling(sampling.temperature, sampling.top_p, sampling.max_new_tokens, seed)


def sampling_by_kind(g: GenerateConfig) -> dict[str, dict[str, Any]]:
    """The base sampling with each kind's overrides (`sampling_by_kind.code.max_new_tokens=512`): a worked
    solution or a program needs more room than a multiple-choice item."""
    base = sampling_of(g.sampling, g.seed).as_dict()
    out = {}
    for kind in g.kinds:
        extra = g.sampling_by_kind.get(kind)
        given = {k: v for k, v in dataclasses.asdict(extra).items() if v is not None} if extra else {}
        out[kind] = Sampling(**{**base, **given}).as_dict()
    return out


def retry_sampling(base: Sampling, attempt: int) -> Sampling:
    """A new sampling seed per attempt (and some temperature where the first try was greedy)."""
    if attempt == 0:
        return base
    return Sampling(
        base.temperature if base.temperature > 0 else 0.7,
        base.top_p if base.temperature > 0 else 0.95,
        base.max_new_tokens,
        base.seed + 1000 * attempt,
    )


def generate_spec(g: GenerateConfig, seeds: Artifact, backend_info: dict[str, Any]) -> StageSpec:
    config = {
        "backend": backend_info,
        "sampling": sampling_of(g.sampling, g.seed).as_dict(),
        "sampling_by_kind": sampling_by_kind(g),
        "num_examples": g.num_examples,
        "few_shot": g.few_shot,
        "max_attempts": g.max_attempts,
        "group_temperature": g.group_temperature,
        "task_temperature": g.task_temperature,
        "kinds": list(g.kinds),
        "kind_overrides": dict(g.kind_overrides),
        "tasks": g.tasks,
        "prompt_versions": {k: prompt_version(k) for k in g.kinds},
    }
    return StageSpec(STAGE, VERSION, config, inputs={"seeds": seeds}, resumable=True)


def plan_jobs(seed_rows: list[dict[str, Any]], config: dict[str, Any]) -> list[Job]:
    by_task: dict[str, list[dict[str, Any]]] = defaultdict(list)
    wanted = set(config["tasks"]) if config.get("tasks") else None
    for row in seed_rows:
        kind = kind_of(row, config["kind_overrides"])
        if kind in config["kinds"] and (wanted is None or row["task"] in wanted):
            by_task[row["task"]].append({**row, "kind": kind})
    if wanted:
        missing = wanted - set(by_task)
        if missing:
            raise TaskseedError(
                f"generate.tasks names {sorted(missing)}, which have no seeds of the requested kinds; check seeds.tasks"
            )
    if not by_task:
        raise TaskseedError("no seeds of the requested kinds; check generate.kinds and the seeds artifact")
    jobs = []
    for index, (anchor, shots) in enumerate(plan(by_task, config["num_examples"], config["few_shot"], config["sampling"]["seed"],
                                                  config["group_temperature"], config["task_temperature"])):  # fmt: skip
        job_id = content_hash("generate", index, anchor["seed_id"], [s["seed_id"] for s in shots], length=16)
        jobs.append(
            Job(job_id, {"anchor": anchor, "shots": shots, "kind": anchor["kind"], "task": anchor["task"]})
        )
    return jobs


def job_spec(config: dict[str, Any], backend_info: dict[str, Any]) -> JobSpec:
    by_kind = config.get("sampling_by_kind") or {}
    base = {kind: Sampling(**by_kind.get(kind, config["sampling"])) for kind in KINDS}

    def request(job: Job, attempt: int) -> ChatRequest:
        anchor, shots, kind = job.payload["anchor"], job.payload["shots"], job.payload["kind"]
        n = len(anchor["choices"]) if kind == "mc" else None
        return ChatRequest.of(
            build_messages(anchor, shots, kind), retry_sampling(base[kind], attempt), schema(kind, n)
        )

    def judge(job: Job, completion: Completion, attempt: int) -> Outcome:
        anchor, shots, kind = job.payload["anchor"], job.payload["shots"], job.payload["kind"]
        examples = [question_stem(s) for s in [anchor, *shots]]
        n = len(anchor["choices"]) if kind == "mc" else None
        parsed = parse_generation(
            completion.text, kind, n, completion.finish_reason, examples, shuffle_seed=job.job_id
        )
        if not parsed.ok:
            return Outcome(reason=parsed.reason, detail=parsed.detail)
        record = _identity(job) | {
            "id": content_hash(kind, parsed.question, parsed.choices, parsed.answer_text),
            "question": parsed.question,
            "choices": parsed.choices,
            "answer_text": parsed.answer_text,
            "answer_index": parsed.answer_index,
            "reference": parsed.reference,
            "enrichment": None,
            "generator": {
                **backend_info,
                "sampling": retry_sampling(base[kind], attempt).as_dict(),
                "prompt_version": prompt_version(kind),
            },
            "checks": {"format": {"passed": True, "score": 1.0, "reason": ""}},
            "n_tokens": completion.completion_tokens,
        }
        return Outcome(record=record)

    def rejected(job: Job, history: list[dict[str, Any]]) -> dict[str, Any]:
        last = history[-1] if history else {"reason": "no-attempt", "detail": ""}
        return _identity(job) | {
            "rejection": {"reason": last["reason"], "detail": last["detail"], "attempts": history},
            "checks": {"format": {"passed": False, "score": 0.0, "reason": last["reason"]}},
            "generator": {**backend_info, "prompt_version": prompt_version(job.payload["kind"])},
        }

    return JobSpec(request, judge, rejected, max_attempts=config["max_attempts"])


def _identity(job: Job) -> dict[str, Any]:
    anchor, shots = job.payload["anchor"], job.payload["shots"]
    return {
        "job_id": job.job_id, "seed_ids": [anchor["seed_id"], *(s["seed_id"] for s in shots)], "task": anchor["task"],
        "group": anchor["group"], "family": anchor["family"], "output_type": anchor["output_type"], "kind": job.payload["kind"],
        "license": anchor["license"],
    }  # fmt: skip


def run_generate(session: Session, seeds: Artifact) -> Artifact:
    cfg = session.cfg
    g: GenerateConfig = section(cfg, "generate")
    backend = make_backend(g, cfg["model"], Path(cfg["paths"]["cache"]))  # loads its model lazily
    spec = generate_spec(g, seeds, backend.describe())
    try:
        return session.run(spec, lambda ctx: build_generate(ctx, seeds, backend, spec.config, g.shard_size))
    finally:
        backend.close()


def build_generate(
    ctx: StageContext, seeds: Artifact, backend, config: dict[str, Any], shard_size: int
) -> None:
    with ctx.timed("plan"):
        jobs = plan_jobs(seeds.read_records(), config)
    run_llm_stage(ctx, jobs, job_spec(config, backend.describe()), backend, shard_size, "generate")


def run_llm_stage(
    ctx: StageContext, jobs: list[Job], spec: JobSpec, backend, shard_size: int, stage: str
) -> None:
    """Run a stage's model jobs through the LLM call cache, then its counts, metrics and yield table (shared
    by generate and enrich)."""
    runner = cached(backend, Path(ctx.cfg["paths"]["cache"]))
    with ctx.timed(stage):
        stats = run_jobs(ctx.workdir, jobs, spec, runner, shard_size, ctx.progress, stage)
    ctx.primary = "kept"
    ctx.counts["kept"] = sum(stats.kept.values())
    ctx.counts["rejected"] = sum(stats.rejected.values())
    if ctx.counts["kept"] + ctx.counts["rejected"] != len(jobs):
        raise RuntimeError(
            f"{stage}: {len(jobs)} jobs but {ctx.counts['kept'] + ctx.counts['rejected']} records"
        )
    llm = runner.stats
    ctx.stats["llm"] = {"calls": llm.calls, "cache_hits": llm.cache_hits, "errors": llm.errors, "prompt_tokens": llm.prompt_tokens,
                        "completion_tokens": llm.completion_tokens, "seconds": round(llm.seconds, 2), "finish": llm.by_finish}  # fmt: skip
    ctx.stats["rejection_reasons"] = dict(stats.reasons)
    ctx.stats["attempt_failures"] = dict(stats.attempt_reasons)
    ctx.stats["resumed_jobs"] = stats.resumed_jobs
    kinds = {j.payload["task"]: j.payload["kind"] for j in jobs}
    per_task: dict[str, dict[str, Any]] = {}
    by_kind: Counter = Counter()
    for task in sorted(kinds):
        kept, rejected = stats.kept[task], stats.rejected[task]
        per_task[task] = {
            "kind": kinds[task],
            "kept": kept,
            "rejected": rejected,
            "yield": round(kept / max(1, kept + rejected), 4),
        }
        by_kind[kinds[task]] += kept
        ctx.metrics[f"{stage}.kept.{task}"] = kept
        ctx.metrics[f"{stage}.yield.{task}"] = per_task[task]["yield"]
    ctx.stats["tasks"] = per_task
    ctx.stats["kept_by_kind"] = dict(by_kind)
    kept_total, rejected_total = ctx.counts["kept"], ctx.counts["rejected"]
    ctx.metrics.update({f"{stage}.kept": kept_total, f"{stage}.rejected": rejected_total, f"{stage}.yield": round(kept_total / max(1, len(jobs)), 4),
                        f"{stage}.llm_calls": llm.calls, f"{stage}.cache_hits": llm.cache_hits,
                        f"{stage}.tokens_per_s": round(llm.completion_tokens / llm.seconds, 2) if llm.seconds else 0.0})  # fmt: skip
    for reason, n in stats.reasons.items():
        ctx.metrics[f"{stage}.rejected.{reason}"] = n
    rows = [
        [t, i["kind"], i["kept"] + i["rejected"], i["kept"], i["rejected"], f"{100 * i['yield']:.0f}%"]
        for t, i in per_task.items()
    ]
    reasons = ", ".join(f"{r} ({n})" for r, n in stats.reasons.most_common(4))
    ctx.summary = summary_table(f"{stage} (rejected: {reasons or 'none'})", ["task", "kind", "jobs", "kept", "rejected", "yield"], rows,
                                ["total", "", len(jobs), kept_total, rejected_total, f"{100 * kept_total / max(1, len(jobs)):.0f}%"])  # fmt: skip
