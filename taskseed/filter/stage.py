"""`taskseed filter`: format → quality → dedup → decontam → verify (configurable), each a small check
(taskseed.filter.base) that gives every record reaching it a verdict. Kept and rejected records are both
written (`kept/`, `rejected/`), with `contamination.json` and the yield funnel (`funnel.json`, `funnel.png`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from taskseed.core.artifacts import Artifact, write_json_atomic
from taskseed.core.display import summary_table
from taskseed.core.errors import TaskseedError
from taskseed.core.schema import section
from taskseed.core.stage import Session, StageContext, StageSpec
from taskseed.filter.base import Check, CheckContext, CheckInputs
from taskseed.filter.config import FilterConfig
from taskseed.filter.decontam import DecontamCheck
from taskseed.filter.dedup import DedupCheck
from taskseed.filter.format import FormatCheck
from taskseed.filter.funnel import funnel_metrics, funnel_rows, funnel_stats, plot_funnel
from taskseed.filter.llm import CheckLLM
from taskseed.filter.quality import QualityCheck
from taskseed.filter.verify import VerifyCheck
from taskseed.sources.data import DataSource

log = logging.getLogger(__name__)

STAGE = "filter"
VERSION = "1"
# name -> check class; each is built from its own section of FilterConfig (filter/config.py)
CHECK_CLASSES: dict[str, type] = {"format": FormatCheck, "quality": QualityCheck, "dedup": DedupCheck,
                                  "decontam": DecontamCheck, "verify": VerifyCheck}  # fmt: skip


def verifier_llm(cfg: dict[str, Any], fc: FilterConfig, show_progress: bool) -> CheckLLM:
    return CheckLLM(fc.verify, fc.verify.model or cfg["model"], Path(cfg["paths"]["cache"]), show_progress)


def run_filter(session: Session, source: DataSource, upstream: dict[str, Artifact]) -> Artifact:
    from taskseed.filter.evalset import load_evalset

    cfg = session.cfg
    fc: FilterConfig = section(cfg, "filter")
    examples = upstream.get("enrich") or upstream["generate"]
    evalset = load_evalset(session, source, upstream["catalog"]) if "decontam" in fc.checks else None
    llm = verifier_llm(cfg, fc, bool(cfg.get("progress", True)))
    try:
        inputs = CheckInputs(evalset=evalset, cache=Path(cfg["paths"]["cache"]),
                             verifier=llm.describe() if fc.uses_llm else {})  # fmt: skip
        checks = [CHECK_CLASSES[name](getattr(fc, name), inputs) for name in fc.checks]
        config = {"checks": [{"name": c.name, **c.settings()} for c in checks]}
        spec = StageSpec(STAGE, VERSION, config, inputs={"examples": examples, "seeds": upstream["seeds"]})
        run = lambda ctx: build_filter(ctx, examples, upstream["seeds"], checks, llm, fc.shard_size)  # noqa: E731
        return session.run(spec, run)
    finally:
        llm.close()


def build_filter(
    ctx: StageContext,
    examples: Artifact,
    seeds: Artifact,
    checks: list[Check],
    llm: CheckLLM,
    shard_rows: int,
) -> None:
    records = examples.read_records()
    if not records:
        raise TaskseedError(
            f"{examples.path} has no kept records to filter; run generate/enrich with more examples"
        )
    wanted = {s for r in records for s in r.get("seed_ids") or []}
    check_ctx = CheckContext(ctx.cfg, ctx.workdir, {s["seed_id"]: s for s in seeds.iter_records() if s["seed_id"] in wanted},
                             ctx.progress)  # fmt: skip
    check_ctx.llm = llm
    for r in records:
        r["checks"] = dict(r.get("checks") or {})
    alive, rejected_by = records, {}
    for check in checks:
        with ctx.timed(check.name):
            verdicts = check.run(alive, check_ctx) if alive else []
        survivors, out = [], []
        for record, verdict in zip(alive, verdicts, strict=True):
            record["checks"][check.name] = verdict.as_dict()
            if verdict.passed:
                survivors.append(record)
            else:
                record["rejection"] = {"check": check.name, "reason": verdict.reason}
                out.append(record)
        rejected_by[check.name] = out
        log.info("%s: %d of %d records passed", check.name, len(survivors), len(alive))
        alive = survivors

    kept_writer = ctx.writer("kept", fmt="jsonl", shard_rows=shard_rows)
    kept_writer.write_many(alive)
    rejected_writer = ctx.writer("rejected", fmt="jsonl", shard_rows=shard_rows)
    for check in checks:
        rejected_writer.write_many(rejected_by[check.name])
    ctx.primary = "kept"
    ctx.counts["kept"], ctx.counts["rejected"] = kept_writer.close(), rejected_writer.close()

    names = [c.name for c in checks]
    funnel = funnel_stats(names, records, rejected_by)
    write_json_atomic(ctx.workdir / "funnel.json", funnel)
    plot_funnel(funnel, ctx.workdir / "funnel.png")
    ctx.tracked_files += ["funnel.json", "funnel.png"]
    ctx.stats["funnel"] = funnel
    ctx.metrics.update(funnel_metrics(funnel))
    contamination = check_ctx.reports.get("contamination")
    if contamination is not None:
        write_json_atomic(ctx.workdir / "contamination.json", contamination)
        ctx.tracked_files.append("contamination.json")
        for bench, entry in contamination["benchmarks"].items():
            ctx.metrics[f"contamination.{bench}.flagged"] = entry["flagged"]
            for layer, n in entry["by_layer"].items():
                ctx.metrics[f"contamination.{bench}.{layer}"] = n
    if llm.stats is not None:
        s = llm.stats
        ctx.stats["llm"] = {
            "calls": s.calls,
            "cache_hits": s.cache_hits,
            "errors": s.errors,
            "seconds": round(s.seconds, 2),
        }
    header, rows, total = funnel_rows(funnel)
    reasons = [f"{step['check']}: {', '.join(f'{r} ({n})' for r, n in list(step['reasons'].items())[:2])}"
               for step in funnel["steps"] if step["rejected"]]  # fmt: skip
    ctx.summary = summary_table(
        f"filter yield ({'; '.join(reasons) or 'nothing rejected'})", header, rows, total
    )
