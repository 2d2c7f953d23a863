"""The orchestrator: stages in order, each reusing its artifact when its fingerprint already exists.

`STAGES` maps a stage name to `fn(session, source, upstream) -> Artifact`; `upstream` holds the artifacts
of the stages before it in this run. Later stages (generate, enrich, filter, ...) register here.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from taskseed.core.artifacts import Artifact
from taskseed.core.config import compose, flatten, to_dict
from taskseed.core.errors import TaskseedError
from taskseed.core.stage import Session
from taskseed.sources.data import DataSource

log = logging.getLogger(__name__)

StageFn = Callable[[Session, DataSource, dict[str, Artifact]], Artifact]


def _catalog(session: Session, source: DataSource, upstream: dict[str, Artifact]) -> Artifact:
    from taskseed.sources.catalog import load_catalog

    return load_catalog(session, source, quiet=session.quiet)


def _seeds(session: Session, source: DataSource, upstream: dict[str, Artifact]) -> Artifact:
    from taskseed.sources.seeds import run_seeds

    return run_seeds(session, source)


def _generate(session: Session, source: DataSource, upstream: dict[str, Artifact]) -> Artifact:
    from taskseed.synth.generate import run_generate

    return run_generate(session, upstream["seeds"])


def _enrich(session: Session, source: DataSource, upstream: dict[str, Artifact]) -> Artifact:
    from taskseed.synth.enrich import run_enrich

    return run_enrich(session, upstream["generate"])


def _filter(session: Session, source: DataSource, upstream: dict[str, Artifact]) -> Artifact:
    from taskseed.filter.stage import run_filter

    return run_filter(session, source, upstream)


def _render(session: Session, source: DataSource, upstream: dict[str, Artifact]) -> Artifact:
    from taskseed.mix.render import run_render

    return run_render(session, upstream)


def _mix(session: Session, source: DataSource, upstream: dict[str, Artifact]) -> Artifact:
    from taskseed.mix.stage import run_mix

    return run_mix(session, upstream)


def _train(session: Session, source: DataSource, upstream: dict[str, Artifact]) -> Artifact:
    from taskseed.training.stage import run_train

    return run_train(session, upstream)


def _eval(session: Session, source: DataSource, upstream: dict[str, Artifact]) -> Artifact:
    from taskseed.evaluation.stage import run_eval

    return run_eval(session, source, upstream)


def _report(session: Session, source: DataSource, upstream: dict[str, Artifact]) -> Artifact:
    from taskseed.evaluation.report import run_report

    return run_report(session, source, upstream)


STAGES: dict[str, StageFn] = {
    "catalog": _catalog,
    "seeds": _seeds,
    "generate": _generate,
    "enrich": _enrich,
    "filter": _filter,
    "render": _render,
    "mix": _mix,
    "train": _train,
    "eval": _eval,
    "report": _report,
}
ORDER = list(STAGES)


def _eval_needs(cfg: dict[str, Any]) -> list[str]:
    # scoring the base model or a given folder needs no synthetic data, no training
    return (
        ["catalog", "train"] if (cfg.get("eval") or {}).get("target", "trained") == "trained" else ["catalog"]
    )


# The artifacts each stage reads (a function of the config where that varies), so a command computes only
# what its stage depends on: `taskseed eval eval.target=base` needs the catalog, not a generation run.
NEEDS: dict[str, list[str] | Callable[[dict[str, Any]], list[str]]] = {
    "catalog": [], "seeds": ["catalog"], "generate": ["seeds"], "enrich": ["generate"],
    "filter": ["catalog", "seeds", "generate", "enrich"], "render": ["seeds", "filter"], "mix": ["render"],
    "train": ["mix"], "eval": _eval_needs, "report": ["catalog", "eval"],
}  # fmt: skip


def required(cfg: dict[str, Any], stages: list[str]) -> list[str]:
    """The requested stages and everything they read, transitively, in flow order."""
    wanted: set[str] = set()
    todo = list(stages)
    while todo:
        stage = todo.pop()
        if stage not in wanted:
            wanted.add(stage)
            needs = NEEDS[stage]
            todo += needs(cfg) if callable(needs) else needs
    return [s for s in ORDER if s in wanted]


def _typed(*groups: str) -> Callable[[dict[str, Any]], None]:
    """Build each group's typed section: Hydra checked types and keys; this checks ranges and rules."""

    def check(cfg: dict[str, Any]) -> None:
        from taskseed.core.schema import section

        for group in groups:
            section(cfg, group)

    return check


def _check_seeds(cfg: dict[str, Any]) -> None:
    from taskseed.sources.seeds import license_policy

    _typed("catalog", "seeds")(cfg)
    license_policy(cfg)


def _check_filter(cfg: dict[str, Any]) -> None:
    from taskseed.core.schema import section
    from taskseed.filter.evalset import selected_suites

    if "decontam" in section(cfg, "filter").checks:
        _typed("eval")(cfg)
        selected_suites(cfg)  # filter.decontam.suites are suites of eval.suites


def _check_mix(cfg: dict[str, Any]) -> None:
    from taskseed.mix.stage import check

    check(cfg)


def _check_train(cfg: dict[str, Any]) -> None:
    from taskseed.training.stage import check

    check(cfg)


def _check_report(cfg: dict[str, Any]) -> None:
    from taskseed.evaluation.report import check

    check(cfg)


# Cheap checks of each stage's config section, run before any stage writes anything, so a typo in a late
# stage fails in a second instead of after the early stages have run. A stage with a typed section
# (core/schema.py) lists it here; what Hydra cannot see (files, other sections, task names) is checked too.
CONFIG_CHECKS: dict[str, list[Callable[[dict[str, Any]], None]]] = {
    "catalog": [_typed("data", "catalog", "eval")],
    "seeds": [_check_seeds],
    "generate": [_typed("generate")],
    "enrich": [_typed("enrich")],
    "filter": [_typed("filter"), _check_filter],
    "render": [_typed("render")],
    "mix": [_check_mix],
    "train": [_check_train],
    "eval": [_typed("eval")],
    "report": [_check_report],
}


def check_config(cfg: dict[str, Any], stages: list[str]) -> None:
    """Every setting the stages (and what they read) use, before the first of them runs or writes."""
    from taskseed.sources.data import resolve_mirror
    from taskseed.sources.tasknames import check_tasks

    unknown = [s for s in stages if s not in STAGES]
    if unknown or not stages:
        raise TaskseedError(
            f"pipeline.stages: unknown stage(s) {unknown or stages}; available: {', '.join(STAGES)}"
        )
    _typed("paths", "data", "tracking", "model")(cfg)
    resolve_mirror(cfg["data"]["mirror"], Path(cfg["paths"]["root"]))  # an existing folder, when named
    wanted = required(cfg, stages)
    for stage in wanted:
        for check in CONFIG_CHECKS.get(stage, []):
            check(cfg)
    check_tasks(cfg, wanted)


def run_until(session: Session, source: DataSource, target: str) -> Artifact:
    """A single stage command: its upstream stages run (or are reused) quietly, then the stage itself."""
    check_config(session.cfg, [target])
    artifacts: dict[str, Artifact] = {}
    for stage in required(session.cfg, [target]):
        session.quiet = stage != target
        artifacts[stage] = STAGES[stage](session, source, artifacts)
    session.quiet = False
    return artifacts[target]


def run_pipeline(
    session: Session, source: DataSource, stages: list[str], run_name: str, tags: dict[str, Any] | None = None
) -> dict[str, Artifact]:
    check_config(session.cfg, stages)
    artifacts: dict[str, Artifact] = {}
    session.track_cache_hits = True  # every stage appears under the parent run, computed or reused
    with session.tracker.parent(run_name, params=session.params, tags=tags) as parent:
        session.run_id = parent.run_id
        for stage in required(session.cfg, stages):
            if stage in stages:
                log.info("stage %s", stage)
                artifacts[stage] = STAGES[stage](session, source, artifacts)
            else:
                session.quiet = True  # an input of a requested stage: reuse or compute it silently
                artifacts[stage] = STAGES[stage](session, source, artifacts)
                session.quiet = False
        if parent.run_id and not session.tracker.offline:
            _record_lineage(session, parent, artifacts)
    return artifacts


def _record_lineage(session: Session, parent, artifacts: dict[str, Artifact]) -> None:
    from taskseed.experiments.reproduce import record_lineage

    try:
        record_lineage(parent, session.cfg, session.overrides, artifacts)
    except Exception as err:  # noqa: BLE001 - tracking never fails the pipeline
        session.tracker.fail(err)


def sweep_overrides(sweep: dict[str, list[Any]] | None) -> list[list[str]]:
    """The cartesian product of a sweep as override lists ([[]] when there is no sweep)."""
    if not sweep:
        return [[]]
    keys = sorted(sweep)
    for key in keys:
        if not isinstance(sweep[key], list) or not sweep[key]:
            raise TaskseedError(f"experiment.sweep.{key} must be a non-empty list of values")
    combos = itertools.product(*(sweep[k] for k in keys))
    return [[f"{k}={_override_value(v)}" for k, v in zip(keys, combo, strict=True)] for combo in combos]


def _override_value(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ",".join(_override_value(v) for v in value) + "]"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def experiment_points(name: str, overrides: list[str]) -> list[tuple[list[str], list[str], dict[str, Any]]]:
    """(sweep point, overrides, resolved config) for every arm of the experiment (those `arm=a,b` names, else all) at
    every point of its sweep."""
    from taskseed.core.schema import section

    user = [o for o in overrides if o.split("=", 1)[0] != "arm"]
    chosen = [o.split("=", 1)[1] for o in overrides if o.split("=", 1)[0] == "arm"]
    base = to_dict(compose([f"+experiment={name}", *user]))
    exp = section(base, "experiment")
    arms = [a for c in chosen for a in c.split(",")] or list(exp.arms) or [None]
    points = []
    for arm in arms:
        for point in sweep_overrides(exp.sweep):
            full = [f"+experiment={name}", *user, *([f"arm={arm}"] if arm is not None else []), *point]
            points.append((point, full, to_dict(compose(full))))
    return points


def run_configured(
    session: Session, source: DataSource, point: list[str] | None = None, run_name: str | None = None
) -> dict[str, Artifact]:
    """`pipeline.stages` for this config under one MLflow parent run; an experiment arm also leaves its record
    (what `taskseed compare` reads)."""
    from taskseed.experiments import record

    cfg = session.cfg
    exp = cfg.get("experiment") or {}
    point = point or []
    name = record.label(cfg.get("arm"), point) if exp else "run"
    tags = {"experiment": exp.get("name"), "arm": cfg.get("arm"), "sweep_point": " ".join(point) or "base",
            "hypothesis": exp.get("hypothesis", "")} if exp else None  # fmt: skip
    artifacts = run_pipeline(session, source, list(cfg["pipeline"]["stages"]),
                             run_name=run_name or (f"{exp['name']}: {name}" if exp else "run"), tags=tags)  # fmt: skip
    if exp:
        record.write(cfg, point, artifacts, session.run_id)
    return artifacts


__all__ = ["STAGES", "run_pipeline", "run_configured", "experiment_points", "flatten"]
