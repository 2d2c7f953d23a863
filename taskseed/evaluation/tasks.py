"""The tasks a suite scores, built exactly as lm-eval registers them, with their data read from the mirror.

Each leaf task's YAML is loaded with lm-eval's own loader (includes followed, `!function`s resolved), so
prompts, few-shot settings, filters and metrics are lm-eval's; only `dataset_path`/`data_files` change to the
mirror's files (the Hub where the mirror lacks them). Code tasks score through `code_eval`, which
`taskseed.evaluation.code` serves from taskseed's sandbox instead of the Hub.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
from dataclasses import dataclass
from typing import Any

from taskseed.core.artifacts import Artifact
from taskseed.evaluation.code import local_code_eval
from taskseed.evaluation.config import EvalConfig
from taskseed.sources.data import DataSource
from taskseed.sources.lmeval import TaskBuildError, memoize_templates, redirect_to_mirror

log = logging.getLogger(__name__)
DROPPED = ("group", "tag", "task_list")


@dataclass(frozen=True)
class SuiteTask:
    name: str
    suite: str
    output_type: str
    record: dict[str, Any]  # the catalog record (yaml_path, dataset, group)


def suite_tasks(catalog: Artifact, ec: EvalConfig) -> list[SuiteTask]:
    """The leaf tasks of the scored suites, from the catalog's table of protected splits (which expanded
    each suite's lm-eval groups when the catalog was built)."""
    protected = json.loads((catalog.path / "protected_splits.json").read_text())
    records = {r["task"]: r for r in catalog.iter_records()}
    scored = ec.scored_suites()
    found: dict[str, str] = {}
    for entries in protected.values():
        for entry in entries:
            task, suite = entry.rsplit(" (", 1)
            suite = suite.rstrip(")")
            if suite in scored and task in records and _scored_by(ec, suite, records[task]):
                found.setdefault(task, suite)
    return [
        SuiteTask(t, s, records[t]["output_type"] or "", records[t])
        for t, s in sorted(found.items(), key=lambda kv: (kv[1], kv[0]))
    ]


def _scored_by(ec: EvalConfig, suite: str, record: dict[str, Any]) -> bool:
    """A protected-only task (eval.protected_only) is in the table but not scored; eval.tasks narrows."""
    extra = set(ec.protected_only.get(suite, []))
    names = {record["task"], record.get("group"), *(record.get("parents") or [])}
    if ec.tasks is not None and not names & set(ec.tasks):
        return False
    return record["task"] not in extra and not set(record.get("parents") or []) & extra


def build(task: SuiteTask, source: DataSource, ec: EvalConfig):
    """The lm-eval task object, data from the mirror, generation capped at eval.max_gen_toks if set."""
    from lm_eval.api.task import ConfigurableTask
    from lm_eval.tasks._yaml_loader import load_yaml

    memoize_templates()
    path = task.record.get("yaml_path")
    if not path:
        raise TaskBuildError("no YAML config to build the task from")
    try:
        with local_code_eval():  # HumanEval/MBPP's utils load `code_eval` at import time
            cfg = dict(load_yaml(path, resolve_func=True))
    except Exception as err:  # noqa: BLE001 - lm-eval's loader raises many types; the task is reported skipped
        raise TaskBuildError(
            f"cannot load {path}: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
        ) from None
    for key in DROPPED:
        cfg.pop(key, None)
    redirect_to_mirror(cfg, source, need="eval")
    if ec.max_gen_toks and task.output_type == "generate_until":
        gen = dict(cfg.get("generation_kwargs") or {})
        gen["max_gen_toks"] = min(int(gen.get("max_gen_toks") or ec.max_gen_toks), ec.max_gen_toks)
        cfg["generation_kwargs"] = gen
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            return ConfigurableTask(config=cfg)
    except Exception as err:  # noqa: BLE001
        raise TaskBuildError(
            f"lm-eval could not build the task: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
        ) from None


def limit_for(task: SuiteTask, ec: EvalConfig) -> int | None:
    if ec.variant == "full":
        return None
    return ec.smoke.generate if task.output_type == "generate_until" else ec.smoke.loglikelihood
