"""`taskseed report`: the treatment's scores against the base model's, instance by instance.

For every task, benchmark (lm-eval group, e.g. mmlu_pro) and suite: baseline, treatment, delta, its 95%
paired-bootstrap interval and P(treatment better), for the primary metric and, on multiple choice, the
correct option's log-probability, its margin over the best wrong option and length-normalized accuracy. Output: `deltas.json`,
`deltas.csv`, `DELTAS.md`, `deltas.png` (primary metric) and `deltas_margin.png`; MLflow metrics
`delta/<name>` with `/ci_low`, `/ci_high`, `/p_better`; the checkpoint registered as an MLflow model version
with the suite deltas attached.
"""

from __future__ import annotations

import csv
import dataclasses
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from taskseed.core.artifacts import Artifact, write_json_atomic
from taskseed.core.display import summary_table
from taskseed.core.errors import TaskseedError
from taskseed.core.schema import section
from taskseed.core.stage import Session, StageContext, StageSpec
from taskseed.evaluation.bootstrap import Delta, paired_deltas
from taskseed.evaluation.config import EvalConfig
from taskseed.evaluation.plots import delta_forest
from taskseed.evaluation.stage import evaluate_model, resolve_target
from taskseed.sources.data import DataSource

STAGE = "report"
VERSION = "1"
METRICS = {
    "primary": ("points", 100.0),
    "acc_norm": ("points", 100.0),
    "logprob": ("nats", 1.0),
    "margin": ("nats", 1.0),
}


def check(cfg: dict[str, Any]) -> None:
    if section(cfg, "eval").target == "base":
        raise TaskseedError(
            "eval.target=base scores the baseline itself; a report compares a treatment with it: "
            "set eval.target=trained or a model folder"
        )


def run_report(session: Session, source: DataSource, upstream: dict[str, Artifact]) -> Artifact:
    cfg = session.cfg
    check(cfg)
    ec: EvalConfig = section(cfg, "eval")
    treatment = upstream["eval"]
    baseline = evaluate_model(
        session, source, upstream["catalog"], resolve_target(cfg, upstream, "base"), quiet=session.quiet
    )
    spec = StageSpec(STAGE, VERSION, {"bootstrap": dataclasses.asdict(ec.bootstrap)},
                     inputs={"baseline": baseline, "treatment": treatment})  # fmt: skip
    return session.run(spec, lambda ctx: build_report(ctx, baseline, treatment, ec))


def _instances(artifact: Artifact, task: str) -> dict[int, dict[str, Any]]:
    rows = (artifact.path / "samples" / f"{task}.jsonl").read_text().splitlines()
    return {r["doc_id"]: r for r in map(json.loads, rows)}


def build_report(ctx: StageContext, baseline: Artifact, treatment: Artifact, ec: EvalConfig) -> None:
    deltas, base_res, treat_res = compare_evals(baseline, treatment, ec)
    _write(ctx, deltas, treat_res, base_res)


def compare_evals(
    baseline: Artifact, treatment: Artifact, ec: EvalConfig, metrics: tuple[str, ...] = tuple(METRICS)
) -> tuple[dict[str, list[Delta]], dict[str, Any], dict[str, Any]]:
    """Paired-bootstrap deltas (treatment - baseline) per task, benchmark and suite, for each metric both
    eval artifacts hold on the same instances; with both artifacts' results.json."""
    base_res = json.loads((baseline.path / "results.json").read_text())
    treat_res = json.loads((treatment.path / "results.json").read_text())
    common = sorted(set(base_res["tasks"]) & set(treat_res["tasks"]))
    if not common:
        raise TaskseedError(
            "the baseline and the treatment share no scored task; score them with the same eval settings"
        )
    pairs: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = defaultdict(dict)
    for task in common:
        b, t = _instances(baseline, task), _instances(treatment, task)
        docs = sorted(set(b) & set(t))
        for metric in metrics:
            values = [(b[d].get(metric), t[d].get(metric)) for d in docs]
            if values and all(x is not None and y is not None for x, y in values):
                pairs[metric][task] = (np.array([x for x, _ in values]), np.array([y for _, y in values]))
    groups = _groups(treat_res["tasks"], common)
    bs = ec.bootstrap
    deltas = {
        m: paired_deltas(pairs[m], groups, m, bs.resamples, bs.confidence, bs.seed)
        for m in metrics
        if pairs[m]
    }
    return deltas, base_res, treat_res


def _groups(results: dict[str, Any], tasks: list[str]) -> dict[str, tuple[str, list[str]]]:
    """Benchmarks (lm-eval groups of several scored tasks, e.g. mmlu_pro's subjects) and suites."""
    benchmarks: dict[str, list[str]] = defaultdict(list)
    suites: dict[str, list[str]] = defaultdict(list)
    for task in tasks:
        benchmarks[results[task].get("benchmark") or task].append(task)
        suites[results[task]["suite"]].append(task)
    out = {name: ("benchmark", members) for name, members in benchmarks.items() if len(members) > 1}
    out.update({f"suite:{name}": ("suite", members) for name, members in suites.items()})
    return out


def _ordered(deltas: list[Delta], results: dict[str, Any]) -> list[Delta]:
    """Suite, then its benchmarks, then single-task benchmarks: the order people read a report in."""
    by_name = {d.name: d for d in deltas}
    out = []
    for suite in sorted({results[d.name]["suite"] for d in deltas if d.level == "task"}):
        out.append(by_name[f"suite:{suite}"])
        seen = set()
        for d in deltas:
            if d.level == "task" and results[d.name]["suite"] == suite:
                group = results[d.name].get("benchmark") or d.name
                key = group if group in by_name and by_name[group].level == "benchmark" else d.name
                if key not in seen:
                    seen.add(key)
                    out.append(by_name[key])
    return out


def _write(
    ctx: StageContext, deltas: dict[str, list[Delta]], treat_res: dict[str, Any], base_res: dict[str, Any]
) -> None:
    results = treat_res["tasks"]
    rows = [d.as_dict() | {"metric": m} for m, ds in deltas.items() for d in ds]
    write_json_atomic(
        ctx.workdir / "deltas.json",
        {"baseline": base_res["model"], "treatment": treat_res["model"], "deltas": rows},
    )
    with open(ctx.workdir / "deltas.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    headline = _ordered(deltas["primary"], results)
    title = f"{treat_res['model']['label']} vs {base_res['model']['label']}: primary metric"
    delta_forest(headline, ctx.workdir / "deltas.png", title)
    files = ["deltas.json", "deltas.csv", "DELTAS.md", "deltas.png"]
    if "margin" in deltas:
        delta_forest(_ordered(deltas["margin"], results), ctx.workdir / "deltas_margin.png",
                     f"{treat_res['model']['label']} vs {base_res['model']['label']}: margin of the correct option (multiple choice)",
                     scale=1.0, unit="nats")  # fmt: skip
        files.append("deltas_margin.png")
    (ctx.workdir / "DELTAS.md").write_text(markdown(deltas, results, treat_res, base_res))
    ctx.tracked_files += files
    for metric, ds in deltas.items():
        prefix = "delta" if metric == "primary" else f"delta_{metric}"
        for d in ds:
            name = d.name.replace("suite:", "")
            ctx.metrics[f"{prefix}/{name}"] = d.delta
            ctx.metrics[f"{prefix}/{name}/ci_low"] = d.ci_low
            ctx.metrics[f"{prefix}/{name}/ci_high"] = d.ci_high
            ctx.metrics[f"{prefix}/{name}/p_better"] = d.p_better
    suites = [d for d in deltas["primary"] if d.level == "suite"]
    ctx.stats["suites"] = {d.name: d.as_dict() for d in suites}
    ctx.counts["deltas"] = len(rows)
    ctx.register_model = {
        "name": f"taskseed-{base_res['model'].get('name') or Path(base_res['model']['path']).name}",
        "source": treat_res["model"]["path"],
        "tags": {
            f"delta/{d.name.replace('suite:', '')}": f"{d.delta:+.4f} [{d.ci_low:+.4f}, {d.ci_high:+.4f}]"
            for d in suites
        },
    }
    table = [[d.name.replace("suite:", ""), d.level, d.n, round(d.baseline, 4), round(d.treatment, 4), f"{100 * d.delta:+.2f}",
              f"[{100 * d.ci_low:+.2f}, {100 * d.ci_high:+.2f}]", f"{d.p_better:.2f}"] for d in headline]  # fmt: skip
    ctx.summary = summary_table(f"report: {treat_res['model']['label']} vs {base_res['model']['label']} (primary metric, deltas in points)",
                                ["name", "level", "n", "baseline", "treatment", "delta", "95% CI", "P(better)"], table)  # fmt: skip


def markdown(deltas: dict[str, list[Delta]], results: dict[str, Any], treat_res, base_res) -> str:
    lines = [f"# {treat_res['model']['label']} vs {base_res['model']['label']}", "",
             f"Treatment `{treat_res['model']['path']}`, baseline `{base_res['model']['path']}`; paired bootstrap over the "
             "same evaluation instances, 95% intervals.", ""]  # fmt: skip
    for metric, ds in deltas.items():
        unit, scale = METRICS[metric]
        lines += [f"## {metric} ({unit})", "", "| name | level | n | baseline | treatment | delta | 95% CI | P(better) |",
                  "|---|---|---:|---:|---:|---:|---|---:|"]  # fmt: skip
        ordered = _ordered(ds, results)
        ordered += sorted((d for d in ds if d.level == "task" and d not in ordered), key=lambda d: d.name)
        for d in ordered:
            mark = " **" if d.excludes_zero else ""
            lines.append(f"| {d.name.replace('suite:', '')} | {d.level} | {d.n} | {d.baseline * scale:.2f} | {d.treatment * scale:.2f} | "
                         f"{d.delta * scale:+.2f}{mark} | [{d.ci_low * scale:+.2f}, {d.ci_high * scale:+.2f}] | {d.p_better:.2f} |")  # fmt: skip
        lines.append("")
    lines.append("** the interval excludes zero.")
    return "\n".join(lines) + "\n"
