"""Build lm-eval task objects whose data comes from the mirror (or the Hub), for rendering docs.

Seeding renders documents; it never scores them. So the task's own YAML is loaded with includes, only the
rendering functions are resolved (process_docs, doc_to_text, doc_to_target, doc_to_choice) and scoring
(metrics, filters, few-shot samplers) is dropped. That keeps tasks whose metric modules need the network
at import time (MBPP and HumanEval load `code_eval` from the Hub) renderable offline, with lm-eval's
own rendering code.
"""

from __future__ import annotations

import contextlib
import io
import logging
from pathlib import Path
from typing import Any

from taskseed.core.errors import TaskseedError
from taskseed.sources.data import DataSource, read_jsonl

log = logging.getLogger(__name__)

RENDER_KEYS = ("process_docs", "doc_to_text", "doc_to_target", "doc_to_choice")
SPLIT_KEYS = ("training_split", "validation_split", "test_split", "fewshot_split")
DROPPED_KEYS = ("tag", "group", "task_list", "metric_list", "process_results", "filter_list", "fewshot_split")


def memoize_templates() -> None:
    """lm-eval compiles a Jinja template on every doc_to_* call (~1 ms each); compile each once instead.
    Rendering output is unchanged; seeding ~100k rows gets several times faster."""
    import functools

    from lm_eval import utils

    if not getattr(utils.env.from_string, "cache_info", None):
        utils.env.from_string = functools.lru_cache(maxsize=4096)(utils.env.from_string)


class TaskBuildError(Exception):
    """The task cannot be built here; the message says why (recorded as a skip reason)."""


def _looks_like_function(value: Any) -> bool:
    if not isinstance(value, str) or not value.startswith("/") or "\n" in value or "{" in value:
        return False
    module = value.rsplit(".", 1)[0]
    return Path(module + ".py").is_file()


def task_config(
    record: dict[str, Any], source: DataSource, need: str = "training"
) -> tuple[dict[str, Any], dict[str, Path]]:
    """The task's full config with rendering functions resolved and data redirected to the mirror.
    `need`: which data must be present, the training split (seeding) or an evaluated split ("eval")."""
    from lm_eval.tasks._yaml_loader import _import_fun_from_str, load_yaml

    if not record.get("yaml_path"):
        raise TaskBuildError("no YAML config to build the task from")
    try:
        cfg = dict(load_yaml(record["yaml_path"], resolve_func=False))
    except Exception as err:  # lm-eval's loader raises many types
        raise TaskBuildError(f"cannot load {record['yaml_path']}: {err}") from None
    cfg.update(record.get("variant") or {})
    for key in DROPPED_KEYS:
        cfg.pop(key, None)
    for key in RENDER_KEYS:
        if _looks_like_function(cfg.get(key)):
            try:
                cfg[key] = _import_fun_from_str(cfg[key])
            except Exception as err:
                raise TaskBuildError(f"cannot import {key} function {cfg[key]}: {err}") from None
    cfg["num_fewshot"] = 0
    cfg["fewshot_config"] = {"sampler": "first_n", "samples": []}  # seeds are zero-shot
    cfg["metadata"] = {
        k: v for k, v in (cfg.get("metadata") or {}).items() if isinstance(v, (str, int, float))
    }

    files = redirect_to_mirror(cfg, source, need)
    return cfg, files


def redirect_to_mirror(cfg: dict[str, Any], source: DataSource, need: str = "training") -> dict[str, Path]:
    """Point a task config's data at the mirror's files (dataset_path json + data_files), in place.
    Returns split -> file; raises TaskBuildError when the needed split is neither mirrored nor reachable."""
    files: dict[str, Path] = {}
    if source.mirror is not None:
        for key in SPLIT_KEYS:
            split = cfg.get(key)
            found = source.locate(
                cfg.get("dataset_path"), cfg.get("dataset_name"), split, cfg.get("dataset_kwargs")
            )
            if found is not None:
                files[split] = found
    training = cfg.get("training_split")
    wanted = [training] if need == "training" else [cfg.get("test_split"), cfg.get("validation_split")]
    if files and any(split in files for split in wanted if split):
        order = {
            e["file"]: i for i, e in enumerate(source.manifest)
        }  # the json loader infers types from the first file
        ordered = sorted(files.items(), key=lambda kv: order.get(str(kv[1].relative_to(source.mirror)), 0))
        for key in SPLIT_KEYS:
            if cfg.get(key) and cfg[key] not in files:
                cfg[key] = None  # lm-eval fails on splits the data lacks
        if not cfg.get("validation_split") and not cfg.get("test_split"):
            cfg["test_split"] = (
                training  # construction renders one eval doc; seeding reads training docs only
            )
        cfg.update(
            dataset_path="json",
            dataset_name=None,
            dataset_kwargs={"data_files": {s: str(p) for s, p in ordered}},
        )
    elif not source.hub:
        what = "training split" if need == "training" else "evaluation split"
        raise TaskBuildError(f"the {what} is not in the mirror and the Hub is unreachable")
    return files


def build_task(record: dict[str, Any], source: DataSource, need: str = "training"):
    """An lm-eval ConfigurableTask for this catalog record, plus the mirror files it reads."""
    from lm_eval.api.task import ConfigurableTask

    memoize_templates()
    cfg, files = task_config(record, source, need)
    for path in files.values():
        read_jsonl(path)  # a malformed mirror line is a one-line error, not a traceback from the json loader
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            task = ConfigurableTask(config=cfg)
    except TaskseedError:
        raise
    except Exception as err:
        raise TaskBuildError(
            f"lm-eval could not build the task: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
        ) from None
    return task, files
