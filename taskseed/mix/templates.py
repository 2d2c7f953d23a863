"""Which documents contain an evaluation prompt verbatim: lm-eval's doc_to_text shapes as patterns.

A Jinja doc_to_text such as "Question: {{question}}\\nAnswer:" becomes the pattern `Question: …\\nAnswer:`,
its literal text in order with any text between. Templates with no literal text ("{{query}}") have no
shape; tasks whose doc_to_text is Python take theirs from conf/tables/templates.yaml.
"""

from __future__ import annotations

import fnmatch
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from taskseed.core.errors import TaskseedError

GAP = r"[\s\S]{1,2000}?"  # any text between two literal pieces, bounded so a miss fails fast
JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)


@dataclass(frozen=True)
class TemplateShape:
    shape: str  # the literal pieces joined by "…", for reports
    tasks: tuple[str, ...]
    pattern: re.Pattern[str]


def jinja_literals(template: str) -> list[str]:
    """The literal pieces of a Jinja template, leading and trailing whitespace of the whole trimmed."""
    pieces = [p for p in JINJA.split(template)]
    if len(pieces) == 1:  # no Jinja at all: a bare field name (lm-eval reads doc[name]) has no shape
        return []
    pieces[0], pieces[-1] = pieces[0].lstrip(), pieces[-1].rstrip()
    return [p for p in pieces if p.strip()]


def shape_of(literals: list[str]) -> tuple[str, re.Pattern[str]] | None:
    letters = sum(ch.isalpha() for piece in literals for ch in piece)
    # one short word ("Answer:") alone is everywhere; two markers ("Q: … A:") or a sentence is a template
    if not literals or (len(literals) < 2 and letters < 12) or letters < 2:
        return None
    return "…".join(literals), re.compile(GAP.join(re.escape(p) for p in literals))


def template_shapes(suite_configs: list[tuple[str, dict[str, Any]]], table_path: Path) -> list[TemplateShape]:
    """One shape per distinct prompt among the evaluation tasks (task name, raw lm-eval config)."""
    try:
        table = yaml.safe_load(Path(table_path).read_text()) or {}
    except (OSError, yaml.YAMLError) as err:
        raise TaskseedError(f"cannot read template table {table_path}: {err}; fix or restore it") from None
    by_shape: dict[str, list[str]] = defaultdict(list)
    patterns: dict[str, re.Pattern[str]] = {}
    for task, cfg in suite_configs:
        text = cfg.get("doc_to_text")
        manual = next((t for pat, t in table.items() if fnmatch.fnmatch(task, pat)), None)
        template = manual if manual is not None else text if isinstance(text, str) else None
        if template is None or (manual is None and _is_python(text)):
            continue
        found = shape_of(jinja_literals(template))
        if found:
            by_shape[found[0]].append(task)
            patterns[found[0]] = found[1]
    return [TemplateShape(s, tuple(sorted(t)), patterns[s]) for s, t in sorted(by_shape.items())]


def _is_python(value: str) -> bool:
    # An unresolved `!function module.name`: the index holds it as a dotted path string.
    return (
        "{{" not in value
        and "{%" not in value
        and ("/" in value or value.count(".") >= 1)
        and " " not in value
    )


def matching_shapes(text: str, shapes: list[TemplateShape]) -> list[str]:
    return [s.shape for s in shapes if s.pattern.search(text)]
