"""Run LLM jobs in committed shards, with retries, so a killed stage resumes without loss or duplicates.

A job is one example to produce. Jobs run in batches of `shard_size`; each batch's records are written as a
pair of shards, `rejected/part-N.jsonl` first and `kept/part-N.jsonl` last, each atomically. A batch whose
`kept` shard exists is complete; on restart those jobs are skipped, an orphaned `rejected` shard is redone,
and the LLM cache answers every call that had already returned.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from taskseed.core.artifacts import ShardWriter, read_shard
from taskseed.core.display import progress
from taskseed.llm.base import ChatRequest, Completion
from taskseed.llm.cache import CachedBackend

log = logging.getLogger(__name__)


@dataclass
class Job:
    job_id: str
    payload: dict[str, Any]


@dataclass
class Outcome:
    record: dict[str, Any] | None = None  # set when accepted
    reason: str | None = None
    detail: str = ""


@dataclass
class JobSpec:
    """How to turn a job into a request (per attempt), judge a completion, and record a failure."""

    request: Callable[[Job, int], ChatRequest]
    judge: Callable[[Job, Completion, int], Outcome]
    rejected: Callable[[Job, list[dict[str, Any]]], dict[str, Any]]
    max_attempts: int = 3


@dataclass
class RunStats:
    kept: Counter = field(default_factory=Counter)  # per group key (task)
    rejected: Counter = field(default_factory=Counter)
    reasons: Counter = field(default_factory=Counter)  # final rejection reasons
    attempt_reasons: Counter = field(default_factory=Counter)  # every failed attempt
    attempts: int = 0
    resumed_jobs: int = 0


def completed_jobs(workdir: Path) -> tuple[set[str], int, RunStats]:
    """Jobs in complete batches, the next shard index, and the stats of what they hold."""
    stats = RunStats()
    done: set[str] = set()
    data, rejected = workdir / "kept", workdir / "rejected"
    last = -1
    for shard in sorted(data.glob("part-*.jsonl")) if data.is_dir() else []:
        index = int(shard.stem.split("-")[1])
        last = max(last, index)
        for record in read_shard(shard):
            done.add(record["job_id"])
            stats.kept[record["task"]] += 1
        twin = rejected / shard.name
        for record in read_shard(twin) if twin.is_file() else []:
            done.add(record["job_id"])
            stats.rejected[record["task"]] += 1
            stats.reasons[record["rejection"]["reason"]] += 1
    for orphan in sorted(rejected.glob("part-*.jsonl")) if rejected.is_dir() else []:
        if not (data / orphan.name).exists():
            orphan.unlink()  # its batch never completed: redo it
    stats.resumed_jobs = len(done)
    return done, last + 1, stats


def run_jobs(
    workdir: Path,
    jobs: list[Job],
    spec: JobSpec,
    backend: CachedBackend,
    shard_size: int,
    show_progress: bool,
    desc: str,
) -> RunStats:
    done, next_index, stats = completed_jobs(workdir)
    pending = [j for j in jobs if j.job_id not in done]
    if done:
        log.info("resuming: %d of %d jobs already committed", len(done), len(jobs))
    bar = progress(total=len(jobs), desc=desc, enabled=show_progress, unit="ex")
    bar.update(len(done))
    start = time.perf_counter()
    produced = 0
    for offset in range(0, len(pending), shard_size):
        batch = pending[offset : offset + shard_size]
        kept, rejected = _run_batch(batch, spec, backend, stats)
        # rejected first, kept last: a kept shard marks its batch complete
        for folder, records in (("rejected", rejected), ("kept", kept)):
            writer = ShardWriter(
                workdir / folder, fmt="jsonl", shard_rows=len(batch) + 1, start_index=next_index
            )
            writer.write_many(records)
            if folder == "kept" and not records:
                (workdir / "kept").mkdir(exist_ok=True)
                _touch_atomic(workdir / "kept" / f"part-{next_index:05d}.jsonl")
            writer.close()
        next_index += 1
        produced += len(batch)
        total_kept, total_rejected = sum(stats.kept.values()), sum(stats.rejected.values())
        rate = produced / max(time.perf_counter() - start, 1e-9)
        bar.set_postfix(
            accept=f"{100 * total_kept / max(1, total_kept + total_rejected):.0f}%", ex_s=f"{rate:.2f}"
        )
        bar.update(len(batch))
    bar.close()
    return stats


def _touch_atomic(path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("")
    tmp.replace(path)


def _run_batch(batch: list[Job], spec: JobSpec, backend: CachedBackend, stats: RunStats):
    history: dict[str, list[dict[str, Any]]] = {j.job_id: [] for j in batch}
    accepted: dict[str, dict[str, Any]] = {}
    open_jobs = list(batch)
    for attempt in range(spec.max_attempts):
        if not open_jobs:
            break
        completions = backend.generate([spec.request(job, attempt) for job in open_jobs])
        still_open = []
        for job, completion in zip(open_jobs, completions, strict=True):
            stats.attempts += 1
            if completion.finish_reason == "error":
                outcome = Outcome(reason="backend-error", detail=completion.error or "")
            else:
                outcome = spec.judge(job, completion, attempt)
            if outcome.record is not None:
                outcome.record["attempts"] = attempt + 1
                accepted[job.job_id] = outcome.record
            else:
                stats.attempt_reasons[outcome.reason] += 1
                history[job.job_id].append(
                    {
                        "attempt": attempt,
                        "reason": outcome.reason,
                        "detail": outcome.detail,
                        "output": completion.text[:1500],
                    }
                )
                still_open.append(job)
        open_jobs = still_open
    kept, rejected = [], []
    for job in batch:
        if job.job_id in accepted:
            record = accepted[job.job_id]
            kept.append(record)
            stats.kept[record["task"]] += 1
        else:
            record = spec.rejected(job, history[job.job_id])
            rejected.append(record)
            stats.rejected[record["task"]] += 1
            stats.reasons[record["rejection"]["reason"]] += 1
    return kept, rejected


def dumps(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False)
