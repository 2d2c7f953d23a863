"""`taskseed seeds`: seed records from the training splits of eligible lm-eval tasks (DESIGN §3, §4).

Each task is built from its own lm-eval config with the data redirected to the mirror, its training docs
go through process_docs and are rendered by its doc_to_text / doc_to_choice / doc_to_target, and every
row is checked against evaluation data before it becomes a seed.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import logging
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from taskseed.core.artifacts import Artifact, content_hash
from taskseed.core.display import progress, summary_table
from taskseed.core.errors import TaskseedError
from taskseed.core.schema import section
from taskseed.core.stage import Session, StageContext, StageSpec
from taskseed.sources.catalog import eligibility, load_catalog
from taskseed.sources.config import SeedsConfig
from taskseed.sources.data import DataSource, read_jsonl
from taskseed.sources.firewall import EvalIndex, QuestionIndex, check_task
from taskseed.sources.licenses import LicensePolicy, LicenseTable
from taskseed.sources.lmeval import TaskBuildError, build_task
from taskseed.sources.normalize import NormalizeError, normalize_doc

log = logging.getLogger(__name__)

STAGE = "seeds"
VERSION = "1"
SEED_FIELDS = (
    "seed_id", "task", "group", "family", "output_type", "dataset_path", "dataset_name", "split", "row_index",
    "license", "question", "choices", "answer_text", "answer_index", "choice_labels", "alt_answers",
)  # fmt: skip


def seed_schema():
    import pyarrow as pa

    text, texts = pa.string(), pa.list_(pa.string())
    return pa.schema(
        [
            ("seed_id", text),
            ("task", text),
            ("group", text),
            ("family", text),
            ("output_type", text),
            ("dataset_path", text),
            ("dataset_name", text),
            ("split", text),
            ("row_index", pa.int64()),
            ("license", text),
            ("question", text),
            ("choices", texts),
            ("answer_text", text),
            ("answer_index", pa.int64()),
            ("choice_labels", texts),
            ("alt_answers", texts),
        ]  # fmt: skip
    )


def license_policy(cfg: dict[str, Any]) -> LicensePolicy:
    sc: SeedsConfig = section(cfg, "seeds")
    table = LicenseTable.load(Path(section(cfg, "catalog").licenses))
    return LicensePolicy.from_config(sc.license_policy, sc.allow_unknown_license, table)


def select_tasks(
    records: list[dict[str, Any]], catalog: Artifact, cfg: dict[str, Any], policy: LicensePolicy
):
    """(selected records, excluded {task: reason}); explicit requests that break the firewall raise."""
    sc: SeedsConfig = section(cfg, "seeds")
    by_name = {r["task"]: r for r in records}
    requested = sc.tasks
    excluded: dict[str, str] = {}
    if requested == "all":
        candidates = []
        for record in records:
            if not record["training_split"]:
                continue
            ok, reason = eligibility(record, policy)
            if ok:
                candidates.append(record)
            elif record["availability"] != "missing" or not reason.startswith("unavailable"):
                excluded[record["task"]] = reason
        if sc.one_task_per_dataset:
            candidates, duplicates = _one_task_per_dataset(candidates)
            excluded.update(duplicates)
        return candidates, excluded

    protected = json.loads((catalog.path / "protected_splits.json").read_text())
    eval_only = section(cfg, "eval").eval_only_datasets
    selected = []
    for item in requested:
        name, _, split = str(item).partition(":")
        record = by_name.get(name)
        if record is None:
            close = difflib.get_close_matches(name, by_name, n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise TaskseedError(f"unknown task {name!r}{hint}; run `taskseed catalog` to list lm-eval tasks")
        check_task(name, record, protected, eval_only, requested_split=split or None)
        if record["unloadable"]:
            raise TaskseedError(f"cannot seed {name}: {record['unloadable']}")
        if record["availability"] == "missing":
            raise TaskseedError(
                f"cannot seed {name}: its {record['training_split']} split is not in the mirror and the Hub is unreachable; set data.mirror or go online"
            )
        ok, reason = policy.admits(record["license"], record["license_class"])
        if not ok:
            excluded[name] = reason
            log.warning("excluding %s: %s", name, reason)
            continue
        selected.append(record)
    if not selected:
        raise TaskseedError(
            f"no tasks left to seed: {'; '.join(f'{k}: {v}' for k, v in excluded.items())}; change seeds.license_policy"
        )
    return selected, excluded


def _one_task_per_dataset(records: list[dict[str, Any]]):
    chosen: dict[tuple, dict[str, Any]] = {}
    for record in sorted(records, key=lambda r: (len(r["task"]), r["task"])):
        chosen.setdefault((record["dataset_path"], record["dataset_name"], record["training_split"]), record)
    keep = {r["task"] for r in chosen.values()}
    duplicates = {}
    for record in records:
        if record["task"] not in keep:
            twin = chosen[(record["dataset_path"], record["dataset_name"], record["training_split"])]["task"]
            duplicates[record["task"]] = (
                f"duplicate: same training rows as {twin} (seeds.one_task_per_dataset)"
            )
    return [r for r in records if r["task"] in keep], duplicates


def seeds_spec(
    cfg: dict[str, Any], catalog: Artifact, selected: list[dict[str, Any]], policy: LicensePolicy
) -> StageSpec:
    sc: SeedsConfig = section(cfg, "seeds")
    config = {
        "tasks": [{"task": r["task"], "variant": r["variant"], "license": r["license"]} for r in selected],
        "license_policy": policy.describe(),
        "max_rows_per_task": sc.max_rows_per_task,
        "row_firewall": dataclasses.asdict(sc.row_firewall),
    }
    return StageSpec(STAGE, VERSION, config, inputs={"catalog": catalog})


def run_seeds(session: Session, source: DataSource) -> Artifact:
    cfg = session.cfg
    policy = license_policy(cfg)
    catalog = load_catalog(
        session, source, track=False
    )  # an input here; the pipeline logs its own catalog run
    records = catalog.read_records()
    selected, excluded = select_tasks(records, catalog, cfg, policy)
    spec = seeds_spec(cfg, catalog, selected, policy)
    return session.run(spec, lambda ctx: build_seeds(ctx, cfg, source, catalog, selected, excluded, policy))


def build_seeds(
    ctx: StageContext, cfg, source: DataSource, catalog: Artifact, selected, excluded, policy: LicensePolicy
) -> None:
    sc: SeedsConfig = section(cfg, "seeds")
    min_words = sc.row_firewall.min_words
    index = EvalIndex(min_words=min_words)
    eval_files = json.loads((catalog.path / "eval_files.json").read_text()) if source.mirror else {}
    with ctx.timed("eval_index"):
        for rel in progress(
            sorted(eval_files), desc="indexing evaluation splits", enabled=ctx.progress, unit="file"
        ):
            index.add_rows(read_jsonl(source.mirror / rel), rel)
    ctx.stats["eval_index"] = {"files": len(eval_files), "rows": len(index)}
    log.info("evaluation index: %d rows from %d mirror files", len(index), len(eval_files))

    writer = ctx.writer("data", fmt="parquet", schema=seed_schema(), shard_rows=sc.shard_rows)
    per_task: dict[str, dict[str, Any]] = {}
    limit = sc.max_rows_per_task
    for number, record in enumerate(selected, 1):
        log.info("[%d/%d] %s (%s)", number, len(selected), record["task"], record["dataset_path"])
        with ctx.timed("tasks"):
            stats = _seed_task(record, source, index, writer, limit, min_words, ctx.progress)
        if stats.get("skipped"):
            excluded[record["task"]] = stats["skipped"]
            log.warning("skipping %s: %s", record["task"], stats["skipped"])
        per_task[record["task"]] = stats
    ctx.counts["data"] = writer.close()
    if ctx.counts["data"] == 0:
        raise TaskseedError(
            "no seed rows were produced (every selected task was skipped); see the warnings above"
        )

    ctx.stats["tasks"] = per_task
    ctx.stats["excluded"] = excluded
    ctx.stats["license_policy"] = policy.describe()
    for task, stats in per_task.items():
        ctx.metrics[f"seeds.{task}"] = stats.get("seeds", 0)
        ctx.metrics[f"firewall_dropped.{task}"] = stats.get("dropped_firewall", 0)
    ctx.metrics["seeds_total"] = ctx.counts["data"]
    ctx.metrics["tasks_seeded"] = sum(1 for s in per_task.values() if s.get("seeds"))
    ctx.metrics["firewall_dropped_total"] = sum(s.get("dropped_firewall", 0) for s in per_task.values())
    ctx.metrics["tasks_excluded"] = len(excluded)

    (ctx.workdir / "DATACARD.md").write_text(
        datacard(selected, per_task, excluded, policy, ctx.stats["eval_index"])
    )
    ctx.tracked_files.append("DATACARD.md")
    rows = []
    for record in selected:
        s = per_task[record["task"]]
        rows.append([record["task"], record["family"], record["license"], s.get("rows", 0), s.get("seeds", 0),
                     s.get("dropped_firewall", 0), s.get("dropped_duplicate", 0), sum(s.get("failed", {}).values()),
                     s.get("skipped") or ""])  # fmt: skip
    totals = [
        "total",
        "",
        "",
        sum(r[3] for r in rows),
        sum(r[4] for r in rows),
        sum(r[5] for r in rows),
        sum(r[6] for r in rows),
        sum(r[7] for r in rows),
        "",
    ]
    ctx.summary = summary_table(
        "seeds",
        ["task", "family", "license", "rows", "seeds", "firewall", "duplicate", "unnormalizable", "skipped"],
        rows,
        totals,
    )


def _seed_task(
    record, source, index: EvalIndex, writer, limit, min_words: int, show_progress
) -> dict[str, Any]:
    task_name = record["task"]
    try:
        task, files = build_task(record, source)
    except TaskBuildError as err:
        return {"skipped": str(err)}
    docs = task.training_docs()
    if docs is None:
        return {"skipped": "the task returned no training docs"}
    raw = task.dataset[task.config.training_split]
    raw_rows = (
        raw if len(raw) == len(docs) else [{}] * len(docs)
    )  # process_docs that filter rows lose alignment

    # The same task's evaluation docs, rendered by its own template: a copied or reformatted row matches.
    eval_questions: list[tuple[str, str]] = []
    for split, getter in (
        (task.config.validation_split, task.validation_docs),
        (task.config.test_split, task.test_docs),
    ):
        if split and split != task.config.training_split:
            for doc in getter() or []:
                try:
                    eval_questions.append((normalize_doc(task, doc).question, f"{task_name}:{split}"))
                except Exception:  # noqa: BLE001 - an unrenderable eval doc cannot match anything
                    continue
    local = QuestionIndex([q for q, _ in eval_questions], min_words=min_words)
    for question, origin in eval_questions:
        local.add(question, origin)

    stats: dict[str, Any] = {
        "rows": 0,
        "seeds": 0,
        "dropped_firewall": 0,
        "dropped_duplicate": 0,
        "failed": Counter(),
        "firewall_matches": Counter(),
        "firewall_examples": [],
    }
    seen: set[str] = set()
    total = len(docs) if limit is None else min(limit, len(docs))
    rows = zip(docs, raw_rows, strict=True)
    for row_index, (doc, raw_row) in enumerate(
        progress(rows, total=total, desc=task_name, enabled=show_progress, unit="row")
    ):
        if limit is not None and row_index >= limit:
            break
        stats["rows"] += 1
        try:
            norm = normalize_doc(task, doc)
        except NormalizeError as err:
            stats["failed"][err.reason] += 1
            continue
        except Exception as err:  # noqa: BLE001 - a task's own Python rendering can fail on odd rows
            stats["failed"][f"render-error:{type(err).__name__}"] += 1
            continue
        origin = local.match(norm.question) or index.match(doc, raw_row)
        if origin is not None:
            stats["dropped_firewall"] += 1
            stats["firewall_matches"][origin] += 1
            if len(stats["firewall_examples"]) < 5:
                stats["firewall_examples"].append(
                    {"row_index": row_index, "matched": origin, "question": norm.question[:200]}
                )
            continue
        seed_id = content_hash(task_name, norm.question, norm.choices, norm.answer_text)
        if seed_id in seen:
            stats["dropped_duplicate"] += 1
            continue
        seen.add(seed_id)
        writer.write(
            {
                "seed_id": seed_id,
                "task": task_name,
                "group": record["group"],
                "family": record["family"],
                "output_type": task.OUTPUT_TYPE,
                "dataset_path": record["dataset_path"],
                "dataset_name": record["dataset_name"],
                "split": record["training_split"],
                "row_index": row_index,
                "license": record["license"],
                "question": norm.question,
                "choices": norm.choices,
                "answer_text": norm.answer_text,
                "answer_index": norm.answer_index,
                "choice_labels": norm.choice_labels,
                "alt_answers": norm.alt_answers,
            }  # fmt: skip
        )
        stats["seeds"] += 1
    stats["failed"] = dict(stats["failed"])
    stats["firewall_matches"] = dict(stats["firewall_matches"])
    if stats["rows"] and not stats["seeds"] and stats["failed"]:
        stats["skipped"] = f"no row could be normalized ({', '.join(stats['failed'])})"
    return stats


def datacard(selected, per_task, excluded, policy: LicensePolicy, eval_index: dict[str, int]) -> str:
    lines = ["# Seed data card", "", f"License policy: **{policy.describe()}**.", ""]
    lines += [
        "## Tasks",
        "",
        "| task | group | family | dataset | split | license | rows | seeds | dropped (firewall) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in selected:
        s = per_task.get(r["task"], {})
        dataset = f"{r['dataset_path']}/{r['dataset_name'] or 'default'}"
        lines.append(
            f"| {r['task']} | {r['group']} | {r['family']} | {dataset} | {r['training_split']} | {r['license']} | {s.get('rows', 0)} | {s.get('seeds', 0)} | {s.get('dropped_firewall', 0)} |"
        )
    by_license: dict[str, list[str]] = defaultdict(list)
    rows_by_license: Counter = Counter()
    for r in selected:
        by_license[r["license"]].append(r["task"])
        rows_by_license[r["license"]] += per_task.get(r["task"], {}).get("seeds", 0)
    lines += ["", "## Licenses", "", "| license | seeds | tasks |", "|---|---|---|"]
    for lic, tasks in sorted(by_license.items()):
        lines.append(f"| {lic} | {rows_by_license[lic]} | {', '.join(tasks)} |")
    lines += ["", "## Splits used", ""]
    lines += [
        f"- `{r['dataset_path']}/{r['dataset_name'] or 'default'}:{r['training_split']}` via {r['task']}"
        + (f" (variant {r['variant']})" if r["variant"] else "")
        for r in selected
    ]
    lines += [
        "",
        "## Split firewall",
        "",
        f"Evaluation index: {eval_index.get('rows', 0)} rows from {eval_index.get('files', 0)} evaluation files in the mirror. A seed is dropped when it contains every text field of one of those rows, or when its question equals one of the same task's evaluation questions.",
        "",
    ]
    dropped = [(t, s) for t, s in per_task.items() if s.get("dropped_firewall")]
    if dropped:
        lines += ["| task | dropped | matched evaluation data |", "|---|---|---|"]
        for task, s in dropped:
            matches = ", ".join(
                f"{k} ({v})" for k, v in sorted(s["firewall_matches"].items(), key=lambda kv: -kv[1])[:5]
            )
            lines.append(f"| {task} | {s['dropped_firewall']} | {matches} |")
    else:
        lines.append("No seed row matched evaluation data.")
    lines += ["", "## Excluded", ""]
    groups: dict[str, list[str]] = defaultdict(list)
    for task, reason in sorted(excluded.items()):
        groups[reason.split(":")[0]].append(f"{task} ({reason})")
    for kind, items in sorted(groups.items()):
        lines.append(f"### {kind} ({len(items)})")
        lines += [f"- {item}" for item in items[:200]]
        if len(items) > 200:
            lines.append(f"- ... and {len(items) - 200} more (see manifest.json)")
        lines.append("")
    failed = {t: s["failed"] for t, s in per_task.items() if s.get("failed")}
    if failed:
        lines += ["## Rows that could not be normalized", ""]
        lines += [f"- {t}: {', '.join(f'{k} ({v})' for k, v in f.items())}" for t, f in failed.items()]
    return "\n".join(lines) + "\n"
