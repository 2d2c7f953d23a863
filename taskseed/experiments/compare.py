"""`taskseed compare EXPERIMENT`: the arms side by side, each against the baseline (the untrained model) and
the same-budget control, instance by instance (paired bootstrap), with what each arm trained on and cost.

Output: compare.json, COMPARE.md, compare_<suite>.png (a delta forest per suite: every arm vs baseline and
vs control) and token_mix.png; MLflow metrics `<arm>/vs_baseline/<suite>` and `<arm>/vs_control/<suite>`
with `/ci_low` and `/ci_high`.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from taskseed.core.artifacts import Artifact, write_json_atomic
from taskseed.core.display import summary_table
from taskseed.core.errors import TaskseedError
from taskseed.core.schema import section
from taskseed.core.stage import Session, StageContext, StageSpec
from taskseed.evaluation.bootstrap import Delta
from taskseed.evaluation.config import EvalConfig
from taskseed.evaluation.plots import delta_forest
from taskseed.evaluation.report import compare_evals
from taskseed.experiments import record
from taskseed.experiments.config import ExperimentConfig
from taskseed.experiments.plots import token_mix

STAGE = "compare"
VERSION = "1"
COSTED = ("generate", "enrich", "filter", "render", "mix", "train", "eval", "report")  # wall time columns


def run_compare(session: Session, name: str) -> Artifact:
    cfg = session.cfg
    exp: ExperimentConfig = section(cfg, "experiment")
    ec: EvalConfig = section(cfg, "eval")
    if exp.baseline is None or exp.control is None:
        raise TaskseedError(
            f"experiment {name} names no baseline or no control arm (experiment.baseline, experiment.control); "
            "a comparison reads every arm against both"
        )
    records = {k: r for k, r in record.read_all(cfg, name).items() if r["arm"] in exp.arms}
    missing = [arm for arm in exp.arms if not any(r["arm"] == arm for r in records.values())]
    if missing:
        raise TaskseedError(
            f"experiment {name}: arm(s) {', '.join(missing)} have not finished (no record in "
            f"{record.folder(cfg, name)}); run `taskseed experiment {name}`"
        )
    inputs = {
        f"{label}:{stage}": Artifact.load(path)
        for label, r in sorted(records.items())
        for stage, path in r["artifacts"].items()
        if stage in ("filter", "mix", "train", "eval")
    }
    spec = StageSpec(STAGE, VERSION, {"experiment": name, "baseline": exp.baseline, "control": exp.control,
                                      "bootstrap": dataclasses.asdict(ec.bootstrap)}, inputs=inputs)  # fmt: skip
    return session.run(spec, lambda ctx: build(ctx, exp, ec, records))


def _partner(records: dict[str, dict], arm: str, point: list[str]) -> dict[str, Any]:
    """The `arm` record at the same sweep point (or, for an arm outside the sweep, the plain one)."""
    same = [r for r in records.values() if r["arm"] == arm and r["point"] == point]
    return same[0] if same else next(r for r in records.values() if r["arm"] == arm)


def build(ctx: StageContext, exp: ExperimentConfig, ec: EvalConfig, records: dict[str, dict]) -> None:
    arms: dict[str, dict[str, Any]] = {}
    for label, r in sorted(records.items(), key=lambda kv: (list(exp.arms).index(kv[1]["arm"]), kv[0])):
        entry: dict[str, Any] = {"arm": r["arm"], "point": r["point"], "run_id": r["run_id"],
                                 "overrides": r["overrides"], **_costs(r)}  # fmt: skip
        if r["arm"] != exp.baseline:
            for role in ("baseline", "control"):
                partner = _partner(records, getattr(exp, role), r["point"])
                if partner is r:
                    continue
                deltas, _, _ = compare_evals(
                    record.artifact(partner, "eval"), record.artifact(r, "eval"), ec, ("primary",)
                )
                entry[f"vs_{role}"] = [d.as_dict() for d in deltas["primary"]]
        arms[label] = entry
    write_json_atomic(ctx.workdir / "compare.json", {"experiment": exp.name, "hypothesis": exp.hypothesis,
                                                      "baseline": exp.baseline, "control": exp.control, "arms": arms})  # fmt: skip
    suites = sorted(
        {d["name"] for a in arms.values() for d in a.get("vs_baseline", []) if d["level"] == "suite"}
    )
    for suite in suites:
        rows = [Delta(**{**d, "name": f"{label} vs {role}", "level": "arm"})
                for label, a in arms.items() for role in ("baseline", "control")
                for d in a.get(f"vs_{role}", []) if d["name"] == suite]  # fmt: skip
        file = f"compare_{suite.removeprefix('suite:')}.png"
        delta_forest(rows, ctx.workdir / file, f"{exp.name}: {suite.removeprefix('suite:')} (primary metric)",
                     xlabel="arm - reference (points); bar: 95% paired-bootstrap interval")  # fmt: skip
        ctx.tracked_files.append(file)
    mixes = {label: a["tokens_by_source"] for label, a in arms.items() if a.get("tokens_by_source")}
    if mixes:
        token_mix(mixes, ctx.workdir / "token_mix.png", f"{exp.name}: training tokens drawn per arm")
        ctx.tracked_files.append("token_mix.png")
    (ctx.workdir / "COMPARE.md").write_text(markdown(exp, arms, suites))
    ctx.tracked_files += ["compare.json", "COMPARE.md"]
    for label, a in arms.items():
        for role in ("baseline", "control"):
            for d in a.get(f"vs_{role}", []):
                if d["level"] != "task":
                    key = f"{label}/vs_{role}/{d['name'].removeprefix('suite:')}"
                    ctx.metrics.update(
                        {key: d["delta"], f"{key}/ci_low": d["ci_low"], f"{key}/ci_high": d["ci_high"]}
                    )
    ctx.counts["arms"] = len(arms)
    ctx.stats["verdicts"] = verdicts(exp, arms)
    ctx.summary = summary_table(
        f"compare {exp.name}: suite deltas in points, 95% paired-bootstrap CI (* excludes zero)",
        ["arm", "suite", "n", "score", "vs baseline", "vs control"],
        [[label, s.removeprefix("suite:"), *_cells(a, s)] for label, a in arms.items() if "vs_baseline" in a for s in suites],
    )  # fmt: skip


def _costs(r: dict[str, Any]) -> dict[str, Any]:
    """Tokens drawn by source and family, the filter's yield and each stage's compute time, from manifests."""
    out: dict[str, Any] = {"seconds": {}}
    for stage in COSTED:
        if stage in r["artifacts"]:
            manifest = record.artifact(r, stage).manifest
            out["seconds"][stage] = manifest.get("timings", {}).get("total_seconds")
    if "mix" in r["artifacts"]:
        mix = json.loads((record.artifact(r, "mix").path / "mixture.json").read_text())
        out["tokens_by_source"] = {k: s["tokens_drawn"] for k, s in mix["sources"].items()}
        family: dict[str, int] = {}
        for s in mix["sources"].values():
            for k, v in s["tokens_drawn_by_family"].items():
                family[k] = family.get(k, 0) + v
        out["tokens_by_family"] = family
    if "filter" in r["artifacts"]:
        counts = record.artifact(r, "filter").manifest.get("counts", {})
        seen = counts.get("kept", 0) + counts.get("rejected", 0)
        out["filter"] = {
            "kept": counts.get("kept", 0),
            "seen": seen,
            "yield": counts.get("kept", 0) / seen if seen else None,
        }
    return out


def _fmt(d: dict[str, Any] | None) -> str:
    if d is None:
        return ""
    star = "*" if d["ci_low"] > 0 or d["ci_high"] < 0 else ""
    return f"{100 * d['delta']:+.1f} [{100 * d['ci_low']:+.1f}, {100 * d['ci_high']:+.1f}]{star}"


def _find(a: dict[str, Any], role: str, name: str) -> dict[str, Any] | None:
    return next((d for d in a.get(f"vs_{role}", []) if d["name"] == name), None)


def _cells(a: dict[str, Any], name: str) -> list[Any]:
    base = _find(a, "baseline", name)
    return [base["n"] if base else "", f"{100 * base['treatment']:.1f}" if base else "",
            _fmt(base), _fmt(_find(a, "control", name))]  # fmt: skip


def verdicts(exp: ExperimentConfig, arms: dict[str, dict[str, Any]]) -> list[str]:
    """One line per treatment: the suites where it beat (or lost to) the control with a CI excluding zero."""
    lines = []
    for label, a in arms.items():
        if a["arm"] in (exp.baseline, exp.control):
            continue
        suites = [d for d in a.get("vs_control", []) if d["level"] == "suite"]
        up = [d["name"].removeprefix("suite:") for d in suites if d["ci_low"] > 0]
        down = [d["name"].removeprefix("suite:") for d in suites if d["ci_high"] < 0]
        lines.append(f"{label} vs {exp.control}: better on {', '.join(up) or 'no suite'}, worse on "
                     f"{', '.join(down) or 'no suite'} (95% CI excluding zero); {len(suites)} suites compared")  # fmt: skip
    return lines


def markdown(exp: ExperimentConfig, arms: dict[str, dict[str, Any]], suites: list[str]) -> str:
    lines = [f"# Experiment `{exp.name}`", "", exp.hypothesis.strip(), "", "## Arms", "",
             "| arm | overrides | MLflow run |", "|---|---|---|"]  # fmt: skip
    lines += [
        f"| {label} | `{' '.join(a['overrides']) or '(experiment defaults)'}` | {a['run_id'] or ''} |"
        for label, a in arms.items()
    ]
    lines += ["", "## Verdict", "", *[f"- {v}" for v in verdicts(exp, arms)], "",
              "## Deltas (points; 95% paired-bootstrap CI; * excludes zero)", "",
              "| arm | name | level | n | score | vs baseline | vs control |", "|---|---|---|---:|---:|---|---|"]  # fmt: skip
    for label, a in arms.items():
        for d in sorted(
            a.get("vs_baseline", []),
            key=lambda d: (d["level"] != "suite", d["level"] != "benchmark", d["name"]),
        ):
            if d["level"] != "task" or len(a["vs_baseline"]) <= 60:
                lines.append(f"| {label} | {d['name'].removeprefix('suite:')} | {d['level']} | {d['n']} | "
                             f"{100 * d['treatment']:.1f} | {_fmt(d)} | {_fmt(_find(a, 'control', d['name']))} |")  # fmt: skip
    lines += ["", "## Training tokens drawn", "", "| arm | by source | by family |", "|---|---|---|"]
    for label, a in arms.items():
        if a.get("tokens_by_source"):
            src = ", ".join(f"{k} {v:,}" for k, v in a["tokens_by_source"].items())
            fam = ", ".join(
                f"{k} {v:,}" for k, v in sorted(a["tokens_by_family"].items(), key=lambda kv: -kv[1])
            )
            lines.append(f"| {label} | {src} | {fam} |")
    lines += ["", "## Filter yield and compute time (seconds to compute each artifact; shared ones appear in every arm)", "",
              "| arm | filter kept / seen | " + " | ".join(COSTED) + " |", "|---|---|" + "---:|" * len(COSTED)]  # fmt: skip
    for label, a in arms.items():
        f = a.get("filter")
        kept = f"{f['kept']} / {f['seen']}" if f else ""
        secs = [f"{a['seconds'][s]:.0f}" if a["seconds"].get(s) is not None else "" for s in COSTED]
        lines.append(f"| {label} | {kept} | " + " | ".join(secs) + " |")
    plots = [f"![{s}](compare_{s.removeprefix('suite:')}.png)" for s in suites]
    return "\n".join([*lines, "", *plots, "", "![token mix](token_mix.png)", ""])
