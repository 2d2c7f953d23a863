"""Task names settings refer to (seeds.tasks, generate.tasks, eval.tasks), checked before any stage runs.

From the catalog artifact when this config's catalog is cached; otherwise from a scan of lm-eval's task
folders that reads only each YAML file's top-level `task:`, `group:` and `tag:` keys (about a second, where
lm-eval's own index parses every file and its includes: ten). The scan knows names and kinds, not configs, so
the split firewall and licenses stay the seeds stage's checks.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from taskseed.core.errors import TaskseedError

TOP_KEY = re.compile(r"^[\"']?(task|group|tag|include|class)[\"']?\s*:\s*(.*?)\s*(?:#.*)?$")
LIST_ITEM = re.compile(r"^\s*-\s*(?:(?:task|group)\s*:\s*)?['\"]?([\w.\-]+)['\"]?\s*$")


@dataclass
class TaskNames:
    kinds: dict[str, str] = field(default_factory=dict)  # name -> task | group | tag
    members: dict[str, list[str]] = field(default_factory=dict)  # group or tag -> the names it lists
    folders: set[str] = field(default_factory=set)  # lm-eval task folders (the catalog's `group` column)

    def add(self, name: str, kind: str) -> None:
        # a task's own entry wins over a tag of the same name
        if name and (name not in self.kinds or kind == "task"):
            self.kinds[name] = kind

    def leaves(self, name: str, seen: frozenset[str] = frozenset()) -> list[str]:
        """The tasks a group or tag stands for, recursively."""
        if self.kinds.get(name) == "task" or name in seen:
            return [name] if self.kinds.get(name) == "task" else []
        return sorted({leaf for m in self.members.get(name, []) for leaf in self.leaves(m, seen | {name})})

    @classmethod
    def from_catalog(cls, records: list[dict[str, Any]]) -> TaskNames:
        names = cls()
        for r in records:
            names.add(r["task"], "task")
            names.folders.add(r["group"])
            for parent in r.get("parents") or []:
                names.kinds.setdefault(parent, "group")
                names.members.setdefault(parent, []).append(r["task"])
        return names

    @classmethod
    def scan(cls, roots: list[Path]) -> TaskNames:
        names, parsed = cls(), {}
        for root in roots:
            for path in root.rglob("*.yaml"):
                names._add_file(_keys_with_includes(path, parsed))
                rel = path.relative_to(root).parts
                if len(rel) > 1:
                    names.folders.add(rel[0])
        return names

    def _add_file(self, top: dict[str, list[str]]) -> None:
        if (
            top.get("group") and "class" not in top
        ):  # a Python task (`class:`) is a task whatever else it says
            group = top["group"][0]
            self.add(group, "group")
            self.members.setdefault(group, []).extend(top.get("task", []))
        elif len(top.get("task", [])) == 1:
            task = top["task"][0]
            self.add(task, "task")
            for tag in top.get("tag", []):
                self.add(tag, "tag")
                self.members.setdefault(tag, []).append(task)


def _keys_with_includes(
    path: Path, parsed: dict[Path, dict[str, list[str]]], depth: int = 0
) -> dict[str, list[str]]:
    """A file's top-level task/group/tag, over those of the file it includes (as lm-eval merges them)."""
    if path not in parsed:
        try:
            parsed[path] = _top_keys(path.read_text(errors="replace"))
        except OSError:
            parsed[path] = {}
    own = parsed[path]
    if not own.get("include") or depth > 4:
        return own
    base = _keys_with_includes(path.parent / own["include"][0], parsed, depth + 1)
    return {**{k: v for k, v in base.items() if k != "group"}, **own}


def _top_keys(text: str) -> dict[str, list[str]]:
    top: dict[str, list[str]] = {}
    key = None
    for line in text.splitlines():
        found = TOP_KEY.match(line)
        if found:
            key, value = found.groups()
            value = value.strip("'\"")
            items = [v.strip().strip("'\"") for v in value.strip("[]").split(",")] if value else []
            top[key] = [v for v in items if v]
            continue
        if line[:1] not in (" ", "-", "\t", "") or line.startswith("---"):
            key = None  # another top-level key ends a list
        elif key and (item := LIST_ITEM.match(line)):
            top[key].append(item.group(1))
    return top


def task_names(cfg: dict[str, Any]) -> TaskNames:
    """The catalog's names when it is cached for this config, else the scan of lm-eval's task folders."""
    catalog = _cached_catalog(cfg)
    if catalog is not None:
        return TaskNames.from_catalog(catalog.read_records())
    import importlib.util

    spec = importlib.util.find_spec("lm_eval")  # its folder, without importing it (a second and a half)
    if spec is None or spec.origin is None:
        raise TaskseedError("lm-eval is not installed in this environment; run `make setup`")
    roots = [Path(spec.origin).parent / "tasks", *(Path(p) for p in cfg["catalog"]["include_paths"])]
    return TaskNames.scan(roots)


def _cached_catalog(cfg: dict[str, Any]):
    from taskseed.core.artifacts import MANIFEST, Artifact, fingerprint
    from taskseed.sources.catalog import catalog_spec
    from taskseed.sources.data import DataSource

    folder = Path(cfg["paths"]["artifacts"]) / "catalog"
    if not folder.is_dir():
        return None  # a fresh outputs folder: nothing to look up
    source = DataSource.from_config(cfg["data"], Path(cfg["paths"]["root"]))
    spec = catalog_spec(cfg, source)
    path = folder / fingerprint(spec.name, spec.version, spec.config, {})
    return Artifact.load(path) if (path / MANIFEST).is_file() else None


def check_tasks(cfg: dict[str, Any], stages: list[str]) -> None:
    """seeds.tasks, generate.tasks and eval.tasks of the stages that run name lm-eval tasks; the index is
    built only when a setting names some."""
    from taskseed.core.schema import section

    seeds = section(cfg, "seeds").names if "seeds" in stages else []
    generate = (section(cfg, "generate").tasks or []) if "generate" in stages else []
    evaluated = (section(cfg, "eval").tasks or []) if {"eval", "report"} & set(stages) else []
    if not (seeds or generate or evaluated):
        return
    names = task_names(cfg)
    check_names(names, "seeds.tasks", seeds, "seeds.tasks takes task names: list the ones to seed, e.g. "
                "seeds.tasks=[{first}]; to evaluate the {kind}, use eval.tasks=[{name}]")  # fmt: skip
    check_names(
        names,
        "generate.tasks",
        generate,
        "generate.tasks takes seeded task names, e.g. generate.tasks=[{first}]",
    )
    if seeds:
        unseeded = [t for t in generate if t not in seeds]
        if unseeded:
            raise TaskseedError(
                f"generate.tasks names {unseeded}, which seeds.tasks does not seed; add them to seeds.tasks "
                "or drop them from generate.tasks"
            )
    for name in evaluated:  # eval.tasks narrows the suites by task, group, tag or task folder
        if name not in names.kinds and name not in names.folders:
            check_names(names, "eval.tasks", [name], "")


def check_names(names: TaskNames, key: str, requested: list[str], usage: str) -> None:
    """Each requested name is a known lm-eval task; a group or tag is refused, saying how to use it
    (`usage` may name {first}, a task of it, {name} and {kind})."""
    for name in requested:
        kind = names.kinds.get(name)
        if kind is None:
            close = difflib.get_close_matches(name, names.kinds, n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise TaskseedError(
                f"{key}: unknown task {name!r}{hint}; run `taskseed catalog` to list lm-eval tasks"
            )
        if kind != "task":
            leaves = names.leaves(name)
            shown = ", ".join(leaves[:4]) + (f", ... ({len(leaves)} tasks)" if len(leaves) > 4 else "")
            first = leaves[0] if leaves else "TASK"
            raise TaskseedError(
                f"{key}: {name!r} is an lm-eval {kind} of tasks ({shown or 'none'}), not a task; "
                + usage.format(first=first, name=name, kind=kind)
            )
