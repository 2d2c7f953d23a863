"""The evaluation set that synthetic data is decontaminated against (an artifact computed from the catalog).

Every evaluated split (test, validation) of every task in the configured evaluation suites that the data
source holds is rendered through the task's own lm-eval functions, like seeds are, and reduced to its
content: the question without the task's template text or its listed options, and the semantic answer.
The artifact holds one record per distinct item (`data/`), so the filter stage never re-renders the
benchmarks; it embeds only the items a record's lexical shortlist names, once (taskseed.filter.neighbors).
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from typing import Any

from taskseed.core.artifacts import Artifact, content_hash
from taskseed.core.display import progress, summary_table
from taskseed.core.errors import TaskseedError
from taskseed.core.schema import section
from taskseed.core.stage import Session, StageContext, StageSpec
from taskseed.sources.data import DataSource
from taskseed.sources.firewall import normalize_text, protected_suites, strip_affixes, template_affixes
from taskseed.sources.lmeval import TaskBuildError, build_task
from taskseed.sources.normalize import NormalizeError, normalize_doc

log = logging.getLogger(__name__)

STAGE = "evalset"
VERSION = "3"  # 2: items labelled by benchmark (lm-eval group), not by suite; 3: no embeddings (neighbors.py)
SUITE_ENTRY = re.compile(r"^(?P<task>.+) \((?P<suite>[^()]+)\)$")
OPTION_LINE = re.compile(r"^\s*(\(?[A-Za-z]\)|[A-Za-z][.:)])\s+", re.MULTILINE)
OPTION_ITEM = re.compile(r"^\s*\(?([A-Z])[.:)]\)?\s+(.+)$", re.MULTILINE)
ANSWER_LETTER = re.compile(r"^(?:the answer is\s*)?\(?([A-Z])\)?\.?$", re.IGNORECASE)
OPTIONS_HEADER = re.compile(r"\n\s*(answer\s+)?(choices|options)\s*:?\s*$", re.IGNORECASE)


def selected_suites(cfg: dict[str, Any]) -> dict[str, list[str]]:
    """The evaluation suites to decontaminate against: `filter.decontam.suites` (null: all of eval.suites)."""
    suites = protected_suites(cfg["eval"])
    wanted = section(cfg, "filter").decontam.suites
    if wanted is None:
        return suites
    unknown = [s for s in wanted if s not in suites]
    if unknown:
        raise TaskseedError(
            f"filter.decontam.suites names {unknown}, not in eval.suites ({', '.join(suites)})"
        )
    return {s: suites[s] for s in wanted}


def suite_tasks(catalog: Artifact, suites: dict[str, list[str]]) -> dict[str, str]:
    """Leaf task -> its suite, from the catalog's protected-splits table, for the given suites."""
    import json

    protected = json.loads((catalog.path / "protected_splits.json").read_text())
    tasks: dict[str, str] = {}
    for entries in protected.values():
        for entry in entries:
            found = SUITE_ENTRY.match(entry)
            if found and found["suite"] in suites:
                tasks.setdefault(found["task"], found["suite"])
    return tasks


def question_core(question: str, choices: list[str] | None, prefix: str, suffix: str) -> str:
    """The question without the template text all of the task's questions share, or the options it lists."""
    question = strip_affixes(question, prefix, suffix)
    listed = list(OPTION_LINE.finditer(question))
    if choices:
        first = next(
            (
                m.start()
                for m in listed
                if any(c.strip() and c.strip() in question[m.start() :] for c in choices)
            ),
            None,
        )
    else:  # generative tasks that list lettered options in the prompt (MMLU-Pro's chain of thought)
        labels = [m.group(1).strip("().:").upper() for m in listed]
        first = next(
            (m.start() for k, m in enumerate(listed) if labels[k] == "A" and "B" in labels[k + 1 :]), None
        )
    if first is not None and first > 0:
        question = OPTIONS_HEADER.sub("", question[:first].rstrip())
    return question.strip()


def listed_options(question: str) -> list[str]:
    """The lettered options a prompt lists ("A. text" lines from the first "A"), in order."""
    lines = [m for m in OPTION_ITEM.finditer(question)]
    start = next((k for k, m in enumerate(lines) if m.group(1) == "A"), None)
    if start is None:
        return []
    out = []
    for m in lines[start:]:
        if ord(m.group(1)) - ord("A") != len(out):
            break
        out.append(m.group(2).strip())
    return out


def semantic_answer(answer: str, options: list[str]) -> str:
    """A bare letter or "The answer is (X)" mapped to the option's text."""
    found = ANSWER_LETTER.search(answer.strip())
    if options and found and ord(found.group(1)) - ord("A") < len(options):
        return options[ord(found.group(1)) - ord("A")]
    return answer


def evalset_spec(cfg: dict[str, Any], catalog: Artifact) -> StageSpec:
    return StageSpec(STAGE, VERSION, {"suites": selected_suites(cfg)}, inputs={"catalog": catalog})


def load_evalset(session: Session, source: DataSource, catalog: Artifact) -> Artifact:
    spec = evalset_spec(session.cfg, catalog)
    return session.run(spec, lambda ctx: build_evalset(ctx, source, catalog), quiet=True, track=False)


def build_evalset(ctx: StageContext, source: DataSource, catalog: Artifact) -> None:
    records = {r["task"]: r for r in catalog.read_records()}
    tasks = suite_tasks(catalog, ctx.spec.config["suites"])
    items: list[dict[str, Any]] = []
    seen: set[str] = set()
    per_benchmark: dict[str, dict[str, int]] = defaultdict(lambda: {"tasks": 0, "items": 0})
    skipped: dict[str, str] = {}
    raw_fallback: dict[str, str] = {}
    with ctx.timed("render"):
        for task_name in progress(
            sorted(tasks), desc="rendering evaluation splits", enabled=ctx.progress, unit="task"
        ):
            record = records.get(task_name)
            if record is None:  # an inline group member with no registry entry of its own
                skipped[task_name] = "not a registered task"
                continue
            try:
                rendered = _render_task(record, source)
            except TaskBuildError as err:
                # Decontamination needs the items, not lm-eval's prompt: fall back to the raw rows.
                rendered = _raw_items(record, source)
                (raw_fallback if rendered else skipped)[task_name] = str(err)[:200]
                if not rendered:
                    continue
            suite = (
                record.get("group") or task_name
            )  # the benchmark (lm-eval's task folder: mmlu_pro, gpqa, ...)
            per_benchmark[suite]["tasks"] += 1
            for item in rendered:
                key = content_hash(normalize_text(item["question"]), normalize_text(item["answer_text"]))
                if key in seen:  # several tasks read the same file (MMLU-Pro's subjects, GPQA's variants)
                    continue
                seen.add(key)
                items.append({"benchmark": suite, **item})
                per_benchmark[suite]["items"] += 1
    if not items:
        raise TaskseedError("no evaluation items could be rendered; check eval.suites and data.mirror")
    writer = ctx.writer("data", fmt="jsonl", shard_rows=1_000_000)
    writer.write_many(items)
    ctx.counts["data"] = writer.close()
    ctx.stats["benchmarks"] = dict(per_benchmark)
    ctx.stats["skipped_tasks"] = skipped
    ctx.stats["raw_row_tasks"] = raw_fallback  # lm-eval could not build them here; their raw rows were used
    rows = [[b, s["tasks"], s["items"]] for b, s in sorted(per_benchmark.items())]
    ctx.summary = summary_table("evaluation set", ["benchmark", "tasks", "items"], rows,
                                ["total", sum(r[1] for r in rows), len(items)])  # fmt: skip


def _render_task(record: dict[str, Any], source: DataSource) -> list[dict[str, Any]]:
    task, _ = build_task(record, source, need="eval")
    name = record["task"]
    docs: list[tuple[str, int, Any]] = []
    # Whatever the split is called (GPQA evaluates on `train`): what the task evaluates on is what counts.
    for split, getter in (
        (task.config.test_split, task.test_docs),
        (task.config.validation_split, task.validation_docs),
    ):
        if split and not any(split == s for s, _, _ in docs):
            docs += [(split, i, doc) for i, doc in enumerate(getter() or [])]
    normalized = []
    for split, index, doc in docs:
        try:
            norm = normalize_doc(task, doc)
        except (NormalizeError, Exception):  # noqa: BLE001 - an unrenderable eval doc cannot be matched anyway
            continue
        normalized.append((split, index, norm))
    prefix, suffix = template_affixes([n.question for _, _, n in normalized])
    out = []
    for split, index, norm in normalized:
        question = question_core(norm.question, norm.choices, prefix, suffix)
        choices = norm.choices or listed_options(norm.question) or None
        answer = norm.answer_text if norm.choices else semantic_answer(norm.answer_text, choices or [])
        if question:
            out.append({"task": name, "split": split, "item_id": f"{name}:{split}:{index}", "question": question,
                        "choices": choices, "answer_text": answer})  # fmt: skip
    return out


QUESTION_FIELDS = (
    "question",
    "Question",
    "problem",
    "prompt",
    "query",
    "goal",
    "ctx",
    "sentence",
    "text",
    "context",
)
ANSWER_FIELDS = ("answer", "Correct Answer", "solution", "target", "canonical_solution", "label")


def _raw_items(record: dict[str, Any], source: DataSource) -> list[dict[str, Any]]:
    """Items from the raw mirror rows of the task's evaluated splits, by the usual field names."""
    from taskseed.sources.data import read_jsonl
    from taskseed.sources.firewall import evaluated_splits

    out = []
    for split in evaluated_splits(record):
        found = source.locate(record["dataset_path"], record["dataset_name"], split, None)
        if found is None:
            continue
        for index, row in enumerate(read_jsonl(found)):
            question = next(
                (row[f] for f in QUESTION_FIELDS if isinstance(row.get(f), str) and row[f].strip()), None
            )
            answer = next((str(row[f]) for f in ANSWER_FIELDS if row.get(f) is not None), "")
            if question:
                out.append({"task": record["task"], "split": split, "item_id": f"{record['task']}:{split}:{index}",
                            "question": question.strip(), "choices": None, "answer_text": answer})  # fmt: skip
    return out


def read_evalset(artifact: Artifact) -> list[dict[str, Any]]:
    return artifact.read_records()
