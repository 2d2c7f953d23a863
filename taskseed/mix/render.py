"""`taskseed render`: the filter's kept examples → pretraining documents in randomized surface formats.

Output (`data/`, Parquet): `id`, `text`, `source` (`synthetic`, or `seeds` with render.include_seeds),
`task`, `family`, `format`, `n_chars`, `license`, `templates` (the evaluation prompt shapes the text contains
verbatim). The summary reports the share of documents that contain an lm-eval prompt template verbatim.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter, defaultdict
from importlib import metadata
from pathlib import Path
from typing import Any

import pyarrow as pa

from taskseed.core.artifacts import Artifact, file_digest
from taskseed.core.display import summary_table
from taskseed.core.errors import TaskseedError
from taskseed.core.schema import section
from taskseed.core.stage import Session, StageContext, StageSpec
from taskseed.mix.config import RenderConfig
from taskseed.mix.formats import draw_format, render_example, render_seed
from taskseed.mix.templates import TemplateShape, matching_shapes, template_shapes
from taskseed.sources.firewall import protected_suites

log = logging.getLogger(__name__)

STAGE = "render"
VERSION = "1"
SCHEMA = pa.schema([
    ("id", pa.string()), ("text", pa.string()), ("source", pa.string()), ("task", pa.string()),
    ("family", pa.string()), ("format", pa.string()), ("n_chars", pa.int64()), ("license", pa.string()),
    ("templates", pa.list_(pa.string())),
])  # fmt: skip


def template_table(cfg: dict[str, Any]) -> Path:
    return Path(cfg["paths"]["root"]) / "conf" / "tables" / "templates.yaml"


def render_spec(cfg: dict[str, Any], examples: Artifact, seeds: Artifact | None) -> StageSpec:
    rc: RenderConfig = section(cfg, "render")
    config = {k: v for k, v in dataclasses.asdict(rc).items() if k != "shard_rows"}
    # What decides the template report: the suites' tasks, lm-eval's templates, the hand-written table.
    config["templates"] = {
        "suites": protected_suites(cfg["eval"]),
        "lm_eval": metadata.version("lm_eval"),
        "table": file_digest(template_table(cfg)),
    }
    inputs = {"examples": examples, **({"seeds": seeds} if rc.include_seeds and seeds else {})}
    return StageSpec(STAGE, VERSION, config, inputs=inputs)


def run_render(session: Session, upstream: dict[str, Artifact]) -> Artifact:
    cfg = session.cfg
    examples = upstream["filter"]
    spec = render_spec(cfg, examples, upstream.get("seeds"))
    return session.run(spec, lambda ctx: build_render(ctx, examples, upstream.get("seeds")))


def eval_template_shapes(cfg: dict[str, Any]) -> list[TemplateShape]:
    from taskseed.sources.catalog import Registry

    registry = Registry(section(cfg, "catalog").include_paths)
    configs = []
    for names in protected_suites(cfg["eval"]).values():
        for name in names or []:
            if name in registry.index:
                configs += registry.expand(name)
    return template_shapes(configs, template_table(cfg))


def build_render(ctx: StageContext, examples: Artifact, seeds: Artifact | None) -> None:
    rc: RenderConfig = section(ctx.cfg, "render")
    with ctx.timed("templates"):
        shapes = eval_template_shapes(ctx.cfg)
    writer = ctx.writer("data", fmt="parquet", schema=SCHEMA, shard_rows=rc.shard_rows)
    stats = RenderStats()
    with ctx.timed("render"):
        for record in examples.iter_records():
            fmt = draw_format(record, rc)
            text = render_example(record, fmt)
            doc = _document(record, text, "synthetic", fmt.name, shapes)
            stats.add(doc, fmt)
            writer.write(doc)
        if stats.docs["synthetic"] == 0:
            raise TaskseedError(
                f"{examples.path} has no kept examples to render; generate more or loosen the filter"
            )
        if rc.include_seeds and seeds is not None:
            for seed in seeds.iter_records():
                doc = _document(
                    {**seed, "id": seed["seed_id"]}, render_seed(seed), "seeds", "original", shapes
                )
                stats.add(doc, None)
                writer.write(doc)
    ctx.counts["data"] = writer.close()
    ctx.stats.update(stats.as_dict(shapes))
    ctx.metrics.update(stats.metrics())
    (ctx.workdir / "DATACARD.md").write_text(datacard(stats, rc, shapes))
    (ctx.workdir / "EXAMPLES.md").write_text(examples_markdown(ctx.workdir / "data"))
    ctx.tracked_files += ["DATACARD.md", "EXAMPLES.md"]
    ctx.summary = stats.summary()


def _document(record: dict[str, Any], text: str, source: str, fmt: str, shapes) -> dict[str, Any]:
    return {
        "id": record["id"], "text": text, "source": source, "task": record["task"],
        "family": record.get("family") or "", "format": fmt, "n_chars": len(text),
        "license": record.get("license") or "unknown", "templates": matching_shapes(text, shapes),
    }  # fmt: skip


class RenderStats:
    def __init__(self) -> None:
        self.docs: Counter[str] = Counter()
        self.chars: Counter[str] = Counter()
        self.with_template: Counter[str] = Counter()
        self.by_shape: Counter[str] = Counter()
        self.by_task: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
        self.axes: dict[str, Counter[str]] = defaultdict(Counter)
        self.licenses: Counter[tuple[str, str]] = Counter()

    def add(self, doc: dict[str, Any], fmt) -> None:
        source = doc["source"]
        self.docs[source] += 1
        self.chars[source] += doc["n_chars"]
        row = self.by_task[(source, doc["task"], doc["family"])]
        row[0] += 1
        row[1] += doc["n_chars"]
        if doc["templates"]:
            self.with_template[source] += 1
            row[2] += 1
            self.by_shape.update(doc["templates"])
        self.licenses[(source, doc["license"])] += 1
        if fmt is not None:
            self.axes["markers"][fmt.markers] += 1
            if fmt.options != "-":
                self.axes["options"][fmt.options] += 1
            self.axes["explanation"][fmt.explanation] += 1
            for part in fmt.parts or ("answer-only",):
                self.axes["parts"][part] += 1

    def template_share(self, source: str) -> float:
        return self.with_template[source] / self.docs[source] if self.docs[source] else 0.0

    def as_dict(self, shapes: list[TemplateShape]) -> dict[str, Any]:
        return {
            "documents": dict(self.docs),
            "characters": dict(self.chars),
            "template_share": {s: round(self.template_share(s), 4) for s in self.docs},
            "documents_with_template": dict(self.with_template),
            "template_matches": dict(self.by_shape),
            "template_shapes": {s.shape: list(s.tasks) for s in shapes},
            "formats": {axis: dict(counts) for axis, counts in self.axes.items()},
            "tasks": {
                f"{s}/{t}": {"family": f, "documents": n, "characters": c, "with_template": w}
                for (s, t, f), (n, c, w) in sorted(self.by_task.items())
            },  # fmt: skip
            "licenses": {f"{s}/{lic}": n for (s, lic), n in sorted(self.licenses.items())},
        }

    def metrics(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for source in self.docs:
            out[f"render.documents.{source}"] = self.docs[source]
            out[f"render.template_share.{source}"] = self.template_share(source)
        for axis, counts in self.axes.items():
            total = sum(counts.values()) if axis != "parts" else self.docs["synthetic"]
            for name, n in counts.items():
                out[f"render.format.{axis}.{name}"] = n / total if total else 0.0
        return out

    def summary(self) -> dict:
        rows = [
            [s, t, f, n, c, w, f"{w / n:.1%}" if n else ""]
            for (s, t, f), (n, c, w) in sorted(self.by_task.items())
        ]
        total = sum(self.docs.values())
        templated = sum(self.with_template.values())
        footer = [
            "total",
            "",
            "",
            total,
            sum(self.chars.values()),
            templated,
            f"{templated / total:.1%}" if total else "",
        ]
        shares = ", ".join(f"{s} {self.template_share(s):.1%}" for s in sorted(self.docs))
        return summary_table(f"render (documents with an lm-eval prompt template verbatim: {shares})",
                             ["source", "task", "family", "documents", "characters", "with template", "share"], rows, footer)  # fmt: skip


def datacard(stats: RenderStats, rc: RenderConfig, shapes: list[TemplateShape]) -> str:
    lines = ["# Rendered documents", "",
             "Pretraining documents rendered from the filter's kept examples"
             + (" and, as a control, the seeds in their original lm-eval format." if rc.include_seeds else "."), "",
             "| source | documents | characters | with an lm-eval template |", "|---|---:|---:|---:|"]  # fmt: skip
    for source in sorted(stats.docs):
        lines.append(
            f"| {source} | {stats.docs[source]:,} | {stats.chars[source]:,} | {stats.template_share(source):.1%} |"
        )
    lines += ["", "## Surface formats (synthetic documents)", ""]
    for axis, counts in stats.axes.items():
        total = sum(counts.values()) if axis != "parts" else stats.docs["synthetic"]
        shares = ", ".join(f"{name} {n / total:.1%}" for name, n in counts.most_common())
        lines.append(f"- {axis}: {shares}")
    lines += [
        "",
        "## Evaluation prompt shapes counted",
        "",
        "| shape | tasks | documents |",
        "|---|---|---:|",
    ]
    for shape in shapes:
        tasks = ", ".join(shape.tasks[:4]) + (f" (+{len(shape.tasks) - 4})" if len(shape.tasks) > 4 else "")
        lines.append(f"| `{shape.shape.replace(chr(10), '⏎')}` | {tasks} | {stats.by_shape[shape.shape]:,} |")
    lines += ["", "## Licenses", "", "| source | license | documents |", "|---|---|---:|"]
    for (source, lic), n in sorted(stats.licenses.items()):
        lines.append(f"| {source} | {lic} | {n:,} |")
    return "\n".join(lines) + "\n"


def examples_markdown(data: Path, per_source: int = 6) -> str:
    """A few rendered documents per source, as a reader sees them (logged with the run)."""
    import pyarrow.parquet as pq

    shown: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for shard in sorted(data.glob("*.parquet")):
        for doc in pq.read_table(shard, columns=["id", "text", "source", "task", "format"]).to_pylist():
            if len(shown[doc["source"]]) < per_source:
                shown[doc["source"]].append(doc)
    lines = ["# Rendered documents: examples", ""]
    for source, docs in sorted(shown.items()):
        for doc in docs:
            lines += [
                f"## {source} / {doc['task']} / `{doc['format']}`",
                "",
                "```text",
                doc["text"],
                "```",
                "",
            ]
    return "\n".join(lines)
